package kvstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"duban/tracker/kvstore"
	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgkv"
	"duban/tracker/kvstore/pgtest"
)

// copyEngines open a new, empty database of each engine.
var copyEngines = map[string]func(t *testing.T) kv.DB{
	"bbolt": func(t *testing.T) kv.DB {
		db, err := boltkv.Open(filepath.Join(t.TempDir(), "x.db"), time.Second, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	},
	"postgres": func(t *testing.T) kv.DB {
		db, err := pgkv.Open(context.Background(), pgtest.URL(t), pgkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	},
}

// fillKV writes a few buckets: meta, one with many keys of every length
// (empty values too) and a sequence, an empty one with a sequence.
func fillKV(t *testing.T, db kv.DB) {
	t.Helper()
	err := db.Update(nil, func(tx kv.Tx) error {
		for _, name := range []string{"meta", "history", "empty", "instances"} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("2")); err != nil {
			return err
		}
		h := tx.Bucket([]byte("history"))
		for i := range 500 {
			seq, err := h.NextSequence()
			if err != nil {
				return err
			}
			v := bytes.Repeat([]byte{byte(i)}, i%37)
			if err := h.Put(fmt.Appendf(nil, "I%03d\x00%08d", i%50, seq), v); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("empty")).SetSequence(42); err != nil {
			return err
		}
		return tx.Bucket([]byte("instances")).Put([]byte("\x00\xff"), []byte(`{"id":"x"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCopy: every bucket, key, value and sequence reaches the target, in
// small batches, and the sums of both sides agree; a target that is not
// empty is refused and left as it was; a changed value, a changed
// sequence or a missing bucket shows in Compare.
func TestCopy(t *testing.T) {
	for srcName, newSrc := range copyEngines {
		for dstName, newDst := range copyEngines {
			t.Run(srcName+"→"+dstName, func(t *testing.T) {
				src, dst := newSrc(t), newDst(t)
				fillKV(t, src)
				copied, err := kvstore.Copy(dst, src, kvstore.CopyOptions{BatchBytes: 1000})
				if err != nil {
					t.Fatal(err)
				}
				srcSums, _ := kvstore.Sums(src)
				dstSums, err := kvstore.Sums(dst)
				if err != nil {
					t.Fatal(err)
				}
				if rows, ok := kvstore.Compare(copied, dstSums); !ok || len(rows) != 4 {
					t.Fatalf("copy differs: %+v", rows)
				}
				if _, ok := kvstore.Compare(srcSums, copied); !ok {
					t.Fatal("Copy's sums differ from Sums of the source")
				}
				for _, s := range dstSums {
					want := map[string]int64{"meta": 1, "history": 500, "empty": 0, "instances": 1}[s.Bucket]
					if s.Keys != want {
						t.Errorf("%s: %d keys, want %d", s.Bucket, s.Keys, want)
					}
					if seq := map[string]uint64{"history": 500, "empty": 42}[s.Bucket]; s.Sequence != seq {
						t.Errorf("%s: sequence %d, want %d", s.Bucket, s.Sequence, seq)
					}
				}

				if _, err := kvstore.Copy(dst, src, kvstore.CopyOptions{}); !errors.Is(err, kvstore.ErrNotEmpty) {
					t.Fatalf("copy onto a database with buckets: %v", err)
				}
				if again, _ := kvstore.Sums(dst); fmt.Sprint(again) != fmt.Sprint(dstSums) {
					t.Fatal("a refused copy changed the target")
				}

				for name, change := range map[string]func(tx kv.Tx) error{
					"value": func(tx kv.Tx) error {
						return tx.Bucket([]byte("history")).Put([]byte("I007\x0000000008"), []byte("changed"))
					},
					"sequence": func(tx kv.Tx) error { return tx.Bucket([]byte("empty")).SetSequence(43) },
					"bucket":   func(tx kv.Tx) error { return tx.DeleteBucket([]byte("instances")) },
				} {
					if err := dst.Update(nil, change); err != nil {
						t.Fatal(err)
					}
					after, _ := kvstore.Sums(dst)
					rows, ok := kvstore.Compare(copied, after)
					bad := 0
					for _, r := range rows {
						if !r.Equal() {
							bad++
						}
					}
					if ok || bad != 1 {
						t.Errorf("%s changed: ok %v, %d rows differ, want 1", name, ok, bad)
					}
					copied = after
				}

				if err := kvstore.Clear(dst); err != nil {
					t.Fatal(err)
				}
				if empty, err := kvstore.IsEmpty(dst); !empty || err != nil {
					t.Fatalf("Clear left buckets: %v", err)
				}
				if _, err := kvstore.Copy(dst, src, kvstore.CopyOptions{Skip: [][]byte{[]byte("history")}}); err != nil {
					t.Fatal(err)
				}
				if s, _ := kvstore.Sums(dst); len(s) != 3 {
					t.Errorf("Skip: %d buckets copied, want 3", len(s))
				}
			})
		}
	}
}

// TestBackupEachEngine: Backup writes a bbolt file on every engine whose
// buckets hold what the store holds, byte for byte (equal sums), and
// that opens and passes its check.
func TestBackupEachEngine(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *kvstore.Store) {
		fill(t, s)
		path := filepath.Join(t.TempDir(), "backup.db")
		if _, err := s.Backup(path); err != nil {
			t.Fatal(err)
		}
		want, err := kvstore.Sums(s.KV())
		if err != nil {
			t.Fatal(err)
		}
		c := mustOpenPath(t, path)
		got, err := kvstore.Sums(c.KV())
		if err != nil {
			t.Fatal(err)
		}
		if rows, ok := kvstore.Compare(want, got); !ok || len(rows) < 10 {
			t.Errorf("the backup differs: %+v", rows)
		}
	})
}

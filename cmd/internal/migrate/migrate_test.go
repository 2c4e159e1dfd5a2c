package migrate_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/attach"
	"duban/cmd/internal/migrate"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgkv"
	"duban/tracker/kvstore/pgtest"
)

// source writes a small duban database (a bbolt file) and an attachment
// of three chunks beside it.
func source(t *testing.T) (db, attDir string) {
	t.Helper()
	dir := t.TempDir()
	db, attDir = filepath.Join(dir, "duban.db"), filepath.Join(dir, "attachments")
	st, err := kvstore.Open(db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = st.KV().Update(nil, func(tx kv.Tx) error {
		b := tx.Bucket([]byte("history"))
		for _, k := range []string{"a\x00\x00\x00\x00\x00\x00\x00\x00\x01", "b\x00\x00\x00\x00\x00\x00\x00\x00\x02"} {
			if _, err := b.NextSequence(); err != nil {
				return err
			}
			if err := b.Put([]byte(k), []byte(`{"action":"progress"}`)); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	p, err := attach.Dir(attDir).Receive("a.bin", strings.NewReader(strings.Repeat("x", 2*attach.ChunkSize+5)), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Keep(); err != nil {
		t.Fatal(err)
	}
	return db, attDir
}

func isEmpty(t *testing.T, url string) bool {
	t.Helper()
	db, err := pgkv.Open(context.Background(), url, pgkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	empty, err := kvstore.IsEmpty(db)
	if err != nil {
		t.Fatal(err)
	}
	return empty
}

// TestMismatchRemovesTheCopy: a value, or an attachment's chunk, changed
// between the copy and the verification is found by its kind's digest
// (that row alone differs), Run fails with ErrMismatch, and the target
// is left empty — a PostgreSQL database cleared, a file and its
// attachment files removed.
func TestMismatchRemovesTheCopy(t *testing.T) {
	ctx := context.Background()
	corrupt := map[string]func(kv.DB) error{
		"history": func(db kv.DB) error {
			return db.Update(nil, func(tx kv.Tx) error {
				return tx.Bucket([]byte("history")).Put([]byte("b\x00\x00\x00\x00\x00\x00\x00\x00\x02"), []byte(`{"action":"done"}`))
			})
		},
		"attachments": func(db kv.DB) error {
			return db.Update(nil, func(tx kv.Tx) error {
				b := tx.Bucket(attach.Bucket)
				c := b.Cursor()
				k, _ := c.First()
				k, v := c.Next() // the first chunk
				v = append([]byte("y"), v[1:]...)
				return b.Put(append([]byte(nil), k...), v)
			})
		},
	}
	for kind, change := range corrupt {
		t.Run(kind, func(t *testing.T) {
			db, attDir := source(t)
			url := pgtest.URL(t)
			res, err := migrate.Run(ctx, migrate.Options{From: db, To: url, AttachDir: attDir, LockTimeout: time.Second,
				BeforeVerify: change})
			if !errors.Is(err, migrate.ErrMismatch) || res == nil || res.OK {
				t.Fatalf("Run: %v, %+v", err, res)
			}
			for _, k := range res.Kinds {
				if k.Equal() == (k.Name == kind) {
					t.Errorf("kind %s: equal %v", k.Name, k.Equal())
				}
			}
			if !isEmpty(t, url) {
				t.Error("the failed copy is still in the database")
			}
			// The source is intact: the same migration, uncorrupted, verifies.
			res, err = migrate.Run(ctx, migrate.Options{From: db, To: url, AttachDir: attDir, LockTimeout: time.Second})
			if err != nil || !res.OK {
				t.Fatalf("Run again: %v", err)
			}
		})
	}

	t.Run("to a file", func(t *testing.T) {
		db, attDir := source(t)
		url := pgtest.URL(t)
		if _, err := migrate.Run(ctx, migrate.Options{From: db, To: url, AttachDir: attDir, LockTimeout: time.Second}); err != nil {
			t.Fatal(err)
		}
		back, backAtt := filepath.Join(t.TempDir(), "back.db"), filepath.Join(t.TempDir(), "att")
		_, err := migrate.Run(ctx, migrate.Options{From: url, To: back, AttachDir: backAtt, LockTimeout: time.Second,
			BeforeVerify: corrupt["history"]})
		if !errors.Is(err, migrate.ErrMismatch) {
			t.Fatalf("Run: %v", err)
		}
		if _, err := os.Stat(back); err == nil {
			t.Error("the failed copy is still there")
		}
		if hs, _ := attach.Dir(backAtt).Hashes(); len(hs) != 0 {
			t.Errorf("attachment files left: %v", hs)
		}
	})
}

// TestRefusals: the same engine on both sides, a source that is not a
// duban database, and a PostgreSQL target with data are refused before
// anything is written.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	db, attDir := source(t)
	url := pgtest.URL(t)
	for name, o := range map[string]migrate.Options{
		"file to file":  {From: db, To: db + "2"},
		"no source":     {From: filepath.Join(t.TempDir(), "none.db"), To: url},
		"no attach dir": {From: url, To: db + "3"},
	} {
		if _, err := migrate.Run(ctx, o); !errors.Is(err, migrate.ErrUsage) {
			t.Errorf("%s: %v, want ErrUsage", name, err)
		}
	}
	pg, err := pgkv.Open(ctx, url, pgkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = pg.Update(nil, func(tx kv.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("x")); return err })
	pg.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Run(ctx, migrate.Options{From: db, To: url, AttachDir: attDir, LockTimeout: time.Second}); !errors.Is(err, migrate.ErrNotEmpty) {
		t.Errorf("a database with a bucket: %v, want ErrNotEmpty", err)
	}
	if isEmpty(t, url) {
		t.Error("the refused target was cleared")
	}
}

// TestRefusesLeasedSource: from PostgreSQL, a database whose leader
// lease a node holds (a daemon runs) is refused; once it resigns, the
// copy goes ahead.
func TestRefusesLeasedSource(t *testing.T) {
	ctx := context.Background()
	db, attDir := source(t)
	url := pgtest.URL(t)
	if _, err := migrate.Run(ctx, migrate.Options{From: db, To: url, AttachDir: attDir, LockTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	pg, err := pgkv.Open(ctx, url, pgkv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	l := pgkv.NewLease(pg.Pool(), "node-a", pgkv.LeaseOptions{})
	if s, err := l.Acquire(ctx); err != nil || !s.Leading {
		t.Fatalf("Acquire: %+v, %v", s, err)
	}
	o := migrate.Options{From: url, To: filepath.Join(t.TempDir(), "back.db"), AttachDir: filepath.Join(t.TempDir(), "att"), LockTimeout: time.Second}
	if _, err := migrate.Run(ctx, o); !errors.Is(err, migrate.ErrInUse) || !strings.Contains(err.Error(), "node-a") {
		t.Fatalf("Run with the lease held: %v, want ErrInUse naming node-a", err)
	}
	if _, err := os.Stat(o.To); err == nil {
		t.Error("a refused migrate created its target")
	}
	if err := l.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := migrate.Run(ctx, o); err != nil || !res.OK {
		t.Fatalf("Run after resigning: %v", err)
	}
}

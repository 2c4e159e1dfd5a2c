package attach_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/attach"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgkv"
	"duban/tracker/kvstore/pgtest"
)

// stores are the places attachments are kept, each new and empty.
var stores = map[string]func(t *testing.T) attach.Store{
	"dir": func(t *testing.T) attach.Store { return attach.Dir(filepath.Join(t.TempDir(), "attachments")) },
	"bucket in bbolt": func(t *testing.T) attach.Store {
		db, err := boltkv.Open(filepath.Join(t.TempDir(), "duban.db"), time.Second, false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return attach.InDB(db)
	},
	"bucket in postgres": func(t *testing.T) attach.Store {
		db, err := pgkv.Open(context.Background(), pgtest.URL(t), pgkv.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return attach.InDB(db)
	},
}

func read(t *testing.T, s attach.Store, hash string) []byte {
	t.Helper()
	r, err := s.Open(hash)
	if err != nil {
		t.Fatalf("Open(%s): %v", hash, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", hash, err)
	}
	return b
}

// TestReceiveKeepAndLimit: a file is kept under its content hash (twice
// the same content is one file) and reads back; over the limit nothing
// is kept; names lose their directories; an unknown or malformed hash is
// ErrNotFound.
func TestReceiveKeepAndLimit(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			for range 2 {
				p, err := s.Receive(`C:\材料\结果.pdf`, strings.NewReader("0123456789"), 10)
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256([]byte("0123456789"))
				if p.Name != "结果.pdf" || p.Size != 10 || p.Hash != "sha256:"+hex.EncodeToString(sum[:]) {
					t.Fatalf("pending: %+v", p)
				}
				if err := p.Keep(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Receive("big.bin", strings.NewReader("01234567890"), 10); !errors.Is(err, attach.ErrTooLarge) {
				t.Fatalf("over the limit: %v", err)
			}
			p, err := s.Receive("丢弃.txt", strings.NewReader("discarded"), 10)
			if err != nil {
				t.Fatal(err)
			}
			p.Discard()
			hs, err := s.Hashes()
			if err != nil || len(hs) != 1 {
				t.Fatalf("Hashes = %v, %v; want the one file kept", hs, err)
			}
			if got := read(t, s, hs[0]); string(got) != "0123456789" {
				t.Errorf("content %q", got)
			}
			for _, h := range []string{"sha256:../../etc/passwd", p.Hash, "sha256:" + strings.Repeat("0", 64)} {
				if _, err := s.Open(h); !errors.Is(err, attach.ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Open(%s): %v, want ErrNotFound", h, err)
				}
			}
		})
	}
}

// TestLargeAndEmpty: files of 0 bytes, exactly a chunk, and several
// chunks and a bit keep every byte; Hashes are in byte order.
func TestLargeAndEmpty(t *testing.T) {
	sizes := []int{0, 1, attach.ChunkSize, 3*attach.ChunkSize + 17}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			var want []string
			for i, n := range sizes {
				data := make([]byte, n)
				for j := range data {
					data[j] = byte(j*7 + i)
				}
				p, err := s.Receive("f.bin", bytes.NewReader(data), int64(n))
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Keep(); err != nil {
					t.Fatal(err)
				}
				if got := read(t, s, p.Hash); !bytes.Equal(got, data) {
					t.Errorf("%d bytes: read back %d bytes, different", n, len(got))
				}
				want = append(want, p.Hash)
			}
			slices.Sort(want)
			if hs, err := s.Hashes(); err != nil || !slices.Equal(hs, want) {
				t.Errorf("Hashes = %v, %v; want %v", hs, err, want)
			}
		})
	}
}

// TestDirPath: the directory keeps one file per hash, named by its hex,
// and nothing else (no temporary file left).
func TestDirPath(t *testing.T) {
	dir := t.TempDir()
	p, err := attach.Dir(dir).Receive("a.txt", strings.NewReader("abc"), 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Keep(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || "sha256:"+ents[0].Name() != p.Hash {
		t.Fatalf("files kept: %v", ents)
	}
	if _, err := attach.Path(dir, "sha256:../../etc/passwd"); err == nil {
		t.Error("Path accepted a path")
	}
	if path, _ := attach.Path(dir, p.Hash); filepath.Dir(path) != dir {
		t.Errorf("Path = %s", path)
	}
}

// TestFor: a PostgreSQL store keeps attachments in its database, fenced
// (the leader's) or not; a bbolt store under the directory.
func TestFor(t *testing.T) {
	dir := t.TempDir()
	bolt, err := kvstore.Open(filepath.Join(dir, "duban.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	if s, ok := attach.For(bolt, dir).(attach.Dir); !ok || string(s) != dir {
		t.Errorf("bbolt: %v", attach.For(bolt, dir))
	}
	pg, err := kvstore.Open(pgtest.URL(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	for _, st := range []any{pg, pg.Fenced(kv.Fence{Holder: "a", Term: 1})} {
		if _, ok := attach.For(st, dir).(*attach.DB); !ok {
			t.Errorf("%T: %v", st, attach.For(st, dir))
		}
	}
}

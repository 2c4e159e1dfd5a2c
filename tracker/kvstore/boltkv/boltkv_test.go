package boltkv_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/kvtest"
)

// Ensure that bbolt's errors come out as kv's, that a missing bucket is
// nil, and that a file opened read-only refuses Update.
func TestErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	db, err := boltkv.Open(path, time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(&kv.Fence{Holder: "ignored", Term: 1}, func(tx kv.Tx) error {
		if b := tx.Bucket([]byte("none")); b != nil {
			t.Errorf("Bucket(none) = %v, want nil", b)
		}
		if err := tx.DeleteBucket([]byte("none")); !errors.Is(err, kv.ErrBucketMissing) {
			t.Errorf("DeleteBucket(none) = %v, want ErrBucketMissing", err)
		}
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		if err := b.Put(nil, []byte("v")); !errors.Is(err, kv.ErrKeyRequired) {
			t.Errorf("Put(nil) = %v, want ErrKeyRequired", err)
		}
		if err := b.Put(make([]byte, kv.MaxKeySize+1), nil); !errors.Is(err, kv.ErrKeyTooLarge) {
			t.Errorf("Put(huge key) = %v, want ErrKeyTooLarge", err)
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(func(tx kv.Tx) error {
		if err := tx.Bucket([]byte("b")).Put([]byte("k"), []byte("w")); !errors.Is(err, kv.ErrTxNotWritable) {
			t.Errorf("Put in View = %v, want ErrTxNotWritable", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := boltkv.Open(path, time.Second, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Update(nil, func(kv.Tx) error { return nil }); !errors.Is(err, kv.ErrTxNotWritable) {
		t.Errorf("Update of a read-only file = %v, want ErrTxNotWritable", err)
	}
	err = ro.View(func(tx kv.Tx) error {
		if v := tx.Bucket([]byte("b")).Get([]byte("k")); string(v) != "v" {
			t.Errorf("Get(k) = %q, want v", v)
		}
		bt := tx.(*boltkv.Tx)
		if errs := bt.Check(); len(errs) != 0 {
			t.Errorf("Check: %v", errs)
		}
		if bt.Size() <= 0 {
			t.Errorf("Size() = %d", bt.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Ensure that a second writer fails after the timeout with ErrLocked.
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	db, err := boltkv.Open(path, time.Second, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// bbolt's flock is per open file description: a second Open in this
	// process conflicts like another process would.
	if _, err := boltkv.Open(path, 0, false); !errors.Is(err, boltkv.ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
}

// The kv conformance suite, on bbolt files.
func TestConformance(t *testing.T) {
	kvtest.Run(t, func(t *testing.T) kv.DB {
		db, err := boltkv.Open(filepath.Join(t.TempDir(), "kv.db"), time.Second, false)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

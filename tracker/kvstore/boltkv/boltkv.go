// Package boltkv is the bbolt engine of kv: a thin adapter of a
// go.etcd.io/bbolt file to kv.DB, kv.Tx, kv.Bucket and kv.Cursor.
//
// What only a bbolt file has (its consistency check, a hot copy of the
// file, the file's size) is on the types of this package, not in kv:
// kvstore reaches it by a type assertion to *Tx.
package boltkv

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"duban/tracker/kvstore/kv"
)

// ErrLocked is returned (wrapped) by Open when another process holds the
// file's lock for longer than the timeout.
var ErrLocked = errors.New("database is locked by another process")

// InitialMmapSize is the address space mapped at open. bbolt remaps when
// the file outgrows the mapping, and a remap copies every node of the
// running write transaction to the heap and waits for all readers: an
// ample initial mapping (address space only: the file does not grow)
// avoids that up to about a million instances. A side effect: once the
// mapping exceeds bbolt's AllocSize (16 MiB) the file grows in 16 MiB
// steps, so even a new database is a 16 MiB (sparse) file.
const InitialMmapSize = 1 << 30 * (strconv.IntSize / 64)

// DB is an open bbolt file. It implements kv.DB.
type DB struct {
	db       *bolt.DB
	readOnly bool
}

var (
	_ kv.DB     = (*DB)(nil)
	_ kv.Tx     = (*Tx)(nil)
	_ kv.Bucket = (*Bucket)(nil)
	_ kv.Cursor = (*Cursor)(nil)
)

// Open opens (creating if needed and not readOnly, mode 0600) the bbolt
// file at path. It never hangs: if another process holds the lock it
// fails after timeout with an error wrapping ErrLocked; a timeout <= 0
// means a single attempt. readOnly takes a shared lock: other readers may
// open the file, a writer may not.
func Open(path string, timeout time.Duration, readOnly bool) (*DB, error) {
	if timeout <= 0 {
		// bbolt treats 0 as "wait forever"; any positive value shorter
		// than its 50 ms retry interval means one attempt.
		timeout = time.Nanosecond
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:         timeout,
		ReadOnly:        readOnly,
		InitialMmapSize: InitialMmapSize,
	})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %w", ErrLocked, err)
		}
		return nil, err
	}
	return &DB{db: db, readOnly: readOnly}, nil
}

// View runs fn in a read-only transaction.
func (d *DB) View(fn func(kv.Tx) error) error {
	return d.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Update runs fn in a read-write transaction and commits it if fn returns
// nil. The fence is ignored: one process holds a bbolt file. On a file
// opened read-only it fails with kv.ErrTxNotWritable.
func (d *DB) Update(_ *kv.Fence, fn func(kv.Tx) error) error {
	if d.readOnly {
		return fmt.Errorf("%w (%w)", kv.ErrTxNotWritable, berrors.ErrDatabaseReadOnly)
	}
	return d.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Close releases the file and its lock, waiting for running transactions.
func (d *DB) Close() error { return d.db.Close() }

// Path returns the path of the file.
func (d *DB) Path() string { return d.db.Path() }

// Tx is a bbolt transaction. It implements kv.Tx.
type Tx struct{ tx *bolt.Tx }

// Writable reports whether the transaction may write.
func (t *Tx) Writable() bool { return t.tx.Writable() }

// Bucket returns the named bucket, nil if there is none.
func (t *Tx) Bucket(name []byte) kv.Bucket {
	b := t.tx.Bucket(name)
	if b == nil {
		return nil
	}
	return &Bucket{b: b}
}

// CreateBucketIfNotExists returns the named bucket, creating it if needed.
func (t *Tx) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	b, err := t.tx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, mapErr(err)
	}
	return &Bucket{b: b}, nil
}

// DeleteBucket removes the named bucket and everything in it.
func (t *Tx) DeleteBucket(name []byte) error {
	if err := t.tx.DeleteBucket(name); err != nil {
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return kv.ErrBucketMissing
		}
		return mapErr(err)
	}
	return nil
}

// ForEachBucket calls fn with the name of every bucket, in byte order.
func (t *Tx) ForEachBucket(fn func(name []byte) error) error {
	return t.tx.ForEach(func(name []byte, _ *bolt.Bucket) error { return fn(name) })
}

// Check runs bbolt's consistency check of the file and returns every
// problem it finds.
func (t *Tx) Check() []error {
	var errs []error
	for err := range t.tx.Check() {
		errs = append(errs, err)
	}
	return errs
}

// Size returns the size of the file as this transaction sees it.
func (t *Tx) Size() int64 { return t.tx.Size() }

// WriteTo writes a consistent copy of the file, as this transaction sees
// it, to w. It implements io.WriterTo.
func (t *Tx) WriteTo(w io.Writer) (int64, error) { return t.tx.WriteTo(w) }

// Bucket is a bbolt bucket. It implements kv.Bucket.
type Bucket struct{ b *bolt.Bucket }

// Get returns the value of key, nil if absent.
func (b *Bucket) Get(key []byte) []byte { return b.b.Get(key) }

// Put stores value under key. A nil value is stored as an empty one,
// which Get returns as an empty, non-nil slice (bbolt would return nil
// until the commit).
func (b *Bucket) Put(key, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return mapErr(b.b.Put(key, value))
}

// Delete removes key; an absent key is not an error.
func (b *Bucket) Delete(key []byte) error { return mapErr(b.b.Delete(key)) }

// Cursor returns a cursor over the bucket.
func (b *Bucket) Cursor() kv.Cursor { return &Cursor{c: b.b.Cursor()} }

// NextSequence increments and returns the bucket's sequence.
func (b *Bucket) NextSequence() (uint64, error) {
	n, err := b.b.NextSequence()
	return n, mapErr(err)
}

// Sequence returns the bucket's sequence.
func (b *Bucket) Sequence() uint64 { return b.b.Sequence() }

// SetSequence sets the bucket's sequence.
func (b *Bucket) SetSequence(v uint64) error { return mapErr(b.b.SetSequence(v)) }

// SetFillPercent sets how full bbolt packs the bucket's pages when it
// splits them at commit (1.0 after a bulk append).
func (b *Bucket) SetFillPercent(f float64) { b.b.FillPercent = f }

// Cursor is a bbolt cursor. It implements kv.Cursor.
type Cursor struct{ c *bolt.Cursor }

// First moves to the first key.
func (c *Cursor) First() ([]byte, []byte) { return c.c.First() }

// Last moves to the last key.
func (c *Cursor) Last() ([]byte, []byte) { return c.c.Last() }

// Seek moves to the first key >= seek.
func (c *Cursor) Seek(seek []byte) ([]byte, []byte) { return c.c.Seek(seek) }

// Next moves to the next key.
func (c *Cursor) Next() ([]byte, []byte) { return c.c.Next() }

// mapErr turns bbolt's errors into kv's, keeping bbolt's in the chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var to error
	switch {
	case errors.Is(err, berrors.ErrTxNotWritable):
		to = kv.ErrTxNotWritable
	case errors.Is(err, berrors.ErrKeyRequired):
		to = kv.ErrKeyRequired
	case errors.Is(err, berrors.ErrKeyTooLarge):
		to = kv.ErrKeyTooLarge
	case errors.Is(err, berrors.ErrValueTooLarge):
		to = kv.ErrValueTooLarge
	default:
		return err
	}
	return fmt.Errorf("%w (%w)", to, err)
}

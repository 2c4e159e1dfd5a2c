// Package kv is the ordered, transactional key-value interface that
// kvstore keeps duban's records in, with one implementation per engine:
// boltkv (a bbolt file, the default) and pgkv (a PostgreSQL table of
// (bucket, key, value) with a B-tree primary key). kvstore encodes the
// domain and its indexes once, over this interface; kvtest is the
// conformance suite every engine passes.
//
// The model is bbolt's: named buckets of keys and values, keys unique
// within a bucket and ordered bytewise, a sequence per bucket. Its rules
// hold on every engine:
//
//   - View runs over a consistent snapshot; any number run at once, in
//     any number of processes (bbolt: one process).
//   - Update transactions are serialised: while one runs, no other
//     Update of any process on the same database does; so an invariant
//     kept by every write transaction holds.
//   - Slices returned by Get and cursors are valid until the transaction
//     ends or, in an Update, until the next write; keys and values given
//     to Put must not change until the transaction ends.
//   - A cursor is not valid across a write to its bucket: seek again.
//   - An engine error (a lost connection) poisons the transaction: later
//     reads return nil, writes return the error, and View or Update
//     returns it. Callers need not check every read.
package kv

import "errors"

// Errors of every engine.
var (
	ErrTxNotWritable = errors.New("transaction is read-only")
	ErrKeyRequired   = errors.New("key required")
	ErrKeyTooLarge   = errors.New("key too large")
	ErrValueTooLarge = errors.New("value too large")
	ErrBucketMissing = errors.New("bucket does not exist")
	// ErrFenced is returned by an Update with a Fence that no longer
	// holds: another node took the lease over (a higher term), or this
	// one resigned. Nothing the transaction wrote is kept.
	ErrFenced = errors.New("fenced: this node no longer holds the leader lease")
)

// Size limits every engine enforces (bbolt's).
const (
	MaxKeySize   = 32768
	MaxValueSize = (1 << 31) - 2
)

// Fence makes an Update conditional on the leader lease: it commits only
// if the lease is held by Holder under Term when the transaction commits
// (the check and the commit are atomic with respect to a takeover).
type Fence struct {
	Holder string
	Term   int64
}

// DB is an open database.
type DB interface {
	// View runs fn in a read-only transaction over a consistent snapshot.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil; otherwise nothing fn wrote is kept. With a non-nil
	// fence it fails with ErrFenced, keeping nothing, when the fence no
	// longer holds (engines without leases, bbolt, ignore it: one
	// process holds the file).
	Update(fence *Fence, fn func(Tx) error) error
	Close() error
}

// Tx is one transaction.
type Tx interface {
	Writable() bool
	// Bucket returns the named bucket, nil if there is none.
	Bucket(name []byte) Bucket
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	DeleteBucket(name []byte) error
	// ForEachBucket calls fn with the name of every bucket, in byte order.
	ForEachBucket(fn func(name []byte) error) error
}

// Bucket is a named, ordered set of keys and values.
type Bucket interface {
	Get(key []byte) []byte // nil if absent
	Put(key, value []byte) error
	Delete(key []byte) error // deleting an absent key is not an error
	Cursor() Cursor
	// NextSequence increments and returns the bucket's sequence.
	NextSequence() (uint64, error)
	Sequence() uint64
	SetSequence(v uint64) error
	// SetFillPercent hints that the bucket was bulk-appended in this
	// transaction (bbolt packs its pages that full); others ignore it.
	SetFillPercent(f float64)
}

// Prefetcher is implemented by the buckets of engines where each Get is a
// round trip to a server (pgkv).
type Prefetcher interface {
	// Prefetch reads keys in one round trip, so that the transaction's
	// Gets of them are answered from memory.
	Prefetch(keys [][]byte)
	// PrefetchPrefixes reads every key that starts with one of prefixes,
	// in one round trip; Gets of keys with those prefixes are then
	// answered from memory, present or absent.
	PrefetchPrefixes(prefixes [][]byte)
	// Peek returns what the transaction knows of key without asking
	// the server: its value (nil if absent) and true, or false if it
	// would have to ask.
	Peek(key []byte) (value []byte, known bool)
}

// Prefetch tells b that the transaction is about to Get keys (a scan of
// an index that names records of another bucket): an engine whose reads
// are round trips reads them at once. It changes no result; on other
// engines it does nothing.
func Prefetch(b Bucket, keys [][]byte) {
	if p, ok := b.(Prefetcher); ok {
		p.Prefetch(keys)
	}
}

// PrefetchPrefixes is Prefetch for every key with one of prefixes.
func PrefetchPrefixes(b Bucket, prefixes [][]byte) {
	if p, ok := b.(Prefetcher); ok {
		p.PrefetchPrefixes(prefixes)
	}
}

// Peek returns b.Get(key) if that is answered from memory (always, on
// bbolt), with true; false if it would be a round trip.
func Peek(b Bucket, key []byte) (value []byte, known bool) {
	if p, ok := b.(Prefetcher); ok {
		return p.Peek(key)
	}
	return b.Get(key), true
}

// Cursor walks a bucket in key order. The methods return a nil key at
// either end.
type Cursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Seek(seek []byte) (key, value []byte) // the first key >= seek
	Next() (key, value []byte)
}

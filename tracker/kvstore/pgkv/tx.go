package pgkv

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tidwall/btree"

	"duban/tracker/kvstore/kv"
)

// The statements. bytea compares bytewise, like bbolt's keys.
const (
	qLock      = `SELECT id FROM duban_lock WHERE id = 1 FOR UPDATE`
	qBeginView = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	qCatalog   = `SELECT name, seq FROM duban_buckets`

	qGet        = `SELECT value FROM duban_kv WHERE bucket = $1 AND key = $2`
	qFrom       = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key >= $2 ORDER BY key LIMIT $3`
	qAfter      = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key > $2 ORDER BY key LIMIT $3`
	qLast       = `SELECT key, value FROM duban_kv WHERE bucket = $1 ORDER BY key DESC LIMIT $2`
	qBefore     = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key < $2 ORDER BY key DESC LIMIT $3`
	qWipe       = `DELETE FROM duban_kv WHERE bucket = $1`
	qDropBucket = `DELETE FROM duban_buckets WHERE name = $1`
	qNewBucket  = `INSERT INTO duban_buckets (name, seq) VALUES ($1, $2)`
	qSetSeq     = `UPDATE duban_buckets SET seq = $2 WHERE name = $1`
	qDelKeys    = `DELETE FROM duban_kv WHERE bucket = $1 AND key = ANY($2::bytea[])`
	// Two arrays unnested side by side in the select list run in step
	// (PostgreSQL 9.2 and later): one statement inserts many rows.
	qPutKeys = `INSERT INTO duban_kv (bucket, key, value) SELECT $1, unnest($2::bytea[]), unnest($3::bytea[])`
	qFence   = `SELECT holder, term FROM duban_lease WHERE name = 'leader' FOR SHARE`
)

// Flush sizes: rows and bytes per statement, and the overlay size of one
// bucket past which an Update writes it out before commit (so that a
// large transaction keeps its session busy and its memory bounded).
// Variables so that a test can make every path run on small data.
var (
	chunkRows    = 4096
	chunkBytes   = 8 << 20
	copyRows     = 2048 // from this many puts in a bucket, COPY instead of INSERT
	flushAtWrite = 32768
)

// ent is a buffered write: a value, or a tombstone.
type ent struct {
	key, val []byte
	del      bool
}

func lessEnt(a, b *ent) bool { return bytes.Compare(a.key, b.key) < 0 }

// bstate is a bucket as the transaction sees it.
type bstate struct {
	name     []byte
	inDB     bool // has a duban_buckets row (as of the last flush)
	live     bool // exists in this transaction
	wipe     bool // its rows in duban_kv are deleted (to be written)
	seq      uint64
	seqDirty bool
	dirty    bool
	ov       *btree.BTreeG[*ent] // buffered writes, nil if none
	handle   *bucket
}

// hasRows reports whether duban_kv may hold rows of the bucket that the
// transaction sees.
func (s *bstate) hasRows() bool { return s.inDB && !s.wipe }

type txn struct {
	db       *DB
	conn     *pgxpool.Conn
	writable bool
	buckets  map[string]*bstate
	err      error // sticky engine error
	probe    ent
}

var _ kv.Tx = (*txn)(nil)

// begin acquires a connection and starts a transaction, reading the
// bucket catalog in the same round trip.
func (db *DB) begin(writable bool) (*txn, error) {
	conn, err := db.pool.Acquire(db.ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	t := &txn{db: db, conn: conn, writable: writable, buckets: map[string]*bstate{}}
	// One round trip, prepared statements (cached per connection).
	b := &pgx.Batch{}
	if writable {
		b.Queue("BEGIN")
		b.Queue(qLock)
	} else {
		b.Queue(qBeginView)
	}
	b.Queue(qCatalog).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var name []byte
			var seq int64
			if err := rows.Scan(&name, &seq); err != nil {
				return err
			}
			t.buckets[string(name)] = &bstate{name: name, inDB: true, live: true, seq: uint64(seq)}
		}
		return rows.Err()
	})
	if err := conn.SendBatch(db.ctx, b).Close(); err != nil {
		t.fail(err)
		t.release()
		return nil, t.err
	}
	return t, nil
}

// fail poisons the transaction with an engine error.
func (t *txn) fail(err error) {
	if t.err == nil {
		t.err = fmt.Errorf("postgres: %w", err)
	}
}

// end sends COMMIT or ROLLBACK.
func (t *txn) end(sql string) error {
	if _, err := t.conn.Exec(t.db.ctx, sql); err != nil {
		t.fail(err)
		return t.err
	}
	return nil
}

// release rolls back a transaction still open and gives the connection
// back; the pool closes a connection left in a transaction or broken.
func (t *txn) release() {
	if t.conn == nil {
		return
	}
	pc := t.conn.Conn().PgConn()
	if !pc.IsClosed() && pc.TxStatus() != 'I' {
		if _, err := t.conn.Exec(t.db.ctx, "ROLLBACK"); err != nil {
			_ = pc.Close(t.db.ctx)
		}
	}
	t.conn.Release()
	t.conn = nil
}

// commit writes the buffered writes, checks the fence and commits.
func (t *txn) commit(fence *kv.Fence) error {
	b := &pgx.Batch{}
	var copies []copyJob
	for _, s := range t.sorted() {
		copies = append(copies, t.queueFlush(b, s)...)
	}
	if len(copies) > 0 {
		// COPY cannot join a pipeline: run the batch, then the copies.
		if err := t.send(b); err != nil {
			return err
		}
		if err := t.copy(copies); err != nil {
			return err
		}
		b = &pgx.Batch{}
	}
	var holder string
	var term int64
	if fence != nil {
		b.Queue(qFence).QueryRow(func(r pgx.Row) error { return r.Scan(&holder, &term) })
	} else {
		b.Queue("COMMIT")
	}
	if err := t.send(b); err != nil {
		return err
	}
	if fence == nil {
		return nil
	}
	if holder != fence.Holder || term != fence.Term {
		return fmt.Errorf("%w (lease: %q, term %d; fence: %q, term %d)", kv.ErrFenced, holder, term, fence.Holder, fence.Term)
	}
	return t.end("COMMIT")
}

// send runs a batch; any error poisons the transaction.
func (t *txn) send(b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := t.conn.SendBatch(t.db.ctx, b).Close(); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			err = errors.New("duban_lease has no 'leader' row")
		}
		t.fail(err)
		return t.err
	}
	return nil
}

// flushBucket writes one bucket's buffered writes before commit.
func (t *txn) flushBucket(s *bstate) {
	b := &pgx.Batch{}
	copies := t.queueFlush(b, s)
	if t.send(b) == nil {
		_ = t.copy(copies)
	}
}

type copyJob struct {
	bucket []byte
	rows   [][]any
}

// queueFlush queues the statements that write bucket s, in key order,
// and marks it written. Large sets of puts are returned to be copied.
func (t *txn) queueFlush(b *pgx.Batch, s *bstate) []copyJob {
	if !s.dirty {
		return nil
	}
	s.dirty = false
	hadRows := s.hasRows()
	if s.wipe {
		b.Queue(qWipe, s.name)
		s.wipe = false
	}
	if !s.live {
		if s.inDB {
			b.Queue(qDropBucket, s.name)
			s.inDB = false
		}
		s.ov = nil
		return nil
	}
	switch {
	case !s.inDB:
		b.Queue(qNewBucket, s.name, int64(s.seq))
		s.inDB = true
	case s.seqDirty:
		b.Queue(qSetSeq, s.name, int64(s.seq))
	}
	s.seqDirty = false
	if s.ov == nil || s.ov.Len() == 0 {
		return nil
	}
	// Every written key that may be stored is deleted first, then the
	// values are inserted.
	var keys, puts, vals [][]byte
	size := 0
	flushKeys := func() {
		if len(keys) > 0 {
			b.Queue(qDelKeys, s.name, keys)
		}
		keys, size = nil, 0
	}
	var ents []*ent
	s.ov.Scan(func(e *ent) bool {
		ents = append(ents, e)
		return true
	})
	s.ov = nil
	for _, e := range ents {
		if !hadRows {
			break // created or emptied in this transaction
		}
		keys = append(keys, e.key)
		size += len(e.key)
		if len(keys) == chunkRows || size >= chunkBytes {
			flushKeys()
		}
	}
	flushKeys()
	var nput int
	for _, e := range ents {
		if !e.del {
			nput++
		}
	}
	if nput >= copyRows {
		rows := make([][]any, 0, nput)
		for _, e := range ents {
			if !e.del {
				rows = append(rows, []any{s.name, e.key, e.val})
			}
		}
		return []copyJob{{bucket: s.name, rows: rows}}
	}
	flushPuts := func() {
		if len(puts) > 0 {
			b.Queue(qPutKeys, s.name, puts, vals)
		}
		puts, vals, size = nil, nil, 0
	}
	for _, e := range ents {
		if e.del {
			continue
		}
		puts, vals = append(puts, e.key), append(vals, e.val)
		size += len(e.key) + len(e.val)
		if len(puts) == chunkRows || size >= chunkBytes {
			flushPuts()
		}
	}
	flushPuts()
	return nil
}

func (t *txn) copy(jobs []copyJob) error {
	for _, j := range jobs {
		if _, err := t.conn.CopyFrom(t.db.ctx, pgx.Identifier{"duban_kv"}, []string{"bucket", "key", "value"}, pgx.CopyFromRows(j.rows)); err != nil {
			t.fail(err)
			return t.err
		}
	}
	return nil
}

// sorted returns the transaction's buckets in name order.
func (t *txn) sorted() []*bstate {
	out := make([]*bstate, 0, len(t.buckets))
	for _, s := range t.buckets {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *bstate) int { return bytes.Compare(a.name, b.name) })
	return out
}

func (t *txn) Writable() bool { return t.writable }

func (t *txn) Bucket(name []byte) kv.Bucket {
	s := t.buckets[string(name)]
	if s == nil || !s.live {
		return nil
	}
	return s.bucket(t)
}

func (s *bstate) bucket(t *txn) *bucket {
	if s.handle == nil {
		s.handle = &bucket{t: t, s: s}
	}
	return s.handle
}

func (t *txn) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	switch {
	case !t.writable:
		return nil, kv.ErrTxNotWritable
	case t.err != nil:
		return nil, t.err
	case len(name) == 0:
		return nil, errors.New("bucket name required")
	case len(name) > MaxBucketNameSize:
		return nil, fmt.Errorf("bucket name of %d bytes: %w", len(name), kv.ErrKeyTooLarge)
	}
	s := t.buckets[string(name)]
	if s == nil {
		s = &bstate{name: bytes.Clone(name)}
		t.buckets[string(name)] = s
	}
	if !s.live {
		s.live, s.dirty, s.seq, s.seqDirty = true, true, 0, true
	}
	return s.bucket(t), nil
}

func (t *txn) DeleteBucket(name []byte) error {
	if !t.writable {
		return kv.ErrTxNotWritable
	}
	if t.err != nil {
		return t.err
	}
	s := t.buckets[string(name)]
	if s == nil || !s.live {
		return fmt.Errorf("bucket %q: %w", name, kv.ErrBucketMissing)
	}
	s.live, s.dirty, s.ov, s.seq = false, true, nil, 0
	if s.inDB {
		s.wipe = true
	}
	return nil
}

func (t *txn) ForEachBucket(fn func(name []byte) error) error {
	if t.err != nil {
		return t.err
	}
	for _, s := range t.sorted() {
		if s.live {
			if err := fn(s.name); err != nil {
				return err
			}
		}
	}
	return nil
}

type bucket struct {
	t *txn
	s *bstate
}

var _ kv.Bucket = (*bucket)(nil)

// buffered returns the transaction's write of key, if any.
func (b *bucket) buffered(key []byte) (*ent, bool) {
	if b.s.ov == nil {
		return nil, false
	}
	b.t.probe.key = key
	e, ok := b.s.ov.Get(&b.t.probe)
	b.t.probe.key = nil
	return e, ok
}

func (b *bucket) Get(key []byte) []byte {
	t := b.t
	if t.err != nil || !b.s.live {
		return nil
	}
	if e, ok := b.buffered(key); ok {
		if e.del {
			return nil
		}
		return e.val
	}
	if !b.s.hasRows() || len(key) == 0 || len(key) > MaxKeySize {
		return nil
	}
	var v []byte
	err := t.conn.QueryRow(t.db.ctx, qGet, b.s.name, key).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		t.fail(err)
		return nil
	case v == nil:
		return []byte{}
	}
	return v
}

// write checks a write and buffers it.
func (b *bucket) write(key, val []byte, del bool) error {
	t := b.t
	switch {
	case !t.writable:
		return kv.ErrTxNotWritable
	case t.err != nil:
		return t.err
	case !b.s.live:
		return kv.ErrBucketMissing
	case len(key) == 0:
		return kv.ErrKeyRequired
	case len(key) > kv.MaxKeySize:
		return kv.ErrKeyTooLarge
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: PostgreSQL keeps keys of at most %d bytes, not %d", kv.ErrKeyTooLarge, MaxKeySize, len(key))
	case len(val) > MaxValueSize:
		return fmt.Errorf("%w: PostgreSQL keeps values of at most %d bytes, not %d", kv.ErrValueTooLarge, MaxValueSize, len(val))
	}
	s := b.s
	if s.ov == nil {
		s.ov = btree.NewBTreeGOptions(lessEnt, btree.Options{NoLocks: true})
	}
	s.dirty = true
	if del && !s.hasRows() {
		// Nothing stored to hide: forget the buffered put, if any.
		t.probe.key = key
		s.ov.Delete(&t.probe)
		t.probe.key = nil
		return nil
	}
	if val == nil && !del {
		val = []byte{}
	}
	s.ov.Set(&ent{key: key, val: val, del: del})
	if s.ov.Len() >= flushAtWrite {
		t.flushBucket(s)
		return t.err
	}
	return nil
}

func (b *bucket) Put(key, value []byte) error { return b.write(key, value, false) }
func (b *bucket) Delete(key []byte) error     { return b.write(key, nil, true) }

func (b *bucket) NextSequence() (uint64, error) {
	if err := b.seqWrite(); err != nil {
		return 0, err
	}
	b.s.seq++
	return b.s.seq, nil
}

func (b *bucket) Sequence() uint64 {
	if b.t.err != nil {
		return 0
	}
	return b.s.seq
}

func (b *bucket) SetSequence(v uint64) error {
	if err := b.seqWrite(); err != nil {
		return err
	}
	b.s.seq = v
	return nil
}

func (b *bucket) seqWrite() error {
	switch {
	case !b.t.writable:
		return kv.ErrTxNotWritable
	case b.t.err != nil:
		return b.t.err
	case !b.s.live:
		return kv.ErrBucketMissing
	}
	b.s.seqDirty, b.s.dirty = true, true
	return nil
}

func (b *bucket) SetFillPercent(float64) {}

func (b *bucket) Cursor() kv.Cursor { return &cursor{b: b} }

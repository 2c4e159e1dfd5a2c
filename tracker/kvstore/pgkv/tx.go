package pgkv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tidwall/btree"

	"duban/tracker/kvstore/kv"
)

// The statements. bytea compares bytewise, like bbolt's keys.
const (
	qLock      = `SELECT id FROM duban_lock WHERE id = 1 FOR UPDATE`
	qBeginView = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	qCatalog   = `SELECT name, seq FROM duban_buckets`

	qGet    = `SELECT value FROM duban_kv WHERE bucket = $1 AND key = $2`
	qFrom   = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key >= $2 ORDER BY key LIMIT $3`
	qAfter  = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key > $2 ORDER BY key LIMIT $3`
	qLast   = `SELECT key, value FROM duban_kv WHERE bucket = $1 ORDER BY key DESC LIMIT $2`
	qBefore = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key < $2 ORDER BY key DESC LIMIT $3`
	qMany   = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key IN (SELECT unnest($2::bytea[]))`
	qSpan   = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key >= $2 AND key < $3`
	qSpanUp = `SELECT key, value FROM duban_kv WHERE bucket = $1 AND key >= $2`
	qRange  = `SELECT (SELECT key FROM duban_kv WHERE bucket = $1 ORDER BY key LIMIT 1),
	(SELECT key FROM duban_kv WHERE bucket = $1 ORDER BY key DESC LIMIT 1)`

	// The writes of a flush run as unnamed statements, planned for their
	// arguments each time: a plan cached while a bulk load had just begun
	// (a few rows) could scan the whole bucket for every statement later.
	qWipe       = `DELETE FROM duban_kv WHERE bucket = $1`
	qDropBucket = `DELETE FROM duban_buckets WHERE name = $1`
	qNewBucket  = `INSERT INTO duban_buckets (name, seq) VALUES ($1, $2)`
	qSetSeq     = `UPDATE duban_buckets SET seq = $2 WHERE name = $1`
	// A semi-join: it probes the index per key (or hashes the keys), where
	// key = ANY($2) may test every row of the bucket against the array.
	qDelKeys = `DELETE FROM duban_kv WHERE bucket = $1 AND key IN (SELECT unnest($2::bytea[]))`
	// Two arrays unnested side by side in the select list run in step
	// (PostgreSQL 9.2 and later): one statement writes many rows.
	qPutKeys = `INSERT INTO duban_kv (bucket, key, value) SELECT $1, unnest($2::bytea[]), unnest($3::bytea[])`
	qSetKeys = `UPDATE duban_kv SET value = u.v FROM (SELECT unnest($2::bytea[]) AS k, unnest($3::bytea[]) AS v) AS u
	WHERE duban_kv.bucket = $1 AND duban_kv.key = u.k`
	qFence = `SELECT holder, term FROM duban_lease WHERE name = 'leader' FOR SHARE`
)

// Sizes: rows and bytes per statement; how many puts go by COPY instead;
// how many unwritten writes of one bucket an Update keeps before writing
// them (so that a long transaction keeps its session busy); after how
// many unwritten writes of one bucket an Update sends them in the
// background, when the session is idle; after how many writes or reads
// of a bucket an Update asks for its key range. Variables so that a test
// can make every path run on small data.
var (
	chunkRows    = 4096
	chunkBytes   = 8 << 20
	copyRows     = 2048
	flushAtWrite = 32768
	asyncRows    = 1024
	probeAfter   = 64
)

// Whether duban_kv holds a row for an entry's key.
const (
	storedUnknown int8 = iota
	storedYes
	storedNo
)

// ent is the transaction's knowledge of one key: a value or an absence,
// written by the transaction (dirty, not yet in duban_kv) or read from
// duban_kv (clean).
type ent struct {
	key, val []byte
	del      bool // the key is absent
	dirty    bool
	stored   int8 // whether duban_kv holds the key now
}

func lessEnt(a, b *ent) bool { return bytes.Compare(a.key, b.key) < 0 }

// bstate is a bucket as the transaction sees it.
type bstate struct {
	name     []byte
	inDB     bool // has a duban_buckets row (as of the last flush)
	live     bool // exists in this transaction
	wipe     bool // its rows in duban_kv are to be deleted
	seq      uint64
	seqDirty bool
	dirty    bool // anything to write
	ov       *btree.BTreeG[*ent]
	ndirty   int // dirty entries in ov
	// dirtied lists the entries that became dirty since the last flush
	// (some may be clean again), so that a flush need not walk ov.
	dirtied []*ent
	nread   int // Gets sent to the database
	// complete: every row of duban_kv in this bucket has an entry in ov
	// (the bucket was empty, created or emptied): nothing need be read.
	complete bool
	// probed: lo and hi are the least and greatest keys of duban_kv in
	// this bucket when it was probed; a key outside them without an
	// entry in ov is absent (later flushes made entries).
	probed bool
	lo, hi []byte
	// spans were read whole (PrefetchPrefixes): a key in one without an
	// entry in ov is absent.
	spans  *btree.BTreeG[span]
	handle *bucket
}

// span is the keys from lo up to hi (exclusive; nil: no end).
type span struct{ lo, hi []byte }

// outside reports whether key is known absent from duban_kv without an
// entry in ov.
func (s *bstate) outside(key []byte) bool {
	if s.complete || (s.probed && (bytes.Compare(key, s.lo) < 0 || bytes.Compare(key, s.hi) > 0)) {
		return true
	}
	in := false
	if s.spans != nil {
		s.spans.Descend(span{lo: key}, func(sp span) bool {
			in = sp.hi == nil || bytes.Compare(key, sp.hi) < 0
			return false
		})
	}
	return in
}

func (s *bstate) tree() *btree.BTreeG[*ent] {
	if s.ov == nil {
		s.ov = btree.NewBTreeGOptions(lessEnt, btree.Options{NoLocks: true})
	}
	return s.ov
}

type txn struct {
	db       *DB
	conn     *pgxpool.Conn
	writable bool
	buckets  map[string]*bstate
	err      error // sticky engine error
	probe    ent
	// bg, when not nil, receives the outcome of the writes a goroutine is
	// sending on conn (flushAsync); nothing else uses conn meanwhile.
	bg chan error
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

// wait waits for the writes sent in the background, if any: every use
// of conn starts with it.
func (t *txn) wait() {
	if t.bg != nil {
		if err := <-t.bg; err != nil {
			t.fail(err)
		}
		t.bg = nil
	}
}

// idle reports whether no writes are being sent in the background.
func (t *txn) idle() bool {
	if t.bg == nil {
		return true
	}
	select {
	case err := <-t.bg:
		t.bg = nil
		if err != nil {
			t.fail(err)
		}
		return true
	default:
		return false
	}
}

// flushAsync sends every bucket's unwritten writes in a goroutine, so
// that the server applies them while the client goes on (a scheduler
// pass computes its next notices): the commit then has less left to wait
// for. The session must be idle. Its statements are the flush's, with
// INSERTs in place of COPY (the goroutine uses the PgConn alone).
func (t *txn) flushAsync() {
	w := t.writer()
	w.noCopy = true
	for _, s := range t.sorted() {
		w.bucket(s)
	}
	if w.err != nil {
		t.fail(w.err)
		return
	}
	if w.n == 0 {
		return
	}
	ch := make(chan error, 1)
	t.bg = ch
	go func() {
		_, err := w.exec()
		ch <- err
	}()
}

// end sends COMMIT or ROLLBACK.
func (t *txn) end(sql string) error {
	t.wait()
	if t.err != nil && sql == "COMMIT" {
		return t.err
	}
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
	t.wait()
	pc := t.conn.Conn().PgConn()
	if !pc.IsClosed() && pc.TxStatus() != 'I' {
		if _, err := t.conn.Exec(t.db.ctx, "ROLLBACK"); err != nil {
			_ = pc.Close(t.db.ctx)
		}
	}
	t.conn.Release()
	t.conn = nil
}

// commit writes what is unwritten, checks the fence and commits.
func (t *txn) commit(fence *kv.Fence) error {
	w := t.writer()
	for _, s := range t.sorted() {
		w.bucket(s)
	}
	if len(w.copies) > 0 {
		// COPY cannot join a pipeline: run the batch, then the copies.
		if _, err := w.run(); err != nil {
			return err
		}
		w = t.writer()
	}
	if fence != nil {
		w.add(qFence)
	} else {
		w.add("COMMIT")
	}
	res, err := w.run()
	if err != nil || fence == nil {
		return err
	}
	last := res[len(res)-1]
	if len(last.Rows) != 1 {
		return fmt.Errorf("%w: duban_lease has no 'leader' row", kv.ErrFenced)
	}
	holder := string(last.Rows[0][0])
	term, err := strconv.ParseInt(string(last.Rows[0][1]), 10, 64)
	if err != nil {
		t.fail(fmt.Errorf("duban_lease term %q: %w", last.Rows[0][1], err))
		return t.err
	}
	if holder != fence.Holder || term != fence.Term {
		return fmt.Errorf("%w (lease: %q, term %d; fence: %q, term %d)", kv.ErrFenced, holder, term, fence.Holder, fence.Term)
	}
	return t.end("COMMIT")
}

// flushBucket writes one bucket's unwritten writes before commit.
func (t *txn) flushBucket(s *bstate) {
	w := t.writer()
	w.bucket(s)
	_, _ = w.run()
}

// writer collects the statements of a flush into one pipeline of
// unnamed statements (their arguments encoded here), and the COPYs.
type writer struct {
	t       *txn
	batch   pgconn.Batch
	n       int
	copies  [][][]any
	noCopy  bool // INSERT every put (flushAsync)
	err     error
	results []int16 // result formats (nil: text)
}

// writer waits for the background writes, then starts a flush.
func (t *txn) writer() *writer {
	t.wait()
	return &writer{t: t}
}

// binary1 asks for every column in binary (bytea: its bytes).
var binary1 = []int16{pgx.BinaryFormatCode}

// add queues sql with its arguments, each []byte (bytea), [][]byte
// (bytea[]) or uint64 (int8), encoded in binary.
func (w *writer) add(sql string, args ...any) {
	vals := make([][]byte, len(args))
	oids := make([]uint32, len(args))
	formats := make([]int16, len(args))
	for i, a := range args {
		formats[i] = pgx.BinaryFormatCode
		switch a := a.(type) {
		case []byte:
			vals[i], oids[i] = a, pgtype.ByteaOID
		case [][]byte:
			buf, err := w.t.conn.Conn().TypeMap().Encode(pgtype.ByteaArrayOID, pgx.BinaryFormatCode, a, nil)
			if err != nil && w.err == nil {
				w.err = err
			}
			vals[i], oids[i] = buf, pgtype.ByteaArrayOID
		case uint64:
			vals[i], oids[i] = binary.BigEndian.AppendUint64(nil, a), pgtype.Int8OID
		default:
			panic(fmt.Sprintf("pgkv: argument of type %T", a))
		}
	}
	w.batch.ExecParams(sql, vals, oids, formats, w.results)
	w.n++
}

// run sends the pipeline, then the copies; an error poisons the
// transaction.
func (w *writer) run() ([]*pgconn.Result, error) {
	t := w.t
	if w.err != nil {
		t.fail(w.err)
		return nil, t.err
	}
	res, err := w.exec()
	if err != nil {
		t.fail(err)
		return nil, t.err
	}
	return res, nil
}

// exec sends the pipeline, then the copies, and returns the first error.
// It touches nothing of the transaction but its connection (flushAsync
// runs it in a goroutine).
func (w *writer) exec() ([]*pgconn.Result, error) {
	t := w.t
	if w.err != nil {
		return nil, w.err
	}
	var res []*pgconn.Result
	if w.n > 0 {
		var err error
		if res, err = execBatch(t, &w.batch); err != nil {
			return nil, err
		}
	}
	for _, rows := range w.copies {
		if _, err := t.conn.CopyFrom(t.db.ctx, pgx.Identifier{"duban_kv"}, []string{"bucket", "key", "value"}, pgx.CopyFromRows(rows)); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// execBatch sends batch on t's session and returns its results, or the
// first error (of the pipeline or of a statement).
func execBatch(t *txn, batch *pgconn.Batch) ([]*pgconn.Result, error) {
	res, err := t.conn.Conn().PgConn().ExecBatch(t.db.ctx, batch).ReadAll()
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
	}
	return res, nil
}

// bucket queues the statements that write bucket s, in key order, and
// marks its entries written.
func (w *writer) bucket(s *bstate) {
	if !s.dirty {
		return
	}
	s.dirty = false
	if s.wipe {
		w.add(qWipe, s.name)
		s.wipe = false
	}
	if !s.live {
		if s.inDB {
			w.add(qDropBucket, s.name)
			s.inDB = false
		}
		s.ov, s.ndirty, s.dirtied = nil, 0, nil
		return
	}
	switch {
	case !s.inDB:
		w.add(qNewBucket, s.name, s.seq)
		s.inDB = true
	case s.seqDirty:
		w.add(qSetSeq, s.name, s.seq)
	}
	s.seqDirty = false
	if s.ndirty == 0 {
		return
	}
	s.ndirty = 0
	// Keys that may be stored are deleted (then inserted, if put), keys
	// stored and put are updated in place, keys absent are inserted.
	dirtied := s.dirtied
	s.dirtied = nil
	slices.SortFunc(dirtied, func(a, b *ent) int { return bytes.Compare(a.key, b.key) })
	var del, set, ins []*ent
	for _, e := range dirtied {
		if !e.dirty {
			continue // clean again, or listed twice
		}
		switch {
		case e.del:
			del = append(del, e)
		case e.stored == storedYes:
			set = append(set, e)
		case e.stored == storedUnknown:
			del, ins = append(del, e), append(ins, e)
		default:
			ins = append(ins, e)
		}
		e.dirty = false
		if e.del {
			e.stored = storedNo
		} else {
			e.stored = storedYes
		}
	}
	w.chunks(qDelKeys, s.name, del, false)
	w.chunks(qSetKeys, s.name, set, true)
	if len(ins) >= copyRows && !w.noCopy {
		rows := make([][]any, len(ins))
		for i, e := range ins {
			rows[i] = []any{s.name, e.key, e.val}
		}
		w.copies = append(w.copies, rows)
	} else {
		w.chunks(qPutKeys, s.name, ins, true)
	}
}

// chunks queues sql for ents in statements of at most chunkRows rows or
// about chunkBytes, with an array of keys and, with values, of values.
func (w *writer) chunks(sql string, name []byte, ents []*ent, values bool) {
	for len(ents) > 0 {
		n, size := 0, 0
		for n < len(ents) && n < chunkRows && size < chunkBytes {
			size += len(ents[n].key)
			if values {
				size += len(ents[n].val)
			}
			n++
		}
		keys := make([][]byte, n)
		var vals [][]byte
		if values {
			vals = make([][]byte, n)
		}
		for i, e := range ents[:n] {
			keys[i] = e.key
			if values {
				vals[i] = e.val
			}
		}
		if values {
			w.add(sql, name, keys, vals)
		} else {
			w.add(sql, name, keys)
		}
		ents = ents[n:]
	}
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

// probeRange reads the bucket's least and greatest keys, once, so that
// later reads and writes outside them need not ask.
func (t *txn) probeRange(s *bstate) {
	if s.probed || s.complete || t.err != nil {
		return
	}
	var lo, hi []byte
	t.wait()
	if err := t.conn.QueryRow(t.db.ctx, qRange, s.name).Scan(&lo, &hi); err != nil {
		t.fail(err)
		return
	}
	s.probed, s.lo, s.hi = true, lo, hi
	if lo == nil {
		s.complete = true
	}
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
		s = &bstate{name: bytes.Clone(name), complete: true}
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
	s.live, s.dirty, s.ov, s.ndirty, s.dirtied, s.seq, s.complete = false, true, nil, 0, nil, 0, true
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

// entry returns the transaction's entry for key, if any.
func (b *bucket) entry(key []byte) *ent {
	if b.s.ov == nil {
		return nil
	}
	b.t.probe.key = key
	e, _ := b.s.ov.Get(&b.t.probe)
	b.t.probe.key = nil
	return e
}

func (b *bucket) Get(key []byte) []byte {
	t, s := b.t, b.s
	if t.err != nil || !s.live {
		return nil
	}
	if e := b.entry(key); e != nil {
		if e.del {
			return nil
		}
		return e.val
	}
	if len(key) == 0 || len(key) > MaxKeySize || s.outside(key) {
		return nil
	}
	if s.nread++; s.nread == probeAfter {
		t.probeRange(s)
		if s.outside(key) {
			return nil
		}
	}
	var v []byte
	t.wait()
	err := t.conn.QueryRow(t.db.ctx, qGet, s.name, key).Scan(&v)
	e := &ent{key: bytes.Clone(key)}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		e.del, e.stored = true, storedNo
	case err != nil:
		t.fail(err)
		return nil
	default:
		if v == nil {
			v = []byte{}
		}
		e.val, e.stored = v, storedYes
	}
	// Remembered: read again, or written, the key needs no round trip.
	s.tree().Set(e)
	return e.val
}

// Prefetch reads the keys the transaction knows nothing of, in one
// pipeline of statements of at most chunkRows keys, and remembers them.
func (b *bucket) Prefetch(keys [][]byte) {
	t, s := b.t, b.s
	if t.err != nil || !s.live || s.complete {
		return
	}
	var want []*ent
	for _, k := range keys {
		if len(k) > 0 && len(k) <= MaxKeySize && b.entry(k) == nil && !s.outside(k) {
			// Absent unless the database says otherwise.
			e := &ent{key: bytes.Clone(k), del: true, stored: storedNo}
			if _, dup := s.tree().Set(e); !dup {
				want = append(want, e)
			}
		}
	}
	if len(want) == 0 {
		return
	}
	w := t.writer()
	w.results = binary1
	w.chunks(qMany, s.name, want, false)
	res, err := w.run()
	if err != nil {
		return
	}
	for _, r := range res {
		for _, row := range r.Rows {
			e := b.entry(row[0])
			if e == nil || len(row) != 2 {
				continue
			}
			v := row[1]
			if v == nil {
				v = []byte{}
			}
			e.val, e.del, e.stored = v, false, storedYes
		}
	}
}

// PrefetchPrefixes reads every key with one of prefixes, in one pipeline,
// and remembers them and that no other key with those prefixes exists.
func (b *bucket) PrefetchPrefixes(prefixes [][]byte) {
	t, s := b.t, b.s
	if t.err != nil || !s.live || s.complete || len(prefixes) == 0 {
		return
	}
	// Prepared statements (a range scan of the primary key whatever the
	// statistics), pipelined, their arguments and rows in binary on the
	// PgConn (pgx.Batch cost more client time than the server's).
	var spans []span
	for _, p := range prefixes {
		if len(p) > 0 && !s.outside(p) {
			spans = append(spans, span{lo: bytes.Clone(p), hi: prefixEnd(p)})
		}
	}
	if len(spans) == 0 {
		return
	}
	t.wait()
	conn := t.conn.Conn()
	sdSpan, err := conn.Prepare(t.db.ctx, "pgkv_span", qSpan) // once per session
	if err != nil {
		t.fail(err)
		return
	}
	sdSpanUp, err := conn.Prepare(t.db.ctx, "pgkv_span_up", qSpanUp)
	if err != nil {
		t.fail(err)
		return
	}
	var batch pgconn.Batch
	bin3 := []int16{pgx.BinaryFormatCode, pgx.BinaryFormatCode, pgx.BinaryFormatCode}
	bin2 := bin3[:2]
	for _, sp := range spans {
		if sp.hi == nil {
			batch.ExecPrepared(sdSpanUp.Name, [][]byte{s.name, sp.lo}, bin2, bin2)
		} else {
			batch.ExecPrepared(sdSpan.Name, [][]byte{s.name, sp.lo, sp.hi}, bin3, bin2)
		}
	}
	res, err := execBatch(t, &batch)
	if err != nil {
		t.fail(err)
		return
	}
	var found []row
	for _, r := range res {
		for _, rw := range r.Rows {
			if len(rw) == 2 {
				v := rw[1]
				if v == nil {
					v = []byte{}
				}
				found = append(found, row{k: rw[0], v: v})
			}
		}
	}
	ov := s.tree()
	for _, r := range found {
		if b.entry(r.k) == nil { // the transaction's own knowledge wins
			ov.Set(&ent{key: r.k, val: r.v, stored: storedYes})
		}
	}
	if s.spans == nil {
		s.spans = btree.NewBTreeGOptions(func(a, b span) bool { return bytes.Compare(a.lo, b.lo) < 0 }, btree.Options{NoLocks: true})
	}
	for _, sp := range spans {
		if old, ok := s.spans.Get(sp); !ok || (old.hi != nil && (sp.hi == nil || bytes.Compare(sp.hi, old.hi) > 0)) {
			s.spans.Set(sp)
		}
	}
}

// prefixEnd returns the least key greater than every key with prefix p,
// nil if there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Peek returns what the transaction knows of key without a round trip.
func (b *bucket) Peek(key []byte) ([]byte, bool) {
	t, s := b.t, b.s
	if t.err != nil || !s.live {
		return nil, true
	}
	if e := b.entry(key); e != nil {
		if e.del {
			return nil, true
		}
		return e.val, true
	}
	if len(key) == 0 || len(key) > MaxKeySize || s.outside(key) {
		return nil, true
	}
	return nil, false
}

// write checks a write and records it.
func (b *bucket) write(key, val []byte, del bool) error {
	t, s := b.t, b.s
	switch {
	case !t.writable:
		return kv.ErrTxNotWritable
	case t.err != nil:
		return t.err
	case !s.live:
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
	stored := storedUnknown
	old := b.entry(key)
	switch {
	case old != nil:
		stored = old.stored
	case s.outside(key):
		stored = storedNo
	}
	if val == nil && !del {
		val = []byte{}
	}
	dirty := !del || stored != storedNo // else nothing stored to delete
	was := old != nil && old.dirty
	if old != nil {
		// Changed in place: one search of ov, and the entry stays listed
		// in dirtied at most once while dirty.
		old.val, old.del, old.dirty = val, del, dirty
	} else {
		old = &ent{key: key, val: val, del: del, stored: stored, dirty: dirty}
		s.tree().Set(old)
	}
	switch {
	case dirty && !was:
		s.ndirty++
		s.dirtied = append(s.dirtied, old)
	case !dirty && was:
		s.ndirty--
	}
	s.dirty = true
	if s.ndirty == probeAfter {
		t.probeRange(s)
	}
	if s.ndirty >= flushAtWrite {
		t.flushBucket(s)
		return t.err
	}
	if s.ndirty >= asyncRows && t.idle() {
		t.flushAsync()
	}
	return t.err
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

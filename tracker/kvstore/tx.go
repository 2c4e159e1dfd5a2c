package kvstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/kv"
)

// txn implements tracker.Tx on one kv transaction.
//
// bbolt does not split nodes until commit, so n inserts in random order
// into one leaf node cost O(n²) memmove: 100 000 random PutInstance calls
// into a new file took 35 s. So a write of a key after every key of its
// bucket goes straight to bbolt (an append), and other writes are buffered
// per bucket and applied in key order when the bucket is next scanned and
// at commit (1.5 s for the same load). Reads look at the buffer first.
// On PostgreSQL the engine buffers too, and sends writes while the
// transaction goes on: a bucket's buffered writes are handed to it every
// handOver writes.
type txn struct {
	tx       kv.Tx
	writable bool
	// direct: appends go straight to the engine (bbolt: cheap, and read
	// back cheaply). Otherwise (PostgreSQL, where a Get is a query) every
	// write is buffered, so that a Get of a key after the bucket's last
	// key in the engine is answered from the buffer alone (an import into
	// a new database asks the engine nothing).
	direct bool
	dirty  bool  // something was written: Update must commit
	err    error // a bucket missing from the database
	b      [numBuckets]bucketState

	// items caches the title and doc of the items this transaction
	// wrote or looked up for a due entry (an import writes every item,
	// then their instances).
	items map[string]itemText
	// orphans are the items whose instances were indexed, in this
	// transaction, while the item was not stored: PutItem of such an
	// item completes their entries.
	orphans map[string]bool
}

// itemText is what a due entry keeps of an item.
type itemText struct {
	Title string `json:"title"`
	Doc   string `json:"doc"`
	found bool
}

// bucketState is a bucket handle plus what the transaction did to it.
type bucketState struct {
	b       kv.Bucket // nil until first used (txn.bucket)
	pending map[string]pendingWrite
	// writes counts the writes applied to b, so that a scan knows when
	// its cursor must seek again.
	writes int
	// last is, when lastKnown, a key no key in the engine's bucket is
	// after (!txn.direct, writable only): its last key when first used,
	// raised by flush.
	last      []byte
	lastKnown bool
	// touched is set by the first write; base is the bucket's last key
	// then, and max the greatest key written since.
	touched   bool
	base, max []byte
	// appendOnly says every write put a key after base and none deleted
	// (a bulk load): the bucket is spilled with FillPercent 1.0, which
	// halves the size of what was loaded. Valid once touched is set.
	appendOnly bool
}

// pendingWrite is a buffered Put (del false) or Delete. key and val are
// owned by the transaction and never change: the engine may keep
// referring to them until the commit (bbolt does).
type pendingWrite struct {
	key, val []byte
	del      bool
}

var _ tracker.Tx = (*txn)(nil)

// newTxn starts a txn on tx. It looks buckets up when first used (on
// PostgreSQL a lookup may be a query).
func newTxn(tx kv.Tx) *txn {
	_, direct := tx.(*boltkv.Tx)
	return &txn{tx: tx, writable: tx.Writable(), direct: direct}
}

// lastKey returns bucketState.last of bucket bi, reading it from the
// engine on first use.
func (t *txn) lastKey(bi int) []byte {
	st := &t.b[bi]
	if !st.lastKnown {
		k, _ := t.bucket(bi).Cursor().Last()
		st.last, st.lastKnown = bytes.Clone(k), true
	}
	return st.last
}

// bucket returns bucket bi. A bucket missing from the database (Open
// creates them all) reads as empty, fails writes, and fails the
// transaction (txn.err).
func (t *txn) bucket(bi int) kv.Bucket {
	st := &t.b[bi]
	if st.b == nil {
		if st.b = t.tx.Bucket(bucketNames[bi]); st.b == nil {
			st.b = missingBucket{}
			if t.err == nil {
				t.err = fmt.Errorf("database has no %s bucket", bucketNames[bi])
			}
		}
	}
	return st.b
}

// missingBucket stands in for a bucket the database lacks.
type missingBucket struct{}

var errMissingBucket = errors.New("bucket missing from the database")

func (missingBucket) Get([]byte) []byte             { return nil }
func (missingBucket) Put(_, _ []byte) error         { return errMissingBucket }
func (missingBucket) Delete([]byte) error           { return errMissingBucket }
func (missingBucket) Cursor() kv.Cursor             { return missingBucket{} }
func (missingBucket) NextSequence() (uint64, error) { return 0, errMissingBucket }
func (missingBucket) Sequence() uint64              { return 0 }
func (missingBucket) SetSequence(uint64) error      { return errMissingBucket }
func (missingBucket) SetFillPercent(float64)        {}
func (missingBucket) First() ([]byte, []byte)       { return nil, nil }
func (missingBucket) Last() ([]byte, []byte)        { return nil, nil }
func (missingBucket) Seek([]byte) ([]byte, []byte)  { return nil, nil }
func (missingBucket) Next() ([]byte, []byte)        { return nil, nil }

// checkWritable reports an error for a write in a read-only transaction.
// The engine would too, but not before an identical-value Put is skipped.
func (t *txn) checkWritable() error {
	if !t.writable {
		return kv.ErrTxNotWritable
	}
	return nil
}

// get returns the value of key in bucket bi, or nil. The slice is only
// valid during the transaction.
func (t *txn) get(bi int, key []byte) []byte {
	st := &t.b[bi]
	if w, ok := st.pending[string(key)]; ok {
		if w.del {
			return nil
		}
		return w.val
	}
	if !t.direct && t.writable {
		if last := t.lastKey(bi); last == nil || bytes.Compare(key, last) > 0 {
			return nil // only the buffer holds keys after last
		}
	}
	return t.bucket(bi).Get(key)
}

// put stores val under key unless that is what is stored already. key and
// val must not change afterwards.
func (t *txn) put(bi int, key, val []byte) error {
	if old, known := t.peek(bi, key); known && old != nil && bytes.Equal(old, val) {
		return nil
	}
	return t.putNew(bi, key, val)
}

// peek is get where that needs no round trip to a database server
// (kv.Peek: always on bbolt); known is false where it would.
func (t *txn) peek(bi int, key []byte) (val []byte, known bool) {
	if w, ok := t.b[bi].pending[string(key)]; ok {
		if w.del {
			return nil, true
		}
		return w.val, true
	}
	return kv.Peek(t.bucket(bi), key)
}

// putNew stores val under key without comparing with the stored value.
func (t *txn) putNew(bi int, key, val []byte) error {
	return t.buffer(bi, pendingWrite{key: key, val: val})
}

func (t *txn) del(bi int, key []byte) error {
	return t.buffer(bi, pendingWrite{key: key, del: true})
}

// buffer records a write. On bbolt (txn.direct) a Put of a key greater
// than any in the bucket goes straight to the engine: appending to a node
// is cheap.
func (t *txn) buffer(bi int, w pendingWrite) error {
	switch {
	case len(w.key) == 0:
		return kv.ErrKeyRequired
	case len(w.key) > kv.MaxKeySize:
		return kv.ErrKeyTooLarge
	case len(w.val) > kv.MaxValueSize:
		return kv.ErrValueTooLarge
	}
	if w.val == nil {
		w.val = []byte{}
	}
	b := t.bucket(bi)
	st := &t.b[bi]
	if !st.touched {
		// base and max serve appends and FillPercent, bbolt's alone: on
		// PostgreSQL reading the last key would be a round trip for
		// nothing.
		st.touched, st.appendOnly = true, t.direct
		if t.direct {
			st.base, _ = b.Cursor().Last()
			st.base = bytes.Clone(st.base)
			st.max = st.base
		}
	}
	t.dirty = true
	after := st.max == nil || bytes.Compare(w.key, st.max) > 0
	if w.del || (st.base != nil && bytes.Compare(w.key, st.base) <= 0) {
		st.appendOnly = false
	}
	if after && !w.del && t.direct {
		st.max = w.key
		delete(st.pending, string(w.key)) // a buffered Delete of a key never stored
		st.writes++
		if err := b.Put(w.key, w.val); err != nil {
			return fmt.Errorf("write %s key %q: %w", bucketNames[bi], w.key, err)
		}
		return nil
	}
	if st.pending == nil {
		st.pending = make(map[string]pendingWrite)
	}
	st.pending[string(w.key)] = w
	if !t.direct && len(st.pending) >= handOver {
		// The engine buffers too (pgkv), and sends what it holds while
		// the transaction goes on: hand it the writes early rather than
		// all at commit.
		return t.flush(bi)
	}
	return nil
}

// handOver is how many buffered writes of one bucket a transaction on an
// engine other than bbolt keeps before applying them (a variable for
// tests).
var handOver = 256

// flush applies the buffered writes of bucket bi in key order.
func (t *txn) flush(bi int) error {
	st := &t.b[bi]
	if len(st.pending) == 0 {
		return nil
	}
	if !t.direct {
		t.lastKey(bi) // before the engine sees the buffer
	}
	ws := make([]pendingWrite, 0, len(st.pending))
	for _, w := range st.pending {
		ws = append(ws, w)
	}
	clear(st.pending)
	st.writes++
	slices.SortFunc(ws, func(a, b pendingWrite) int { return bytes.Compare(a.key, b.key) })
	for _, w := range ws {
		var err error
		if w.del {
			err = st.b.Delete(w.key)
		} else {
			err = st.b.Put(w.key, w.val)
		}
		if err != nil {
			return fmt.Errorf("write %s key %q: %w", bucketNames[bi], w.key, err)
		}
		if !w.del && !t.direct && bytes.Compare(w.key, st.last) > 0 {
			st.last = w.key
		}
	}
	return nil
}

// flushAll applies every buffered write and raises FillPercent of the
// buckets that only saw appends (it is read when nodes are spilled, at
// commit).
func (t *txn) flushAll() error {
	for i := range t.b {
		if err := t.flush(i); err != nil {
			return err
		}
		if st := &t.b[i]; st.touched && st.appendOnly {
			st.b.SetFillPercent(1.0)
		}
	}
	return nil
}

// scan calls fn for each key/value pair of bucket bi from seek (First
// when seek is nil) while the key starts with prefix. In a writable
// transaction fn may write: its writes to bi are applied after each call
// and the cursor repositioned (cursors are not valid across writes),
// so a key fn moves ahead is visited again.
func (t *txn) scan(bi int, seek, prefix []byte, fn func(k, v []byte) error) error {
	writable := t.writable
	if writable {
		if err := t.flush(bi); err != nil {
			return err
		}
	}
	st := &t.b[bi]
	c := t.bucket(bi).Cursor()
	var k, v []byte
	if seek == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(seek)
	}
	for k != nil && bytes.HasPrefix(k, prefix) {
		var last []byte
		writes := st.writes
		if writable {
			last = bytes.Clone(k)
		}
		if err := fn(k, v); err != nil {
			if errors.Is(err, tracker.ErrStop) {
				return nil
			}
			return err
		}
		if writable && len(st.pending) > 0 {
			if err := t.flush(bi); err != nil {
				return err
			}
		}
		if !writable || st.writes == writes {
			k, v = c.Next()
			continue
		}
		if k, v = c.Seek(last); k != nil && bytes.Equal(k, last) {
			k, v = c.Next()
		}
	}
	return nil
}

func getJSON[T any](t *txn, bi int, kind, id string) (*T, error) {
	v := t.get(bi, []byte(id))
	if v == nil {
		return nil, fmt.Errorf("%s %q: %w", kind, id, tracker.ErrNotFound)
	}
	x := new(T)
	if err := unmarshal(v, x); err != nil {
		return nil, fmt.Errorf("decode %s %q: %w", kind, id, err)
	}
	return x, nil
}

func putJSON(t *txn, bi int, kind, id string, x any) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("put %s %q: %w", kind, id, err)
	}
	if id == "" {
		return fmt.Errorf("put %s: empty id", kind)
	}
	val, err := json.Marshal(x)
	if err != nil {
		return fmt.Errorf("encode %s %q: %w", kind, id, err)
	}
	if err := t.put(bi, []byte(id), val); err != nil {
		return fmt.Errorf("put %s %q: %w", kind, id, err)
	}
	return nil
}

func eachJSON[T any](t *txn, bi int, kind string, fn func(*T) error) error {
	return t.scan(bi, nil, nil, func(k, v []byte) error {
		x := new(T)
		if err := unmarshal(v, x); err != nil {
			return fmt.Errorf("decode %s %q: %w", kind, k, err)
		}
		return fn(x)
	})
}

// Office returns the stored office, or the zero Office if none is stored.
func (t *txn) Office() (tracker.Office, error) {
	var o tracker.Office
	v := t.get(bOffice, keyOffice)
	if v == nil {
		return o, nil
	}
	if err := unmarshal(v, &o); err != nil {
		return o, fmt.Errorf("decode office: %w", err)
	}
	return o, nil
}

// PutOffice stores o.
func (t *txn) PutOffice(o tracker.Office) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("put office: %w", err)
	}
	val, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode office: %w", err)
	}
	if err := t.put(bOffice, keyOffice, val); err != nil {
		return fmt.Errorf("put office: %w", err)
	}
	return nil
}

// Person returns the person id, or an error wrapping tracker.ErrNotFound.
func (t *txn) Person(id string) (*tracker.Person, error) {
	return getJSON[tracker.Person](t, bPeople, "person", id)
}

// PutPerson stores p under p.ID.
func (t *txn) PutPerson(p *tracker.Person) error {
	return putJSON(t, bPeople, "person", p.ID, p)
}

// Unit returns the unit id, or an error wrapping tracker.ErrNotFound.
func (t *txn) Unit(id string) (*tracker.Unit, error) {
	return getJSON[tracker.Unit](t, bUnits, "unit", id)
}

// PutUnit stores u under u.ID.
func (t *txn) PutUnit(u *tracker.Unit) error {
	return putJSON(t, bUnits, "unit", u.ID, u)
}

// Units calls fn for every unit in id order.
func (t *txn) Units(fn func(*tracker.Unit) error) error {
	return eachJSON(t, bUnits, "unit", fn)
}

// Policy returns the policy id, or an error wrapping tracker.ErrNotFound.
func (t *txn) Policy(id string) (*tracker.Policy, error) {
	return getJSON[tracker.Policy](t, bPolicies, "policy", id)
}

// PutPolicy stores p under p.ID.
func (t *txn) PutPolicy(p *tracker.Policy) error {
	return putJSON(t, bPolicies, "policy", p.ID, p)
}

// Policies calls fn for every policy in id order.
func (t *txn) Policies(fn func(*tracker.Policy) error) error {
	return eachJSON(t, bPolicies, "policy", fn)
}

// Item returns the item id, or an error wrapping tracker.ErrNotFound.
func (t *txn) Item(id string) (*tracker.Item, error) {
	return getJSON[tracker.Item](t, bItems, "item", id)
}

// PutItem stores it under it.ID. When its title or doc changes it
// rewrites the due entries of its active instances (they keep both).
func (t *txn) PutItem(it *tracker.Item) error {
	var old itemText
	v := t.get(bItems, []byte(it.ID))
	if v != nil {
		if err := unmarshal(v, &old); err != nil {
			return fmt.Errorf("put item %q: decode stored value: %w", it.ID, err)
		}
	}
	if err := putJSON(t, bItems, "item", it.ID, it); err != nil {
		return err
	}
	t.cacheItem(it.ID, itemText{Title: it.Title, Doc: it.Doc, found: true})
	if v != nil && (old.Title != it.Title || old.Doc != it.Doc) || v == nil && t.orphans[it.ID] {
		delete(t.orphans, it.ID)
		if err := t.reindexItem(it.ID); err != nil {
			return fmt.Errorf("put item %q: %w", it.ID, err)
		}
	}
	return nil
}

// item returns the title and doc of item id, and whether it is stored.
func (t *txn) item(id string) (itemText, error) {
	if it, ok := t.items[id]; ok {
		return it, nil
	}
	var it itemText
	if v := t.get(bItems, []byte(id)); v != nil {
		if err := unmarshal(v, &it); err != nil {
			return it, fmt.Errorf("decode item %q: %w", id, err)
		}
		it.found = true
	}
	t.cacheItem(id, it)
	return it, nil
}

func (t *txn) cacheItem(id string, it itemText) {
	if t.items == nil {
		t.items = make(map[string]itemText)
	}
	t.items[id] = it
}

// reindexItem rewrites the due entries of the active instances of item.
func (t *txn) reindexItem(item string) error {
	return t.InstancesOf(item, func(in *tracker.Instance) error {
		if !in.Status.Listed() {
			return nil
		}
		val, err := t.entryValue(in)
		if err != nil {
			return err
		}
		key := make([]byte, 8+len(in.ID))
		putTime(key, in.Deadline.Due)
		copy(key[8:], in.ID)
		return t.put(bDue, key, val)
	})
}

// entryValue returns the due index value of the active instance in.
func (t *txn) entryValue(in *tracker.Instance) ([]byte, error) {
	it, err := t.item(in.Item)
	if err != nil {
		return nil, err
	}
	if !it.found && t.writable {
		if t.orphans == nil {
			t.orphans = make(map[string]bool)
		}
		t.orphans[in.Item] = true
	}
	b := make([]byte, 0, 48+len(in.Item)+len(in.Unit)+len(in.Note)+len(it.Title)+len(it.Doc))
	return appendEntry(b, in, it.Title, it.Doc, it.found), nil
}

// Items calls fn for every item in id order.
func (t *txn) Items(fn func(*tracker.Item) error) error {
	return eachJSON(t, bItems, "item", fn)
}

// Instance returns the instance id, or an error wrapping tracker.ErrNotFound.
func (t *txn) Instance(id string) (*tracker.Instance, error) {
	return getJSON[tracker.Instance](t, bInstances, "instance", id)
}

// indexFields are the fields of an instance that decide its index
// entries; decoding only them is cheaper than decoding a whole Instance.
type indexFields struct {
	Status   tracker.Status `json:"status"`
	Deadline struct {
		Due time.Time `json:"due"`
	} `json:"deadline"`
	AssignedAt time.Time `json:"assigned_at"`
	NextNotice time.Time `json:"next_notice"`
}

// index is a time index of instances: key = putTime(at) + instance id.
type index struct {
	bucket int
	name   string
	// at returns the time an instance is indexed under, and false if it
	// is not indexed.
	at func(*indexFields) (time.Time, bool)
}

var (
	dueIndex = index{bDue, "due", func(f *indexFields) (time.Time, bool) {
		return f.Deadline.Due, f.Status.Listed()
	}}
	assignedIndex = index{bAssigned, "assigned", func(f *indexFields) (time.Time, bool) {
		return f.AssignedAt, f.Status.Active() && !f.AssignedAt.IsZero()
	}}
	wakeIndex = index{bWake, "wake", func(f *indexFields) (time.Time, bool) {
		return f.NextNotice, f.Status.Listed() && f.NextNotice.Before(tracker.Never)
	}}
	indexes = [...]index{dueIndex, assignedIndex, wakeIndex}
)

// PutInstance stores in and keeps the due and assigned indexes in step:
// an active instance is indexed under its deadline and, if it has one,
// its AssignedAt; an inactive one is in neither.
func (t *txn) PutInstance(in *tracker.Instance) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("put instance %q: %w", in.ID, err)
	}
	if err := checkID(in.ID); err != nil {
		return fmt.Errorf("put instance: %w", err)
	}
	val, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode instance %q: %w", in.ID, err)
	}
	// One allocation holds the due key and, as its tail, the instance key.
	dueKey := make([]byte, 8+len(in.ID))
	copy(dueKey[8:], in.ID)
	id := dueKey[8:]

	old := t.get(bInstances, id)
	if old != nil && bytes.Equal(old, val) {
		return nil
	}
	var nf, of indexFields
	nf.Status, nf.Deadline.Due, nf.AssignedAt, nf.NextNotice = in.Status, in.Deadline.Due, in.AssignedAt, in.NextNotice
	if old != nil {
		if err := unmarshal(old, &of); err != nil {
			return fmt.Errorf("put instance %q: decode stored value: %w", in.ID, err)
		}
	}
	for _, ix := range indexes {
		nt, nok := ix.at(&nf)
		ot, ook := ix.at(&of)
		ook = ook && old != nil
		var nk, ok [8]byte
		putTime(nk[:], nt)
		putTime(ok[:], ot)
		same := nok && ook && nk == ok
		if ook && !same {
			if err := t.del(ix.bucket, append(ok[:], id...)); err != nil {
				return fmt.Errorf("put instance %q: unindex %s: %w", in.ID, ix.name, err)
			}
		}
		if !nok {
			continue
		}
		key := dueKey
		if ix.bucket != bDue {
			key = append(nk[:], id...) // a fresh slice: cap(nk[:]) is 8
		}
		copy(key, nk[:])
		var entry []byte // the due index covers a list row
		if ix.bucket == bDue {
			if entry, err = t.entryValue(in); err != nil {
				return fmt.Errorf("put instance %q: %w", in.ID, err)
			}
		}
		switch {
		case !same:
			err = t.putNew(ix.bucket, key, entry)
		case entry != nil:
			err = t.put(ix.bucket, key, entry) // skipped if unchanged
		}
		if err != nil {
			return fmt.Errorf("put instance %q: index %s: %w", in.ID, ix.name, err)
		}
	}
	if err := t.putNew(bInstances, id, val); err != nil {
		return fmt.Errorf("put instance %q: %w", in.ID, err)
	}
	return nil
}

// Instances calls fn for every instance in id order.
func (t *txn) Instances(fn func(*tracker.Instance) error) error {
	return eachJSON(t, bInstances, "instance", fn)
}

// InstancesOf calls fn, in id order, for the instances of item: those
// whose id is the item id or starts with it and "/", and whose Item field
// is item (an item "a/b" has ids under "a/" too).
func (t *txn) InstancesOf(item string, fn func(*tracker.Instance) error) error {
	if item == "" {
		return nil
	}
	call := func(k, v []byte) error {
		in := new(tracker.Instance)
		if err := unmarshal(v, in); err != nil {
			return fmt.Errorf("decode instance %q: %w", k, err)
		}
		if in.Item != item {
			return nil
		}
		return fn(in)
	}
	stopped := false
	if v := t.get(bInstances, []byte(item)); v != nil {
		err := call([]byte(item), v)
		if errors.Is(err, tracker.ErrStop) {
			stopped = true
		} else if err != nil {
			return err
		}
	}
	if stopped {
		return nil
	}
	prefix := []byte(item + "/")
	return t.scan(bInstances, prefix, prefix, call)
}

// DueBefore calls fn, in deadline order (to the second; ties in id
// order), for the active
// instances whose Deadline.Due is before tm, or all of them when tm is
// zero. It reads only the due index and the instances it names.
func (t *txn) DueBefore(tm time.Time, fn func(*tracker.Instance) error) error {
	return t.scanIndex(dueIndex, time.Time{}, tm, fn)
}

// AssignedBetween calls fn, in AssignedAt order (to the second; ties in
// id order), for the
// active instances whose AssignedAt is in [from, to). A zero from or to
// leaves that end open. It reads only the assigned index and the
// instances it names.
func (t *txn) AssignedBetween(from, to time.Time, fn func(*tracker.Instance) error) error {
	return t.scanIndex(assignedIndex, from, to, fn)
}

// upperBound is the exclusive upper bound of an index scan (none when
// the time is zero).
type upperBound struct {
	to   time.Time
	key  [8]byte
	frac bool
}

func newUpperBound(to time.Time) upperBound {
	u := upperBound{to: to, frac: to.Nanosecond() != 0}
	putTime(u.key[:], to)
	return u
}

// check reports whether index key k is past the bound, and whether it is
// in the bound's second. Keys hold whole seconds (floor): a key in the
// second of a bound needs the instance's own time to decide.
func (u *upperBound) check(k []byte) (past, atHi bool) {
	if u.to.IsZero() {
		return false, false
	}
	cmp := bytes.Compare(k[:8], u.key[:])
	return cmp > 0 || (cmp == 0 && !u.frac), cmp == 0
}

// DueEntries calls fn, in deadline order, with the due index entries of
// the active instances whose Deadline.Due is before tm (all when tm is
// zero). It reads only the due index, except for an entry a database of
// schema 1 left empty (opened read-only before its migration), which it
// reads through the instance and its item.
func (t *txn) DueEntries(tm time.Time, fn func(*tracker.DueEntry) error) error {
	hi := newUpperBound(tm)
	var e tracker.DueEntry
	return t.scan(bDue, nil, nil, func(k, v []byte) error {
		if len(k) <= 8 {
			return fmt.Errorf("due index: malformed key %x", k)
		}
		past, atHi := hi.check(k)
		if past {
			return tracker.ErrStop
		}
		if err := t.readEntry(k[8:], v, &e); err != nil {
			return err
		}
		if atHi && !e.In.Deadline.Due.Before(tm) {
			return nil
		}
		return fn(&e)
	})
}

// readEntry decodes the due entry value v of instance id into e.
func (t *txn) readEntry(id, v []byte, e *tracker.DueEntry) error {
	if len(v) > 0 {
		return decodeEntry(id, v, e)
	}
	iv := t.get(bInstances, id)
	if iv == nil {
		return fmt.Errorf("due index names missing instance %q", id)
	}
	var in tracker.Instance
	if err := unmarshal(iv, &in); err != nil {
		return fmt.Errorf("decode instance %q: %w", id, err)
	}
	it, err := t.item(in.Item)
	if err != nil {
		return err
	}
	// through the encoding, so that e holds the same fields as ever
	return decodeEntry(id, appendEntry(nil, &in, it.Title, it.Doc, it.found), e)
}

// scanIndex calls fn, in key order, for the instances ix names whose
// indexed time is in [from, to); a zero bound is open.
func (t *txn) scanIndex(ix index, from, to time.Time, fn func(*tracker.Instance) error) error {
	var lo [8]byte
	var seek []byte
	if !from.IsZero() {
		putTime(lo[:], from)
		seek = lo[:]
	}
	hi := newUpperBound(to)
	ahead := newReadAhead(t, ix.bucket, &hi)
	return t.scan(ix.bucket, seek, nil, func(k, _ []byte) error {
		if len(k) <= 8 {
			return fmt.Errorf("%s index: malformed key %x", ix.name, k)
		}
		past, atHi := hi.check(k)
		if past {
			return tracker.ErrStop
		}
		ahead.at(k)
		atLo := false
		if seek != nil {
			atLo = bytes.Equal(k[:8], lo[:])
		}
		v := t.get(bInstances, k[8:])
		if v == nil {
			return fmt.Errorf("%s index names missing instance %q", ix.name, k[8:])
		}
		in := new(tracker.Instance)
		if err := unmarshal(v, in); err != nil {
			return fmt.Errorf("decode instance %q: %w", k[8:], err)
		}
		if atHi || atLo {
			f := indexFields{AssignedAt: in.AssignedAt, NextNotice: in.NextNotice, Status: in.Status}
			f.Deadline.Due = in.Deadline.Due
			at, _ := ix.at(&f)
			if (atHi && !at.Before(to)) || (atLo && at.Before(from)) {
				return nil
			}
		}
		return fn(in)
	})
}

// AppendEvent adds e to the history of instance id.
func (t *txn) AppendEvent(id string, e tracker.Event) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("append event to %q: %w", id, err)
	}
	if err := checkID(id); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	val, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event for %q: %w", id, err)
	}
	t.dirty = true
	seq, err := t.bucket(bHistory).NextSequence()
	if err != nil {
		return fmt.Errorf("append event to %q: %w", id, err)
	}
	key := make([]byte, len(id)+1+8)
	copy(key, id)
	binary.BigEndian.PutUint64(key[len(id)+1:], seq)
	if err := t.putNew(bHistory, key, val); err != nil {
		return fmt.Errorf("append event to %q: %w", id, err)
	}
	return nil
}

// Events returns the history of instance id, oldest first (nil if none).
func (t *txn) Events(id string) ([]tracker.Event, error) {
	if id == "" {
		return nil, nil
	}
	prefix := append([]byte(id), 0)
	var evs []tracker.Event
	err := t.scan(bHistory, prefix, prefix, func(k, v []byte) error {
		var e tracker.Event
		if err := unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode event %x: %w", k, err)
		}
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of %q: %w", id, err)
	}
	return evs, nil
}

// Meta returns a copy of the meta value key, or nil if absent.
func (t *txn) Meta(key string) ([]byte, error) {
	return bytes.Clone(t.get(bMeta, []byte(key))), nil
}

// PutMeta stores value under the meta key.
func (t *txn) PutMeta(key string, value []byte) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("put meta %q: %w", key, err)
	}
	if key == "" {
		return errors.New("put meta: empty key")
	}
	if err := t.put(bMeta, []byte(key), bytes.Clone(value)); err != nil {
		return fmt.Errorf("put meta %q: %w", key, err)
	}
	return nil
}

// checkID rejects ids that cannot be keys: empty ones and ones holding
// the history separator 0x00.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty id")
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("id %q contains a NUL byte", id)
	}
	return nil
}

// putTime writes t as 8 bytes that sort like the times: big-endian Unix
// seconds with the sign bit flipped.
func putTime(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.Unix())^1<<63)
}

// checkIndexes reports every disagreement between the indexes and the
// instances (at most maxProblems).
func checkIndexes(tx kv.Tx) []error {
	const maxProblems = 100
	var errs []error
	report := func(format string, args ...any) bool {
		errs = append(errs, fmt.Errorf(format, args...))
		return len(errs) < maxProblems
	}
	insts := tx.Bucket(bucketNames[bInstances])
	version, _ := strconv.Atoi(string(tx.Bucket(bucketNames[bMeta]).Get(keySchemaVersion)))
	for _, ix := range indexes {
		c := tx.Bucket(bucketNames[ix.bucket]).Cursor()
		for k, ev := c.First(); k != nil; k, ev = c.Next() {
			if len(k) <= 8 {
				if !report("%s index: malformed key %x", ix.name, k) {
					return errs
				}
				continue
			}
			v := insts.Get(k[8:])
			if v == nil {
				if !report("%s index: names missing instance %q", ix.name, k[8:]) {
					return errs
				}
				continue
			}
			var f indexFields
			if err := unmarshal(v, &f); err != nil {
				if !report("instance %q: %w", k[8:], err) {
					return errs
				}
				continue
			}
			at, ok := ix.at(&f)
			var want [8]byte
			putTime(want[:], at)
			switch {
			case !ok:
				if !report("%s index: names instance %q in status %s", ix.name, k[8:], f.Status) {
					return errs
				}
			case !bytes.Equal(want[:], k[:8]):
				if !report("%s index: instance %q indexed under the wrong time", ix.name, k[8:]) {
					return errs
				}
			case ix.bucket == bDue:
				if err := checkEntry(tx, version, k[8:], ev, v); err != nil && !report("due index: %w", err) {
					return errs
				}
			}
		}
	}
	ic := insts.Cursor()
	for id, v := ic.First(); id != nil; id, v = ic.Next() {
		var f indexFields
		if err := unmarshal(v, &f); err != nil {
			if !report("instance %q: %w", id, err) {
				return errs
			}
			continue
		}
		for _, ix := range indexes {
			at, ok := ix.at(&f)
			if !ok {
				continue
			}
			key := make([]byte, 8+len(id))
			putTime(key, at)
			copy(key[8:], id)
			if k, _ := tx.Bucket(bucketNames[ix.bucket]).Cursor().Seek(key); !bytes.Equal(k, key) {
				if !report("%s index: active instance %q is missing", ix.name, id) {
					return errs
				}
			}
		}
	}
	return errs
}

// checkEntry checks that ev, the due entry of instance id (stored as iv),
// holds what the instance and its item say: empty in a schema 1 file; in
// a later one the entry appendEntry writes, or that entry without the
// item's title and doc (written while the item was not stored).
func checkEntry(tx kv.Tx, version int, id, ev, iv []byte) error {
	if version < 2 {
		if len(ev) != 0 {
			return fmt.Errorf("entry of %q is not empty in a schema %d file", id, version)
		}
		return nil
	}
	var in tracker.Instance
	if err := unmarshal(iv, &in); err != nil {
		return fmt.Errorf("instance %q: %w", id, err)
	}
	var it itemText
	if v := tx.Bucket(bucketNames[bItems]).Get([]byte(in.Item)); v != nil {
		if err := unmarshal(v, &it); err != nil {
			return fmt.Errorf("item %q: %w", in.Item, err)
		}
		it.found = true
	}
	if bytes.Equal(ev, appendEntry(nil, &in, it.Title, it.Doc, it.found)) ||
		bytes.Equal(ev, appendEntry(nil, &in, "", "", false)) {
		return nil
	}
	var e tracker.DueEntry
	if err := decodeEntry(id, ev, &e); err != nil {
		return err
	}
	if e.HasItem && (e.Title != it.Title || e.Doc != it.Doc) {
		return fmt.Errorf("entry of %q keeps title %q and doc %q, its item %q has %q and %q", id, e.Title, e.Doc, in.Item, it.Title, it.Doc)
	}
	return fmt.Errorf("entry of %q does not match the instance", id)
}

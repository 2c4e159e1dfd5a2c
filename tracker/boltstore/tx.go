package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"duban/tracker"
)

// txn implements tracker.Tx on one bbolt transaction.
//
// bbolt does not split nodes until commit, so n inserts in random order
// into one leaf node cost O(n²) memmove: 100 000 random PutInstance calls
// into a new file took 35 s. So a write of a key after every key of its
// bucket goes straight to bbolt (an append), and other writes are buffered
// per bucket and applied in key order when the bucket is next scanned and
// at commit (1.5 s for the same load). Reads look at the buffer first.
type txn struct {
	tx    *bolt.Tx
	dirty bool // something was written: Update must commit
	b     [numBuckets]bucketState
}

// bucketState is a bucket handle plus what the transaction did to it.
type bucketState struct {
	b       *bolt.Bucket
	pending map[string]pendingWrite
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
// owned by the transaction and never change: bbolt keeps referring to
// them until the commit.
type pendingWrite struct {
	key, val []byte
	del      bool
}

var _ tracker.Tx = (*txn)(nil)

func newTxn(tx *bolt.Tx) (*txn, error) {
	t := &txn{tx: tx}
	for i, name := range bucketNames {
		b := tx.Bucket(name)
		if b == nil {
			return nil, fmt.Errorf("database has no %s bucket", name)
		}
		t.b[i].b = b
	}
	return t, nil
}

// writable reports an error for a write in a read-only transaction. bbolt
// would too, but not before an identical-value Put is skipped.
func (t *txn) writable() error {
	if !t.tx.Writable() {
		return berrors.ErrTxNotWritable
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
	return st.b.Get(key)
}

// put stores val under key unless that is what is stored already. key and
// val must not change afterwards.
func (t *txn) put(bi int, key, val []byte) error {
	if old := t.get(bi, key); old != nil && bytes.Equal(old, val) {
		return nil
	}
	return t.putNew(bi, key, val)
}

// putNew stores val under key without comparing with the stored value.
func (t *txn) putNew(bi int, key, val []byte) error {
	return t.buffer(bi, pendingWrite{key: key, val: val})
}

func (t *txn) del(bi int, key []byte) error {
	return t.buffer(bi, pendingWrite{key: key, del: true})
}

// buffer records a write. A Put of a key greater than any in the bucket
// goes straight to bbolt: appending to a node is cheap.
func (t *txn) buffer(bi int, w pendingWrite) error {
	switch {
	case len(w.key) == 0:
		return berrors.ErrKeyRequired
	case len(w.key) > bolt.MaxKeySize:
		return berrors.ErrKeyTooLarge
	case len(w.val) > bolt.MaxValueSize:
		return berrors.ErrValueTooLarge
	}
	if w.val == nil {
		w.val = []byte{}
	}
	st := &t.b[bi]
	if !st.touched {
		st.touched, st.appendOnly = true, true
		st.base, _ = st.b.Cursor().Last()
		st.base = bytes.Clone(st.base)
		st.max = st.base
	}
	t.dirty = true
	after := st.max == nil || bytes.Compare(w.key, st.max) > 0
	if w.del || (st.base != nil && bytes.Compare(w.key, st.base) <= 0) {
		st.appendOnly = false
	}
	if after && !w.del {
		st.max = w.key
		delete(st.pending, string(w.key)) // a buffered Delete of a key never stored
		if err := st.b.Put(w.key, w.val); err != nil {
			return fmt.Errorf("write %s key %q: %w", bucketNames[bi], w.key, err)
		}
		return nil
	}
	if st.pending == nil {
		st.pending = make(map[string]pendingWrite)
	}
	st.pending[string(w.key)] = w
	return nil
}

// flush applies the buffered writes of bucket bi in key order.
func (t *txn) flush(bi int) error {
	st := &t.b[bi]
	if len(st.pending) == 0 {
		return nil
	}
	ws := make([]pendingWrite, 0, len(st.pending))
	for _, w := range st.pending {
		ws = append(ws, w)
	}
	clear(st.pending)
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
			st.b.FillPercent = 1.0
		}
	}
	return nil
}

// scan calls fn for each key/value pair of bucket bi from seek (First
// when seek is nil) while the key starts with prefix. In a writable
// transaction fn may write: its writes to bi are applied after each call
// and the cursor repositioned (bbolt cursors are not valid across writes),
// so a key fn moves ahead is visited again.
func (t *txn) scan(bi int, seek, prefix []byte, fn func(k, v []byte) error) error {
	writable := t.tx.Writable()
	if writable {
		if err := t.flush(bi); err != nil {
			return err
		}
	}
	c := t.b[bi].b.Cursor()
	var k, v []byte
	if seek == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(seek)
	}
	for k != nil && bytes.HasPrefix(k, prefix) {
		var last []byte
		if writable {
			last = bytes.Clone(k)
		}
		if err := fn(k, v); err != nil {
			if errors.Is(err, tracker.ErrStop) {
				return nil
			}
			return err
		}
		if !writable {
			k, v = c.Next()
			continue
		}
		if len(t.b[bi].pending) > 0 {
			if err := t.flush(bi); err != nil {
				return err
			}
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
	if err := t.writable(); err != nil {
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
	if err := t.writable(); err != nil {
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

// PutItem stores it under it.ID.
func (t *txn) PutItem(it *tracker.Item) error {
	return putJSON(t, bItems, "item", it.ID, it)
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
		return f.Deadline.Due, f.Status.Active()
	}}
	assignedIndex = index{bAssigned, "assigned", func(f *indexFields) (time.Time, bool) {
		return f.AssignedAt, f.Status.Active() && !f.AssignedAt.IsZero()
	}}
	wakeIndex = index{bWake, "wake", func(f *indexFields) (time.Time, bool) {
		return f.NextNotice, f.Status.Active() && f.NextNotice.Before(tracker.Never)
	}}
	indexes = [...]index{dueIndex, assignedIndex, wakeIndex}
)

// PutInstance stores in and keeps the due and assigned indexes in step:
// an active instance is indexed under its deadline and, if it has one,
// its AssignedAt; an inactive one is in neither.
func (t *txn) PutInstance(in *tracker.Instance) error {
	if err := t.writable(); err != nil {
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
		if nok && !same {
			key := dueKey
			if ix.bucket != bDue {
				key = append(nk[:], id...) // a fresh slice: cap(nk[:]) is 8
			}
			copy(key, nk[:])
			if err := t.putNew(ix.bucket, key, nil); err != nil {
				return fmt.Errorf("put instance %q: index %s: %w", in.ID, ix.name, err)
			}
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

// scanIndex calls fn, in key order, for the instances ix names whose
// indexed time is in [from, to); a zero bound is open.
func (t *txn) scanIndex(ix index, from, to time.Time, fn func(*tracker.Instance) error) error {
	var lo, hi [8]byte
	var seek []byte
	if !from.IsZero() {
		putTime(lo[:], from)
		seek = lo[:]
	}
	putTime(hi[:], to)
	// Keys hold whole seconds (floor): keys in the second of a bound need
	// the instance's own time to decide.
	hiFrac := to.Nanosecond() != 0
	return t.scan(ix.bucket, seek, nil, func(k, _ []byte) error {
		if len(k) <= 8 {
			return fmt.Errorf("%s index: malformed key %x", ix.name, k)
		}
		atHi, atLo := false, false
		if !to.IsZero() {
			cmp := bytes.Compare(k[:8], hi[:])
			if cmp > 0 || (cmp == 0 && !hiFrac) {
				return tracker.ErrStop
			}
			atHi = cmp == 0
		}
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
	if err := t.writable(); err != nil {
		return fmt.Errorf("append event to %q: %w", id, err)
	}
	if err := checkID(id); err != nil {
		return fmt.Errorf("append event: %w", err)
	}
	val, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event for %q: %w", id, err)
	}
	seq, err := t.b[bHistory].b.NextSequence()
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
	if err := t.writable(); err != nil {
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
func checkIndexes(tx *bolt.Tx) []error {
	const maxProblems = 100
	var errs []error
	report := func(format string, args ...any) bool {
		errs = append(errs, fmt.Errorf(format, args...))
		return len(errs) < maxProblems
	}
	insts := tx.Bucket(bucketNames[bInstances])
	for _, ix := range indexes {
		c := tx.Bucket(bucketNames[ix.bucket]).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
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

package kvstore

import (
	"bytes"

	"duban/tracker/kvstore/kv"
)

// readAheadN is how many index entries a readAhead reads at once.
const readAheadN = 256

// readAhead makes an index scan cheap on an engine whose reads are round
// trips (PostgreSQL): before the scan reaches an entry it has not read
// ahead, the instances the next readAheadN entries name, their items,
// their due index entries and their deliveries (outbox keys start with
// the instance's id and "|") are read in one round trip each
// (kv.Prefetch). On bbolt it does nothing.
type readAhead struct {
	t      *txn
	bucket int
	hi     *upperBound
	until  []byte // the last index key read ahead
	done   bool   // no entries are left after until
	on     bool
}

func newReadAhead(t *txn, bi int, hi *upperBound) *readAhead {
	_, on := t.bucket(bInstances).(kv.Prefetcher)
	return &readAhead{t: t, bucket: bi, hi: hi, on: on}
}

// at reads ahead from index key k, unless that is done.
func (r *readAhead) at(k []byte) {
	if !r.on || r.done || (r.until != nil && bytes.Compare(k, r.until) <= 0) {
		return
	}
	// A cursor of its own, seeked afresh: the scan's writes (an Update)
	// may have moved entries since the last read ahead.
	c := r.t.bucket(r.bucket).Cursor()
	var ids [][]byte
	ak, _ := c.Seek(k)
	for ; ak != nil && len(ids) < readAheadN; ak, _ = c.Next() {
		if past, _ := r.hi.check(ak); past || len(ak) <= 8 {
			r.done = true
			break
		}
		ids = append(ids, bytes.Clone(ak[8:]))
		r.until = bytes.Clone(ak)
	}
	if ak == nil {
		r.done = true
	}
	kv.Prefetch(r.t.bucket(bInstances), ids)
	outbox := make([][]byte, len(ids))
	for i, id := range ids {
		outbox[i] = append(bytes.Clone(id), '|')
	}
	kv.PrefetchPrefixes(r.t.bucket(bOutbox), outbox)
	// Their items, and their due index entries (PutInstance compares
	// the entry it would write with the stored one, and skips it when
	// equal: known, that is no round trip and no rewrite).
	var items, due [][]byte
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		var in struct {
			indexFields
			Item string `json:"item"`
		}
		v := r.t.get(bInstances, id)
		if v == nil || unmarshal(v, &in) != nil {
			continue
		}
		if in.Item != "" && !seen[in.Item] {
			seen[in.Item] = true
			items = append(items, []byte(in.Item))
		}
		if at, ok := dueIndex.at(&in.indexFields); ok {
			k := make([]byte, 8, 8+len(id))
			putTime(k, at)
			due = append(due, append(k, id...))
		}
	}
	kv.Prefetch(r.t.bucket(bItems), items)
	kv.Prefetch(r.t.bucket(bDue), due)
}

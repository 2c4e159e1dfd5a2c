package kvstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"duban/tracker"
)

// WakeBefore calls fn, in NextNotice order, for the active instances
// whose NextNotice is before tm. It reads only the wake index and the
// instances it names.
func (t *txn) WakeBefore(tm time.Time, fn func(*tracker.Instance) error) error {
	if tm.IsZero() {
		return nil
	}
	return t.scanIndex(wakeIndex, time.Time{}, tm, fn)
}

// FirstWake returns the earliest NextNotice in the wake index.
func (t *txn) FirstWake() (time.Time, bool, error) {
	return t.firstTime(bWake)
}

// firstTime returns the time prefix of the first key of an index bucket.
func (t *txn) firstTime(bi int) (time.Time, bool, error) {
	if t.writable {
		if err := t.flush(bi); err != nil {
			return time.Time{}, false, err
		}
	}
	k, _ := t.bucket(bi).Cursor().First()
	if k == nil {
		return time.Time{}, false, nil
	}
	if len(k) < 8 {
		return time.Time{}, false, fmt.Errorf("%s index: malformed key %x", bucketNames[bi], k)
	}
	return getTime(k[:8]), true, nil
}

// getTime is the inverse of putTime (to the second).
func getTime(b []byte) time.Time {
	u := (uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])) ^ 1<<63
	return time.Unix(int64(u), 0).UTC()
}

// Delivery returns the outbox entry key.
func (t *txn) Delivery(key string) (*tracker.Delivery, error) {
	return getJSON[tracker.Delivery](t, bOutbox, "delivery", key)
}

// PutDelivery stores d and keeps the queue index in step: a queued entry
// is indexed under its NextAttempt, any other state is not.
func (t *txn) PutDelivery(d *tracker.Delivery) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("put delivery %q: %w", d.Key, err)
	}
	if d.Key == "" || bytes.IndexByte([]byte(d.Key), 0) >= 0 {
		return fmt.Errorf("put delivery: invalid key %q", d.Key)
	}
	val, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery %q: %w", d.Key, err)
	}
	id := []byte(d.Key)
	if old := t.get(bOutbox, id); old != nil {
		if bytes.Equal(old, val) {
			return nil
		}
		var o tracker.Delivery
		if err := unmarshal(old, &o); err != nil {
			return fmt.Errorf("put delivery %q: decode stored value: %w", d.Key, err)
		}
		if o.State == tracker.DeliveryQueued {
			if err := t.del(bQueue, queueKey(o.NextAttempt, id)); err != nil {
				return fmt.Errorf("put delivery %q: unindex: %w", d.Key, err)
			}
		}
	}
	if d.State == tracker.DeliveryQueued {
		if err := t.put(bQueue, queueKey(d.NextAttempt, id), nil); err != nil {
			return fmt.Errorf("put delivery %q: index: %w", d.Key, err)
		}
	}
	if err := t.put(bOutbox, id, val); err != nil {
		return fmt.Errorf("put delivery %q: %w", d.Key, err)
	}
	return nil
}

func queueKey(at time.Time, id []byte) []byte {
	k := make([]byte, 8+len(id))
	putTime(k, at)
	copy(k[8:], id)
	return k
}

// QueuedBefore calls fn, in NextAttempt order, for queued deliveries whose
// NextAttempt is before tm (to the second).
func (t *txn) QueuedBefore(tm time.Time, fn func(*tracker.Delivery) error) error {
	var hi [8]byte
	putTime(hi[:], tm)
	return t.scan(bQueue, nil, nil, func(k, _ []byte) error {
		if len(k) <= 8 {
			return fmt.Errorf("queue index: malformed key %x", k)
		}
		if bytes.Compare(k[:8], hi[:]) > 0 {
			return tracker.ErrStop
		}
		d, err := t.Delivery(string(k[8:]))
		if err != nil {
			return fmt.Errorf("queue index: %w", err)
		}
		if !d.NextAttempt.Before(tm) && !d.NextAttempt.Equal(tm) {
			return tracker.ErrStop
		}
		return fn(d)
	})
}

// FirstQueued returns the earliest NextAttempt of a queued delivery.
func (t *txn) FirstQueued() (time.Time, bool, error) {
	return t.firstTime(bQueue)
}

// Deliveries calls fn for every outbox entry in key order.
func (t *txn) Deliveries(fn func(*tracker.Delivery) error) error {
	return eachJSON(t, bOutbox, "delivery", fn)
}

package kvstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"duban/tracker"
)

// The value of a due index entry (schema 2) is a tracker.DueEntry in a
// compact binary form, so that a list decodes it without reading the
// instance or the item (100 000 random lookups in two other B+trees were
// 72 % of `list --overdue`):
//
//	byte     format (entryFormat)
//	byte     flags (entry*)
//	string   status, item, unit, note, title, doc (uvarint length + bytes)
//	time     deadline due (varint Unix seconds, uvarint nanoseconds)
//	date     deadline last day (varint year, byte month, byte day)
//	         limit due and last day, if entryLimit
//	time     done at, if entryDone
//
// Schema 1 kept the value empty; such an entry (of a database opened
// read-only before its migration) is read through the instance.
const entryFormat = 1

const (
	entryCo = 1 << iota
	entryTimed
	entryProvisional
	entryLimit
	entryLimitTimed
	entryLimitProvisional
	entryExtended
	entryHasItem
)

// entryFlags2 follow the first flags byte.
const entryDone = 1

// appendEntry encodes what the due index keeps of in, whose item has
// title and doc (hasItem false: the item is not stored).
func appendEntry(b []byte, in *tracker.Instance, title, doc string, hasItem bool) []byte {
	var f, f2 byte
	set := func(cond bool, bit byte) {
		if cond {
			f |= bit
		}
	}
	set(in.Co, entryCo)
	set(in.Deadline.Timed, entryTimed)
	set(in.Deadline.Provisional, entryProvisional)
	set(in.Limit != nil, entryLimit)
	set(in.Limit != nil && in.Limit.Timed, entryLimitTimed)
	set(in.Limit != nil && in.Limit.Provisional, entryLimitProvisional)
	set(in.Extensions > 0, entryExtended)
	set(hasItem, entryHasItem)
	if !in.DoneAt.IsZero() {
		f2 |= entryDone
	}
	b = append(b, entryFormat, f, f2)
	for _, s := range [...]string{string(in.Status), in.Item, in.Unit, in.Note, title, doc} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = appendDeadline(b, &in.Deadline)
	if in.Limit != nil {
		b = appendDeadline(b, in.Limit)
	}
	if !in.DoneAt.IsZero() {
		b = appendTime(b, in.DoneAt)
	}
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func appendDeadline(b []byte, d *tracker.Deadline) []byte {
	b = appendTime(b, d.Due)
	b = binary.AppendVarint(b, int64(d.LastDay.Year))
	return append(b, byte(d.LastDay.Month), byte(d.LastDay.Day))
}

// entryReader decodes an entry; the first error sticks.
type entryReader struct {
	b   []byte
	err error
}

var errEntry = errors.New("truncated or malformed due index entry")

func (r *entryReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errEntry
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *entryReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errEntry
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *entryReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errEntry
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *entryReader) string() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errEntry
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *entryReader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if r.err != nil || nsec >= 1e9 {
		r.err = errEntry
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (r *entryReader) deadline(timed, provisional bool) tracker.Deadline {
	d := tracker.Deadline{Due: r.time(), Timed: timed, Provisional: provisional}
	d.LastDay.Year = int(r.varint())
	d.LastDay.Month = time.Month(r.byte())
	d.LastDay.Day = int(r.byte())
	return d
}

// decodeEntry decodes the value v of the due entry of instance id into e.
func decodeEntry(id, v []byte, e *tracker.DueEntry) error {
	r := entryReader{b: v}
	if format := r.byte(); r.err == nil && format != entryFormat {
		return fmt.Errorf("due index entry of %q: unknown format %d", id, format)
	}
	f, f2 := r.byte(), r.byte()
	has := func(bit byte) bool { return f&bit != 0 }
	*e = tracker.DueEntry{HasItem: has(entryHasItem)}
	in := &e.In
	in.ID = string(id)
	in.Co = has(entryCo)
	in.Status = tracker.Status(r.string())
	in.Item, in.Unit, in.Note = r.string(), r.string(), r.string()
	e.Title, e.Doc = r.string(), r.string()
	in.Deadline = r.deadline(has(entryTimed), has(entryProvisional))
	if has(entryLimit) {
		l := r.deadline(has(entryLimitTimed), has(entryLimitProvisional))
		in.Limit = &l
	}
	if has(entryExtended) {
		in.Extensions = 1
	}
	if f2&entryDone != 0 {
		in.DoneAt = r.time()
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errEntry
	}
	if r.err != nil {
		return fmt.Errorf("due index entry of %q: %w", id, r.err)
	}
	return nil
}

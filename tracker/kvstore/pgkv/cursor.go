package pgkv

import (
	"bytes"

	"github.com/jackc/pgx/v5"

	"duban/tracker/kvstore/kv"
)

// Cursor reads: the first range query of a Seek asks for few rows (an
// index lookup reads one or two), each further one for twice as many, up
// to maxRows or about batchBytes of data.
var (
	firstRows  = 16
	maxRows    = 1024
	batchBytes = 4 << 20
	lastRows   = 8
)

type row struct{ k, v []byte }

// cursor merges the rows of duban_kv, read in ranges, with the
// transaction's buffered writes of the bucket.
type cursor struct {
	b     *bucket
	rows  []row // rows read, ascending
	i     int   // the next row not yet passed
	more  bool  // rows may exist after rows[len(rows)-1]
	limit int
	cur   []byte // the key last returned, nil at either end
	moved bool   // positioned by First, Last or Seek
}

var _ kv.Cursor = (*cursor)(nil)

func (c *cursor) First() ([]byte, []byte) { return c.Seek(nil) }

func (c *cursor) Seek(seek []byte) ([]byte, []byte) {
	c.rows, c.i, c.more, c.limit, c.moved = nil, 0, false, firstRows, true
	if !c.b.s.complete && c.b.t.err == nil {
		c.fetch(qFrom, seek)
	}
	return c.move(seek, true)
}

func (c *cursor) Next() ([]byte, []byte) {
	if !c.moved {
		return c.First()
	}
	if c.cur == nil {
		return nil, nil
	}
	return c.move(c.cur, false)
}

// fetch reads the next range of rows: from key (qFrom) or after it
// (qAfter).
func (c *cursor) fetch(q string, key []byte) {
	t := c.b.t
	if key == nil {
		key = []byte{}
	}
	t.wait()
	rows, err := t.conn.Query(t.db.ctx, q, c.b.s.name, key, c.limit)
	c.rows, c.i = readRows(t, rows, err), 0
	c.more = t.err == nil && len(c.rows) == c.limit
	c.grow()
}

// grow doubles the next range query's size, within the bytes budget.
func (c *cursor) grow() {
	n := 0
	for _, r := range c.rows {
		n += len(r.k) + len(r.v) + 32
	}
	c.limit = min(2*c.limit, maxRows)
	if n > 0 && len(c.rows) > 0 {
		c.limit = max(1, min(c.limit, batchBytes/(n/len(c.rows))))
	}
}

// readRows copies the rows of a range query into a few large
// allocations: their slices stay valid until the transaction ends.
func readRows(t *txn, rows pgx.Rows, err error) []row {
	if err != nil {
		t.fail(err)
		return nil
	}
	defer rows.Close()
	var out []row
	var arena []byte
	size := 512
	for rows.Next() {
		vals := rows.RawValues()
		if len(vals) != 2 {
			continue
		}
		if rows.FieldDescriptions()[0].Format != pgx.BinaryFormatCode {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				t.fail(err)
				return nil
			}
			vals = [][]byte{k, v}
		}
		n := len(vals[0]) + len(vals[1])
		if cap(arena)-len(arena) < n+1 {
			// A new arena, twice the last one up to 64 KiB (a query of a
			// row or two allocates little); the old one stays as the
			// rows in it. +1: an empty value is not nil.
			size = min(2*size, 64<<10)
			arena = make([]byte, 0, max(size, n+1))
		}
		a := len(arena)
		arena = append(arena, vals[0]...)
		m := len(arena)
		arena = append(arena, vals[1]...)
		e := len(arena)
		out = append(out, row{k: arena[a:m:m], v: arena[m:e:e]})
	}
	if err := rows.Err(); err != nil {
		t.fail(err)
		return nil
	}
	return out
}

// peek returns the next stored row, reading the next range when the rows
// read are passed.
func (c *cursor) peek() (row, bool) {
	if c.i < len(c.rows) {
		return c.rows[c.i], true
	}
	if !c.more || c.b.t.err != nil {
		return row{}, false
	}
	c.fetch(qAfter, c.rows[len(c.rows)-1].k)
	if c.i < len(c.rows) {
		return c.rows[c.i], true
	}
	return row{}, false
}

// move returns the first pair from pivot (incl) or after it.
func (c *cursor) move(pivot []byte, incl bool) ([]byte, []byte) {
	t := c.b.t
	for {
		if t.err != nil || !c.b.s.live {
			c.cur = nil
			return nil, nil
		}
		after := func(k []byte) bool {
			cmp := bytes.Compare(k, pivot)
			return cmp > 0 || (incl && cmp == 0)
		}
		var stored row
		have := false
		for {
			r, ok := c.peek()
			if !ok {
				break
			}
			if after(r.k) {
				stored, have = r, true
				break
			}
			c.i++
		}
		var buf *ent
		if ov := c.b.s.ov; ov != nil {
			t.probe.key = pivot
			ov.Ascend(&t.probe, func(e *ent) bool {
				if after(e.key) {
					buf = e
					return false
				}
				return true
			})
			t.probe.key = nil
		}
		switch {
		case buf == nil && !have:
			c.cur = nil
			return nil, nil
		case buf != nil && (!have || bytes.Compare(buf.key, stored.k) <= 0):
			if buf.del {
				pivot, incl = buf.key, false
				continue
			}
			c.cur = buf.key
			return buf.key, buf.val
		default:
			c.cur = stored.k
			return stored.k, stored.v
		}
	}
}

func (c *cursor) Last() ([]byte, []byte) {
	t := c.b.t
	c.rows, c.i, c.more, c.cur, c.moved = nil, 0, false, nil, true
	if t.err != nil || !c.b.s.live {
		return nil, nil
	}
	// The last stored row the transaction has not deleted. A row the
	// transaction read (or wrote over) counts, with the transaction's
	// value: an Update that read the bucket's last keys ahead (Prefetch)
	// must not page back through them all.
	var stored row
	have := false
	if !c.b.s.complete {
		limit := lastRows
		t.wait()
		rows, err := t.conn.Query(t.db.ctx, qLast, c.b.s.name, limit)
		for {
			rs := readRows(t, rows, err)
			for _, r := range rs {
				if e := c.b.entry(r.k); e == nil {
					stored, have = r, true
					break
				} else if !e.del {
					stored, have = row{k: e.key, v: e.val}, true
					break
				}
			}
			if have || len(rs) < limit || t.err != nil {
				break
			}
			limit = min(2*limit, maxRows)
			rows, err = t.conn.Query(t.db.ctx, qBefore, c.b.s.name, rs[len(rs)-1].k, limit)
		}
		if t.err != nil {
			return nil, nil
		}
	}
	// The last buffered value.
	var buf *ent
	if ov := c.b.s.ov; ov != nil {
		ov.Reverse(func(e *ent) bool {
			if !e.del {
				buf = e
				return false
			}
			return true
		})
	}
	switch {
	case buf == nil && !have:
		return nil, nil
	case buf != nil && (!have || bytes.Compare(buf.key, stored.k) > 0):
		c.cur = buf.key
		return buf.key, buf.val
	default:
		// Next goes on from here: no stored row lies after it, and the
		// buffered writes after it are deletes.
		c.rows = []row{stored}
		c.cur = stored.k
		return stored.k, stored.v
	}
}

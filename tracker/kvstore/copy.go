package kvstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"

	"duban/tracker/kvstore/kv"
)

// What migrate and the PostgreSQL backup use: a copy of every bucket,
// key, value and sequence from one engine to another, and a digest per
// bucket (per kind of record) to prove the copy whole. Both work on
// kv.DB, so they are the same for every pair of engines.

// ErrNotEmpty is returned (wrapped) by Copy when the target database
// already has a bucket: a copy never mixes two databases.
var ErrNotEmpty = errors.New("the target database is not empty")

// KindSum is what one bucket holds, in short: how many keys, its
// sequence, and a SHA-256 over the sequence (8 bytes, big-endian) and
// then every key and value in key order, each preceded by its length
// (uvarint). Two buckets with equal sums hold the same bytes.
type KindSum struct {
	Bucket   string
	Keys     int64
	Sequence uint64
	Digest   [sha256.Size]byte
}

// summer accumulates a KindSum.
type summer struct {
	sum KindSum
	h   hash.Hash
	buf []byte
}

func newSummer(name []byte, seq uint64) *summer {
	s := &summer{sum: KindSum{Bucket: string(name), Sequence: seq}, h: sha256.New()}
	s.h.Write(binary.BigEndian.AppendUint64(nil, seq))
	return s
}

func (s *summer) add(k, v []byte) {
	s.buf = binary.AppendUvarint(s.buf[:0], uint64(len(k)))
	s.buf = append(s.buf, k...)
	s.buf = binary.AppendUvarint(s.buf, uint64(len(v)))
	s.h.Write(s.buf)
	s.h.Write(v)
	s.sum.Keys++
}

func (s *summer) done() KindSum {
	s.h.Sum(s.sum.Digest[:0])
	return s.sum
}

// Sums returns the KindSum of every bucket of db, in bucket-name order,
// from one read transaction (one consistent snapshot).
func Sums(db kv.DB) ([]KindSum, error) {
	var out []KindSum
	err := db.View(func(tx kv.Tx) error {
		var err error
		out, err = SumsTx(tx)
		return err
	})
	return out, err
}

// SumsTx is Sums within tx.
func SumsTx(tx kv.Tx) ([]KindSum, error) {
	var out []KindSum
	err := tx.ForEachBucket(func(name []byte) error {
		b := tx.Bucket(name)
		s := newSummer(name, b.Sequence())
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			s.add(k, v)
		}
		out = append(out, s.done())
		return nil
	})
	return out, err
}

// IsEmpty reports whether db has no bucket at all.
func IsEmpty(db kv.DB) (bool, error) {
	empty := true
	stop := errors.New("stop")
	err := db.View(func(tx kv.Tx) error {
		return tx.ForEachBucket(func([]byte) error {
			empty = false
			return stop
		})
	})
	if errors.Is(err, stop) {
		err = nil
	}
	return empty, err
}

// CopyOptions adjust Copy.
type CopyOptions struct {
	// Skip names buckets not to copy (migrate keeps the attachments
	// bucket as files when the target is a bbolt file).
	Skip [][]byte
	// BatchBytes bounds the keys and values one write transaction of the
	// target takes (default 8 MiB): a large database is not one huge
	// transaction.
	BatchBytes int
}

// Copy copies every bucket of src into dst, which must have none
// (ErrNotEmpty): every key, value and sequence, as of one read
// transaction of src. It returns the KindSum of each bucket copied, from
// that same snapshot, for Verify to compare with the target's.
//
// The meta bucket (schema version) is written last: a copy cut short
// (a crash, a lost connection) has no meta, and Open refuses such a
// database ("not a duban database") instead of running on part of it.
func Copy(dst, src kv.DB, o CopyOptions) ([]KindSum, error) {
	if empty, err := IsEmpty(dst); err != nil {
		return nil, fmt.Errorf("read the target: %w", err)
	} else if !empty {
		return nil, ErrNotEmpty
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 8 << 20
	}
	var sums []KindSum
	err := src.View(func(stx kv.Tx) error {
		var names [][]byte
		err := stx.ForEachBucket(func(name []byte) error {
			if !slices.ContainsFunc(o.Skip, func(s []byte) bool { return bytes.Equal(s, name) }) {
				names = append(names, bytes.Clone(name))
			}
			return nil
		})
		if err != nil {
			return err
		}
		meta := bucketNames[bMeta]
		slices.SortStableFunc(names, func(a, b []byte) int { // meta last
			return cmpBool(bytes.Equal(a, meta), bytes.Equal(b, meta))
		})
		for _, name := range names {
			s, err := copyBucket(dst, stx.Bucket(name), name, o.BatchBytes)
			if err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
			sums = append(sums, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(sums, func(a, b KindSum) int { return bytes.Compare([]byte(a.Bucket), []byte(b.Bucket)) })
	return sums, nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// copyBucket copies one bucket of the source in write transactions of at
// most batch bytes, in key order, and sets its sequence in the last.
func copyBucket(dst kv.DB, src kv.Bucket, name []byte, batch int) (KindSum, error) {
	s := newSummer(name, src.Sequence())
	c := src.Cursor()
	k, v := c.First()
	for first := true; first || k != nil; first = false {
		err := dst.Update(nil, func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists(name)
			if err != nil {
				return err
			}
			b.SetFillPercent(0.9) // appended in key order
			for n := 0; k != nil && n < batch; k, v = c.Next() {
				if err := b.Put(k, v); err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				s.add(k, v)
				n += len(k) + len(v)
			}
			if k == nil {
				return b.SetSequence(src.Sequence())
			}
			return nil
		})
		if err != nil {
			return KindSum{}, err
		}
	}
	return s.done(), nil
}

// SumRow compares one bucket on both sides; Src or Dst is nil when that
// side has no such bucket.
type SumRow struct {
	Bucket   string
	Src, Dst *KindSum
}

// Equal reports whether both sides have the bucket with the same sum.
func (r SumRow) Equal() bool { return r.Src != nil && r.Dst != nil && *r.Src == *r.Dst }

// Compare pairs the sums of two databases bucket by bucket (the union of
// their names, in order). ok is true when every row is Equal.
func Compare(src, dst []KindSum) (rows []SumRow, ok bool) {
	byName := map[string]*SumRow{}
	var names []string
	add := func(sums []KindSum, side func(*SumRow, *KindSum)) {
		for i := range sums {
			r := byName[sums[i].Bucket]
			if r == nil {
				r = &SumRow{Bucket: sums[i].Bucket}
				byName[r.Bucket] = r
				names = append(names, r.Bucket)
			}
			side(r, &sums[i])
		}
	}
	add(src, func(r *SumRow, s *KindSum) { r.Src = s })
	add(dst, func(r *SumRow, s *KindSum) { r.Dst = s })
	slices.Sort(names)
	ok = true
	for _, n := range names {
		rows = append(rows, *byName[n])
		ok = ok && byName[n].Equal()
	}
	return rows, ok
}

// Clear deletes every bucket of db, in one transaction: what a failed
// copy leaves of a target that was empty before.
func Clear(db kv.DB) error {
	return db.Update(nil, func(tx kv.Tx) error {
		var names [][]byte
		if err := tx.ForEachBucket(func(name []byte) error {
			names = append(names, bytes.Clone(name))
			return nil
		}); err != nil {
			return err
		}
		for _, n := range names {
			if err := tx.DeleteBucket(n); err != nil {
				return err
			}
		}
		return nil
	})
}

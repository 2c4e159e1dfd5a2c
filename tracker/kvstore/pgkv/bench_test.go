package pgkv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgtest"
)

// benchData returns n keys in random order and a value of about the size
// of a due index entry.
func benchData(n int) ([][]byte, []byte) {
	keys := make([][]byte, n)
	for i, j := range rand.New(rand.NewPCG(7, 7)).Perm(n) {
		keys[i] = fmt.Appendf(nil, "2026-%07d/u%02d", j, j%100)
	}
	val := make([]byte, 300)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	return keys, val
}

func fill(b *testing.B, db *DB, keys [][]byte, val []byte) {
	b.Helper()
	if err := db.Update(nil, func(tx kv.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := bk.Put(k, val); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPut: n random puts in one Update, into a new bucket and over
// existing keys (each then also deleted first).
func BenchmarkPut(b *testing.B) {
	const n = 100_000
	keys, val := benchData(n)
	for _, over := range []bool{false, true} {
		b.Run(fmt.Sprintf("n=%d/overwrite=%v", n, over), func(b *testing.B) {
			db := open(b, pgtest.URL(b), Options{})
			defer db.Close()
			if over {
				fill(b, db, keys, val)
			}
			for b.Loop() {
				if !over {
					b.StopTimer()
					if err := db.Update(nil, func(tx kv.Tx) error {
						if tx.Bucket([]byte("b")) == nil {
							return nil
						}
						return tx.DeleteBucket([]byte("b"))
					}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				fill(b, db, keys, val)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkScan reads every key of a 100 000-key bucket with a cursor,
// in a View.
func BenchmarkScan(b *testing.B) {
	const n = 100_000
	keys, val := benchData(n)
	db := open(b, pgtest.URL(b), Options{})
	defer db.Close()
	fill(b, db, keys, val)
	for b.Loop() {
		if err := db.View(func(tx kv.Tx) error {
			c := tx.Bucket([]byte("b")).Cursor()
			got := 0
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				got++
			}
			if got != n {
				return fmt.Errorf("%d keys", got)
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkGet: 10 000 random Gets of a 100 000-key bucket in one View,
// one by one and with kv.Prefetch of every 256 keys ahead (an index
// scan's reads).
func BenchmarkGet(b *testing.B) {
	const n, gets, ahead = 100_000, 10_000, 256
	keys, val := benchData(n)
	db := open(b, pgtest.URL(b), Options{})
	defer db.Close()
	fill(b, db, keys, val)
	for _, prefetch := range []bool{false, true} {
		b.Run(fmt.Sprintf("prefetch=%v", prefetch), func(b *testing.B) {
			for b.Loop() {
				if err := db.View(func(tx kv.Tx) error {
					bk := tx.Bucket([]byte("b"))
					for i, k := range keys[:gets] {
						if prefetch && i%ahead == 0 {
							kv.Prefetch(bk, keys[i:min(i+ahead, gets)])
						}
						if bk.Get(k) == nil {
							return fmt.Errorf("%s missing", k)
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(gets)*float64(b.N)/b.Elapsed().Seconds(), "gets/s")
		})
	}
}

// BenchmarkSmallUpdate: an Update that reads one key and writes two (a
// counter and a log entry), the shape of a claim or a sent mark.
func BenchmarkSmallUpdate(b *testing.B) {
	db := open(b, pgtest.URL(b), Options{})
	defer db.Close()
	fill(b, db, [][]byte{[]byte("n")}, []byte("0"))
	for _, fenced := range []bool{false, true} {
		b.Run(fmt.Sprintf("fenced=%v", fenced), func(b *testing.B) {
			var f *kv.Fence
			if fenced {
				f = &kv.Fence{Holder: "", Term: 0} // the lease row as migration 1 leaves it
			}
			i := 0
			for b.Loop() {
				i++
				if err := db.Update(f, func(tx kv.Tx) error {
					bk := tx.Bucket([]byte("b"))
					_ = bk.Get([]byte("n"))
					if err := bk.Put([]byte("n"), fmt.Append(nil, i)); err != nil {
						return err
					}
					return bk.Put(fmt.Appendf(nil, "log%09d", i), []byte("x"))
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

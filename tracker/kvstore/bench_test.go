package kvstore_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// benchInstance returns a realistic instance: i-th item, unit u, due at due.
func benchInstance(i, u int, due time.Time) *tracker.Instance {
	in := newInstance(fmt.Sprintf("2026-%07d/u%02d", i, u), fmt.Sprintf("2026-%07d", i), tracker.StatusOpen, due)
	in.Unit = fmt.Sprintf("u%02d", u)
	in.AssignedAt = t0
	return in
}

// BenchmarkPutInstances measures one Update writing n new instances into
// a fresh file, in id order (a sorted bulk load) and in random order.
func BenchmarkPutInstances(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, order := range []string{"sorted", "random"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, order), func(b *testing.B) {
				if n > 10_000 && testing.Short() {
					b.Skip("large")
				}
				ins := make([]*tracker.Instance, n)
				for i := range ins {
					ins[i] = benchInstance(i, i%3, t0.Add(time.Duration(i)*time.Minute))
				}
				if order == "random" {
					rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { ins[i], ins[j] = ins[j], ins[i] })
				}
				dir := b.TempDir()
				b.ReportAllocs()
				var size int64
				var elapsed, cpu time.Duration
				i := 0
				for b.Loop() {
					b.StopTimer()
					path := filepath.Join(dir, fmt.Sprintf("%d.db", i))
					i++
					s, err := kvstore.Open(path, time.Second)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start, cpu0 := time.Now(), cpuTime()
					err = s.Update(func(tx tracker.Tx) error {
						for _, in := range ins {
							if err := tx.PutInstance(in); err != nil {
								return err
							}
						}
						return nil
					})
					elapsed += time.Since(start)
					cpu += cpuTime() - cpu0
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					fi, _ := os.Stat(path)
					size = fi.Size()
					s.Close()
					os.Remove(path)
					b.StartTimer()
				}
				b.ReportMetric(float64(n*i)/elapsed.Seconds(), "instances/s")
				b.ReportMetric(float64(n*i)/cpu.Seconds(), "instances/cpu-s")
				b.ReportMetric(float64(size)/(1<<20), "MiB")
			})
		}
	}
}

// BenchmarkDueBefore measures the overdue query: 10 000 overdue instances
// out of 1 000 000 (100 000 with -short). The fixture is a sorted bulk
// load in batches of 100 000.
func BenchmarkDueBefore(b *testing.B) {
	total, overdue := 1_000_000, 10_000
	if testing.Short() {
		total = 100_000
	}
	path := filepath.Join(b.TempDir(), "duban.db")
	s, err := kvstore.Open(path, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start, cpu0 := time.Now(), cpuTime()
	const batch = 100_000
	for lo := 0; lo < total; lo += batch {
		err := s.Update(func(tx tracker.Tx) error {
			for i := lo; i < min(lo+batch, total); i++ {
				if err := tx.PutInstance(benchInstance(i, 0, t0.Add(time.Duration(i)*time.Minute))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	fi, _ := os.Stat(path)
	b.Logf("fixture: %d instances in %v (CPU %v), %.0f MiB", total, time.Since(start).Round(time.Millisecond),
		(cpuTime() - cpu0).Round(time.Millisecond), float64(fi.Size())/(1<<20))

	cut := t0.Add(time.Duration(overdue) * time.Minute)
	b.ReportAllocs()
	cpu0 = cpuTime()
	for b.Loop() {
		n := 0
		err := s.View(func(tx tracker.Tx) error {
			return tx.DueBefore(cut, func(*tracker.Instance) error { n++; return nil })
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != overdue {
			b.Fatalf("DueBefore visited %d, want %d", n, overdue)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

package recur_test

import (
	"testing"
	"time"

	"duban/tracker/recur"
)

// FuzzParse checks that Parse never panics and that every accepted schedule
// behaves: Next(t) is strictly after t or zero, is in the schedule's zone,
// does not depend on t's location, is idempotent, untimed firings are at
// 00:00, and the canonical form parses back to itself.
func FuzzParse(f *testing.F) {
	for i, s := range seeds {
		f.Add(s, int64(1788192000+i*86399)) // from 2026-09-01 CST
	}
	f.Add("weekly thu 12:00", int64(-62135596800)) // 0001-01-01 UTC
	f.Add("monthly 31", int64(253402300799))       // 9999-12-31 23:59:59 UTC
	f.Add("0 9 * * *", int64(1<<62))               // far future
	f.Add("yearly 02-29 23:59", int64(-(1 << 40))) // far past
	f.Fuzz(func(t *testing.T, spec string, sec int64) {
		s, err := recur.Parse(spec, shanghai)
		if err != nil {
			if s != nil {
				t.Fatalf("%q: schedule and error", spec)
			}
			if err.Error() == "" {
				t.Fatalf("%q: empty error", spec)
			}
			return
		}
		tm := time.Unix(sec, int64(uint64(sec)%1e9)).In(shanghai)
		n := s.Next(tm)
		if !n.IsZero() {
			if !n.After(tm) {
				t.Fatalf("%q: Next(%s) = %s, not after", spec, tm, n)
			}
			if n.Location() != shanghai {
				t.Fatalf("%q: Next(%s) in %v", spec, tm, n.Location())
			}
			if !s.Timed() && (n.Hour() != 0 || n.Minute() != 0 || n.Second() != 0 || n.Nanosecond() != 0) {
				t.Fatalf("%q untimed: Next(%s) = %s", spec, tm, n)
			}
		}
		if n2 := s.Next(tm); !n2.Equal(n) {
			t.Fatalf("%q: Next(%s) gave %s then %s", spec, tm, n, n2)
		}
		if n3 := s.Next(tm.UTC()); !n3.Equal(n) {
			t.Fatalf("%q: Next(%s) = %s but Next(UTC) = %s", spec, tm, n, n3)
		}
		c, err := recur.Parse(s.String(), shanghai)
		if err != nil {
			t.Fatalf("%q: canonical %q does not parse: %v", spec, s, err)
		}
		if c.String() != s.String() || c.Timed() != s.Timed() {
			t.Fatalf("%q: canonical %q reparses as %q", spec, s, c)
		}
		if n4 := c.Next(tm); !n4.Equal(n) {
			t.Fatalf("%q: Next(%s) = %s, canonical %q gives %s", spec, tm, n, c, n4)
		}
	})
}

func BenchmarkNext(b *testing.B) {
	for _, spec := range []string{"weekly thu 12:00", "monthly 31", "yearly 02-29", "0 12 * * THU", "cron 0 0 10 1,4,7,10 *"} {
		s, err := recur.Parse(spec, shanghai)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(spec, func(b *testing.B) {
			t := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
			for b.Loop() {
				t = s.Next(t)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, spec := range []string{"weekly thu 12:00", "0 12 * * THU", "0 9 31 2 *"} {
		b.Run(spec, func(b *testing.B) {
			for b.Loop() {
				recur.Parse(spec, shanghai)
			}
		})
	}
}

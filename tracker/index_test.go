package tracker

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestDayNumberMatchesTime checks the integer date arithmetic against the
// time package for every day from 1900 to 2300 and around the year 0.
func TestDayNumberMatchesTime(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		d := DateOf(tm)
		want := int(tm.Unix() / 86400)
		if tm.Unix() < 0 && tm.Unix()%86400 != 0 {
			want--
		}
		if got := d.dayNumber(); got != want {
			t.Fatalf("%s: dayNumber = %d, want %d", d, got, want)
		}
		if got := dateOfDayNumber(want); got != d {
			t.Fatalf("dateOfDayNumber(%d) = %s, want %s", want, got, d)
		}
		if got := d.Weekday(); got != tm.Weekday() {
			t.Fatalf("%s: Weekday = %v, want %v", d, got, tm.Weekday())
		}
	}
	for tm := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); tm.Year() < 2300; tm = tm.AddDate(0, 0, 1) {
		check(tm)
	}
	for tm := time.Date(-2, 1, 1, 0, 0, 0, 0, time.UTC); tm.Year() < 2; tm = tm.AddDate(0, 0, 1) {
		check(tm)
	}
	// 2026-02-28 -> 2028-02-28 is 365+365 days (2028-02-29 comes after), then 29 Feb and 1 Mar.
	a, b := Date{2026, time.February, 28}, Date{2028, time.March, 1}
	if got := a.DaysUntil(b); got != 365+365+2 {
		t.Errorf("DaysUntil = %d, want %d", got, 365+365+2)
	}
	if got := b.DaysUntil(a); got != -(365 + 365 + 2) {
		t.Errorf("DaysUntil backwards = %d", got)
	}
}

// countingCalendar answers by walking day by day over the overrides, the
// way the Calendar did before it had an index.
type countingCalendar struct{ c *Calendar }

func (s countingCalendar) addWorkdays(d Date, n int) Date {
	if n == 0 {
		for !s.c.isWorkdaySlow(d) {
			d = d.AddDays(1)
		}
		return d
	}
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDays(step)
		if s.c.isWorkdaySlow(d) {
			n--
		}
	}
	return d
}

func (s countingCalendar) between(a, b Date) int {
	n := 0
	for d := a.AddDays(1); !d.After(b); d = d.AddDays(1) {
		if s.c.isWorkdaySlow(d) {
			n++
		}
	}
	return n
}

// TestCalendarIndexMatchesCounting compares the indexed IsWorkday,
// AddWorkdays and WorkdaysBetween with day-by-day counting on random
// dates, including dates at and beyond the ends of the index, on the
// embedded calendar and on one widened by a far-future holiday file.
func TestCalendarIndexMatchesCounting(t *testing.T) {
	def := mustDefault(t)
	far, err := def.WithFiles([]NamedData{{Name: "2150.json", Data: []byte(
		`{"year":2150,"papers":[],"days":[{"name":"x","date":"2150-01-02","isOffDay":true},{"name":"y","date":"2150-01-03","isOffDay":false}]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []*Calendar{def, far} {
		slow := countingCalendar{c}
		lo := Date{indexFirstYear, time.January, 1}.dayNumber() - 400
		hi := Date{2151, time.December, 31}.dayNumber() + 400
		for range 20000 {
			d := dateOfDayNumber(lo + rng.IntN(hi-lo))
			if rng.IntN(10) == 0 { // near the ends of the index
				ends := []int{c.first, c.first + len(c.before) - 2}
				d = dateOfDayNumber(ends[rng.IntN(2)] + rng.IntN(21) - 10)
			}
			if got, want := c.IsWorkday(d), c.isWorkdaySlow(d); got != want {
				t.Fatalf("IsWorkday(%s) = %v, want %v", d, got, want)
			}
			n := rng.IntN(61) - 30
			if rng.IntN(20) == 0 {
				n = rng.IntN(4001) - 2000
			}
			if got, want := c.AddWorkdays(d, n), slow.addWorkdays(d, n); got != want {
				t.Fatalf("AddWorkdays(%s, %d) = %s, want %s", d, n, got, want)
			}
			e := d.AddDays(rng.IntN(800) - 100)
			if got, want := c.WorkdaysBetween(d, e), slow.between(d, e); got != want {
				t.Fatalf("WorkdaysBetween(%s, %s) = %d, want %d", d, e, got, want)
			}
		}
	}
	if !far.IsWorkday(Date{2150, time.January, 3}) || far.IsWorkday(Date{2150, time.January, 2}) {
		t.Error("the 2150 file's overrides are not in the widened index")
	}
}

func BenchmarkAddWorkdays(b *testing.B) {
	c := mustDefault(b)
	d := Date{2026, time.September, 25}
	for b.Loop() {
		_ = c.AddWorkdays(d, 5)
	}
}

func BenchmarkWorkdaysBetween(b *testing.B) {
	c := mustDefault(b)
	d, e := Date{2026, time.January, 1}, Date{2026, time.December, 31}
	for b.Loop() {
		_ = c.WorkdaysBetween(d, e)
	}
}

func mustDefault(tb testing.TB) *Calendar {
	tb.Helper()
	c, err := DefaultCalendar()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestDateString(t *testing.T) {
	for _, tm := range []time.Time{time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)} {
		if got, want := DateOf(tm).String(), tm.Format(time.DateOnly); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	if got := (Date{}).String(); got != "" {
		t.Errorf("zero Date = %q, want empty", got)
	}
	if got := (Date{12026, time.January, 2}).String(); got != "12026-01-02" {
		t.Errorf("year 12026 = %q", got)
	}
}

package recur_test

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // tests must not depend on the host's zoneinfo

	"duban/tracker/recur"
)

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

var (
	shanghai = mustLoad("Asia/Shanghai")
	newYork  = mustLoad("America/New_York")
)

// at is a wall-clock time in Shanghai.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, shanghai)
}

const layout = "2006-01-02 15:04 Mon MST"

func TestNext(t *testing.T) {
	tests := []struct {
		spec  string
		from  time.Time
		timed bool
		canon string
		want  []time.Time // successive firings from `from`
	}{
		{"weekly thu 12:00", at(2026, 9, 1, 0, 0), true, "weekly thu 12:00",
			[]time.Time{at(2026, 9, 3, 12, 0), at(2026, 9, 10, 12, 0), at(2026, 9, 17, 12, 0)}},
		{"weekly thu 12:00", at(2026, 9, 3, 11, 59), true, "weekly thu 12:00",
			[]time.Time{at(2026, 9, 3, 12, 0), at(2026, 9, 10, 12, 0)}},
		{"weekly thu 12:00", at(2026, 9, 3, 12, 0), true, "weekly thu 12:00", // strictly after
			[]time.Time{at(2026, 9, 10, 12, 0)}},
		{"weekly thu", at(2026, 9, 1, 0, 0), false, "weekly thu",
			[]time.Time{at(2026, 9, 3, 0, 0), at(2026, 9, 10, 0, 0), at(2026, 9, 17, 0, 0)}},
		{"weekly thu", at(2026, 9, 3, 0, 0), false, "weekly thu",
			[]time.Time{at(2026, 9, 10, 0, 0)}},
		{"Weekly THURSDAY 08:30", at(2026, 12, 30, 0, 0), true, "weekly thu 08:30",
			[]time.Time{at(2026, 12, 31, 8, 30), at(2027, 1, 7, 8, 30)}},
		{"weekly sun", at(2026, 9, 5, 23, 59), false, "weekly sun",
			[]time.Time{at(2026, 9, 6, 0, 0), at(2026, 9, 13, 0, 0)}},
		{"weekly mon 00:00", at(2026, 9, 7, 0, 0), true, "weekly mon 00:00",
			[]time.Time{at(2026, 9, 14, 0, 0)}},
		{"monthly 5", at(2026, 9, 20, 0, 0), false, "monthly 5",
			[]time.Time{at(2026, 10, 5, 0, 0), at(2026, 11, 5, 0, 0), at(2026, 12, 5, 0, 0), at(2027, 1, 5, 0, 0)}},
		{"monthly 05 17:30", at(2026, 10, 5, 17, 29), true, "monthly 5 17:30",
			[]time.Time{at(2026, 10, 5, 17, 30), at(2026, 11, 5, 17, 30)}},
		{"monthly 31", at(2026, 1, 1, 0, 0), false, "monthly 31",
			[]time.Time{at(2026, 1, 31, 0, 0), at(2026, 2, 28, 0, 0), at(2026, 3, 31, 0, 0),
				at(2026, 4, 30, 0, 0), at(2026, 5, 31, 0, 0), at(2026, 6, 30, 0, 0), at(2026, 7, 31, 0, 0)}},
		{"monthly 30", at(2028, 1, 30, 0, 0), false, "monthly 30", // leap February
			[]time.Time{at(2028, 2, 29, 0, 0), at(2028, 3, 30, 0, 0)}},
		{"quarterly 10", at(2026, 10, 10, 0, 0), false, "quarterly 10",
			[]time.Time{at(2027, 1, 10, 0, 0), at(2027, 4, 10, 0, 0), at(2027, 7, 10, 0, 0), at(2027, 10, 10, 0, 0)}},
		{"quarterly 10", at(2026, 1, 1, 0, 0), false, "quarterly 10",
			[]time.Time{at(2026, 1, 10, 0, 0), at(2026, 4, 10, 0, 0)}},
		{"quarterly 31 09:00", at(2026, 2, 1, 0, 0), true, "quarterly 31 09:00",
			[]time.Time{at(2026, 4, 30, 9, 0), at(2026, 7, 31, 9, 0), at(2026, 10, 31, 9, 0), at(2027, 1, 31, 9, 0)}},
		{"half-yearly 15", at(2026, 2, 1, 0, 0), false, "half-yearly 15",
			[]time.Time{at(2026, 7, 15, 0, 0), at(2027, 1, 15, 0, 0), at(2027, 7, 15, 0, 0)}},
		{"HALF-YEARLY 1 09:00", at(2026, 1, 1, 9, 0), true, "half-yearly 1 09:00",
			[]time.Time{at(2026, 7, 1, 9, 0), at(2027, 1, 1, 9, 0)}},
		{"yearly 12-31", at(2026, 6, 1, 0, 0), false, "yearly 12-31",
			[]time.Time{at(2026, 12, 31, 0, 0), at(2027, 12, 31, 0, 0)}},
		{"yearly 01-15 10:00", at(2026, 1, 15, 10, 0), true, "yearly 01-15 10:00",
			[]time.Time{at(2027, 1, 15, 10, 0)}},
		{"yearly 02-29", at(2027, 1, 1, 0, 0), false, "yearly 02-29",
			[]time.Time{at(2027, 2, 28, 0, 0), at(2028, 2, 29, 0, 0), at(2029, 2, 28, 0, 0)}},
		{"yearly 02-29", at(2028, 2, 28, 12, 0), false, "yearly 02-29",
			[]time.Time{at(2028, 2, 29, 0, 0), at(2029, 2, 28, 0, 0)}},

		// cron forms: always timed, read in loc unless CRON_TZ= says otherwise.
		{"0 12 * * THU", at(2026, 9, 1, 0, 0), true, "cron 0 12 * * THU",
			[]time.Time{at(2026, 9, 3, 12, 0), at(2026, 9, 10, 12, 0)}},
		{"cron 0 0 10 1,7 *", at(2026, 2, 1, 0, 0), true, "cron 0 0 10 1,7 *",
			[]time.Time{at(2026, 7, 10, 0, 0), at(2027, 1, 10, 0, 0), at(2027, 7, 10, 0, 0)}},
		{"CRON_TZ=Asia/Shanghai 0 9 * * MON-FRI", at(2026, 9, 4, 10, 0), true, "CRON_TZ=Asia/Shanghai 0 9 * * MON-FRI",
			[]time.Time{at(2026, 9, 7, 9, 0), at(2026, 9, 8, 9, 0)}},
		{"TZ=Asia/Shanghai   0 9 * *  MON-FRI", at(2026, 9, 4, 10, 0), true, "CRON_TZ=Asia/Shanghai 0 9 * * MON-FRI",
			[]time.Time{at(2026, 9, 7, 9, 0)}},
		{"cron CRON_TZ=UTC 0 20 * * *", at(2026, 9, 1, 0, 0), true, "CRON_TZ=UTC 0 20 * * *", // 20:00 UTC = 04:00 CST next day
			[]time.Time{at(2026, 9, 1, 4, 0), at(2026, 9, 2, 4, 0)}},
		{"0 9 29 2 *", at(2026, 1, 1, 0, 0), true, "cron 0 9 29 2 *",
			[]time.Time{at(2028, 2, 29, 9, 0), at(2032, 2, 29, 9, 0)}},
		{"@weekly", at(2026, 9, 1, 0, 0), true, "@weekly", // Sunday 00:00
			[]time.Time{at(2026, 9, 6, 0, 0), at(2026, 9, 13, 0, 0)}},
		{"@monthly", at(2026, 9, 1, 0, 0), true, "@monthly",
			[]time.Time{at(2026, 10, 1, 0, 0), at(2026, 11, 1, 0, 0)}},
		{"@Annually", at(2026, 9, 1, 0, 0), true, "@yearly",
			[]time.Time{at(2027, 1, 1, 0, 0)}},
		{"CRON_TZ=Asia/Shanghai @yearly", at(2026, 9, 1, 0, 0), true, "CRON_TZ=Asia/Shanghai @yearly",
			[]time.Time{at(2027, 1, 1, 0, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := recur.Parse(tt.spec, shanghai)
			if err != nil {
				t.Fatal(err)
			}
			if s.Timed() != tt.timed {
				t.Errorf("Timed() = %v, want %v", s.Timed(), tt.timed)
			}
			if s.String() != tt.canon {
				t.Errorf("String() = %q, want %q", s.String(), tt.canon)
			}
			cur := tt.from
			for i, want := range tt.want {
				got := s.Next(cur)
				if !got.Equal(want) || got.Location() != shanghai {
					t.Fatalf("firing %d after %s: got %s (%v), want %s", i+1, cur.Format(layout), got.Format(layout), got.Location(), want.Format(layout))
				}
				cur = got
			}
		})
	}
}

// TestNextIgnoresLocationOfT checks that the result is the same instant and
// location whatever the location of the time given to Next.
func TestNextIgnoresLocationOfT(t *testing.T) {
	specs := []string{
		"weekly thu 12:00", "weekly thu", "monthly 31", "quarterly 10 23:30",
		"half-yearly 1", "yearly 12-31", "yearly 02-29 00:30",
		"0 12 * * THU", "cron 0 0 10 1,7 *", "CRON_TZ=Asia/Shanghai 0 9 * * MON-FRI",
		"CRON_TZ=UTC 0 20 * * *", "30 23 * * *", "@weekly", "@monthly",
	}
	// Instants around day boundaries in Shanghai and in UTC.
	instants := []time.Time{
		time.Date(2026, 9, 2, 16, 0, 0, 0, time.UTC), // 2026-09-03 00:00 CST
		time.Date(2026, 9, 2, 15, 59, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC), // 2027-01-01 04:00 CST
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 30, 23, 59, 59, 999, time.UTC),
	}
	zones := []*time.Location{time.UTC, shanghai, newYork, time.FixedZone("X", -11*3600)}
	for _, spec := range specs {
		s, err := recur.Parse(spec, shanghai)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range instants {
			want := s.Next(in.In(time.UTC))
			for _, z := range zones {
				got := s.Next(in.In(z))
				if !got.Equal(want) || got.Location() != shanghai {
					t.Errorf("%q: Next(%s) = %s, but Next(%s) = %s", spec,
						in.In(time.UTC).Format(layout), want.Format(layout), in.In(z).Format(layout), got.Format(layout))
				}
			}
		}
	}
}

// TestNoDrift iterates 500 periods and checks that every firing follows from
// the rule, not from the previous firing.
func TestNoDrift(t *testing.T) {
	for _, loc := range []*time.Location{shanghai, newYork} {
		for _, spec := range []string{"weekly thu 12:00", "0 12 * * THU"} {
			s, err := recur.Parse(spec, loc)
			if err != nil {
				t.Fatal(err)
			}
			cur := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
			var prev time.Time
			for i := 0; i < 500; i++ {
				cur = s.Next(cur)
				if cur.Weekday() != time.Thursday || cur.Hour() != 12 || cur.Minute() != 0 || cur.Second() != 0 || cur.Nanosecond() != 0 {
					t.Fatalf("%s %q: firing %d is %s", loc, spec, i+1, cur.Format(layout))
				}
				if i > 0 {
					py, pm, pd := prev.Date()
					if want := time.Date(py, pm, pd+7, 12, 0, 0, 0, loc); !cur.Equal(want) {
						t.Fatalf("%s %q: firing %d is %s, want %s", loc, spec, i+1, cur.Format(layout), want.Format(layout))
					}
				}
				prev = cur
			}
		}
	}

	s, err := recur.Parse("monthly 31 09:00", shanghai)
	if err != nil {
		t.Fatal(err)
	}
	cur := at(2026, 1, 1, 0, 0)
	for i := 0; i < 500; i++ {
		cur = s.Next(cur)
		y, m, d := cur.Date()
		wy, wm := 2026+i/12, time.Month(i%12+1)
		last := time.Date(wy, wm+1, 0, 0, 0, 0, 0, time.UTC).Day()
		if y != wy || m != wm || d != last || cur.Hour() != 9 || cur.Minute() != 0 {
			t.Fatalf("monthly 31: firing %d is %s, want %04d-%02d-%02d 09:00", i+1, cur.Format(layout), wy, wm, last)
		}
	}
}

// TestDST checks friendly forms in a zone with daylight saving time: a
// wall-clock time that does not exist on the spring-forward day moves later
// by the gap, and the following week is back on the rule.
func TestDST(t *testing.T) {
	s, err := recur.Parse("weekly sun 02:30", newYork)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 3, 0, 0, 0, newYork)
	want := []string{"2026-03-08 03:30 Sun EDT", "2026-03-15 02:30 Sun EDT"}
	for _, w := range want {
		from = s.Next(from)
		if got := from.Format(layout); got != w {
			t.Fatalf("got %s, want %s", got, w)
		}
	}
	if got := s.Next(time.Date(2026, 3, 8, 1, 45, 0, 0, newYork)).Format(layout); got != "2026-03-08 03:30 Sun EDT" {
		t.Fatalf("from 01:45 on the spring-forward day: got %s", got)
	}
	// Fall-back day: 01:30 happens twice; the firing is one of them, the
	// same every time, and the next week is on the rule again.
	fb, err := recur.Parse("weekly sun 01:30", newYork)
	if err != nil {
		t.Fatal(err)
	}
	first := fb.Next(time.Date(2026, 10, 31, 0, 0, 0, 0, newYork))
	if y, m, d := first.Date(); y != 2026 || m != 11 || d != 1 || first.Hour() != 1 || first.Minute() != 30 {
		t.Fatalf("fall-back firing %s", first.Format(layout))
	}
	if got := fb.Next(first).Format(layout); got != "2026-11-08 01:30 Sun EST" {
		t.Fatalf("after fall-back: got %s", got)
	}
	u, err := recur.Parse("monthly 8", newYork) // untimed: 00:00 exists every day
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Next(time.Date(2026, 3, 1, 0, 0, 0, 0, newYork)).Format(layout); got != "2026-03-08 00:00 Sun EST" {
		t.Fatalf("monthly 8: got %s", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		spec string
		want string // substring of the message, after `"spec" is not a schedule: `
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"weekly", `want "weekly <mon..sun> [HH:MM]"`},
		{"weekly thu 12:00 extra", `want "weekly <mon..sun> [HH:MM]"`},
		{"weekly thurs", "weekday must be mon..sun"},
		{"weekly thu 25:00", "time of day must be HH:MM, 00:00..23:59"},
		{"weekly thu 12:60", "time of day must be HH:MM"},
		{"weekly thu 9:00", "time of day must be HH:MM"},
		{"weekly thu 24:00", "24:00 is not allowed"},
		{"monthly", `want "monthly <day> [HH:MM]"`},
		{"monthly 0", "day must be 1..31"},
		{"monthly 32", "day must be 1..31"},
		{"monthly -1", "day must be 1..31"},
		{"monthly last", "day must be 1..31"},
		{"quarterly", `want "quarterly <day> [HH:MM]"`},
		{"half-yearly 0", "day must be 1..31"},
		{"yearly", `want "yearly <MM-DD> [HH:MM]"`},
		{"yearly 13-01", "month must be 01..12"},
		{"yearly 00-10", "month must be 01..12"},
		{"yearly 02-30", "February has no day 30"},
		{"yearly 04-31", "April has no day 31"},
		{"yearly 12/31", "date must be MM-DD"},
		{"yearly 2026-12-31", "date must be MM-DD"},
		{"0 9 31 2 *", "never fires"},
		{"cron 0 9 30 2 *", "never fires"},
		{"TZ=Asia/Shanghai", "must be followed by a cron expression"},
		{"CRON_TZ=Asia/Shanghai", "must be followed by a cron expression"},
		{"CRON_TZ= 0 9 * * *", "needs a zone name"},
		{"CRON_TZ=Local 0 9 * * *", "depends on the host"},
		{"CRON_TZ=Nowhere/City 0 9 * * *", "bad zone in CRON_TZ=: unknown time zone Nowhere/City"},
		{"@every 1h", "@every is an interval, not a calendar schedule"},
		{"@daily", "descriptor must be @weekly, @monthly or @yearly"},
		{"@hourly", "descriptor must be @weekly, @monthly or @yearly"},
		{"@weekly 12:00", "unexpected text after @weekly"},
		{"* * * *", "found 4 fields"},
		{"0 0 0 0 0 0", "found 6 fields"},
		{"cron 0 9 * *", "a cron expression has 5 fields (minute hour day-of-month month day-of-week), found 4"},
		{"cron", "found 0"},
		{"daily 09:00", "found 2 fields"},
		{"0 9 * * 7", "bad cron expression"},
		{"0 9 * * THURS", "bad cron expression"},
		{"0 9 L * *", "bad cron expression"},
		{"60 9 * * *", "bad cron expression"},
		{"*/0 9 * * *", "bad cron expression"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := recur.Parse(tt.spec, shanghai)
			if err == nil {
				t.Fatalf("Parse accepted it as %q", s)
			}
			if s != nil {
				t.Errorf("Parse returned a schedule with the error")
			}
			var pe *recur.ParseError
			if !errors.As(err, &pe) || pe.Spec != tt.spec {
				t.Errorf("error %v (%T) is not a *ParseError for the spec", err, err)
			}
			prefix := `"` + tt.spec + `" is not a schedule: `
			msg := err.Error()
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want %s…%s", msg, prefix, tt.want)
			}
		})
	}
}

func TestParseErrorWraps(t *testing.T) {
	_, err := recur.Parse("CRON_TZ=Nowhere/City 0 9 * * *", shanghai)
	if errors.Unwrap(err) == nil {
		t.Fatalf("%v: no wrapped cause", err)
	}
	_, err = recur.Parse("weekly thurs", shanghai)
	if got, want := err.Error(), `"weekly thurs" is not a schedule: weekday must be mon..sun`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := recur.Parse("weekly thu", nil); err == nil {
		t.Fatal("nil location accepted")
	}
}

// TestCanonicalRoundTrip checks that String parses back to the same schedule.
func TestCanonicalRoundTrip(t *testing.T) {
	for _, spec := range seeds {
		s, err := recur.Parse(spec, shanghai)
		if err != nil {
			continue
		}
		s2, err := recur.Parse(s.String(), shanghai)
		if err != nil {
			t.Fatalf("%q → %q: %v", spec, s, err)
		}
		if s2.String() != s.String() || s2.Timed() != s.Timed() {
			t.Fatalf("%q → %q → %q", spec, s, s2)
		}
		from := at(2026, 1, 1, 0, 0)
		for i := 0; i < 20; i++ {
			a, b := s.Next(from), s2.Next(from)
			if !a.Equal(b) {
				t.Fatalf("%q and %q differ after %s: %s vs %s", s, s2, from.Format(layout), a.Format(layout), b.Format(layout))
			}
			from = a
		}
	}
}

// seeds are the specs used by the tests, valid and invalid; they seed FuzzParse.
var seeds = []string{
	"weekly thu 12:00", "weekly thu", "Weekly THURSDAY 08:30", "weekly sun", "weekly mon 00:00",
	"monthly 5", "monthly 05 17:30", "monthly 31", "monthly 30 23:59",
	"quarterly 10", "quarterly 31 09:00", "half-yearly 15", "HALF-YEARLY 1 09:00",
	"yearly 12-31", "yearly 01-15 10:00", "yearly 02-29",
	"0 12 * * THU", "cron 0 0 10 1,7 *", "CRON_TZ=Asia/Shanghai 0 9 * * MON-FRI",
	"TZ=Asia/Shanghai   0 9 * *  MON-FRI", "cron CRON_TZ=UTC 0 20 * * *", "0 9 29 2 *",
	"@weekly", "@monthly", "@yearly", "@Annually", "CRON_TZ=Asia/Shanghai @yearly",
	"*/15 8-17 * * 1-5", "0 9 1-7 * MON", "? ? ? ? ?",
	"", "weekly", "weekly thurs", "weekly thu 25:00", "weekly thu 24:00", "monthly 0", "monthly 32",
	"quarterly", "yearly 13-01", "yearly 02-30", "0 9 31 2 *", "TZ=Asia/Shanghai", "TZ=",
	"CRON_TZ=Nowhere/City 0 9 * * *", "CRON_TZ=../../etc/passwd 0 9 * * *", "@every 1h", "@daily",
	"* * * *", "0 0 0 0 0 0", "cron", "1-2-3 * * * *", "0 9 * * 7",
}

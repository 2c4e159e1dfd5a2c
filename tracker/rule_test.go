package tracker_test

import (
	"errors"
	"testing"
	"time"

	"duban/tracker"
)

var shanghai = mustLoc("Asia/Shanghai")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func testEnv(tb testing.TB) tracker.Env {
	tb.Helper()
	cal, err := tracker.DefaultCalendar()
	if err != nil {
		tb.Fatal(err)
	}
	return tracker.Env{Cal: cal, Loc: shanghai, DayEnd: 24 * 60, SendTime: 9 * 60}
}

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, shanghai)
	if err != nil {
		panic(err)
	}
	return t
}

// TestDeadlineSourceCases pins every rule of SPEC §2 on 2026 dates, with
// expectations worked out by hand from the State Council's 2026 arrangement.
func TestDeadlineSourceCases(t *testing.T) {
	env := testEnv(t)
	tests := []struct {
		name      string
		rule      string
		start     string
		roll      tracker.Roll
		lastDay   string
		due       string // RFC 3339, first overdue instant
		timed     bool
		provision bool
	}{
		// 会议纪要须在三天内签发: Thu 24 Sep + 3 = Sun 27 Sep (中秋 off) → Mon 28 Sep.
		{"minutes 3d rolls past Mid-Autumn", "3d", "2026-09-24 16:00", "", "2026-09-28", "2026-09-29T00:00:00+08:00", false, false},
		// 最长不能超过一周: 24 Sep + 7 = 1 Oct (National Day) → Thu 8 Oct.
		{"minutes limit 7d rolls past National Day", "7d", "2026-09-24 16:00", "", "2026-10-08", "2026-10-09T00:00:00+08:00", false, false},
		{"roll none keeps the Sunday", "3d", "2026-09-24 16:00", tracker.RollNone, "2026-09-27", "2026-09-28T00:00:00+08:00", false, false},
		// 会签稿两个工作日: Fri 9 Oct → Sat 10 Oct (make-up, 1) → Mon 12 Oct (2).
		{"cosign 2wd counts make-up Saturday", "2wd", "2026-10-09 10:00", "", "2026-10-12", "2026-10-13T00:00:00+08:00", false, false},
		{"cosign 2wd across National Day", "2wd", "2026-09-30 10:00", "", "2026-10-09", "2026-10-10T00:00:00+08:00", false, false},
		// 业务来文 3 个工作日: 30 Sep → 8, 9, 10 (make-up Saturday) Oct.
		{"3wd ends on make-up Saturday", "3wd", "2026-09-30 08:00", "", "2026-10-10", "2026-10-11T00:00:00+08:00", false, false},
		// 当天收文当天拟办
		{"0wd on a working day", "0wd", "2026-09-30 15:00", "", "2026-09-30", "2026-10-01T00:00:00+08:00", false, false},
		{"0wd on a holiday", "0wd", "2026-10-03 15:00", "", "2026-10-08", "2026-10-09T00:00:00+08:00", false, false},
		{"0wd on a make-up Saturday", "0wd", "2026-10-10 15:00", "", "2026-10-10", "2026-10-11T00:00:00+08:00", false, false},
		{"0wd on an ordinary Sunday", "0wd", "2026-10-11 15:00", "", "2026-10-12", "2026-10-13T00:00:00+08:00", false, false},
		// 2015年9月30日前 … a fixed date is the date the office meant.
		{"fixed date", "2026-09-30", "2026-09-01 00:00", "", "2026-09-30", "2026-10-01T00:00:00+08:00", false, false},
		{"fixed date on a holiday is not rolled", "2026-10-03", "2026-09-01 00:00", "", "2026-10-03", "2026-10-04T00:00:00+08:00", false, false},
		{"fixed instant", "2026-09-24 12:00", "2026-09-01 00:00", "", "2026-09-24", "2026-09-24T12:00:00+08:00", true, false},
		// 文件下发之日起10日内: Tue 10 Feb + 10 = Fri 20 Feb (Spring Festival) → Tue 24 Feb.
		{"10d across Spring Festival", "10d", "2026-02-10 00:00", "", "2026-02-24", "2026-02-25T00:00:00+08:00", false, false},
		// 一周内公开: Mon 28 Sep + 7 = Mon 5 Oct (off) → Thu 8 Oct.
		{"7d into National Day", "7d", "2026-09-28 09:30", "", "2026-10-08", "2026-10-09T00:00:00+08:00", false, false},
		// Make-up working days of 2026.
		{"1wd into make-up Sunday 4 Jan", "1wd", "2026-01-02 10:00", "", "2026-01-04", "2026-01-05T00:00:00+08:00", false, false},
		{"1wd into make-up Saturday 14 Feb", "1wd", "2026-02-13 10:00", "", "2026-02-14", "2026-02-15T00:00:00+08:00", false, false},
		{"1wd across Spring Festival", "1wd", "2026-02-14 10:00", "", "2026-02-24", "2026-02-25T00:00:00+08:00", false, false},
		{"1wd into make-up Saturday 28 Feb", "1wd", "2026-02-27 10:00", "", "2026-02-28", "2026-03-01T00:00:00+08:00", false, false},
		{"1wd into make-up Saturday 9 May", "1wd", "2026-05-08 10:00", "", "2026-05-09", "2026-05-10T00:00:00+08:00", false, false},
		{"1wd across Labour Day", "1wd", "2026-04-30 10:00", "", "2026-05-06", "2026-05-07T00:00:00+08:00", false, false},
		{"1wd into make-up Sunday 20 Sep", "1wd", "2026-09-18 10:00", "", "2026-09-20", "2026-09-21T00:00:00+08:00", false, false},
		{"1wd into make-up Saturday 10 Oct", "1wd", "2026-10-09 10:00", "", "2026-10-10", "2026-10-11T00:00:00+08:00", false, false},
		// Months (Art. 202).
		{"1mo from 31 Jan ends 28 Feb (make-up Saturday)", "1mo", "2026-01-31 10:00", "", "2026-02-28", "2026-03-01T00:00:00+08:00", false, false},
		{"1mo from 31 Aug ends 30 Sep", "1mo", "2026-08-31 10:00", "", "2026-09-30", "2026-10-01T00:00:00+08:00", false, false},
		{"1mo into National Day rolls", "1mo", "2026-09-02 10:00", "", "2026-10-08", "2026-10-09T00:00:00+08:00", false, false},
		// Hours never roll.
		{"48h into a holiday is not rolled", "48h", "2026-09-30 10:00", "", "2026-10-02", "2026-10-02T10:00:00+08:00", true, false},
		{"4h", "4h", "2026-09-24 16:00", "", "2026-09-24", "2026-09-24T20:00:00+08:00", true, false},
		// Year ends: 2027 has no data yet, so these are provisional.
		{"1mo into 2027 is provisional", "1mo", "2026-12-31 10:00", "", "2027-02-01", "2027-02-02T00:00:00+08:00", false, true},
		// 1 Jan 2027 (Fri) is off by law even before the notice: Thu 31 Dec (1), Mon 4 Jan (2).
		{"2wd across the year end is provisional", "2wd", "2026-12-30 10:00", "", "2027-01-04", "2027-01-05T00:00:00+08:00", false, true},
		{"2d onto 1 Jan 2027 rolls to Mon 4 Jan", "2d", "2026-12-30 10:00", "", "2027-01-04", "2027-01-05T00:00:00+08:00", false, true},
		{"3d inside 2026 is not provisional", "3d", "2026-12-25 10:00", "", "2026-12-28", "2026-12-29T00:00:00+08:00", false, false},
		{"year end 2025 into 2026 New Year", "1wd", "2025-12-31 10:00", "", "2026-01-04", "2026-01-05T00:00:00+08:00", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tracker.ParseRule(tt.rule)
			if err != nil {
				t.Fatal(err)
			}
			got := r.Deadline(at(tt.start), env, tt.roll)
			if got.LastDay.String() != tt.lastDay {
				t.Errorf("%s from %s: last day %s, want %s (%s)", tt.rule, tt.start, got.LastDay, tt.lastDay, got.Why)
			}
			if d := got.Due.Format(time.RFC3339); d != tt.due {
				t.Errorf("%s from %s: due %s, want %s", tt.rule, tt.start, d, tt.due)
			}
			if got.Timed != tt.timed || got.Provisional != tt.provision {
				t.Errorf("%s from %s: timed=%v provisional=%v, want %v %v", tt.rule, tt.start, got.Timed, got.Provisional, tt.timed, tt.provision)
			}
		})
	}
}

func TestDayEnd(t *testing.T) {
	env := testEnv(t)
	env.DayEnd = 17*60 + 30
	r, _ := tracker.ParseRule("3d")
	got := r.Deadline(at("2026-09-24 16:00"), env, "")
	if want := "2026-09-28T17:30:00+08:00"; got.Due.Format(time.RFC3339) != want {
		t.Errorf("day_end 17:30: due %s, want %s", got.Due.Format(time.RFC3339), want)
	}
}

func TestCoDeadline(t *testing.T) {
	env := testEnv(t)
	r, _ := tracker.ParseRule("10wd")
	// Mon 21 Sep + 10 working days: 22,23,24,28,29,30 Sep, 8,9,10(Sat make-up),12 Oct.
	lead := r.Deadline(at("2026-09-21 00:00"), env, "")
	if lead.LastDay.String() != "2026-10-12" {
		t.Fatalf("lead last day %s, want 2026-10-12", lead.LastDay)
	}
	tests := []struct{ off, want string }{
		{"-2wd", "2026-10-09"}, // 10 Oct (make-up) is 1, 9 Oct is 2
		{"-1wd", "2026-10-10"},
		{"-3wd", "2026-10-08"},
		{"-4wd", "2026-09-30"}, // across National Day
		{"-3d", "2026-10-09"},  // 9 Oct is a Friday
		{"-5d", "2026-09-30"},  // 7 Oct is off: back to 30 Sep
	}
	for _, tt := range tests {
		off, err := tracker.ParseOffset(tt.off)
		if err != nil {
			t.Fatal(err)
		}
		got := tracker.CoDeadline(lead, off, env)
		if got.LastDay.String() != tt.want {
			t.Errorf("CoDeadline(%s, %s) = %s, want %s", lead.LastDay, tt.off, got.LastDay, tt.want)
		}
	}
}

func TestExtend(t *testing.T) {
	env := testEnv(t)
	r, _ := tracker.ParseRule("3d")
	cur := r.Deadline(at("2026-09-24 16:00"), env, "") // 28 Sep
	tests := []struct{ to, want string }{
		{"+2wd", "2026-09-30"},
		{"+3wd", "2026-10-08"},
		{"2026-10-15", "2026-10-15"},
		{"+5d", "2026-10-08"}, // 3 Oct is off: next working day
	}
	for _, tt := range tests {
		got, err := tracker.Extend(cur, tt.to, env)
		if err != nil {
			t.Fatalf("Extend(%s): %v", tt.to, err)
		}
		if got.LastDay.String() != tt.want {
			t.Errorf("Extend(%s, %s) = %s, want %s", cur.LastDay, tt.to, got.LastDay, tt.want)
		}
	}
	for _, bad := range []string{"", "3 days", "+0wd", "-2wd", "+2mo", "tomorrow"} {
		if _, err := tracker.Extend(cur, bad, env); !errors.Is(err, tracker.ErrBadRule) {
			t.Errorf("Extend(%q) error = %v, want ErrBadRule", bad, err)
		}
	}
}

func TestParseRule(t *testing.T) {
	good := map[string]string{"3d": "3d", " 2wd ": "2wd", "0wd": "0wd", "1mo": "1mo", "48h": "48h",
		"2026-09-30": "2026-09-30", "2026-09-30 17:00": "2026-09-30 17:00"}
	for in, want := range good {
		r, err := tracker.ParseRule(in)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", in, err)
			continue
		}
		if r.String() != want {
			t.Errorf("ParseRule(%q).String() = %q, want %q", in, r.String(), want)
		}
	}
	for _, in := range []string{"", "3 days", "0d", "0h", "0mo", "-3d", "3D", "3", "d", "2026-02-30", "2026-09-30 25:00",
		"2026-09-30 24:00", "99999d", "3wdd", "2026/09/30", "１d"} {
		if _, err := tracker.ParseRule(in); !errors.Is(err, tracker.ErrBadRule) {
			t.Errorf("ParseRule(%q) error = %v, want ErrBadRule", in, err)
		}
	}
}

func TestParseOffset(t *testing.T) {
	good := map[string]string{"0": "0", "limit": "limit", "-2wd": "-2wd", "+1wd": "+1wd", "1wd": "+1wd", "-1d": "-1d", "+3d": "+3d", "-4h": "-4h"}
	for in, want := range good {
		o, err := tracker.ParseOffset(in)
		if err != nil || o.String() != want {
			t.Errorf("ParseOffset(%q) = %v, %v; want %s", in, o, err, want)
		}
	}
	for _, in := range []string{"", "-", "+", "2mo", "-2x", "limit2", "--1d"} {
		if _, err := tracker.ParseOffset(in); !errors.Is(err, tracker.ErrBadRule) {
			t.Errorf("ParseOffset(%q) error = %v, want ErrBadRule", in, err)
		}
	}
}

// FuzzParseRule: the parser never panics, and what it accepts it prints
// back in a form it parses to the same rule.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"3d", "2wd", "0wd", "1mo", "48h", "2026-09-30", "2026-09-30 17:00", "", "3 days", "9999wd"} {
		f.Add(s)
	}
	env := testEnv(f)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := tracker.ParseRule(s)
		if err != nil {
			return
		}
		r2, err := tracker.ParseRule(r.String())
		if err != nil || r2 != r {
			t.Fatalf("ParseRule(%q) = %+v, but its String %q parses to %+v, %v", s, r, r.String(), r2, err)
		}
		dl := r.Deadline(at("2026-09-24 16:00"), env, "")
		if dl.Due.IsZero() {
			t.Fatalf("ParseRule(%q).Deadline has zero Due", s)
		}
	})
}

func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"0", "limit", "-2wd", "+1wd", "-4h", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, err := tracker.ParseOffset(s)
		if err != nil {
			return
		}
		o2, err := tracker.ParseOffset(o.String())
		if err != nil || o2 != o {
			t.Fatalf("ParseOffset(%q) = %+v; String %q parses to %+v, %v", s, o, o.String(), o2, err)
		}
	})
}

package tracker_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/recur"
)

// The figures below are worked out by hand on the 2026 calendar:
// 1–7 Oct off (National Day), Sat 10 Oct a make-up working day, Sat 31 Oct
// off; October's working days are 8, 9, 10, 12–16, 19–23 and 26–30.

func repExpander(tb testing.TB) *tracker.Expander {
	tb.Helper()
	cal, err := tracker.DefaultCalendar()
	if err != nil {
		tb.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		tb.Fatal(err)
	}
	return &tracker.Expander{
		Env: tracker.Env{Cal: cal, Loc: loc, DayEnd: 24 * 60, SendTime: 9 * 60},
		Every: func(spec string, loc *time.Location) (tracker.Schedule, error) {
			return recur.Parse(spec, loc)
		},
		Horizon: 40,
	}
}

func repStore(tb testing.TB) *kvstore.Store {
	tb.Helper()
	st, err := kvstore.Open(filepath.Join(tb.TempDir(), "report.db"), time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func repAt(x *tracker.Expander, s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, x.Env.Loc)
	if err != nil {
		panic(err)
	}
	return t
}

// repFixture imports units a and b and the items, then applies the actions in order.
func repFixture(t *testing.T, items []tracker.Item, actions []tracker.Action) (*tracker.Expander, *kvstore.Store) {
	t.Helper()
	x := repExpander(t)
	st := repStore(t)
	b := &tracker.Bundle{
		Units: []tracker.Unit{{ID: "a", Name: "甲局"}, {ID: "b", Name: "乙局"}, {ID: "c", Name: "丙局"}},
	}
	b.Items = items
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.Import(tx, b, repAt(x, "2026-09-20 09:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		if err := st.Update(func(tx tracker.Tx) error {
			a.Actor = "test"
			_, err := x.Apply(tx, a)
			return err
		}); err != nil {
			t.Fatalf("%s %s: %v", a.Kind, a.ID, err)
		}
	}
	return x, st
}

func repReport(t *testing.T, x *tracker.Expander, st tracker.Store, month, unit, now string) *tracker.Report {
	t.Helper()
	m, err := tracker.ParseMonth(month)
	if err != nil {
		t.Fatal(err)
	}
	var rep *tracker.Report
	if err := st.View(func(tx tracker.Tx) error {
		rep, err = tracker.MonthlyReport(tx, x.Env, m, unit, repAt(x, now))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return rep
}

func repUnit(rep *tracker.Report, id string) *tracker.UnitStats {
	for i := range rep.Units {
		if rep.Units[i].Unit == id {
			return &rep.Units[i]
		}
	}
	return nil
}

type repCounts struct{ due, onTime, late, overdue, notYet, extended, max int }

func repCheck(t *testing.T, s *tracker.UnitStats, want repCounts, rate float64, avg float64) {
	t.Helper()
	if s == nil {
		t.Fatal("no row")
	}
	got := repCounts{s.Due, s.OnTime, s.Late, s.Overdue, s.NotYetDue, s.Extended, s.MaxLateWorkdays}
	if got != want {
		t.Errorf("%s: counts %+v, want %+v", s.Unit, got, want)
	}
	switch {
	case rate < 0 && s.OnTimeRate != nil:
		t.Errorf("%s: rate %v, want none", s.Unit, *s.OnTimeRate)
	case rate >= 0 && (s.OnTimeRate == nil || *s.OnTimeRate != rate):
		t.Errorf("%s: rate %v, want %v", s.Unit, s.OnTimeRate, rate)
	}
	if s.AvgLateWorkdays != avg {
		t.Errorf("%s: average lateness %v, want %v", s.Unit, s.AvgLateWorkdays, avg)
	}
}

// TestMonthlyReportExtensionChain: an extension in time, then one after
// the extended deadline had passed: the instance counts against the
// deadline set by the first extension.
func TestMonthlyReportExtensionChain(t *testing.T) {
	items := []tracker.Item{
		// 3wd from Thu 8 Oct: 9, 10 (make-up), 12 → last day Mon 12 Oct.
		{ID: "chain", Title: "两次延期", Unit: "a", Start: "2026-10-08", Due: "3wd"},
		// Original deadline in September (3wd from 24 Sep: 28, 29, 30 Sep),
		// extended on 9 Oct after it had passed: counted in September.
		{ID: "sep", Title: "九月到期事后延期", Unit: "b", Start: "2026-09-24", Due: "3wd"},
	}
	x, st := repFixture(t, items, []tracker.Action{
		// In time (before 13 Oct 00:00): 12 Oct + 2wd = 14 Oct.
		{Kind: "extend", ID: "chain", To: "+2wd", Note: "待会签", At: repAt(x0, "2026-10-09 10:00")},
		// After 14 Oct had passed: counted against 14 Oct.
		{Kind: "extend", ID: "chain", To: "2026-10-23", Note: "补办", At: repAt(x0, "2026-10-16 10:00")},
		{Kind: "done", ID: "chain", At: repAt(x0, "2026-10-19 15:00")},
		{Kind: "extend", ID: "sep", To: "2026-10-20", Note: "补办", At: repAt(x0, "2026-10-09 10:00")},
		{Kind: "done", ID: "sep", At: repAt(x0, "2026-10-15 15:00")},
	})
	rep := repReport(t, x, st, "2026-10", "", "2026-11-05 10:00")
	// Every unit has its row; only a had something due in October.
	if len(rep.Units) != 3 || rep.Units[1].Due != 0 || rep.Units[2].Due != 0 {
		t.Fatalf("units %+v, want a, then b and c with nothing due", rep.Units)
	}
	// Done 19 Oct against 14 Oct: 15, 16, 19 → 3 working days late.
	repCheck(t, repUnit(rep, "a"), repCounts{due: 1, late: 1, extended: 1, max: 3}, 0, 3)
	if len(rep.Entries) != 1 {
		t.Fatalf("entries %+v", rep.Entries)
	}
	e := rep.Entries[0]
	if e.LastDay.String() != "2026-10-14" || e.Due.Format(time.RFC3339) != "2026-10-15T00:00:00+08:00" ||
		!e.ExtendedLate || e.CurrentDue == nil || e.CurrentDue.Format(time.RFC3339) != "2026-10-24T00:00:00+08:00" || e.Kind != "late" {
		t.Errorf("entry %+v", e)
	}
	sep := repReport(t, x, st, "2026-09", "", "2026-11-05 10:00")
	// Done on 15 Oct, after the end of September: open and overdue at the
	// month's end, by less than a working day (30 Sep was its last day) → 1.
	repCheck(t, repUnit(sep, "b"), repCounts{due: 1, overdue: 1, extended: 1, max: 1}, 0, 1)
	if e := sep.Entries[0]; e.ID != "sep" || e.Kind != "overdue" || e.DoneAt == nil || !e.ExtendedLate {
		t.Errorf("September entry %+v", e)
	}
}

// x0 is only used for its zone when building action times.
var x0 = func() *tracker.Expander {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return &tracker.Expander{Env: tracker.Env{Loc: loc}}
}()

// TestMonthlyReportMonthInProgress: in a month not over the cutoff is now;
// instances not yet due are counted apart and left out of the rate.
func TestMonthlyReportMonthInProgress(t *testing.T) {
	items := []tracker.Item{
		{ID: "early", Title: "提前办结", Unit: "a", Start: "2026-10-12", Due: "2026-10-30"},
		{ID: "open", Title: "未到期", Unit: "a", Start: "2026-10-12", Due: "2026-10-29"},
		// 2wd from 12 Oct: 13, 14 → overdue at 20 Oct 10:00 by 15, 16, 19, 20 = 4.
		{ID: "over", Title: "逾期", Unit: "a", Start: "2026-10-12", Due: "2wd"},
		// Timed deadline, done the same afternoon: late by less than a day → 1.
		{ID: "timed", Title: "定时", Unit: "b", Start: "2026-10-12", Due: "2026-10-15 12:00"},
		// No unit yet: counted under the unassigned row.
		{ID: "pending", Title: "待分配", Start: "2026-10-12", Due: "3wd"},
	}
	x, st := repFixture(t, items, []tracker.Action{
		{Kind: "done", ID: "early", At: repAt(x0, "2026-10-13 10:00")},
		{Kind: "done", ID: "timed", At: repAt(x0, "2026-10-15 15:00")},
	})
	rep := repReport(t, x, st, "2026-10", "", "2026-10-20 10:00")
	if rep.Complete || !rep.Cutoff.Equal(repAt(x, "2026-10-20 10:00")) {
		t.Errorf("complete %v cutoff %v", rep.Complete, rep.Cutoff)
	}
	// Rate: 1 on time of 3 − 1 not yet due.
	repCheck(t, repUnit(rep, "a"), repCounts{due: 3, onTime: 1, overdue: 1, notYet: 1, max: 4}, 0.5, 4)
	repCheck(t, repUnit(rep, "b"), repCounts{due: 1, late: 1, max: 1}, 0, 1)
	// pending: 3wd from 12 Oct = 15 Oct; overdue at 20 Oct by 16, 19, 20 = 3.
	u := repUnit(rep, "")
	repCheck(t, u, repCounts{due: 1, overdue: 1, max: 3}, 0, 3)
	if u.UnitName != tracker.UnassignedName || rep.Units[len(rep.Units)-1].Unit != "" {
		t.Errorf("unassigned row %+v should come last", u)
	}
	repCheck(t, &rep.Total, repCounts{due: 5, onTime: 1, late: 1, overdue: 2, notYet: 1, max: 4}, 0.25, 8.0/3)

	// One unit only; a unit with nothing due has a row of zeros and no rate.
	only := repReport(t, x, st, "2026-10", "b", "2026-11-02 10:00")
	if len(only.Units) != 1 || only.Units[0].Unit != "b" || len(only.Entries) != 1 || only.Entries[0].ID != "timed" {
		t.Errorf("--unit b: %+v %+v", only.Units, only.Entries)
	}
	none := repReport(t, x, st, "2026-10", "c", "2026-11-02 10:00")
	repCheck(t, repUnit(none, "c"), repCounts{}, -1, 0)
	repCheck(t, &none.Total, repCounts{}, -1, 0)
	var err error
	st.View(func(tx tracker.Tx) error {
		_, err = tracker.MonthlyReport(tx, x.Env, tracker.Month{Year: 2026, Month: 10}, "nosuch", repAt(x, "2026-11-02 10:00"))
		return nil
	})
	if !errors.Is(err, tracker.ErrInvalid) {
		t.Errorf("unknown unit: %v, want ErrInvalid", err)
	}
}

func TestParseMonth(t *testing.T) {
	m, err := tracker.ParseMonth("2026-10")
	if err != nil || m.String() != "2026-10" || m.Chinese() != "2026年10月" || m.Last().String() != "2026-10-31" ||
		m.Add(3).String() != "2027-01" || m.Add(-10).String() != "2025-12" {
		t.Errorf("ParseMonth: %v %v", m, err)
	}
	for _, bad := range []string{"2026-13", "2026/10", "202610", ""} {
		if _, err := tracker.ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		}
	}
}

// BenchmarkMonthlyReport: October with 100 000 instances due in it (60 %
// on time, 20 % late, 10 % overdue, 10 % extended with history), plus
// 20 000 instances of other months, in a kvstore bbolt file.
func BenchmarkMonthlyReport(b *testing.B) {
	x := repExpander(b)
	st, err := kvstore.Open(filepath.Join(b.TempDir(), "bench.db"), time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	const inMonth, others, units = 100_000, 20_000, 50
	days := []string{"2026-10-08", "2026-10-09", "2026-10-12", "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16",
		"2026-10-19", "2026-10-20", "2026-10-21", "2026-10-22", "2026-10-23", "2026-10-26", "2026-10-27", "2026-10-28",
		"2026-10-29", "2026-10-30"}
	err = st.Update(func(tx tracker.Tx) error {
		for u := range units {
			if err := tx.PutUnit(&tracker.Unit{ID: fmt.Sprintf("u%02d", u), Name: fmt.Sprintf("第%d局", u)}); err != nil {
				return err
			}
		}
		for i := range 1200 {
			if err := tx.PutItem(&tracker.Item{ID: fmt.Sprintf("item-%04d", i), Title: "关于规范行政执法的意见(会签稿)",
				Doc: "洛政法〔2026〕118号", Due: "3wd"}); err != nil {
				return err
			}
		}
		for n := range inMonth + others {
			item := n / 100
			d, _ := tracker.ParseDate(days[n%len(days)])
			if n >= inMonth {
				d = d.AddMonths(1 + n%3)
			}
			dl := tracker.Deadline{LastDay: d, Due: x.Env.EndOf(d), Rule: "3wd", Why: "3 working day(s) after start 2026-10-05 (start day not counted)"}
			in := &tracker.Instance{ID: fmt.Sprintf("item-%04d/%03d", item, n%100), Item: fmt.Sprintf("item-%04d", item),
				Unit: fmt.Sprintf("u%02d", n%units), Status: tracker.StatusOpen, Start: x.Env.EndOf(d.AddDays(-7)).UTC(),
				Deadline: dl, AssignedAt: x.Env.EndOf(d.AddDays(-7)).UTC(), NextNotice: tracker.Never}
			switch k := n % 10; {
			case k < 6:
				in.Status, in.DoneAt = tracker.StatusDone, dl.Due.Add(-5*time.Hour).UTC()
			case k < 8:
				in.Status, in.DoneAt = tracker.StatusDone, dl.Due.Add(50*time.Hour).UTC()
			case k == 8:
			default:
				orig := dl
				in.Original = &orig
				in.Extensions = 1
				in.Deadline.LastDay = d.AddDays(3)
				in.Deadline.Due = x.Env.EndOf(d.AddDays(3))
				if err := tx.AppendEvent(in.ID, tracker.Event{At: dl.Due.Add(-20 * time.Hour).UTC(), Action: "extend",
					From: dl.Due.Format(time.RFC3339), To: in.Deadline.Due.Format(time.RFC3339), Note: "延期"}); err != nil {
					return err
				}
			}
			in.UpdatedAt = in.AssignedAt
			if err := tx.PutInstance(in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	now := repAt(x, "2026-11-02 09:00")
	b.ReportAllocs()
	var rep *tracker.Report
	for b.Loop() {
		if err := st.View(func(tx tracker.Tx) error {
			var err error
			rep, err = tracker.MonthlyReport(tx, x.Env, tracker.Month{Year: 2026, Month: time.October}, "", now)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	// Extended instances whose new deadline leaves October are counted in
	// November: 17 days, 3 of them (27, 28, 29 → 30/31 Oct, 1 Nov) stay.
	if rep.Total.Due < inMonth*9/10 || rep.Total.Due > inMonth {
		b.Fatalf("due %d", rep.Total.Due)
	}
	b.ReportMetric(float64(rep.Total.Due), "due")
}

// TestMonthlyReportEveryUnitInDefinitionOrder: the bulletin lists every
// unit, in the order of units.yaml (not by id), those with nothing due
// too — today's main listed only units with an instance due, by id.
func TestMonthlyReportEveryUnitInDefinitionOrder(t *testing.T) {
	x := repExpander(t)
	st := repStore(t)
	b := &tracker.Bundle{
		Units: []tracker.Unit{
			{ID: "zfj", Name: "市住房局", Source: "units.yaml:9"},
			{ID: "afj", Name: "市安监局", Source: "units.yaml:21"},
			{ID: "mfj", Name: "市民政局", Source: "units.yaml:12"},
			{ID: "bfj", Name: "市编办", Source: "units.yaml:100"},
		},
		Items: []tracker.Item{{ID: "x", Title: "事项", Unit: "bfj", Start: "2026-10-08", Due: "3wd"}},
	}
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.Import(tx, b, repAt(x, "2026-09-20 09:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	rep := repReport(t, x, st, "2026-10", "", "2026-11-05 10:00")
	var got []string
	for _, u := range rep.Units {
		got = append(got, fmt.Sprintf("%s:%d", u.UnitName, u.Due))
	}
	want := []string{"市住房局:0", "市民政局:0", "市安监局:0", "市编办:1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("units %v, want %v", got, want)
	}
	if rep.Total.Due != 1 {
		t.Errorf("total due %d, want 1", rep.Total.Due)
	}
	one := repReport(t, x, st, "2026-10", "mfj", "2026-11-05 10:00")
	if len(one.Units) != 1 || one.Units[0].Unit != "mfj" {
		t.Errorf("--unit mfj: units %+v", one.Units)
	}
}

// TestReportDefinitionsStateDayEnd: the footer states the office's day
// end, never the name of the setting (today's main said "day_end").
func TestReportDefinitionsStateDayEnd(t *testing.T) {
	x := repExpander(t)
	for _, tt := range []struct {
		dayEnd tracker.TimeOfDay
		want   string
	}{{24 * 60, "最后一日24时"}, {17*60 + 30, "本办设为17:30"}} {
		env := x.Env
		env.DayEnd = tt.dayEnd
		var all string
		for _, d := range tracker.ReportDefinitions(env) {
			all += d.Term + d.Text
		}
		if !strings.Contains(all, tt.want) {
			t.Errorf("day end %s: definitions lack %q", tt.dayEnd, tt.want)
		}
		for _, bad := range []string{"day_end", "duban", "extend"} {
			if strings.Contains(all, bad) {
				t.Errorf("day end %s: definitions name %q", tt.dayEnd, bad)
			}
		}
	}
}

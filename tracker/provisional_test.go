package tracker

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/6tail/lunar-go/calendar"
)

// lunarGoDates is gen_lunar.go's computation: 正月初一, 清明, 端午, 中秋 of y.
func lunarGoDates(y int) [4]*calendar.Solar {
	return [4]*calendar.Solar{
		calendar.NewLunarFromYmd(y, 1, 1).GetSolar(),
		calendar.NewLunarFromYmd(y, 1, 1).GetJieQiTable()["清明"],
		calendar.NewLunarFromYmd(y, 5, 5).GetSolar(),
		calendar.NewLunarFromYmd(y, 8, 15).GetSolar(),
	}
}

// TestLunarTableMatchesLunarGo checks every row of the generated table
// against the library, so a stale or hand-edited table fails.
func TestLunarTableMatchesLunarGo(t *testing.T) {
	if got, want := len(lunarTable), lunarLastYear-lunarFirstYear+1; got != want {
		t.Fatalf("lunarTable has %d rows, want %d", got, want)
	}
	for y := lunarFirstYear; y <= lunarLastYear; y++ {
		for i, s := range lunarGoDates(y) {
			if s.GetYear() != y {
				t.Fatalf("%d column %d: lunar-go gives year %d", y, i, s.GetYear())
			}
			if got, want := lunarTable[y-lunarFirstYear][i], uint16(s.GetMonth()*100+s.GetDay()); got != want {
				t.Errorf("lunarTable %d column %d = %d, lunar-go says %d (run go generate ./tracker/)", y, i, got, want)
			}
		}
	}
}

// TestProvisionalAgainstStateCouncil builds the provisional calendar for
// each embedded year 2020–2026 as if its notice were missing and checks
// that every day it puts off (fixed by the law in force that year, or an
// Art. 6 make-up day) is off in the State Council's real arrangement too.
// Only bridging days may be missing, never the other way round.
func TestProvisionalAgainstStateCouncil(t *testing.T) {
	real := mustDefault(t)
	for y := 2020; y <= 2026; y++ {
		if !real.Known(y) {
			t.Fatalf("embedded calendar lacks %d", y)
		}
		off := provisionalOff(y)
		if len(off) < 10 {
			t.Fatalf("%d: only %d provisional days off: %v", y, len(off), off)
		}
		for _, d := range slices.SortedFunc(maps.Keys(off), Date.Compare) {
			if real.IsWorkday(d) {
				t.Errorf("%d: provisional %s (%s, %s) is a working day in the State Council arrangement", y, d, off[d], d.Weekday())
			}
		}
	}
}

// TestProvisional2027 pins the provisional 2027, worked out by hand from
// the law (2024 revision) and the lunar dates in SPEC §3 (除夕 5 Feb,
// 清明 5 Apr, 端午 9 Jun, 中秋 15 Sep): 1 Jan Fri; 5–8 Feb Fri–Mon with
// 初一 Sat and 初二 Sun made up Tue 9 and Wed 10 Feb; 5 Apr Mon; 1–2 May
// Sat–Sun made up Mon 3 and Tue 4 May; 9 Jun Wed; 15 Sep Wed; 1–3 Oct
// Fri–Sun with 2 and 3 Oct made up Mon 4 and Tue 5 Oct. No weekend day is
// a working day: the notice's 调休 is unknown.
func TestProvisional2027(t *testing.T) {
	c := mustDefault(t)
	if c.Known(2027) {
		t.Fatal("the embedded calendar knows 2027; this test needs it unknown")
	}
	want := map[string]string{
		"2027-01-01": "元旦（暂定）",
		"2027-02-05": "春节（暂定）", "2027-02-08": "春节（暂定）",
		"2027-02-09": "春节补假（暂定）", "2027-02-10": "春节补假（暂定）",
		"2027-04-05": "清明节（暂定）",
		"2027-05-03": "劳动节补假（暂定）", "2027-05-04": "劳动节补假（暂定）",
		"2027-06-09": "端午节（暂定）",
		"2027-09-15": "中秋节（暂定）",
		"2027-10-01": "国庆节（暂定）",
		"2027-10-04": "国庆节补假（暂定）", "2027-10-05": "国庆节补假（暂定）",
	}
	got := map[string]string{}
	for d := (Date{2027, time.January, 1}); d.Year == 2027; d = d.AddDays(1) {
		wd := d.Weekday()
		weekend := wd == time.Saturday || wd == time.Sunday
		if weekend && c.IsWorkday(d) {
			t.Errorf("%s (%s) is a working day; make-up working days are unknown before the notice", d, wd)
		}
		if !weekend && !c.IsWorkday(d) {
			got[d.String()] = c.HolidayName(d)
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("2027 weekdays off = %v\nwant %v", got, want)
	}
	// Fixed days on a weekend are named too.
	for d, name := range map[string]string{"2027-02-06": "春节（暂定）", "2027-05-02": "劳动节（暂定）", "2027-10-03": "国庆节（暂定）"} {
		if got := c.HolidayName(mustDate(t, d)); got != name {
			t.Errorf("HolidayName(%s) = %q, want %q", d, got, name)
		}
	}
	// A known year keeps the State Council's names and days only.
	if got := c.HolidayName(Date{2026, time.January, 1}); got != "元旦" {
		t.Errorf("HolidayName(2026-01-01) = %q, want 元旦", got)
	}
}

// TestProvisionalArt6MakeUp: a fixed day on a Saturday or Sunday is made up
// on the first working day after its holiday block.
func TestProvisionalArt6MakeUp(t *testing.T) {
	c := mustDefault(t)
	tests := []struct {
		name    string
		date    string
		workday bool
		holiday string
	}{
		// 2028-01-01 is a Saturday: made up on Monday 3 Jan.
		{"2028 元旦 Saturday", "2028-01-01", false, "元旦（暂定）"},
		{"2028 元旦 made up Monday", "2028-01-03", false, "元旦补假（暂定）"},
		{"2028 Tuesday after", "2028-01-04", true, ""},
		// 2034-01-01 is a Sunday: made up on Monday 2 Jan.
		{"2034 元旦 made up Monday", "2034-01-02", false, "元旦补假（暂定）"},
		{"2034 Tuesday after", "2034-01-03", true, ""},
		// 2028: 清明 Tue 4 Apr; 劳动节 Mon–Tue 1–2 May, nothing to make up.
		{"2028 劳动节 Wednesday 3 May", "2028-05-03", true, ""},
		// 2028 国庆: Sun 1, Mon 2, Tue 3 Oct; Sunday made up Wed 4 Oct.
		// (中秋 falls on 3 Oct too; whether that date is made up is the
		// State Council's call, so Thu 5 Oct is not asserted.)
		{"2028 国庆 made up Wednesday", "2028-10-04", false, "国庆节补假（暂定）"},
	}
	for _, tt := range tests {
		d := mustDate(t, tt.date)
		if got := c.IsWorkday(d); got != tt.workday {
			t.Errorf("%s: IsWorkday(%s) = %v, want %v", tt.name, d, got, tt.workday)
		}
		if got := c.HolidayName(d); got != tt.holiday {
			t.Errorf("%s: HolidayName(%s) = %q, want %q", tt.name, d, got, tt.holiday)
		}
	}
	// Deadlines across the 2027 New Year: 5 working days after Mon 28 Dec
	// 2026 are 29, 30, 31 Dec, 4 and 5 Jan (1 Jan is off by law).
	if got, want := c.AddWorkdays(Date{2026, time.December, 28}, 5), (Date{2027, time.January, 5}); got != want {
		t.Errorf("AddWorkdays(2026-12-28, 5) = %s, want %s", got, want)
	}
	if got := c.WorkdaysBetween(Date{2026, time.December, 28}, Date{2027, time.January, 8}); got != 3+5 {
		t.Errorf("WorkdaysBetween(2026-12-28, 2027-01-08) = %d, want 8", got)
	}
	if !c.Provisional(Date{2026, time.December, 28}, Date{2027, time.January, 5}) {
		t.Error("a deadline in 2027 is not marked provisional")
	}
}

// TestProvisionalIndexAgreesWithCounting walks every day from 2019 to 2031
// (provisional, known, provisional again) and beyond the lunar table.
func TestProvisionalIndexAgreesWithCounting(t *testing.T) {
	c := mustDefault(t)
	for d := (Date{2019, time.January, 1}); d.Year <= 2031; d = d.AddDays(1) {
		if got, want := c.IsWorkday(d), c.isWorkdaySlow(d); got != want {
			t.Fatalf("IsWorkday(%s) = %v, counting says %v", d, got, want)
		}
	}
	// Past the index (2101) and past the lunar table (2201) the law's
	// solar-date days still count.
	for _, d := range []Date{{2101, time.January, 1}, {2201, time.October, 1}} {
		if c.IsWorkday(d) || c.HolidayName(d) == "" {
			t.Errorf("%s: IsWorkday = %v, HolidayName = %q; want a provisional day off", d, c.IsWorkday(d), c.HolidayName(d))
		}
	}
}

func mustDate(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// BenchmarkDefaultCalendar: building the embedded calendar and its index
// over 2000–2100, provisional years included (once per process).
func BenchmarkDefaultCalendar(b *testing.B) {
	for b.Loop() {
		if _, err := DefaultCalendar(); err != nil {
			b.Fatal(err)
		}
	}
}

package tracker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"duban/tracker"
)

// Expected values in this file are worked out by hand from the State Council
// notices, never by calling the function under test. 2026 (国办发明电〔2025〕7号):
//
//	off: 1–3 Jan, 15–23 Feb, 4–6 Apr, 1–5 May, 19–21 Jun, 25–27 Sep, 1–7 Oct
//	on:  4 Jan (Sun), 14 Feb (Sat), 28 Feb (Sat), 9 May (Sat), 20 Sep (Sun), 10 Oct (Sat)
//
// Weekdays used below: 2026-01-01 Thu, 2026-02-13 Fri, 2026-09-24 Thu,
// 2026-09-30 Wed, 2026-10-08 Thu, 2026-10-12 Mon, 2027-01-01 Fri, 2027-01-09 Sat.

// calDay parses a YYYY-MM-DD literal; it panics on a typo in the test table.
func calDay(s string) tracker.Date {
	d, err := tracker.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func calDefault(t *testing.T) *tracker.Calendar {
	t.Helper()
	c, err := tracker.DefaultCalendar()
	if err != nil {
		t.Fatalf("DefaultCalendar() error: %v", err)
	}
	return c
}

// calDays lists every date from first to last inclusive.
func calDays(first, last string) []string {
	var out []string
	for d := calDay(first); !d.After(calDay(last)); d = d.AddDays(1) {
		out = append(out, d.String())
	}
	return out
}

func TestIsWorkday2026Holidays(t *testing.T) {
	c := calDefault(t)
	blocks := []struct {
		name        string
		first, last string
	}{
		{"元旦", "2026-01-01", "2026-01-03"},
		{"春节", "2026-02-15", "2026-02-23"},
		{"清明节", "2026-04-04", "2026-04-06"},
		{"劳动节", "2026-05-01", "2026-05-05"},
		{"端午节", "2026-06-19", "2026-06-21"},
		{"中秋节", "2026-09-25", "2026-09-27"},
		{"国庆节", "2026-10-01", "2026-10-07"},
	}
	total := 0
	for _, b := range blocks {
		t.Run(b.name, func(t *testing.T) {
			for _, s := range calDays(b.first, b.last) {
				if got := c.IsWorkday(calDay(s)); got {
					t.Errorf("IsWorkday(%s) = %v, want false (%s)", s, got, b.name)
				}
				if got := c.HolidayName(calDay(s)); got != b.name {
					t.Errorf("HolidayName(%s) = %q, want %q", s, got, b.name)
				}
			}
		})
		total += len(calDays(b.first, b.last))
	}
	if total != 33 {
		t.Errorf("2026 off days in table = %d, want 33", total)
	}
}

func TestIsWorkday2026MakeUpDays(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		name    string
		date    string
		weekday time.Weekday
	}{
		{"New Year make-up Sunday", "2026-01-04", time.Sunday},
		{"Spring Festival make-up Saturday before", "2026-02-14", time.Saturday},
		{"Spring Festival make-up Saturday after", "2026-02-28", time.Saturday},
		{"Labour Day make-up Saturday", "2026-05-09", time.Saturday},
		{"National Day make-up Sunday", "2026-09-20", time.Sunday},
		{"National Day make-up Saturday", "2026-10-10", time.Saturday},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := calDay(tt.date)
			if got := d.Weekday(); got != tt.weekday {
				t.Fatalf("%s.Weekday() = %v, want %v (test table is wrong)", tt.date, got, tt.weekday)
			}
			if got := c.IsWorkday(d); !got {
				t.Errorf("IsWorkday(%s) = %v, want true", tt.date, got)
			}
			if got := c.HolidayName(d); got == "" {
				t.Errorf("HolidayName(%s) = %q, want the holiday's name", tt.date, got)
			}
		})
	}
}

func TestIsWorkdayOrdinaryDays(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		name string
		date string
		want bool
	}{
		{"ordinary Saturday", "2026-03-07", false},
		{"ordinary Sunday", "2026-03-08", false},
		{"ordinary Monday", "2026-03-09", true},
		{"ordinary Friday", "2026-03-13", true},
		{"Sunday after make-up Saturday 10 Oct", "2026-10-11", false},
		{"Saturday before make-up Sunday 20 Sep", "2026-09-19", false},
		{"Sunday after make-up Saturday 28 Feb", "2026-03-01", false},
		{"day before National Day", "2026-09-30", true},
		{"day after National Day", "2026-10-08", true},
		{"day after Spring Festival", "2026-02-24", true},
		{"day before Mid-Autumn", "2026-09-24", true},
		{"New Year's Eve 2025 Wednesday", "2025-12-31", true},
		// Other notice years, from the respective notices.
		{"2020 Spring Festival extension Friday", "2020-01-31", false},
		{"2020 Spring Festival make-up Saturday cancelled by extension", "2020-02-01", false},
		{"2020 make-up Sunday 19 Jan", "2020-01-19", true},
		{"2021 Mid-Autumn make-up Saturday", "2021-09-18", true},
		{"2022 National Day make-up Saturday", "2022-10-08", true},
		{"2023 Mid-Autumn Friday", "2023-09-29", false},
		{"2024 Spring Festival make-up Sunday", "2024-02-18", true},
		{"2025 Spring Festival eighth day Tuesday", "2025-02-04", false},
		{"2025 National Day eighth day Wednesday", "2025-10-08", false},
		{"2025 National Day make-up Saturday", "2025-10-11", true},
		// Unknown years: Monday–Friday minus the days off fixed by law (provisional).
		{"unknown year 2027 Friday 1 Jan (元旦 by law)", "2027-01-01", false},
		{"unknown year 2027 Friday 8 Jan", "2027-01-08", true},
		{"unknown year 2027 Saturday", "2027-01-09", false},
		{"unknown year 2019 Tuesday 1 Jan (元旦 by law)", "2019-01-01", false},
		{"unknown year 2019 Tuesday 8 Jan", "2019-01-08", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.IsWorkday(calDay(tt.date)); got != tt.want {
				t.Errorf("IsWorkday(%s) = %v, want %v", tt.date, got, tt.want)
			}
		})
	}
}

func TestHolidayNameOrdinaryDay(t *testing.T) {
	c := calDefault(t)
	if got := c.HolidayName(calDay("2026-03-09")); got != "" {
		t.Errorf("HolidayName(2026-03-09) = %q, want \"\"", got)
	}
}

func TestAddWorkdays(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		name  string
		start string
		n     int
		want  string
	}{
		// National Day: off 1–7 Oct, make-up Sat 10 Oct, Sun 11 Oct ordinary.
		{"National Day +1 skips the whole block", "2026-09-30", 1, "2026-10-08"},
		{"National Day +2", "2026-09-30", 2, "2026-10-09"},
		{"National Day +3 lands on make-up Saturday", "2026-09-30", 3, "2026-10-10"},
		{"National Day +4 skips Sunday after make-up Saturday", "2026-09-30", 4, "2026-10-12"},
		{"into make-up Saturday from Friday", "2026-10-09", 1, "2026-10-10"},
		{"from inside the block +1", "2026-10-03", 1, "2026-10-08"},
		{"National Day -1 skips the whole block", "2026-10-08", -1, "2026-09-30"},
		{"from Monday -1 lands on make-up Saturday", "2026-10-12", -1, "2026-10-10"},
		{"from Monday -3", "2026-10-12", -3, "2026-10-08"},
		{"from Monday -4 crosses the block", "2026-10-12", -4, "2026-09-30"},
		{"from inside the block -1", "2026-10-05", -1, "2026-09-30"},
		// Mid-Autumn: off Fri 25 – Sun 27 Sep; make-up Sun 20 Sep.
		{"Mid-Autumn +1 crosses 25–27 Sep", "2026-09-24", 1, "2026-09-28"},
		{"Mid-Autumn +2 crosses 25–27 Sep", "2026-09-24", 2, "2026-09-29"},
		{"Mid-Autumn -1 crosses 25–27 Sep", "2026-09-28", -1, "2026-09-24"},
		{"into make-up Sunday from Friday", "2026-09-18", 1, "2026-09-20"},
		{"into make-up Sunday from Monday", "2026-09-21", -1, "2026-09-20"},
		{"Mid-Autumn and National Day together", "2026-09-24", 6, "2026-10-10"},
		// Spring Festival: off 15–23 Feb; make-up Sat 14 Feb and Sat 28 Feb.
		{"into make-up Saturday 14 Feb", "2026-02-13", 1, "2026-02-14"},
		{"across Spring Festival +2", "2026-02-13", 2, "2026-02-24"},
		{"across Spring Festival from Thursday +3", "2026-02-12", 3, "2026-02-24"},
		{"from make-up Saturday across Spring Festival", "2026-02-14", 1, "2026-02-24"},
		{"into make-up Saturday 28 Feb", "2026-02-27", 1, "2026-02-28"},
		{"past make-up Saturday 28 Feb", "2026-02-27", 2, "2026-03-02"},
		{"back across Spring Festival to make-up Saturday", "2026-02-24", -1, "2026-02-14"},
		{"back across Spring Festival -2", "2026-02-24", -2, "2026-02-13"},
		{"back to make-up Saturday 28 Feb", "2026-03-02", -1, "2026-02-28"},
		// New Year: off Thu 1 – Sat 3 Jan; make-up Sun 4 Jan.
		{"New Year +1 lands on make-up Sunday", "2025-12-31", 1, "2026-01-04"},
		{"New Year +2", "2025-12-31", 2, "2026-01-05"},
		{"New Year -1 back to make-up Sunday", "2026-01-05", -1, "2026-01-04"},
		{"New Year -2 back into 2025", "2026-01-05", -2, "2025-12-31"},
		// Zero: NextWorkday semantics.
		{"zero on a working day", "2026-09-30", 0, "2026-09-30"},
		{"zero on a holiday", "2026-10-01", 0, "2026-10-08"},
		{"zero on make-up Sunday", "2026-09-20", 0, "2026-09-20"},
		{"zero on ordinary Sunday", "2026-10-11", 0, "2026-10-12"},
		{"zero on Spring Festival", "2026-02-15", 0, "2026-02-24"},
		// Ordinary weeks.
		{"ordinary week +5", "2026-03-09", 5, "2026-03-16"},
		{"ordinary Friday +1", "2026-03-13", 1, "2026-03-16"},
		{"ordinary Monday -1", "2026-03-16", -1, "2026-03-13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.AddWorkdays(calDay(tt.start), tt.n); got != calDay(tt.want) {
				t.Errorf("AddWorkdays(%s, %d) = %v, want %s", tt.start, tt.n, got, tt.want)
			}
		})
	}
}

func TestNextWorkday(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		name string
		date string
		want string
	}{
		{"working day is itself", "2026-10-08", "2026-10-08"},
		{"National Day", "2026-10-01", "2026-10-08"},
		{"last day of National Day", "2026-10-07", "2026-10-08"},
		{"Saturday before make-up Sunday", "2026-09-19", "2026-09-20"},
		{"Spring Festival first day", "2026-02-15", "2026-02-24"},
		{"New Year", "2026-01-01", "2026-01-04"},
		{"Sunday after make-up Saturday", "2026-10-11", "2026-10-12"},
		{"Dragon Boat Friday", "2026-06-19", "2026-06-22"},
		{"Qingming Saturday", "2026-04-04", "2026-04-07"},
		{"Labour Day", "2026-05-01", "2026-05-06"},
		{"make-up Saturday is itself", "2026-05-09", "2026-05-09"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.NextWorkday(calDay(tt.date)); got != calDay(tt.want) {
				t.Errorf("NextWorkday(%s) = %v, want %s", tt.date, got, tt.want)
			}
		})
	}
}

func TestPrevWorkday(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		name string
		date string
		want string
	}{
		{"working day is itself", "2026-09-30", "2026-09-30"},
		{"last day of National Day", "2026-10-07", "2026-09-30"},
		{"Sunday after make-up Saturday", "2026-10-11", "2026-10-10"},
		{"last day of Spring Festival", "2026-02-23", "2026-02-14"},
		{"Sunday after make-up Saturday 28 Feb", "2026-03-01", "2026-02-28"},
		{"New Year back into 2025", "2026-01-03", "2025-12-31"},
		{"Mid-Autumn Sunday", "2026-09-27", "2026-09-24"},
		{"Labour Day last day", "2026-05-05", "2026-04-30"},
		{"make-up Sunday is itself", "2026-01-04", "2026-01-04"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.PrevWorkday(calDay(tt.date)); got != calDay(tt.want) {
				t.Errorf("PrevWorkday(%s) = %v, want %s", tt.date, got, tt.want)
			}
		})
	}
}

func TestWorkdaysBetween(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"across National Day", "2026-09-30", "2026-10-08", 1},
		{"Mid-Autumn to after make-up Saturday", "2026-09-24", "2026-10-12", 7},
		{"inside National Day", "2026-10-01", "2026-10-07", 0},
		{"make-up Sunday counted", "2026-09-18", "2026-09-21", 2},
		{"across Spring Festival", "2026-02-13", "2026-02-27", 5},
		{"February 2026", "2026-02-01", "2026-02-28", 16},
		{"New Year week", "2025-12-31", "2026-01-05", 2},
		{"whole of 2026", "2025-12-31", "2026-12-31", 248},
		{"same day", "2026-03-09", "2026-03-09", 0},
		{"b before a", "2026-10-12", "2026-09-24", 0},
		{"ordinary week", "2026-03-06", "2026-03-13", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.WorkdaysBetween(calDay(tt.a), calDay(tt.b)); got != tt.want {
				t.Errorf("WorkdaysBetween(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		year int
		want bool
	}{
		{2019, false},
		{2020, true},
		{2021, true},
		{2022, true},
		{2023, true},
		{2024, true},
		{2025, true},
		{2026, true},
		{2027, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.year), func(t *testing.T) {
			if got := c.Known(tt.year); got != tt.want {
				t.Errorf("Known(%d) = %v, want %v", tt.year, got, tt.want)
			}
		})
	}
}

func TestProvisional(t *testing.T) {
	c := calDefault(t)
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"within 2026", "2026-01-01", "2026-12-31", false},
		{"2020 to 2026", "2020-01-01", "2026-12-31", false},
		{"into 2027", "2026-12-01", "2027-01-15", true},
		{"into 2027 reversed", "2027-01-15", "2026-12-01", true},
		{"from 2019", "2019-12-31", "2020-01-02", true},
		{"within 2027", "2027-03-01", "2027-03-05", true},
		{"single known day", "2026-10-01", "2026-10-01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Provisional(calDay(tt.a), calDay(tt.b)); got != tt.want {
				t.Errorf("Provisional(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestYears(t *testing.T) {
	c := calDefault(t)
	want := []int{2020, 2021, 2022, 2023, 2024, 2025, 2026}
	if got := c.Years(); !slices.Equal(got, want) {
		t.Errorf("Years() = %v, want %v", got, want)
	}
	if got := tracker.EmbeddedYears(); !slices.Equal(got, want) {
		t.Errorf("EmbeddedYears() = %v, want %v", got, want)
	}
}

func TestPapers(t *testing.T) {
	c := calDefault(t)
	for _, y := range []int{2020, 2021, 2022, 2023, 2024, 2025, 2026} {
		t.Run(fmt.Sprint(y), func(t *testing.T) {
			papers := c.Papers(y)
			if len(papers) == 0 {
				t.Fatalf("Papers(%d) = %v, want at least one notice", y, papers)
			}
			for _, p := range papers {
				if !strings.HasPrefix(p, "http://www.gov.cn/") && !strings.HasPrefix(p, "https://www.gov.cn/") {
					t.Errorf("Papers(%d) has %q, want a www.gov.cn address", y, p)
				}
			}
		})
	}
	if got := c.Papers(2027); len(got) != 0 {
		t.Errorf("Papers(2027) = %v, want none", got)
	}
}

func TestSources(t *testing.T) {
	c := calDefault(t)
	want := []string{
		"embedded:2020.json", "embedded:2021.json", "embedded:2022.json", "embedded:2023.json",
		"embedded:2024.json", "embedded:2025.json", "embedded:2026.json",
	}
	if got := c.Sources(); !slices.Equal(got, want) {
		t.Errorf("Sources() = %v, want %v", got, want)
	}
}

const cal2027 = `{
  "year": 2027,
  "papers": ["https://example.invalid/test-2027"],
  "days": [
    {"name": "test holiday", "date": "2027-01-01", "isOffDay": true},
    {"name": "test make-up", "date": "2027-01-09", "isOffDay": false}
  ]
}`

func TestWithFilesAddsYear(t *testing.T) {
	base := calDefault(t)
	c, err := base.WithFiles([]tracker.NamedData{{Name: "test-2027.json", Data: []byte(cal2027)}})
	if err != nil {
		t.Fatalf("WithFiles(test-2027.json) error: %v", err)
	}
	checks := []struct {
		name string
		cal  *tracker.Calendar
		date string
		want bool
	}{
		{"with file: 2027-01-01 off", c, "2027-01-01", false},
		{"with file: Saturday 2027-01-09 on", c, "2027-01-09", true},
		{"with file: ordinary Monday 2027-01-04", c, "2027-01-04", true},
		{"with file: 2026 data kept", c, "2026-10-01", false},
		{"base unchanged: 2027-01-09 Saturday", base, "2027-01-09", false},
		{"base unchanged: 2027-02-09 (春节 make-up by law)", base, "2027-02-09", false},
		{"with file: 2027-02-09 Tuesday (the file replaces the law's days)", c, "2027-02-09", true},
	}
	for _, tt := range checks {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.IsWorkday(calDay(tt.date)); got != tt.want {
				t.Errorf("IsWorkday(%s) = %v, want %v", tt.date, got, tt.want)
			}
		})
	}
	if !c.Known(2027) {
		t.Errorf("Known(2027) = false after WithFiles, want true")
	}
	if base.Known(2027) {
		t.Errorf("base Known(2027) = true after WithFiles, want false (calendar must be immutable)")
	}
	if got := c.Provisional(calDay("2026-12-01"), calDay("2027-01-15")); got {
		t.Errorf("Provisional(2026-12-01, 2027-01-15) = %v, want false", got)
	}
	if got, want := c.Years(), []int{2020, 2021, 2022, 2023, 2024, 2025, 2026, 2027}; !slices.Equal(got, want) {
		t.Errorf("Years() = %v, want %v", got, want)
	}
	if got, want := c.Papers(2027), []string{"https://example.invalid/test-2027"}; !slices.Equal(got, want) {
		t.Errorf("Papers(2027) = %v, want %v", got, want)
	}
	if got := c.Sources(); len(got) == 0 || got[len(got)-1] != "test-2027.json" {
		t.Errorf("Sources() = %v, want it to end with test-2027.json", got)
	}
	if got := len(base.Sources()); got != 7 {
		t.Errorf("base len(Sources()) = %d, want 7", got)
	}
	// 2026-12-31 is a Thursday; 1 Jan 2027 off, 2–3 Jan weekend.
	if got, want := c.AddWorkdays(calDay("2026-12-31"), 1), calDay("2027-01-04"); got != want {
		t.Errorf("AddWorkdays(2026-12-31, 1) = %v, want %v", got, want)
	}
	if got, want := base.AddWorkdays(calDay("2027-01-08"), 1), calDay("2027-01-11"); got != want {
		t.Errorf("base AddWorkdays(2027-01-08, 1) = %v, want %v", got, want)
	}
	if got, want := c.AddWorkdays(calDay("2027-01-08"), 1), calDay("2027-01-09"); got != want {
		t.Errorf("AddWorkdays(2027-01-08, 1) = %v, want %v (make-up Saturday)", got, want)
	}
	if got, want := c.HolidayName(calDay("2027-01-01")), "test holiday"; got != want {
		t.Errorf("HolidayName(2027-01-01) = %q, want %q", got, want)
	}
}

func TestWithFilesLaterOverridesEarlier(t *testing.T) {
	base := calDefault(t)
	later2027 := `{"year": 2027, "papers": ["https://example.invalid/test-2027-revised"], "days": [
		{"name": "test revised", "date": "2027-01-01", "isOffDay": false}
	]}`
	override2026 := `{"year": 2026, "papers": ["https://example.invalid/test-2026"], "days": [
		{"name": "test extra", "date": "2026-10-08", "isOffDay": true}
	]}`
	c, err := base.WithFiles([]tracker.NamedData{
		{Name: "a-2027.json", Data: []byte(cal2027)},
		{Name: "b-2027.json", Data: []byte(later2027)},
		{Name: "c-2026.json", Data: []byte(override2026)},
	})
	if err != nil {
		t.Fatalf("WithFiles error: %v", err)
	}
	tests := []struct {
		name string
		date string
		want bool
	}{
		{"later file turns 2027-01-01 on", "2027-01-01", true},
		{"earlier file's other day kept", "2027-01-09", true},
		{"extra file turns embedded working day off", "2026-10-08", false},
		{"embedded holiday untouched", "2026-10-07", false},
		{"embedded make-up day untouched", "2026-10-10", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.IsWorkday(calDay(tt.date)); got != tt.want {
				t.Errorf("IsWorkday(%s) = %v, want %v", tt.date, got, tt.want)
			}
		})
	}
	if got, want := c.HolidayName(calDay("2027-01-01")), "test revised"; got != want {
		t.Errorf("HolidayName(2027-01-01) = %q, want %q", got, want)
	}
	if got, want := c.AddWorkdays(calDay("2026-09-30"), 1), calDay("2026-10-09"); got != want {
		t.Errorf("AddWorkdays(2026-09-30, 1) = %v, want %v", got, want)
	}
	if got, want := base.AddWorkdays(calDay("2026-09-30"), 1), calDay("2026-10-08"); got != want {
		t.Errorf("base AddWorkdays(2026-09-30, 1) = %v, want %v", got, want)
	}
}

func TestWithFilesPlaceholderDoesNotMakeYearKnown(t *testing.T) {
	base := calDefault(t)
	c, err := base.WithFiles([]tracker.NamedData{{Name: "2028.json", Data: []byte(`{"year": 2028, "papers": [], "days": []}`)}})
	if err != nil {
		t.Fatalf("WithFiles(2028.json) error: %v", err)
	}
	if c.Known(2028) {
		t.Errorf("Known(2028) = true for an empty placeholder file, want false")
	}
}

func TestWithFilesError(t *testing.T) {
	base := calDefault(t)
	_, err := base.WithFiles([]tracker.NamedData{
		{Name: "good-2027.json", Data: []byte(cal2027)},
		{Name: "broken.json", Data: []byte(`{"year": 2027,`)},
	})
	if err == nil {
		t.Fatalf("WithFiles(broken.json) error = nil, want an error")
	}
	if !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("WithFiles(broken.json) error = %q, want it to name broken.json", err)
	}
}

func TestReadHolidayFile(t *testing.T) {
	f, err := tracker.ReadHolidayFile(strings.NewReader(`{"year": 2026, "papers": ["https://www.gov.cn/x"], "days": [
		{"name": "元旦", "date": "2025-12-31", "isOffDay": true},
		{"name": "元旦", "date": "2027-01-01", "isOffDay": false}
	]}`))
	if err != nil {
		t.Fatalf("ReadHolidayFile(valid, dates at year ±1) error: %v", err)
	}
	want := tracker.HolidayFile{
		Year:   2026,
		Papers: []string{"https://www.gov.cn/x"},
		Days: []tracker.HolidayDay{
			{Name: "元旦", Date: "2025-12-31", IsOffDay: true},
			{Name: "元旦", Date: "2027-01-01", IsOffDay: false},
		},
	}
	if f.Year != want.Year || !slices.Equal(f.Papers, want.Papers) || !slices.Equal(f.Days, want.Days) {
		t.Errorf("ReadHolidayFile(valid) = %+v, want %+v", *f, want)
	}
}

func TestReadHolidayFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // a substring of the error
	}{
		{"unknown top-level field", `{"$schema": "x", "year": 2026, "papers": [], "days": []}`, "$schema"},
		{"unknown day field", `{"year": 2026, "papers": [], "days": [{"name": "a", "date": "2026-01-01", "isOffDay": true, "extra": 1}]}`, "extra"},
		{"duplicate date", `{"year": 2026, "papers": [], "days": [
			{"name": "a", "date": "2026-10-01", "isOffDay": true},
			{"name": "b", "date": "2026-10-01", "isOffDay": false}]}`, "2026-10-01"},
		{"date two years after", `{"year": 2026, "papers": [], "days": [{"name": "a", "date": "2028-01-01", "isOffDay": true}]}`, "2028-01-01"},
		{"date two years before", `{"year": 2026, "papers": [], "days": [{"name": "a", "date": "2024-12-31", "isOffDay": true}]}`, "2024-12-31"},
		{"impossible date", `{"year": 2026, "papers": [], "days": [{"name": "a", "date": "2026-02-30", "isOffDay": true}]}`, "2026-02-30"},
		{"slashed date", `{"year": 2026, "papers": [], "days": [{"name": "a", "date": "2026/01/01", "isOffDay": true}]}`, "2026/01/01"},
		{"empty date", `{"year": 2026, "papers": [], "days": [{"name": "a", "date": "", "isOffDay": true}]}`, "days[0].date"},
		{"missing year", `{"papers": [], "days": []}`, "year"},
		{"truncated JSON", `{"year": 2026,`, "holiday-cn"},
		{"not JSON", `not json`, "holiday-cn"},
		{"JSON array", `[]`, "holiday-cn"},
		{"wrong type for isOffDay", `{"year": 2026, "papers": [], "days": [{"name": "a", "date": "2026-01-01", "isOffDay": "yes"}]}`, "holiday-cn"},
		{"empty input", ``, "holiday-cn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tracker.ReadHolidayFile(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("ReadHolidayFile(%s) = %+v, nil; want an error", tt.name, f)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ReadHolidayFile(%s) error = %q, want it to mention %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

// knownWeekdayOn lists upstream entries with isOffDay=false on a Monday to
// Friday. They do not change the calendar (the day is a working day anyway).
var knownWeekdayOn = map[string]string{
	// holiday-cn parsed "2月3日（星期一）起正常上班" in the 2020 extension
	// notice (国办发明电〔2020〕1号) as a make-up day.
	"2020-02-03": "2020.json",
}

// TestEmbeddedFilesSanity reads the same files DefaultCalendar embeds and
// checks that each is named after its notice year and that every make-up
// working day falls on a Saturday or Sunday.
func TestEmbeddedFilesSanity(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("holidays", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 7 {
		t.Errorf("holidays/*.json has %d files (%v), want 7 (2020–2026)", len(names), names)
	}
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := tracker.ReadHolidayFile(strings.NewReader(string(data)))
			if err != nil {
				t.Fatalf("ReadHolidayFile(%s) error: %v", name, err)
			}
			if want := fmt.Sprintf("%d.json", f.Year); filepath.Base(name) != want {
				t.Errorf("%s holds year %d, want file name %s", name, f.Year, want)
			}
			if len(f.Papers) == 0 {
				t.Errorf("%s has no papers", name)
			}
			if len(f.Days) == 0 {
				t.Errorf("%s has no days", name)
			}
			for _, day := range f.Days {
				if day.Name == "" {
					t.Errorf("%s: %s has an empty name", name, day.Date)
				}
				if day.IsOffDay {
					continue
				}
				wd := calDay(day.Date).Weekday()
				weekend := wd == time.Saturday || wd == time.Sunday
				if file, ok := knownWeekdayOn[day.Date]; ok && file == filepath.Base(name) {
					if weekend {
						t.Errorf("%s: %s is listed as a known weekday exception but is a %v", name, day.Date, wd)
					}
					continue
				}
				if !weekend {
					t.Errorf("%s: make-up day %s (%s) is a %v, want Saturday or Sunday", name, day.Date, day.Name, wd)
				}
			}
		})
	}
}

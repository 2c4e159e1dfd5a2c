package tracker_test

import (
	"testing"

	"duban/tracker"
)

// TestWithFilesReplaceYear: a file with Replace drops the days earlier
// layers gave its notice year (an imported notice is the whole year),
// while a plain file overrides date by date; Origin and YearDays follow.
func TestWithFilesReplaceYear(t *testing.T) {
	base, err := tracker.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	if got := base.Origin(2026); got != "embedded:2026.json" {
		t.Errorf("Origin(2026) = %q", got)
	}
	oct10 := tracker.Date{Year: 2026, Month: 10, Day: 10} // a make-up Saturday in the embedded data
	one := []byte(`{"year": 2026, "papers": [], "days": [{"name": "元旦", "date": "2026-01-01", "isOffDay": true}]}`)
	plain, err := base.WithFiles([]tracker.NamedData{{Name: "a.json", Data: one}})
	if err != nil {
		t.Fatal(err)
	}
	if !plain.IsWorkday(oct10) || plain.Origin(2026) != "a.json" || len(plain.YearDays(2026)) != len(base.YearDays(2026)) {
		t.Errorf("plain file: 10 Oct workday %t, origin %q, %d days", plain.IsWorkday(oct10), plain.Origin(2026), len(plain.YearDays(2026)))
	}
	repl, err := base.WithFiles([]tracker.NamedData{{Name: "通知", Data: one, Replace: true}})
	if err != nil {
		t.Fatal(err)
	}
	if repl.IsWorkday(oct10) || repl.Origin(2026) != "通知" || len(repl.YearDays(2026)) != 1 {
		t.Errorf("replacing file: 10 Oct workday %t, origin %q, days %v", repl.IsWorkday(oct10), repl.Origin(2026), repl.YearDays(2026))
	}
	// The 2023 notice's 31 Dec 2022 goes with 2023, not with 2022.
	if days := base.YearDays(2023); days[0].Date != "2022-12-31" {
		t.Errorf("YearDays(2023) starts %v", days[0])
	}
	if base.Origin(2027) != "" || base.YearDays(2027) != nil {
		t.Error("2027 has an origin or days")
	}
}

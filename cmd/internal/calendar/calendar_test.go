package calendar_test

import (
	"testing"

	"duban/cmd/internal/calendar"
	"duban/cmd/internal/config"
)

// TestGridAndBlocks: October 2026 of the embedded calendar (国庆 1–7 Oct,
// make-up Sunday 20 Sep and Saturday 10 Oct) as the page shows it.
func TestGridAndBlocks(t *testing.T) {
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	x, err := cfg.Expander()
	if err != nil {
		t.Fatal(err)
	}
	cal := x.Env.Cal
	if got := calendar.Source(cal, 2026); got != "内置" {
		t.Errorf("source of 2026 = %q", got)
	}
	if got := calendar.Source(cal, 2031); got != "暂定：按《全国年节及纪念日放假办法》推算" {
		t.Errorf("source of 2031 = %q", got)
	}
	months := calendar.Grid(cal, 2026)
	if len(months) != 12 || months[9].Title != "10月" {
		t.Fatalf("grid: %d months", len(months))
	}
	oct := months[9].Weeks
	// 1 Oct 2026 is a Thursday: the first week starts with three empty days.
	if oct[0][0].Day != 0 || oct[0][2].Day != 0 || oct[0][3].Day != 1 || oct[0][3].Mark != "休" || oct[0][3].Name == "" {
		t.Errorf("first week of October: %+v", oct[0])
	}
	marks := map[int]string{}
	for _, w := range oct {
		for _, d := range w {
			if d.Day > 0 {
				marks[d.Day] = d.Mark
			}
		}
	}
	for day, want := range map[int]string{1: "休", 7: "休", 8: "", 10: "班", 11: "", 17: ""} {
		if marks[day] != want {
			t.Errorf("%d Oct: mark %q, want %q", day, marks[day], want)
		}
	}
	var national *calendar.Block
	blocks := calendar.Blocks(calendar.DaysInEffect(cal, 2026))
	for i := range blocks {
		if blocks[i].Name == "国庆节" {
			national = &blocks[i]
		}
	}
	if national == nil || national.Span() != "2026年10月1日至2026年10月7日 共7天" || len(national.Work) != 2 ||
		national.Work[0] != "9月20日（周日）" || national.Work[1] != "10月10日（周六）" {
		t.Errorf("国庆节 block: %+v", national)
	}
}

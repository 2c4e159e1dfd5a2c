package trackfile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/trackfile"
)

// calendarEnv is the real embedded holiday calendar in Shanghai time.
func calendarEnv(t *testing.T) tracker.Env {
	t.Helper()
	cal, err := tracker.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	return tracker.Env{Cal: cal, Loc: shanghai, DayEnd: 24 * 60, SendTime: 9 * 60}
}

const limitUnits = "units:\n  - {id: fzj, name: 市法制局}\n  - {id: mishu, name: 秘书科}\n"

// loadWith loads one items file after limitUnits, with the deadline checks.
func loadWith(t *testing.T, now time.Time, items ...string) trackfile.Errors {
	t.Helper()
	files := []trackfile.File{{Name: "units.yaml", Data: []byte(limitUnits)}, file("items.yaml", items...)}
	_, err := trackfile.Load(files, shanghai, nil, trackfile.WithDeadlines(calendarEnv(t), now, func(id string) (time.Time, bool) {
		if id == "tracked" { // stored, first tracked on 2026-09-01 09:00
			return time.Date(2026, 9, 1, 9, 0, 0, 0, shanghai), true
		}
		return time.Time{}, false
	}))
	if err == nil {
		return nil
	}
	errs, ok := err.(trackfile.Errors)
	if !ok {
		t.Fatalf("%T %v", err, err)
	}
	return errs
}

// TestDeadlineOrder: a co-unit whose last day falls before the start
// (co_due: -2wd on a 1wd item) and a limit earlier than the deadline are
// refused with file, line and field.
func TestDeadlineOrder(t *testing.T) {
	now := time.Date(2026, 9, 20, 10, 0, 0, 0, shanghai)
	item := func(extra ...string) []string {
		return append([]string{"items:", "  - id: a", "    title: 纪要签发", "    unit: mishu", "    start: 2026-09-24 16:00"}, extra...)
	}
	cases := []struct {
		name  string
		lines []string
		line  int
		field string
		msg   string
	}{
		// 2026-09-24 (Thu) + 1wd = 09-28 (09-25 is 中秋节); two working
		// days before: 09-23, before the start.
		{"co_due before start", item("    co_units: [fzj]", "    co_due: -2wd", "    due: 1wd"), 7, "items[0].co_due",
			"协办单位的时限 2026-09-23 24:00 早于事项的开始时间 2026-09-24 16:00"},
		// 3d from 09-24 is 09-27 (Sun), rolled to 09-28; -5d: 09-23.
		{"co_due days before start", item("    co_units: [fzj]", "    co_due: -5d", "    due: 3d"), 7, "items[0].co_due", "早于事项的开始时间"},
		{"limit before due", item("    due: 10wd", "    limit: 5d"), 7, "items[0].limit", "最迟时限 2026-09-29 24:00（\"5d\"）早于办理时限"},
		{"limit hours before due", item("    due: 2wd", "    limit: 24h"), 7, "items[0].limit", "早于办理时限"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := loadWith(t, now, c.lines...)
			if len(errs) != 1 || errs[0].File != "items.yaml" || errs[0].Line != c.line || errs[0].Field != c.field || !strings.Contains(errs[0].Msg, c.msg) {
				t.Fatalf("errors:\n%v\nwant items.yaml:%d: %s: …%s…", errs, c.line, c.field, c.msg)
			}
		})
	}
	// What is meant passes: the co-unit a working day after the start, a
	// limit after the deadline, and the SPEC's example.
	for _, ok := range [][]string{
		item("    co_units: [fzj]", "    co_due: -2wd", "    due: 3wd"),
		item("    co_units: [fzj]", "    co_due: -1wd", "    due: 1wd"), // 09-24 itself: the start day
		item("    due: 3d", "    limit: 7d"),
		item("    due: 10wd", "    limit: 30d"), // 10wd crosses National Day: 10-15
	} {
		if errs := loadWith(t, now, ok...); errs != nil {
			t.Errorf("%v\nrefused:\n%s", errs, strings.Join(ok, "\n"))
		}
	}
	// Without start, the item starts when first imported (now).
	errs := loadWith(t, now, "items:", "  - id: b", "    title: t", "    unit: mishu", "    co_units: [fzj]", "    co_due: -3wd", "    due: 2wd")
	if len(errs) != 1 || errs[0].Field != "items[0].co_due" || !strings.Contains(errs[0].Msg, "首次导入时间 2026-09-20 10:00") {
		t.Errorf("no start: %v", errs)
	}
	// A stored item starts when it was first tracked: 2026-09-01 + 10wd
	// is 09-15, + 15d is 09-16 (with now, 10wd would cross National Day).
	if errs := loadWith(t, time.Date(2026, 9, 24, 10, 0, 0, 0, shanghai), "items:", "  - id: tracked", "    title: t", "    unit: mishu", "    due: 10wd", "    limit: 15d"); errs != nil {
		t.Errorf("stored item: %v", errs)
	}
	errs = loadWith(t, time.Date(2026, 9, 24, 10, 0, 0, 0, shanghai), "items:", "  - id: new", "    title: t", "    unit: mishu", "    due: 10wd", "    limit: 15d")
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "首次导入时间 2026-09-24 10:00") {
		t.Errorf("new item: %v", errs)
	}
}

// TestFieldLengths: titles, docs and names ≤ 500 characters, requirements
// ≤ 10 000, ids ≤ 128; a bad value is quoted in at most ~80 characters.
func TestFieldLengths(t *testing.T) {
	huge := strings.Repeat("题", 2<<20) // 6 MiB
	cases := []struct {
		name  string
		lines []string
		field string
		msg   string
	}{
		{"title 501", []string{"items:", "  - id: a", "    title: " + strings.Repeat("题", 501), "    unit: u", "    due: 3d"}, "items[0].title", "过长：501个字符，最多500个字符"},
		{"huge title", []string{"items:", "  - id: a", "    title: " + huge, "    unit: u", "    due: 3d"}, "items[0].title", "过长：2097152个字符，最多"},
		{"doc 501", []string{"items:", "  - id: a", "    title: t", "    doc: " + strings.Repeat("号", 501), "    unit: u", "    due: 3d"}, "items[0].doc", "过长：501个字符"},
		{"requirements 10001", []string{"items:", "  - id: a", "    title: t", "    requirements: " + strings.Repeat("要", 10001), "    unit: u", "    due: 3d"}, "items[0].requirements", "过长：10001个字符，最多10000个字符"},
		{"unit name 501", []string{"units:", "  - id: u", "    name: " + strings.Repeat("局", 501)}, "units[0].name", "过长：501个字符"},
		{"person name 501", []string{"people:", "  - id: p", "    name: " + strings.Repeat("名", 501), "    email: p@example.gov.cn"}, "people[0].name", "过长：501个字符"},
		{"office name 501", []string{"office:", "  name: " + strings.Repeat("室", 501), "  email: o@example.gov.cn"}, "office.name", "过长：501个字符"},
		{"id 40000", []string{"items:", "  - id: " + strings.Repeat("x", 40000), "    title: t", "    unit: u", "    due: 3d"}, "items[0].id", "过长：40000个字符，最多128个字符"},
		{"unit id 129", []string{"units:", "  - id: " + strings.Repeat("u", 129), "    name: 局"}, "units[0].id", "最多128个字符"},
		{"huge due", []string{"items:", "  - id: a", "    title: t", "    unit: u", "    due: " + strings.Repeat("3", 20000)}, "items[0].due", "过长"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := load(t, func(string, string) bool { return true }, file("t.yaml", c.lines...))
			if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(errs[0].Msg, c.msg) {
				t.Fatalf("errors: %.2000s\nwant %s: …%s…", errs.Error(), c.field, c.msg)
			}
			if n := len(errs.Error()); n > 400 {
				t.Errorf("message of %d bytes: %s", n, errs.Error())
			}
			if !strings.Contains(errs[0].Msg, "…") || !strings.Contains(errs[0].Msg, "个字符）") {
				t.Errorf("the value is not cut: %s", errs[0].Msg)
			}
		})
	}
	// At the limits, accepted.
	_, errs := load(t, func(string, string) bool { return true }, file("t.yaml", "items:", "  - id: "+strings.Repeat("x", 128),
		"    title: "+strings.Repeat("题", 500), "    doc: "+strings.Repeat("号", 500), "    requirements: "+strings.Repeat("要", 10000), "    unit: u", "    due: 3d"))
	if errs != nil {
		t.Errorf("values at the limits refused: %.500s", errs.Error())
	}
}

// TestFullWidthNamed: full-width digits, colons and commas (typed with a
// Chinese input method) are named when they make a value fail.
func TestFullWidthNamed(t *testing.T) {
	cases := []struct {
		name, line, field, hint string
	}{
		{"due", "    due: ３wd", "items[0].due", "含全角字符“３”，请改用半角"},
		{"start", "    start: 2026-09-24 16：00\n    due: 3d", "items[0].start", "含全角字符“：”，请改用半角"},
		{"limit", "    due: 3d\n    limit: ７ｄ", "items[0].limit", "“７”"},
		{"co_units", "    due: 3d\n    co_units: [fzj，mishu]", "items[0].co_units[0]", "含全角字符“，”，请改用半角"},
		{"every", "    every: weekly thu 12：00", "items[0].every", "含全角字符“：”，请改用半角"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := load(t, nil, file("t.yaml", limitUnits+"items:", "  - id: a", "    title: t", "    unit: mishu", c.line))
			if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(errs[0].Msg, c.hint) {
				t.Fatalf("errors:\n%v\nwant %s: …%s", errs, c.field, c.hint)
			}
		})
	}
	// Without full-width characters, no hint.
	_, errs := load(t, nil, file("t.yaml", limitUnits+"items:", "  - id: a", "    title: t", "    unit: mishu", "    due: 3 days"))
	if len(errs) != 1 || strings.Contains(errs[0].Msg, "全角") {
		t.Errorf("%v", errs)
	}
}

// TestFileSizeLimit: a tracking file over tracker.MaxTrackingFileSize is
// refused before it is read (a sparse file: no 64 MiB written).
func TestFileSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.yaml")
	if err := os.WriteFile(path, []byte("items:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, tracker.MaxTrackingFileSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := trackfile.ReadFile(path, "huge.yaml")
	errs, ok := err.(trackfile.Errors)
	if !ok || len(errs) != 1 || !strings.Contains(errs[0].Error(), "huge.yaml: 文件过大（64.0 MiB）：一个跟踪文件最大 64 MiB") {
		t.Fatalf("ReadFile: %v", err)
	}
	// Load refuses the same from data.
	_, lerrs := load(t, nil, trackfile.File{Name: "big.yaml", Data: make([]byte, tracker.MaxTrackingFileSize+1)})
	if len(lerrs) != 1 || !strings.Contains(lerrs[0].Msg, "文件过大") {
		t.Errorf("Load: %v", lerrs)
	}
	f, err := trackfile.ReadFile(filepath.Join("testdata", "spec.yaml"), "spec.yaml")
	if err != nil || f.Name != "spec.yaml" || len(f.Data) == 0 {
		t.Errorf("ReadFile of a small file: %v", err)
	}
}

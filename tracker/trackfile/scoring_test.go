package trackfile_test

import (
	"strings"
	"testing"

	"duban/tracker"
)

// TestScoringStandard: `scoring:` overrides the defaults it names and keeps
// the others; a step's sheet/within are read.
func TestScoringStandard(t *testing.T) {
	b, errs := load(t, nil, file("s.yaml",
		"policies:",
		"  - id: p",
		"    steps:",
		"      - {at: +3wd, to: [unit, leader], level: overdue, sheet: 黄, within: 3wd}",
		"scoring:",
		"  base: 100",
		"  overdue: -3",
		"  late_cap: -4.5",
		"  sheet: {红: -8}",
		"  early: 0",
	))
	if errs != nil {
		t.Fatal(errs)
	}
	sc := b.Scoring
	if sc == nil {
		t.Fatal("no scoring in the bundle")
	}
	want := tracker.DefaultScoring()
	want.Overdue, want.LateCap, want.Early = -3, -4.5, 0
	want.Sheet[tracker.GradeRed] = -8
	if sc.Base != want.Base || sc.Overdue != want.Overdue || sc.OverdueCo != want.OverdueCo || sc.LateCap != want.LateCap ||
		sc.Early != want.Early || sc.EarlyCap != want.EarlyCap || sc.Sheet[tracker.GradeRed] != -8 || sc.Sheet[tracker.GradeBlue] != -1 {
		t.Errorf("scoring %+v, want %+v", sc, want)
	}
	if sc.Source != "s.yaml:5" {
		t.Errorf("source %q, want s.yaml:5", sc.Source)
	}
	if st := b.Policies[0].Steps[0]; st.Sheet != tracker.GradeYellow || st.Within != "3wd" {
		t.Errorf("step %+v, want sheet 黄 within 3wd", st)
	}
	if b, _ := load(t, nil, file("n.yaml", "items: []")); b.Scoring != nil {
		t.Errorf("a file without scoring gives %+v, want nil (keep the stored one)", b.Scoring)
	}
}

// TestScoringAndSheetStepErrors: unknown keys, non-numbers and caps or
// deductions of the wrong sign are errors with file:line, as are a grade
// that is not one, a within without a sheet, and a second standard.
func TestScoringAndSheetStepErrors(t *testing.T) {
	_, errs := load(t, nil, file("bad.yaml",
		"scoring:",
		"  base: 100",
		"  overdu: -2",
		"  late_workday: 一天",
		"  late_cap: 5",
		"  early_cap: -5",
		"  returned: [3]",
		"  sheet: {蓝: -1, 绿: -2, 红: 5}",
		"policies:",
		"  - id: p",
		"    steps:",
		"      - {at: 0, to: [unit], level: due, sheet: 紫, within: 3wd}",
		"      - {at: +1wd, to: [unit], level: overdue, within: 3wd}",
		"      - {at: +2wd, to: [unit], level: overdue, sheet: 红, within: 2026-10-10}",
		"      - {at: +3wd, to: [unit], level: sheet}",
	), file("two.yaml", "scoring: {base: 90}"))
	got := errs.Error()
	for _, w := range []string{
		`bad.yaml:3: scoring.overdu: unknown key "overdu"`,
		`bad.yaml:4: scoring.late_workday: expected a number such as -2 or 0.5, got "一天"`,
		`bad.yaml:5: scoring.late_cap: must be 0 or negative (got 5)`,
		`bad.yaml:6: scoring.early_cap: must be 0 or positive (got -5)`,
		`bad.yaml:7: scoring.returned: expected a number`,
		`bad.yaml:8: scoring.sheet.绿: unknown key "绿"`,
		`bad.yaml:8: scoring.sheet.红: must be 0 or negative (got 5)`,
		`bad.yaml:12: policies[0].steps[0].sheet: "紫" is not a sheet grade`,
		`bad.yaml:13: policies[0].steps[1].sheet: required with within`,
		`bad.yaml:14: policies[0].steps[2].within: "2026-10-10": within is counted from when the step fires`,
		`bad.yaml:15: policies[0].steps[3].level: "sheet" is not a level a step may use`,
		`two.yaml:1: scoring: the scoring standard is given twice (first at bad.yaml:1)`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("errors lack %q:\n%s", w, got)
		}
	}
}

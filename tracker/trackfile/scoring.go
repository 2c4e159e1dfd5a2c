package trackfile

import (
	"fmt"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"

	"duban/tracker"
)

// scoringSchema lists the keys of `scoring:` (SPEC §15).
var scoringSchema = newSchema("base", "overdue", "overdue_co", "late_workday", "late_cap", "returned", "sheet", "early", "early_cap")

const (
	scBase = iota
	scOverdue
	scOverdueCo
	scLateWorkday
	scLateCap
	scReturned
	scSheet
	scEarly
	scEarlyCap
)

var sheetGradeSchema = newSchema(string(tracker.GradeBlue), string(tracker.GradeYellow), string(tracker.GradeRed))

// sign says which sign a scoring value must have.
type sign int

const (
	positive    sign = iota // > 0 (base)
	nonPositive             // a deduction or a deduction's cap: ≤ 0
	nonNegative             // a bonus or a bonus's cap: ≥ 0
)

// scoring reads `scoring:`, the 考核评分标准: every value a number of the
// right sign, keys left out keep their defaults. One file of an import
// may give it.
// line is the line of the key scoring:, which names the standard.
func (f *fileCtx) scoring(line int, n *yaml.Node) {
	const path = "scoring"
	if !f.isMapping(n, path, "{base: 100, overdue: -2, late_cap: -5, sheet: {蓝: -1, 黄: -3, 红: -5}}") {
		return
	}
	if prev := f.l.scoringAt; prev != "" {
		f.errf(line, path, "the scoring standard is given twice (first at "+prev+"); keep one")
		return
	}
	f.l.scoringAt = f.source(line)
	var fs fieldSet
	f.fields(n, path, scoringSchema, &fs)
	sc := tracker.DefaultScoring()
	sc.Source = f.source(line)
	num := func(v *yaml.Node, field string, s sign, dst *float64) {
		if v == nil {
			return
		}
		if v.Kind != yaml.ScalarNode || (v.Tag != "!!int" && v.Tag != "!!float") {
			f.errf(v.Line, field, "expected a number such as -2 or 0.5, got "+describe(v))
			return
		}
		x, err := strconv.ParseFloat(v.Value, 64)
		if err != nil || math.IsNaN(x) || math.Abs(x) > 1e6 {
			f.errf(v.Line, field, fmt.Sprintf("%s is not a usable number", q(v.Value)))
			return
		}
		switch {
		case s == positive && x <= 0:
			f.errf(v.Line, field, fmt.Sprintf("must be more than 0 (got %s): every unit starts from it", v.Value))
			return
		case s == nonPositive && x > 0:
			f.errf(v.Line, field, fmt.Sprintf("must be 0 or negative (got %s): it is a deduction, e.g. -%s", v.Value, v.Value))
			return
		case s == nonNegative && x < 0:
			f.errf(v.Line, field, fmt.Sprintf("must be 0 or positive (got %s): it is a bonus, e.g. %s", v.Value, v.Value[1:]))
			return
		}
		*dst = x
	}
	num(fs.v[scBase], join(path, "base"), positive, &sc.Base)
	num(fs.v[scOverdue], join(path, "overdue"), nonPositive, &sc.Overdue)
	num(fs.v[scOverdueCo], join(path, "overdue_co"), nonPositive, &sc.OverdueCo)
	num(fs.v[scLateWorkday], join(path, "late_workday"), nonPositive, &sc.LateWorkday)
	num(fs.v[scLateCap], join(path, "late_cap"), nonPositive, &sc.LateCap)
	num(fs.v[scReturned], join(path, "returned"), nonPositive, &sc.Returned)
	num(fs.v[scEarly], join(path, "early"), nonNegative, &sc.Early)
	num(fs.v[scEarlyCap], join(path, "early_cap"), nonNegative, &sc.EarlyCap)
	if v := fs.v[scSheet]; !absent(v) {
		sheetPath := join(path, "sheet")
		if f.isMapping(v, sheetPath, "{蓝: -1, 黄: -3, 红: -5}") {
			var gs fieldSet
			f.fields(v, sheetPath, sheetGradeSchema, &gs)
			for i, g := range tracker.Grades {
				x := sc.Sheet[g]
				num(gs.v[i], join(sheetPath, string(g)), nonPositive, &x)
				sc.Sheet[g] = x
			}
		}
	}
	f.l.b.Scoring = &sc
}

// stepSheet reads a step's `sheet:` (蓝, 黄 or 红) and `within:` (the
// 限期, a deadline rule): both or neither.
func (f *fileCtx) stepSheet(fs *fieldSet, st *tracker.Step, n *yaml.Node, path string) {
	if g := f.opt(fs, sSheet, path, "sheet"); g != "" {
		if grade, ok := tracker.ParseGrade(g); ok {
			st.Sheet = grade
		} else {
			f.errf(fs.v[sSheet].Line, join(path, "sheet"), fmt.Sprintf("%s is not a sheet grade: use 蓝 (一般督办), 黄 (重点督办) or 红 (挂牌督办)", q(g)))
		}
	}
	if w := f.opt(fs, sWithin, path, "within"); w != "" {
		if r, err := tracker.ParseRule(w); err != nil {
			f.errf(fs.v[sWithin].Line, join(path, "within"), ruleMsg(err, w))
		} else if r.Kind == tracker.RuleDate || r.Kind == tracker.RuleInstant {
			f.errf(fs.v[sWithin].Line, join(path, "within"), fmt.Sprintf("%s: within is counted from when the step fires: use 3wd, 5d or 48h, not a date", q(w)))
		} else {
			st.Within = w
		}
	}
	switch {
	case fs.v[sSheet] != nil && fs.v[sWithin] == nil:
		f.errf(fs.v[sSheet].Line, join(path, "within"), "required with sheet: the 限期 of the sheet, e.g. within: 3wd")
	case fs.v[sWithin] != nil && fs.v[sSheet] == nil:
		f.errf(fs.v[sWithin].Line, join(path, "sheet"), "required with within: the grade of the sheet, 蓝, 黄 or 红")
	}
	if st.Level == tracker.LevelSheet {
		f.errf(n.Line, join(path, "level"), fmt.Sprintf("%s is not a level a step may use: use assigned, reminder, due, overdue or escalation", q(string(st.Level))))
	}
}

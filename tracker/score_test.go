package tracker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"duban/tracker"
)

// TestScoresOfAFixtureMonthComputedByHand: October 2026 on the 2026
// calendar (1–7 Oct off, Sat 10 Oct a make-up working day, 31 Oct off),
// the default standard, judged on 3 Nov. Every item is worked out here:
//
// unit a (甲局):
//
//	a1 due Tue 20 Oct, done Thu 15 Oct: on time, and the working days
//	   after 15 Oct up to the last day are 16, 19, 20 Oct (3 ≥ 1): early +0.5
//	a2 due Tue 20 Oct, done Fri 23 Oct: late (lead) −2; working days late
//	   21, 22, 23 Oct = 3 × −0.2 = −0.6
//	a3 due Thu 8 Oct, never done: overdue at the cutoff (lead) −2; working
//	   days late 9, 10, 12–16, 19–23, 26–30 Oct = 17 × −0.2 = −3.4 (above
//	   the −5 cap); a 黄 sheet issued on 12 Oct −3, a 蓝 one withdrawn (0)
//	x4/a co-unit of x4 (lead b), due Tue 20 Oct, done Wed 21 Oct: late
//	   (co-unit) −1; 1 working day × −0.2 = −0.2
//
//	a = 100 + 0.5 − 2 − 0.6 − 2 − 3.4 − 3 − 1 − 0.2 = 88.3
//
// unit b (乙局): x4 done Mon 19 Oct, working days after it up to 20 Oct:
// 1 → early +0.5, so b = 100.5. unit c (丙局): nothing due, 100.
//
// With late_cap −3 instead, a3's late days give −3, not −3.4: a = 88.7.
func TestScoresOfAFixtureMonthComputedByHand(t *testing.T) {
	items := []tracker.Item{
		{ID: "a1", Title: "甲一", Unit: "a", Start: "2026-10-08", Due: "2026-10-20"},
		{ID: "a2", Title: "甲二", Unit: "a", Start: "2026-10-08", Due: "2026-10-20"},
		{ID: "a3", Title: "甲三", Unit: "a", Start: "2026-09-28", Due: "2026-10-08"},
		{ID: "x4", Title: "共四", Unit: "b", CoUnits: []string{"a"}, Start: "2026-10-08", Due: "2026-10-20"},
	}
	x := repExpander(t)
	at := func(s string) tracker.Action { return tracker.Action{Kind: "done", At: repAt(x, s)} }
	acts := []tracker.Action{at("2026-10-15 10:00"), at("2026-10-23 10:00"), at("2026-10-19 10:00"), at("2026-10-21 10:00")}
	for i, id := range []string{"a1", "a2", "x4", "x4/a"} {
		acts[i].ID = id
	}
	x, st := repFixture(t, items, acts)
	issue(t, x, st, "a3", tracker.GradeYellow, "2026-10-12 10:00")
	w := issue(t, x, st, "a3", tracker.GradeBlue, "2026-10-13 10:00")
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.WithdrawSheet(tx, w.Number, "重复", "test", repAt(x, "2026-10-13 11:00"), repAt(x, "2026-10-13 11:00"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	oct := tracker.Month{Year: 2026, Month: 10}
	scores := func(sc tracker.Scoring) []tracker.UnitScore {
		var out []tracker.UnitScore
		if err := st.View(func(tx tracker.Tx) error {
			var err error
			out, err = tracker.Scores(tx, x.Env, sc, oct, oct, repAt(x, "2026-11-03 10:00"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := scores(tracker.DefaultScoring())
	type want struct {
		unit  string
		score float64
		items []string // "id points fact-fragment"
	}
	wants := []want{
		{"a", 100 + 0.5 - 2 - 0.6 - 2 - 3.4 - 3 - 1 - 0.2, []string{
			"a1 0.5 提前办结", "a2 -2 承办逾期办结", "a2 -0.6 逾期3个工作日", "a3 -2 承办逾期未办结", "a3 -3.4 逾期17个工作日",
			"a3 -3 督办事项通知单 督〔2026〕1号（黄色·重点督办）", "x4/a -1 协办逾期办结", "x4/a -0.2 逾期1个工作日"}},
		{"b", 100 + 0.5, []string{"x4 0.5 提前办结"}},
		{"c", 100, nil},
	}
	if len(got) != len(wants) {
		t.Fatalf("%d units scored, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Unit != w.unit || fmt.Sprintf("%.2f", g.Score) != fmt.Sprintf("%.2f", w.score) {
			t.Errorf("unit %s score %v, want %s %.2f", g.Unit, g.Score, w.unit, w.score)
		}
		var items []string
		for _, it := range g.Items {
			items = append(items, fmt.Sprintf("%s %v %s", it.ID, it.Points, it.Fact))
		}
		if len(items) != len(w.items) {
			t.Errorf("unit %s items:\n%s\nwant %d:\n%s", w.unit, strings.Join(items, "\n"), len(w.items), strings.Join(w.items, "\n"))
			continue
		}
		for j, prefix := range w.items {
			if !strings.HasPrefix(items[j], prefix) {
				t.Errorf("unit %s item %d: %q, want it to start %q", w.unit, j, items[j], prefix)
			}
		}
		sum := 100.0
		for _, it := range g.Items {
			sum += it.Points
		}
		if fmt.Sprintf("%.2f", sum) != fmt.Sprintf("%.2f", g.Score) {
			t.Errorf("unit %s: items add up to %.2f, score %v", w.unit, sum, g.Score)
		}
	}
	sc := tracker.DefaultScoring()
	sc.LateCap = -3
	capped := scores(sc)
	if capped[0].Score != 100+0.5-2-0.6-2-3-3-1-0.2 {
		t.Errorf("late_cap -3: a scores %v, want 88.7", capped[0].Score)
	}
	if !slices.ContainsFunc(capped[0].Items, func(it tracker.ScoreItem) bool {
		return it.ID == "a3" && it.Points == -3 && strings.Contains(it.Fact, "扣分以 -3 为限")
	}) {
		t.Errorf("late_cap -3: a3's late days not capped: %+v", capped[0].Items)
	}
}

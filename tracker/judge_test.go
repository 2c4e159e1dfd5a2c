package tracker_test

import (
	"slices"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// october judges October 2026 at the start of November with praise_min.
func october(t *testing.T, x *tracker.Expander, st *kvstore.Store, praiseMin int) *tracker.Report {
	t.Helper()
	var rep *tracker.Report
	if err := st.View(func(tx tracker.Tx) error {
		var err error
		if rep, err = tracker.MonthlyReport(tx, x.Env, tracker.Month{Year: 2026, Month: 10}, "", repAt(x, "2026-11-03 10:00")); err != nil {
			return err
		}
		return rep.Judge(tx, x.Env, praiseMin)
	}); err != nil {
		t.Fatal(err)
	}
	return rep
}

func mentions(ms []tracker.Mention) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Unit+":"+m.Reason)
	}
	return out
}

func issue(t *testing.T, x *tracker.Expander, st *kvstore.Store, id string, g tracker.Grade, at string) *tracker.Sheet {
	t.Helper()
	var sh *tracker.Sheet
	if err := st.Update(func(tx tracker.Tx) error {
		var err error
		sh, _, err = x.IssueSheet(tx, tracker.SheetRequest{ID: id, Grade: g, Within: "3wd", Actor: "test", At: repAt(x, at)})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return sh
}

// TestPraiseAndCriticismAtTheirEdges: unit a has exactly praise_min (3)
// instances due in October, all on time: praised with 3, not with 4. Unit
// b's third instance is due on Sat 31 Oct (a fixed date, not rolled: due
// at the cutoff itself, 1 Nov 00:00); done one second before the cutoff it
// is on time and b is praised; done at the cutoff instant it is overdue at
// the cutoff, and b is criticised instead. Unit c has a 红 sheet issued in
// October (criticised) and a withdrawn 红 sheet (not counted).
func TestPraiseAndCriticismAtTheirEdges(t *testing.T) {
	items := []tracker.Item{
		{ID: "a1", Title: "甲一", Unit: "a", Start: "2026-10-08", Due: "2026-10-15"},
		{ID: "a2", Title: "甲二", Unit: "a", Start: "2026-10-08", Due: "2026-10-20"},
		{ID: "a3", Title: "甲三", Unit: "a", Start: "2026-10-08", Due: "2026-10-30"},
		{ID: "b1", Title: "乙一", Unit: "b", Start: "2026-10-08", Due: "2026-10-15"},
		{ID: "b2", Title: "乙二", Unit: "b", Start: "2026-10-08", Due: "2026-10-20"},
		{ID: "b3", Title: "乙三", Unit: "b", Start: "2026-10-08", Due: "2026-10-31"},
		{ID: "c1", Title: "丙一", Unit: "c", Start: "2026-10-08", Due: "2026-10-30"},
		{ID: "c2", Title: "丙二", Unit: "c", Start: "2026-10-08", Due: "2026-10-30"},
	}
	done := func(id, at string) tracker.Action {
		return tracker.Action{Kind: "done", ID: id, At: repAt(repExpander(t), at)}
	}
	base := []tracker.Action{
		done("a1", "2026-10-14 10:00"), done("a2", "2026-10-20 23:59"),
		done("b1", "2026-10-14 10:00"), done("b2", "2026-10-19 10:00"),
	}
	for _, c := range []struct {
		b3Done      string
		praised     []string
		criticisedB bool
	}{
		{"2026-10-31 23:59:59", []string{"a:本月应办3件，全部按时办结", "b:本月应办3件，全部按时办结"}, false},
		{"2026-11-01 00:00:00", []string{"a:本月应办3件，全部按时办结"}, true},
	} {
		t.Run(c.b3Done, func(t *testing.T) {
			x, st := repFixture(t, items, base)
			b3, err := time.ParseInLocation(time.DateTime, c.b3Done, x.Env.Loc)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Update(func(tx tracker.Tx) error {
				_, err := x.Apply(tx, tracker.Action{Kind: "done", ID: "b3", Actor: "test", At: b3})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			issue(t, x, st, "c1", tracker.GradeRed, "2026-10-12 10:00")
			w := issue(t, x, st, "c2", tracker.GradeRed, "2026-10-13 10:00")
			issue(t, x, st, "a3", tracker.GradeBlue, "2026-10-13 11:00")
			if err := st.Update(func(tx tracker.Tx) error {
				_, err := x.WithdrawSheet(tx, w.Number, "误发", "test", repAt(x, "2026-10-13 12:00"), repAt(x, "2026-10-13 12:00"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			for _, a := range []tracker.Action{done("a3", "2026-10-29 10:00"), done("c1", "2026-10-29 10:00"), done("c2", "2026-10-29 10:00")} {
				if err := st.Update(func(tx tracker.Tx) error { a.Actor = "test"; _, err := x.Apply(tx, a); return err }); err != nil {
					t.Fatal(err)
				}
			}
			rep := october(t, x, st, 3)
			if got := mentions(rep.Praise); !slices.Equal(got, c.praised) {
				t.Errorf("praise %q, want %q", got, c.praised)
			}
			want := []string{"c:被发出红色督办事项通知单（挂牌督办）督〔2026〕1号"}
			if c.criticisedB {
				want = append([]string{"b:1件逾期未办结，最长逾期1个工作日"}, want...)
			}
			if got := mentions(rep.Criticism); !slices.Equal(got, want) {
				t.Errorf("criticism %q, want %q", got, want)
			}
			sheets := map[string]int{}
			for _, u := range rep.Units {
				sheets[u.Unit] = u.Sheets
			}
			// c: 督〔2026〕1号 (督〔2026〕2号 withdrawn); a: 督〔2026〕3号 (蓝).
			if sheets["a"] != 1 || sheets["b"] != 0 || sheets["c"] != 1 || rep.Total.Sheets != 2 {
				t.Errorf("sheets per unit %v, total %d; want a 1, b 0, c 1, total 2", sheets, rep.Total.Sheets)
			}
			if got := mentions(october(t, x, st, 4).Praise); len(got) != 0 {
				t.Errorf("praise_min 4: praised %q, want nobody (3 due each)", got)
			}
		})
	}
}

// TestPolicyStepIssuesItsSheetOnce: a policy step `{at: +1wd, sheet: 黄,
// within: 3wd}` on an item due Mon 12 Oct fires at 09:00 on Tue 13 Oct:
// the pass after it issues 督〔2026〕1号 as of 13 Oct 09:00, whose 限期
// (3 working days: 14, 15, 16 Oct) becomes the hard limit, and queues the
// sheet notice to the head and, for 黄, the leader. Later passes issue no
// second sheet.
func TestPolicyStepIssuesItsSheetOnce(t *testing.T) {
	x := repExpander(t)
	x.SheetPrefix = "洛督"
	st := repStore(t)
	b := &tracker.Bundle{
		People: []tracker.Person{{ID: "h", Name: "甲", Email: "h@example.gov.cn"}, {ID: "l", Name: "乙", Email: "l@example.gov.cn"}},
		Units:  []tracker.Unit{{ID: "a", Name: "甲局", Head: "h", Leader: "l"}},
		Policies: []tracker.Policy{{ID: "p", Steps: []tracker.Step{
			{At: "0", To: []string{"unit"}, Level: tracker.LevelDue},
			{At: "+1wd", Every: "1wd", To: []string{"unit"}, Level: tracker.LevelOverdue, Sheet: tracker.GradeYellow, Within: "3wd"},
		}}},
		Items: []tracker.Item{{ID: "i", Title: "事项", Unit: "a", Start: "2026-10-08", Due: "2026-10-12", Policy: "p"}},
	}
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.Import(tx, b, repAt(x, "2026-10-08 09:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	pass := func(at string) {
		t.Helper()
		if err := st.Update(func(tx tracker.Tx) error {
			_, err := x.Decide(tx, repAt(x, at), tracker.CatchupLatest, "office@example.gov.cn")
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []string{"2026-10-08 09:05", "2026-10-12 09:05", "2026-10-13 09:05", "2026-10-14 09:05", "2026-10-15 09:05"} {
		pass(at)
	}
	if err := st.View(func(tx tracker.Tx) error {
		ss, err := tracker.SheetsOf(tx, 2026)
		if err != nil {
			return err
		}
		if len(ss) != 1 || ss[0].Number != "洛督〔2026〕1号" || ss[0].Step != 2 || !ss[0].Issued.Equal(repAt(x, "2026-10-13 09:00")) {
			t.Errorf("sheets %+v, want one, 洛督〔2026〕1号, issued by step 2 at 13 Oct 09:00", ss)
		}
		in, err := tx.Instance("i")
		if err != nil {
			return err
		}
		if in.Limit == nil || in.Limit.LastDay.String() != "2026-10-16" {
			t.Errorf("hard limit %+v, want last day 2026-10-16", in.Limit)
		}
		var to []string
		err = tx.Deliveries(func(d *tracker.Delivery) error {
			if d.Level == tracker.LevelSheet && d.State == tracker.DeliveryQueued {
				to = append(to, d.To)
			}
			return nil
		})
		slices.Sort(to)
		if !slices.Equal(to, []string{"h@example.gov.cn", "l@example.gov.cn"}) {
			t.Errorf("sheet notices to %v, want the head and the leader", to)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

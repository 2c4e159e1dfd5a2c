package tracker_test

import (
	"errors"
	"testing"

	"duban/tracker"
)

// TestReviewLoop: 报结 puts the instance in review (listed, no unit
// notices, a 待审核 notice to the office); 退回重办 reopens it with a 退回
// notice to the unit; approval makes it done as of the report time.
func TestReviewLoop(t *testing.T) {
	x, st := actFixture(t, tracker.Item{ID: "r", Title: "报结审核", Unit: "a", Start: "2026-10-12 09:00", Due: "2026-10-20", Policy: "capped"})
	reported := repAt(x, "2026-10-16 10:00")
	in, err := apply(t, x, st, tracker.Action{Kind: "report", ID: "r", Note: "已办结", At: reported})
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != tracker.StatusReview || !in.ReportedAt.Equal(reported) {
		t.Fatalf("after report: %s at %v", in.Status, in.ReportedAt)
	}
	// Listed by default (the due index keeps it) and not overdue later.
	var rows []tracker.Row
	later := repAt(x, "2026-10-26 10:00")
	if err := st.View(func(tx tracker.Tx) error {
		return x.List(tx, tracker.Filter{}, later, func(r tracker.Row) error { rows = append(rows, r); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Status != tracker.StatusReview || rows[0].Overdue {
		t.Fatalf("default list in review: %+v", rows)
	}
	// Notices: only the 待审核 notice to the office, none to the unit.
	ns := x.Notices(in, &tracker.DefaultPolicy, repAt(x, "2026-10-12 00:00"), later)
	if len(ns) != 1 || ns[0].Level != tracker.LevelReview || ns[0].To[0] != "office" {
		t.Fatalf("notices in review: %+v", ns)
	}
	// A rejection needs a reason and changes nothing without one.
	if _, err := apply(t, x, st, tracker.Action{Kind: "review", ID: "r", To: tracker.ReviewReject, At: later}); !errors.Is(err, tracker.ErrInvalid) {
		t.Fatalf("reject without reason: %v", err)
	}
	in, err = apply(t, x, st, tracker.Action{Kind: "review", ID: "r", To: tracker.ReviewReject, Note: "缺少佐证材料", At: later})
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != tracker.StatusOpen || in.Reworks != 1 || !in.ReworkAt.Equal(later) {
		t.Fatalf("after reject: %+v", in)
	}
	ns = x.Notices(in, &tracker.DefaultPolicy, later, later.Add(1))
	if len(ns) == 0 || ns[0].Level != tracker.LevelRework || ns[0].Step != tracker.ReworkStep {
		t.Fatalf("notices after reject: %+v", ns)
	}
	// Report again, approve: done as of the second report.
	again := repAt(x, "2026-10-27 09:00")
	if _, err := apply(t, x, st, tracker.Action{Kind: "report", ID: "r", Note: "已补充", At: again}); err != nil {
		t.Fatal(err)
	}
	in, err = apply(t, x, st, tracker.Action{Kind: "review", ID: "r", To: tracker.ReviewApprove, At: repAt(x, "2026-10-28 09:00")})
	if err != nil {
		t.Fatal(err)
	}
	if in.Status != tracker.StatusDone || !in.DoneAt.Equal(again) {
		t.Fatalf("after approve: %s done at %v, want %v", in.Status, in.DoneAt, again)
	}
	_, evs := stored(t, st, "r")
	var acts []string
	for _, e := range evs {
		acts = append(acts, e.Action+">"+e.To)
	}
	want := []string{"tracked>" + evs[0].To, "report>review", "review>open", "report>review", "review>done"}
	if len(acts) != len(want) {
		t.Fatalf("events %v, want %v", acts, want)
	}
	for i := range want {
		if acts[i] != want[i] {
			t.Fatalf("events %v, want %v", acts, want)
		}
	}
}

// TestExtendRequest: 申请延期 waits for the office; approval is extend.
func TestExtendRequest(t *testing.T) {
	x, st := actFixture(t, tracker.Item{ID: "e", Title: "延期申请", Unit: "a", Start: "2026-10-12 09:00", Due: "2026-10-20", Policy: "capped"})
	at := repAt(x, "2026-10-14 10:00")
	if _, err := apply(t, x, st, tracker.Action{Kind: "extend_request", ID: "e", To: "2026-10-19", Note: "早于时限", At: at}); !errors.Is(err, tracker.ErrInvalid) {
		t.Fatalf("earlier date: %v", err)
	}
	in, err := apply(t, x, st, tracker.Action{Kind: "extend_request", ID: "e", To: "2026-10-23", Note: "需会签", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if in.ExtendRequest == nil || in.Status != tracker.StatusOpen || !in.Waiting() {
		t.Fatalf("after request: %+v", in)
	}
	in, err = apply(t, x, st, tracker.Action{Kind: "review", ID: "e", To: tracker.ReviewApprove, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if in.ExtendRequest != nil || in.Deadline.LastDay.String() != "2026-10-23" || in.Extensions != 1 {
		t.Fatalf("after approval: %+v", in)
	}
	if _, err := apply(t, x, st, tracker.Action{Kind: "review", ID: "e", To: tracker.ReviewApprove, At: at}); !errors.Is(err, tracker.ErrInvalid) {
		t.Fatalf("nothing to review: %v", err)
	}
}

// TestBulletinCountsReworks: the bulletin counts each 退回重办 of the month
// for the unit (重办次数), and the 考核 deducts it.
func TestBulletinCountsReworks(t *testing.T) {
	x, st := actFixture(t, tracker.Item{ID: "w", Title: "重办", Unit: "a", Start: "2026-10-12 09:00", Due: "2026-10-20", Policy: "capped"})
	for _, s := range []struct{ kind, to, note, at string }{
		{"report", "", "已办结", "2026-10-16 10:00"},
		{"review", tracker.ReviewReject, "缺材料", "2026-10-16 15:00"},
		{"report", "", "已补", "2026-10-19 10:00"},
		{"review", tracker.ReviewReject, "仍缺", "2026-10-19 15:00"},
		{"report", "", "再补", "2026-10-20 10:00"},
		{"review", tracker.ReviewApprove, "", "2026-10-21 09:00"},
	} {
		if _, err := apply(t, x, st, tracker.Action{Kind: s.kind, ID: "w", To: s.to, Note: s.note, At: repAt(x, s.at)}); err != nil {
			t.Fatalf("%s at %s: %v", s.kind, s.at, err)
		}
	}
	m, _ := tracker.ParseMonth("2026-10")
	if err := st.View(func(tx tracker.Tx) error {
		rep, err := tracker.MonthlyReport(tx, x.Env, m, "", repAt(x, "2026-11-02 09:00"))
		if err != nil {
			return err
		}
		if err := rep.Judge(tx, x.Env, 0); err != nil {
			return err
		}
		for _, u := range rep.Units {
			if u.Unit == "a" && (u.Reworks != 2 || u.OnTime != 1) {
				t.Errorf("unit a: reworks %d on time %d, want 2 and 1 (done as of the report on 20 Oct)", u.Reworks, u.OnTime)
			}
		}
		if rep.Total.Reworks != 2 {
			t.Errorf("total reworks %d, want 2", rep.Total.Reworks)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

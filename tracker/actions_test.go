package tracker_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// The dates below are worked out by hand on the 2026 calendar (see
// report_test.go): October's working days are 8, 9, 10, 12–16, 19–23 and
// 26–30; 31 Oct and 1 Nov are off.

// actFixture imports units a and b, the policy capped (max_extension 10d)
// and the items as of 2026-10-12 09:00.
func actFixture(t *testing.T, items ...tracker.Item) (*tracker.Expander, *kvstore.Store) {
	t.Helper()
	x := repExpander(t)
	st := repStore(t)
	b := &tracker.Bundle{
		People: []tracker.Person{{ID: "pa", Name: "甲", Email: "a@example.gov.cn"}, {ID: "pb", Name: "乙", Email: "b@example.gov.cn"}},
		Units:  []tracker.Unit{{ID: "a", Name: "甲局", Head: "pa"}, {ID: "b", Name: "乙局", Head: "pb"}},
		Policies: []tracker.Policy{{ID: "capped", MaxExtension: "10d", Steps: []tracker.Step{
			{At: "0", To: []string{"unit"}, Level: tracker.LevelDue},
			{At: "limit", To: []string{"unit"}, Level: tracker.LevelEscalation},
		}}},
		Items: items,
	}
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.Import(tx, b, repAt(x, "2026-10-12 09:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return x, st
}

// apply runs a with the item's policy and returns the instance after it.
func apply(t *testing.T, x *tracker.Expander, st tracker.Store, a tracker.Action) (*tracker.Instance, error) {
	t.Helper()
	var in *tracker.Instance
	err := st.Update(func(tx tracker.Tx) error {
		cur, err := tx.Instance(a.ID)
		if err != nil {
			return err
		}
		it, err := tx.Item(cur.Item)
		if err != nil {
			return err
		}
		if a.Policy, err = tracker.PolicyFor(tx, it); err != nil {
			return err
		}
		a.Actor = "test"
		in, err = x.Apply(tx, a)
		return err
	})
	return in, err
}

func stored(t *testing.T, st tracker.Store, id string) (*tracker.Instance, []tracker.Event) {
	t.Helper()
	var in *tracker.Instance
	var evs []tracker.Event
	if err := st.View(func(tx tracker.Tx) error {
		var err error
		if in, err = tx.Instance(id); err != nil {
			return err
		}
		evs, err = tx.Events(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return in, evs
}

// TestMaxExtensionCountsFromTheOriginalLastDay: a 10d cap on a 15wd item
// allows up to 10 days past the original last day (SPEC §4), cumulatively.
func TestMaxExtensionCountsFromTheOriginalLastDay(t *testing.T) {
	// 15wd from Mon 12 Oct: 13–16 (4), 19–23 (9), 26–30 (14), Mon 2 Nov (15).
	x, st := actFixture(t, tracker.Item{ID: "big", Title: "十五个工作日", Unit: "a", Start: "2026-10-12 09:00", Due: "15wd", Policy: "capped"})
	in, _ := stored(t, st, "big")
	if in.Deadline.LastDay.String() != "2026-11-02" {
		t.Fatalf("original last day %s, want 2026-11-02", in.Deadline.LastDay)
	}
	// The cap: 2 Nov + 10 days = Thu 12 Nov, a working day.
	ceil, err := tracker.ExtensionCeiling(in.Deadline, "10d", x.Env)
	if err != nil || ceil.LastDay.String() != "2026-11-12" {
		t.Fatalf("ExtensionCeiling = %s, %v; want 2026-11-12", ceil.LastDay, err)
	}
	when := repAt(x, "2026-10-20 10:00")
	// +5wd from 2 Nov = Mon 9 Nov: within the cap. Counted from the start
	// (12 Oct + 10d = 22 Oct) it was refused.
	got, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "big", To: "+5wd", Note: "材料待补", At: when})
	if err != nil {
		t.Fatalf("extend +5wd within the cap: %v", err)
	}
	if got.Deadline.LastDay.String() != "2026-11-09" || got.Original == nil || got.Original.LastDay.String() != "2026-11-02" {
		t.Fatalf("after +5wd: deadline %s original %+v", got.Deadline.LastDay, got.Original)
	}
	// A second extension still counts from the original last day: 12 Nov
	// is the last one allowed, 13 Nov is refused and changes nothing.
	if _, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "big", To: "2026-11-13", Note: "再延", At: when}); !errors.Is(err, tracker.ErrInvalid) {
		t.Fatalf("extend to 13 Nov past the cap: err %v, want ErrInvalid", err)
	}
	after, evs := stored(t, st, "big")
	if after.Deadline.LastDay.String() != "2026-11-09" || after.Extensions != 1 || len(evs) != 2 {
		t.Errorf("refused extension changed the instance: %s, %d extensions, %d events", after.Deadline.LastDay, after.Extensions, len(evs))
	}
	if got, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "big", To: "2026-11-12", Note: "再延", At: when}); err != nil || got.Deadline.LastDay.String() != "2026-11-12" {
		t.Errorf("extend to the cap 12 Nov: %v", err)
	}
}

// TestExtensionPastTheLimitMovesTheLimit: an extension past the hard limit
// is refused unless the limit moves too, and then the escalation follows
// the new limit.
func TestExtensionPastTheLimitMovesTheLimit(t *testing.T) {
	// 5wd from Mon 12 Oct = Mon 19 Oct; limit 7wd = Wed 21 Oct.
	item := tracker.Item{ID: "lim", Title: "有最迟时限", Unit: "a", Start: "2026-10-12 09:00", Due: "5wd", Limit: "7wd"}
	x, st := actFixture(t, item)
	when := repAt(x, "2026-10-15 10:00")
	before, evsBefore := stored(t, st, "lim")
	if before.Deadline.LastDay.String() != "2026-10-19" || before.Limit == nil || before.Limit.LastDay.String() != "2026-10-21" {
		t.Fatalf("fixture: deadline %s limit %+v", before.Deadline.LastDay, before.Limit)
	}
	// +4wd = Fri 23 Oct, past the limit: refused, nothing changes.
	_, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "lim", To: "+4wd", Note: "待会商", At: when})
	if !errors.Is(err, tracker.ErrInvalid) {
		t.Fatalf("extension past the limit without --limit: err %v, want ErrInvalid", err)
	}
	if after, evs := stored(t, st, "lim"); !reflect.DeepEqual(after, before) || len(evs) != len(evsBefore) {
		t.Errorf("refused extension changed the instance")
	}
	// A new limit before the new deadline is refused too.
	if _, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "lim", To: "+4wd", Limit: "+1wd", Note: "待会商", At: when}); !errors.Is(err, tracker.ErrInvalid) {
		t.Errorf("new limit 22 Oct before the new deadline 23 Oct: err %v, want ErrInvalid", err)
	}
	// With --limit +3wd: limit 21 Oct → Mon 26 Oct.
	got, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "lim", To: "+4wd", Limit: "+3wd", Note: "待会商", At: when})
	if err != nil {
		t.Fatalf("extend with --limit: %v", err)
	}
	if got.Deadline.LastDay.String() != "2026-10-23" || got.Limit.LastDay.String() != "2026-10-26" ||
		got.OriginalLimit == nil || got.OriginalLimit.LastDay.String() != "2026-10-21" {
		t.Fatalf("after extend: deadline %s limit %s original limit %+v", got.Deadline.LastDay, got.Limit.LastDay, got.OriginalLimit)
	}
	_, evs := stored(t, st, "lim")
	if last := evs[len(evs)-1]; last.Action != "limit" || last.From != before.Limit.Due.Format(time.RFC3339) || last.To != got.Limit.Due.Format(time.RFC3339) {
		t.Errorf("last event %+v, want the limit move", last)
	}
	// The escalation (step 2) fires on the first working day after the new
	// limit, Tue 27 Oct 09:00, and not after the old one (Thu 22 Oct).
	var pol *tracker.Policy
	st.View(func(tx tracker.Tx) error {
		it, _ := tx.Item("lim")
		pol, _ = tracker.PolicyFor(tx, it)
		return nil
	})
	var esc []string
	for _, n := range x.Notices(got, pol, repAt(x, "2026-10-15 00:00"), repAt(x, "2026-11-30 00:00")) {
		if n.Level == tracker.LevelEscalation {
			esc = append(esc, n.At.In(x.Env.Loc).Format("2006-01-02 15:04"))
		}
	}
	if len(esc) != 1 || esc[0] != "2026-10-27 09:00" {
		t.Errorf("escalations at %v, want [2026-10-27 09:00]", esc)
	}
	// Re-importing the tracking file keeps the moved limit, like the
	// extended deadline.
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.Import(tx, &tracker.Bundle{Items: []tracker.Item{item}}, repAt(x, "2026-10-16 09:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if in, _ := stored(t, st, "lim"); in.Limit.LastDay.String() != "2026-10-26" {
		t.Errorf("after re-import the limit is %s, want the moved 2026-10-26", in.Limit.LastDay)
	}
}

// TestLateExtensionCountsLateByItsRecordingTime: an extension recorded
// after the deadline counts as late in the bulletin even when its
// effective time (--at) is set before the deadline.
func TestLateExtensionCountsLateByItsRecordingTime(t *testing.T) {
	// 2wd from Mon 12 Oct = Wed 14 Oct.
	x, st := actFixture(t, tracker.Item{ID: "late", Title: "事后延期", Unit: "a", Start: "2026-10-12 09:00", Due: "2wd"})
	if _, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "late", To: "+3wd", Note: "补办延期",
		At: repAt(x, "2026-10-14 10:00"), RecordedAt: repAt(x, "2026-10-19 10:00")}); err != nil {
		t.Fatal(err)
	}
	rep := repReport(t, x, st, "2026-10", "a", "2026-11-02 09:00")
	if len(rep.Entries) != 1 {
		t.Fatalf("entries %+v, want the late extension", rep.Entries)
	}
	if e := rep.Entries[0]; !e.ExtendedLate || e.LastDay.String() != "2026-10-14" {
		t.Errorf("entry %+v: want counted against the original 14 Oct, extended late", e)
	}
}

// TestActionTimesAreChecked: an effective time before the instance's
// start day or after the recording time is refused and changes nothing;
// both times are stored.
func TestActionTimesAreChecked(t *testing.T) {
	x, st := actFixture(t, tracker.Item{ID: "ny", Title: "元旦前后", Unit: "a", Start: "2026-12-30 10:00", Due: "3wd"},
		tracker.Item{ID: "ahead", Title: "提前安排", Unit: "a", Start: "2026-12-30 10:00", Due: "3wd"})
	// The office's decisions on an instance that has not started may take
	// effect from the day the item was tracked (12 Oct); what the unit
	// does may not.
	early := repAt(x, "2026-11-02 10:00")
	if _, err := apply(t, x, st, tracker.Action{Kind: "done", ID: "ahead", At: early, RecordedAt: early}); !errors.Is(err, tracker.ErrInvalid) {
		t.Errorf("done before the start: err %v, want ErrInvalid", err)
	}
	if _, err := apply(t, x, st, tracker.Action{Kind: "withdraw", ID: "ahead", Note: "不再需要", At: repAt(x, "2026-10-11 10:00"), RecordedAt: early}); !errors.Is(err, tracker.ErrInvalid) {
		t.Errorf("withdraw before the item was tracked: err %v, want ErrInvalid", err)
	}
	if _, err := apply(t, x, st, tracker.Action{Kind: "extend", ID: "ahead", To: "+2wd", Note: "提前商定", At: early, RecordedAt: early}); err != nil {
		t.Errorf("extend agreed before the start: %v", err)
	}
	if _, err := apply(t, x, st, tracker.Action{Kind: "withdraw", ID: "ahead", Note: "不再需要", At: early, RecordedAt: early}); err != nil {
		t.Errorf("withdraw before the start: %v", err)
	}
	before, evsBefore := stored(t, st, "ny")
	rec := repAt(x, "2027-01-04 16:00")
	for _, at := range []string{"2025-01-01 10:00", "2026-12-29 23:59", "2027-01-04 16:01"} {
		_, err := apply(t, x, st, tracker.Action{Kind: "done", ID: "ny", At: repAt(x, at), RecordedAt: rec})
		if !errors.Is(err, tracker.ErrInvalid) {
			t.Errorf("done at %s (recorded %s): err %v, want ErrInvalid", at, rec.Format(time.DateTime), err)
		}
	}
	if after, evs := stored(t, st, "ny"); !reflect.DeepEqual(after, before) || len(evs) != len(evsBefore) {
		t.Errorf("a refused action changed the instance")
	}
	// The start day itself is allowed (an --at of a bare date means its 00:00).
	got, err := apply(t, x, st, tracker.Action{Kind: "done", ID: "ny", At: repAt(x, "2026-12-30 00:00"), RecordedAt: rec})
	if err != nil {
		t.Fatalf("done on the start day: %v", err)
	}
	if !got.DoneAt.Equal(repAt(x, "2026-12-30 00:00")) {
		t.Errorf("done at %v, want the effective time", got.DoneAt)
	}
	_, evs := stored(t, st, "ny")
	last := evs[len(evs)-1]
	if !last.At.Equal(repAt(x, "2026-12-30 00:00")) || !last.RecordedAt.Equal(rec) || !last.Recorded().Equal(rec) {
		t.Errorf("done event at %v recorded %v, want %v and %v", last.At, last.RecordedAt, "2026-12-30 00:00", rec)
	}
}

// TestOldEventsReadWithoutRecordingTime: events stored before
// recorded_at existed decode, and their recording time is their time.
func TestOldEventsReadWithoutRecordingTime(t *testing.T) {
	var e tracker.Event
	if err := json.Unmarshal([]byte(`{"at":"2026-10-10T02:00:00Z","actor":"ducha","action":"done","note":"ok"}`), &e); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 10, 10, 2, 0, 0, 0, time.UTC)
	if !e.At.Equal(want) || !e.RecordedAt.IsZero() || !e.Recorded().Equal(want) {
		t.Errorf("old event: at %v recorded_at %v Recorded() %v", e.At, e.RecordedAt, e.Recorded())
	}
	// A new event with both times round-trips; one without keeps the old form.
	b, _ := json.Marshal(tracker.Event{At: want, Action: "done"})
	var m map[string]any
	json.Unmarshal(b, &m)
	if _, ok := m["recorded_at"]; ok {
		t.Errorf("an event without a recording time encodes recorded_at: %s", b)
	}
}

// TestReassignNeedsAReason: assigning an open instance to another unit is
// a 改派 with a reason; it records both units and marks the previous one
// to be told. A pending instance is assigned as before.
func TestReassignNeedsAReason(t *testing.T) {
	x, st := actFixture(t,
		tracker.Item{ID: "open", Title: "办理中", Unit: "a", Start: "2026-10-12 09:00", Due: "5wd"},
		tracker.Item{ID: "pend", Title: "待分办", Start: "2026-10-12 09:00", Due: "5wd"})
	when := repAt(x, "2026-10-13 10:00")
	before, evsBefore := stored(t, st, "open")
	if _, err := apply(t, x, st, tracker.Action{Kind: "assign", ID: "open", To: "b", At: when}); !errors.Is(err, tracker.ErrInvalid) {
		t.Fatalf("assign an open instance without a reason: err %v, want ErrInvalid", err)
	}
	if after, evs := stored(t, st, "open"); !reflect.DeepEqual(after, before) || len(evs) != len(evsBefore) {
		t.Errorf("refused reassignment changed the instance: unit %s", after.Unit)
	}
	got, err := apply(t, x, st, tracker.Action{Kind: "assign", ID: "open", To: "b", Note: "职责调整", At: when})
	if err != nil {
		t.Fatal(err)
	}
	if got.Unit != "b" || got.PrevUnit != "a" || !got.ReassignedAt.Equal(when) || got.Reassignments != 1 || !got.AssignedAt.Equal(when) {
		t.Errorf("after 改派: %+v", got)
	}
	_, evs := stored(t, st, "open")
	if last := evs[len(evs)-1]; last.Action != "reassign" || last.From != "a" || last.To != "b" || last.Note != "职责调整" {
		t.Errorf("last event %+v, want reassign a → b with the reason", last)
	}
	p, err := apply(t, x, st, tracker.Action{Kind: "assign", ID: "pend", To: "a", At: when})
	if err != nil {
		t.Fatalf("assign a pending instance without a reason: %v", err)
	}
	if p.Unit != "a" || p.Status != tracker.StatusOpen || p.PrevUnit != "" {
		t.Errorf("pending assigned: %+v", p)
	}
	_, evs = stored(t, st, "pend")
	if last := evs[len(evs)-1]; last.Action != "assign" {
		t.Errorf("pending assignment recorded as %q, want assign", last.Action)
	}
}

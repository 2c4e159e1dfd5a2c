package tracker_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/recur"
)

func testExpander(tb testing.TB) *tracker.Expander {
	tb.Helper()
	return &tracker.Expander{
		Env: testEnv(tb),
		Every: func(spec string, loc *time.Location) (tracker.Schedule, error) {
			return recur.Parse(spec, loc)
		},
		Horizon: 40,
	}
}

func mustStore(tb testing.TB) *kvstore.Store {
	tb.Helper()
	st, err := kvstore.Open(filepath.Join(tb.TempDir(), "duban.db"), time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

var standard = tracker.Policy{ID: "standard", Steps: []tracker.Step{
	{At: "-1wd", To: []string{"unit"}, Level: tracker.LevelReminder},
	{At: "0", To: []string{"unit"}, Level: tracker.LevelDue},
	{At: "+1wd", Every: "1wd", To: []string{"unit"}, Level: tracker.LevelOverdue},
	{At: "limit", To: []string{"unit", "leader", "office"}, Level: tracker.LevelEscalation},
}}

func TestNoticesFollowTheWorkingCalendar(t *testing.T) {
	x := testExpander(t)
	it := &tracker.Item{ID: "minutes-31", Title: "纪要", Unit: "mishu", Start: "2026-09-24 16:00", Due: "3d", Limit: "7d",
		TrackedAt: at("2026-09-24 16:30")}
	ins, err := x.Expand(it, at("2026-09-24 16:30"))
	if err != nil || len(ins) != 1 {
		t.Fatalf("Expand = %v, %v", ins, err)
	}
	in := &ins[0]
	got := x.Notices(in, &standard, at("2026-09-01 00:00"), at("2026-10-13 00:00"))
	want := []struct {
		at    string
		step  int
		level tracker.Level
	}{
		{"2026-09-24 16:30", 0, tracker.LevelAssigned},
		// The reminder (-1wd from Mon 28 Sep = Thu 24 Sep 09:00, as 25-27 Sep
		// are off) falls before the start (24 Sep 16:00): not sent.
		{"2026-09-28 09:00", 2, tracker.LevelDue},        // the morning of the last day
		{"2026-09-29 09:00", 3, tracker.LevelOverdue},    // +1wd
		{"2026-09-30 09:00", 3, tracker.LevelOverdue},    // every 1wd
		{"2026-10-08 09:00", 3, tracker.LevelOverdue},    // National Day skipped
		{"2026-10-09 09:00", 3, tracker.LevelOverdue},    //
		{"2026-10-09 09:00", 4, tracker.LevelEscalation}, // first working day after the limit's last day (8 Oct)
		{"2026-10-10 09:00", 3, tracker.LevelOverdue},    // make-up Saturday is a working day
		{"2026-10-12 09:00", 3, tracker.LevelOverdue},
	}
	if len(got) != len(want) {
		for _, n := range got {
			t.Logf("%s %d %s", n.At.In(shanghai).Format("2006-01-02 15:04"), n.Step, n.Level)
		}
		t.Fatalf("got %d notices, want %d", len(got), len(want))
	}
	for i, w := range want {
		if !got[i].At.Equal(at(w.at)) || got[i].Step != w.step || got[i].Level != w.level {
			t.Errorf("notice %d = %s step %d %s; want %s step %d %s", i,
				got[i].At.In(shanghai).Format("2006-01-02 15:04"), got[i].Step, got[i].Level, w.at, w.step, w.level)
		}
	}
	// Steps before the start are not sent: an item started on its last day gets no reminder.
	late := *in
	late.Start = at("2026-09-28 08:00").UTC()
	for _, n := range x.Notices(&late, &standard, time.Time{}, at("2026-09-29 00:00")) {
		if n.Level == tracker.LevelReminder {
			t.Errorf("reminder at %s sent although the instance starts %s", n.At, late.Start)
		}
	}
	// Nothing for finished instances.
	done := *in
	done.Status = tracker.StatusDone
	if n := x.Notices(&done, &standard, time.Time{}, at("2027-01-01 00:00")); len(n) != 0 {
		t.Errorf("done instance has %d notices", len(n))
	}
}

func TestTimedDeadlineNotices(t *testing.T) {
	x := testExpander(t)
	pol := &tracker.Policy{ID: "weekly", Steps: []tracker.Step{
		{At: "-3h", To: []string{"unit"}, Level: tracker.LevelReminder},
		{At: "0", To: []string{"unit"}, Level: tracker.LevelDue},
	}}
	it := &tracker.Item{ID: "weekly", Title: "周报", Units: []string{"fzj"}, Every: "weekly thu 12:00", From: "2026-09-21",
		TrackedAt: at("2026-09-25 10:00")}
	ins, err := x.Expand(it, at("2026-09-25 10:00"))
	if err != nil {
		t.Fatal(err)
	}
	// The 1 Oct period (National Day) rolls to Thursday 8 Oct at 12:00.
	var oct1 *tracker.Instance
	for i := range ins {
		if ins[i].ID == "weekly/2026-10-01/fzj" {
			oct1 = &ins[i]
		}
	}
	if oct1 == nil {
		t.Fatal("no instance weekly/2026-10-01/fzj")
	}
	if !oct1.Deadline.Due.Equal(at("2026-10-08 12:00")) || !oct1.Deadline.Timed {
		t.Fatalf("1 Oct period due %s, want 2026-10-08 12:00 timed", oct1.Deadline.Due)
	}
	ns := x.Notices(oct1, pol, time.Time{}, at("2026-10-09 00:00"))
	var times []string
	for _, n := range ns {
		times = append(times, n.At.In(shanghai).Format("2006-01-02 15:04"))
	}
	// Assigned notice goes with the first period only; the 1 Oct period
	// has reminder and due. The due notice (at: 0) goes out at send_time
	// on the last day, before the 12:00 deadline, never at it (SPEC §6).
	if len(times) != 2 || times[0] != "2026-10-08 09:00" || times[1] != "2026-10-08 09:00" {
		t.Errorf("notices = %v, want [2026-10-08 09:00 2026-10-08 09:00]", times)
	}
}

func TestDecideQueuesOnceAndCatchesUp(t *testing.T) {
	st := mustStore(t)
	x := testExpander(t)
	b := &tracker.Bundle{
		Office:   &tracker.Office{Name: "督查室", Email: "ducha@example.gov.cn"},
		People:   []tracker.Person{{ID: "zhou", Name: "周", Email: "zhou@example.gov.cn"}, {ID: "li", Name: "李", Email: "li@example.gov.cn"}},
		Units:    []tracker.Unit{{ID: "mishu", Name: "秘书科", Head: "zhou", Leader: "li"}},
		Policies: []tracker.Policy{standard},
		Items:    []tracker.Item{{ID: "minutes-31", Title: "纪要", Unit: "mishu", Start: "2026-09-24 16:00", Due: "3d", Limit: "7d", Policy: "standard"}},
	}
	tracked := at("2026-09-24 16:30")
	if err := st.Update(func(tx tracker.Tx) error { _, err := x.Import(tx, b, tracked, "test"); return err }); err != nil {
		t.Fatal(err)
	}
	decide := func(now string) tracker.DecideResult {
		t.Helper()
		var res tracker.DecideResult
		if err := st.Update(func(tx tracker.Tx) error {
			var err error
			res, err = x.Decide(tx, at(now), tracker.CatchupLatest, "")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := decide("2026-09-24 16:31"); r.Queued != 1 {
		t.Errorf("first pass queued %d, want 1 (the assigned notice)", r.Queued)
	}
	if r := decide("2026-09-24 16:32"); r.Queued != 0 || r.Instances != 0 {
		t.Errorf("second pass at once: %+v, want nothing (the instance sleeps until its next notice)", r)
	}
	// Down from 24 Sep to 12 Oct 10:00: reminder, due, six overdue and the
	// escalation came due. Catch-up keeps the latest of each level.
	r := decide("2026-10-12 10:00")
	// The escalation to unit, leader and office (3) is queued; the unit's
	// due and latest overdue notice are superseded by its escalation (one
	// entry per instance and recipient); the overdue notices of 29, 30 Sep
	// and 8, 9, 10 Oct are skipped.
	if r.Queued != 3 || r.Skipped != 5 || r.Superseded != 2 {
		t.Errorf("catch-up pass: %+v, want 3 queued, 5 skipped, 2 superseded", r)
	}
	var escalation, overdue []string
	if err := st.View(func(tx tracker.Tx) error {
		return tx.Deliveries(func(d *tracker.Delivery) error {
			if d.State == tracker.DeliveryQueued && d.Level == tracker.LevelEscalation {
				escalation = append(escalation, d.To)
			}
			if d.State == tracker.DeliverySuperseded && d.Level == tracker.LevelOverdue {
				overdue = append(overdue, d.At.In(shanghai).Format("01-02"))
				if !d.Late {
					t.Errorf("%s not marked late", d.Key)
				}
				if !strings.HasPrefix(d.SupersededBy, "minutes-31|4|") {
					t.Errorf("%s superseded by %q, want the escalation (step 4)", d.Key, d.SupersededBy)
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(escalation) != 3 {
		t.Errorf("escalation to %v, want unit head, leader and office", escalation)
	}
	if len(overdue) != 1 || overdue[0] != "10-12" {
		t.Errorf("overdue kept %v, want only the latest (10-12)", overdue)
	}
	if r := decide("2026-10-12 10:05"); r.Queued != 0 {
		t.Errorf("repeat pass queued %d", r.Queued)
	}
	// Done: no more notices.
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.Apply(tx, tracker.Action{Kind: "done", ID: "minutes-31", Actor: "test", At: at("2026-10-12 11:00")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if r := decide("2026-10-20 10:00"); r.Queued != 0 {
		t.Errorf("after done queued %d", r.Queued)
	}
	if err := st.Check(); err != nil {
		t.Errorf("store check: %v", err)
	}
}

// TestNoticesInAWindowMatchTheWholeSchedule checks that planning a late
// window (which skips the repetitions before it instead of walking them)
// gives exactly the notices, repetition numbers included, of planning from
// the start and keeping those in the window.
func TestNoticesInAWindowMatchTheWholeSchedule(t *testing.T) {
	x := testExpander(t)
	items := []*tracker.Item{
		{ID: "minutes", Title: "纪要", Unit: "mishu", Start: "2026-09-24 16:00", Due: "3d", Limit: "7d", TrackedAt: at("2026-09-24 16:30")},
		{ID: "timed", Title: "会签", Unit: "mishu", Start: "2026-01-29 10:00", Due: "2026-02-13 15:30", TrackedAt: at("2026-01-29 10:00")},
	}
	policies := []tracker.Policy{standard,
		{ID: "every-3wd", Steps: []tracker.Step{{At: "0", Every: "3wd", To: []string{"unit"}, Level: tracker.LevelOverdue}}},
		{ID: "every-5h", Steps: []tracker.Step{{At: "+2h", Every: "5h", To: []string{"unit"}, Level: tracker.LevelOverdue}}},
		{ID: "every-2d", Steps: []tracker.Step{{At: "+1d", Every: "2d", To: []string{"unit"}, Level: tracker.LevelOverdue}}},
	}
	end := at("2027-03-01 00:00")
	for _, it := range items {
		ins, err := x.Expand(it, it.TrackedAt)
		if err != nil || len(ins) != 1 {
			t.Fatalf("Expand(%s) = %v, %v", it.ID, ins, err)
		}
		in := &ins[0]
		for _, pol := range policies {
			whole := x.Notices(in, &pol, at("2026-01-01 00:00"), end)
			if len(whole) < 20 {
				t.Fatalf("%s/%s: only %d notices in the whole schedule", it.ID, pol.ID, len(whole))
			}
			for from := at("2026-01-01 00:00"); from.Before(end); from = from.Add(37*time.Hour + 11*time.Minute) {
				to := from.Add(9 * 24 * time.Hour)
				if to.After(end) {
					to = end
				}
				var want []tracker.Notice
				for _, n := range whole {
					if !n.At.Before(from) && n.At.Before(to) {
						want = append(want, n)
					}
				}
				got := x.Notices(in, &pol, from, to)
				next, ok := x.NextNotice(in, &pol, from, to)
				if ok != (len(want) > 0) || ok && (next.Key() != want[0].Key() || !next.At.Equal(want[0].At)) {
					t.Fatalf("%s/%s [%s, %s): NextNotice = %s at %s, %v; want the first of %d", it.ID, pol.ID, from, to,
						next.Key(), next.At, ok, len(want))
				}
				if len(got) != len(want) {
					t.Fatalf("%s/%s [%s, %s): %d notices, want %d", it.ID, pol.ID, from, to, len(got), len(want))
				}
				for i := range want {
					if got[i].Key() != want[i].Key() || !got[i].At.Equal(want[i].At) {
						t.Fatalf("%s/%s [%s, %s): notice %d = %s at %s, want %s at %s", it.ID, pol.ID, from, to, i,
							got[i].Key(), got[i].At, want[i].Key(), want[i].At)
					}
				}
			}
		}
	}
}

// TestRecomputeKeepsNoticeIdentitiesUniqueAndCorrectsWhoWasTold: a day
// made a holiday after the fact shifts the repetition numbers of a daily
// 催办, never the identities of the notices already sent; a recompute
// that moves a deadline raises Revision and queues a correction to the
// address that had been sent a notice (SPEC §3, §6).
func TestRecomputeKeepsNoticeIdentitiesUniqueAndCorrectsWhoWasTold(t *testing.T) {
	x := testExpander(t)
	cal, err := x.Env.Cal.WithFiles([]tracker.NamedData{{Name: "2027.json", Data: []byte(`{"year": 2027, "papers": [], "days": [
  {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
  {"name": "元旦", "date": "2027-01-04", "isOffDay": true}]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	y := *x
	y.Env.Cal = cal
	in := &tracker.Instance{ID: "a", Item: "a", Unit: "mishu", Status: tracker.StatusOpen, Start: at("2026-12-21 10:00"),
		Deadline: tracker.Deadline{LastDay: tracker.Date{Year: 2026, Month: 12, Day: 24}, Due: at("2026-12-25 00:00")}}
	pol := &tracker.Policy{ID: "chase", Steps: []tracker.Step{{At: "+1wd", Every: "1wd", To: []string{"unit"}, Level: tracker.LevelOverdue}}}
	oldKeys := map[string]time.Time{}
	for _, n := range x.Notices(in, pol, time.Time{}, at("2027-01-06 00:00")) {
		oldKeys[n.Key()] = n.At
	}
	newNs := y.Notices(in, pol, at("2027-01-06 00:00"), at("2027-01-09 00:00"))
	if len(newNs) != 3 {
		t.Fatalf("new calendar: %d 催办 on 6, 7, 8 Jan, want 3", len(newNs))
	}
	for _, n := range newNs {
		if was, ok := oldKeys[n.Key()]; ok {
			t.Errorf("催办 of %s has the identity %s of the one sent %s", n.At, n.Key(), was)
		}
	}

	// A recompute moving a deadline corrects the address that was told it.
	st := mustStore(t)
	b := &tracker.Bundle{
		People: []tracker.Person{{ID: "wang", Name: "王", Email: "wang@example.gov.cn"}},
		Units:  []tracker.Unit{{ID: "fzj", Name: "法制局", Head: "wang"}},
		Items:  []tracker.Item{{ID: "b", Title: "跨年", Unit: "fzj", Start: "2026-12-31 10:00", Due: "5wd"}},
	}
	if err := st.Update(func(tx tracker.Tx) error {
		if _, err := x.Import(tx, b, at("2026-12-21 10:00"), "test"); err != nil {
			return err
		}
		_, err := x.Decide(tx, at("2026-12-21 10:01"), tracker.CatchupLatest, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var told string
	if err := st.Update(func(tx tracker.Tx) error { // the assigned notice went out
		return tx.Deliveries(func(d *tracker.Delivery) error {
			d.State = tracker.DeliverySent
			told = d.To
			return tx.PutDelivery(d)
		})
	}); err != nil {
		t.Fatal(err)
	}
	var res tracker.ImportResult
	var after *tracker.Instance
	var corr []*tracker.Delivery
	if err := st.Update(func(tx tracker.Tx) error {
		before, err := tx.Instance("b")
		if err != nil {
			return err
		}
		if res, err = y.Recompute(tx, at("2027-01-06 09:00"), "test"); err != nil {
			return err
		}
		if after, err = tx.Instance("b"); err != nil {
			return err
		}
		if after.Deadline.Due.Equal(before.Deadline.Due) {
			t.Errorf("deadline did not move: %s", after.Deadline.Due)
		}
		return tx.Deliveries(func(d *tracker.Delivery) error {
			if d.Level == tracker.LevelCorrection {
				corr = append(corr, d)
				if d.OldDeadline == nil || !d.OldDeadline.Due.Equal(before.Deadline.Due) {
					t.Errorf("correction %s: old deadline %+v, want %s", d.Key, d.OldDeadline, before.Deadline.Due)
				}
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if res.Corrections != 1 || len(corr) != 1 || corr[0].To != told || corr[0].State != tracker.DeliveryQueued {
		t.Errorf("corrections %d, %+v; want one queued to %s", res.Corrections, corr, told)
	}
	if after.Revision != 1 || !after.Deadline.Due.Equal(at("2027-01-12 00:00")) {
		t.Errorf("after recompute: revision %d, due %s; want 1 and 2027-01-12 00:00", after.Revision, after.Deadline.Due)
	}
	// Recomputing again with the same calendar changes nothing.
	if err := st.Update(func(tx tracker.Tx) error {
		r, err := y.Recompute(tx, at("2027-01-06 09:05"), "test")
		if r.Corrections != 0 || r.InstancesUpdated != 0 {
			t.Errorf("second recompute: %+v, want nothing", r)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

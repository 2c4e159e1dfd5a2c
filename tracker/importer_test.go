package tracker_test

import (
	"testing"

	"duban/tracker"
)

// TestRecomputeAfterCalendarChange: a deadline in a year without holiday
// data is provisional; once that year's notice is loaded the open
// deadline is recomputed and the change recorded in its history.
func TestRecomputeAfterCalendarChange(t *testing.T) {
	st := mustStore(t)
	x := testExpander(t)
	b := &tracker.Bundle{
		Units: []tracker.Unit{{ID: "fzj", Name: "法制局"}},
		Items: []tracker.Item{{ID: "yearend", Title: "年终总结", Unit: "fzj", Start: "2026-12-30 10:00", Due: "2wd"}},
	}
	if err := st.Update(func(tx tracker.Tx) error { _, err := x.Import(tx, b, at("2026-12-30 10:00"), "test"); return err }); err != nil {
		t.Fatal(err)
	}
	get := func() *tracker.Instance {
		var in *tracker.Instance
		st.View(func(tx tracker.Tx) error { var err error; in, err = tx.Instance("yearend"); return err })
		return in
	}
	// Without 2027 data, Fri 1 Jan 2027 counts as a working day.
	if in := get(); in.Deadline.LastDay.String() != "2027-01-01" || !in.Deadline.Provisional {
		t.Fatalf("before: %s provisional=%v", in.Deadline.LastDay, in.Deadline.Provisional)
	}
	cal, err := x.Env.Cal.WithFiles([]tracker.NamedData{{Name: "2027.json", Data: []byte(
		`{"year":2027,"papers":["test"],"days":[{"name":"元旦","date":"2027-01-01","isOffDay":true}]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	x.Env.Cal = cal
	var res tracker.ImportResult
	if err := st.Update(func(tx tracker.Tx) error {
		var err error
		res, err = x.Recompute(tx, at("2026-12-31 10:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// 31 Dec (1), 1 Jan off, Mon 4 Jan (2).
	if in := get(); res.InstancesUpdated != 1 || in.Deadline.LastDay.String() != "2027-01-04" || in.Deadline.Provisional {
		t.Errorf("after: %s provisional=%v (updated %d)", in.Deadline.LastDay, in.Deadline.Provisional, res.InstancesUpdated)
	}
	var evs []tracker.Event
	st.View(func(tx tracker.Tx) error { var err error; evs, err = tx.Events("yearend"); return err })
	if len(evs) != 2 || evs[1].Action != "recomputed" {
		t.Errorf("history = %+v, want tracked then recomputed", evs)
	}
}

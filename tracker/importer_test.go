package tracker_test

import (
	"errors"
	"fmt"
	"strings"
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
		Items: []tracker.Item{{ID: "spring", Title: "春节值班安排", Unit: "fzj", Start: "2027-02-04 10:00", Due: "2wd"}},
	}
	if err := st.Update(func(tx tracker.Tx) error { _, err := x.Import(tx, b, at("2027-02-04 10:00"), "test"); return err }); err != nil {
		t.Fatal(err)
	}
	get := func() *tracker.Instance {
		var in *tracker.Instance
		st.View(func(tx tracker.Tx) error { var err error; in, err = tx.Instance("spring"); return err })
		return in
	}
	// Without 2027 data the law's days off count: 除夕 Fri 5 Feb to 初三
	// Mon 8 Feb, with 初一 (Sat) and 初二 (Sun) made up on Tue 9 and Wed 10
	// Feb (Art. 6); Thu 11 Feb (1), Fri 12 Feb (2).
	if in := get(); in.Deadline.LastDay.String() != "2027-02-12" || !in.Deadline.Provisional {
		t.Fatalf("before: %s provisional=%v", in.Deadline.LastDay, in.Deadline.Provisional)
	}
	// A notice in the shape of 2026's: 5–12 Feb off (bridging Thu 11 and
	// Fri 12), Sat 20 Feb a make-up working day.
	days := `{"name":"春节","date":"2027-02-20","isOffDay":false}`
	for d := 5; d <= 12; d++ {
		days += fmt.Sprintf(`,{"name":"春节","date":"2027-02-%02d","isOffDay":true}`, d)
	}
	cal, err := x.Env.Cal.WithFiles([]tracker.NamedData{{Name: "2027.json", Data: []byte(
		`{"year":2027,"papers":["test"],"days":[` + days + `]}`)}})
	if err != nil {
		t.Fatal(err)
	}
	x.Env.Cal = cal
	var res tracker.ImportResult
	if err := st.Update(func(tx tracker.Tx) error {
		var err error
		res, err = x.Recompute(tx, at("2027-02-04 12:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Mon 15 Feb (1), Tue 16 Feb (2).
	if in := get(); res.InstancesUpdated != 1 || in.Deadline.LastDay.String() != "2027-02-16" || in.Deadline.Provisional {
		t.Errorf("after: %s provisional=%v (updated %d)", in.Deadline.LastDay, in.Deadline.Provisional, res.InstancesUpdated)
	}
	var evs []tracker.Event
	st.View(func(tx tracker.Tx) error { var err error; evs, err = tx.Events("spring"); return err })
	if len(evs) != 2 || evs[1].Action != "recomputed" {
		t.Errorf("history = %+v, want tracked then recomputed", evs)
	}
}

// TestImportManyItemsIsOrderedAndAllOrNothing imports enough items for the
// expansion to run in parallel: every instance is stored with the
// deadline its own rule gives, and a bundle with two bad items reports
// the first in file order and stores nothing.
func TestImportManyItemsIsOrderedAndAllOrNothing(t *testing.T) {
	st := mustStore(t)
	x := testExpander(t)
	const n = 2000
	rules := []string{"3d", "2wd", "1mo", "5wd", "2026-10-30", "48h"}
	b := &tracker.Bundle{Units: []tracker.Unit{{ID: "fzj", Name: "法制局"}}}
	for i := range n {
		b.Items = append(b.Items, tracker.Item{ID: fmt.Sprintf("item-%04d", i), Title: "事项", Unit: "fzj",
			Start: "2026-09-24 16:00", Due: rules[i%len(rules)]})
	}
	now := at("2026-09-24 16:30")
	var res tracker.ImportResult
	if err := st.Update(func(tx tracker.Tx) error { var err error; res, err = x.Import(tx, b, now, "test"); return err }); err != nil {
		t.Fatal(err)
	}
	if res.ItemsAdded != n || res.InstancesAdded != n {
		t.Fatalf("imported %+v, want %d items and instances", res, n)
	}
	if err := st.View(func(tx tracker.Tx) error {
		for i, it := range b.Items {
			in, err := tx.Instance(it.ID)
			if err != nil {
				return err
			}
			want, err := x.Expand(&b.Items[i], now)
			if err != nil {
				return err
			}
			if !in.Deadline.Due.Equal(want[0].Deadline.Due) || in.Deadline.Rule != it.Due {
				t.Errorf("%s: stored deadline %s (%s), its rule %s gives %s", it.ID, in.Deadline.Due, in.Deadline.Rule, it.Due, want[0].Deadline.Due)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	bad := &tracker.Bundle{Units: b.Units}
	for i := range n {
		it := tracker.Item{ID: fmt.Sprintf("new-%04d", i), Title: "事项", Unit: "fzj", Start: "2026-09-24 16:00", Due: "3d"}
		if i == 700 || i == 1900 {
			it.Due = "three days"
		}
		bad.Items = append(bad.Items, it)
	}
	err := st.Update(func(tx tracker.Tx) error { _, err := x.Import(tx, bad, now, "test"); return err })
	if err == nil || !strings.Contains(err.Error(), "item new-0700") {
		t.Fatalf("import with bad items 700 and 1900: %v, want an error naming new-0700", err)
	}
	if err := st.View(func(tx tracker.Tx) error {
		if _, err := tx.Item("new-0000"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("new-0000 after the failed import: %v, want not found", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

package tracker_test

import (
	"testing"

	"duban/tracker"
)

// TestReimportOfUnchangedRecurringItemLeavesNewInstancesToMaterialise:
// importing the same recurring item again, weeks later, changes nothing;
// the instances that came within the horizon meanwhile are created by
// Materialise (the daemon's daily job), not by the import.
func TestReimportOfUnchangedRecurringItemLeavesNewInstancesToMaterialise(t *testing.T) {
	st := mustStore(t)
	x := testExpander(t)
	bundle := func() *tracker.Bundle {
		return &tracker.Bundle{
			Units: []tracker.Unit{{ID: "fzj", Name: "市法制局"}},
			Items: []tracker.Item{{ID: "weekly", Title: "周报", Unit: "fzj", Every: "weekly thu 12:00", From: "2026-09-01"}},
		}
	}
	count := func() (n int) {
		st.View(func(tx tracker.Tx) error {
			return tx.InstancesOf("weekly", func(*tracker.Instance) error { n++; return nil })
		})
		return n
	}
	imp := func(when string) tracker.ImportResult {
		var res tracker.ImportResult
		if err := st.Update(func(tx tracker.Tx) error {
			var err error
			res, err = x.Import(tx, bundle(), at(when), "test")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := imp("2026-10-10 09:00"); res.InstancesAdded == 0 {
		t.Fatalf("first import: %+v", res)
	}
	first := count()
	if res := imp("2026-10-31 09:00"); res.Changed() {
		t.Errorf("re-import three weeks later changed something: %+v", res)
	}
	if n := count(); n != first {
		t.Errorf("re-import created instances: %d, was %d", n, first)
	}
	var res tracker.ImportResult
	if err := st.Update(func(tx tracker.Tx) error {
		var err error
		res, err = x.Materialise(tx, at("2026-10-31 09:00"), "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// 40 days from 10 Oct reach Thu 19 Nov, from 31 Oct Thu 10 Dec: 3 more.
	if res.InstancesAdded != 3 || count() != first+3 {
		t.Errorf("Materialise added %d (now %d, was %d), want 3", res.InstancesAdded, count(), first)
	}
	// A changed item is expanded in full by the import: 40 days from
	// 20 Nov reach Wed 30 Dec, so Thu 17 and 24 Dec come in.
	b := bundle()
	b.Items[0].Title = "执行难案件进展周报"
	if err := st.Update(func(tx tracker.Tx) error { _, err := x.Import(tx, b, at("2026-11-20 09:00"), "test"); return err }); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != first+3+2 {
		t.Errorf("after importing the changed item at 20 Nov: %d instances, want %d", n, first+5)
	}
}

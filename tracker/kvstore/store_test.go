package kvstore_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/kv"
)

// mustOpen opens a fresh store in a temporary directory. Cleanup runs the
// consistency check (bbolt's and the due index's) and closes it.
func mustOpen(tb testing.TB) *kvstore.Store {
	tb.Helper()
	return mustOpenPath(tb, filepath.Join(tb.TempDir(), "duban.db"))
}

func mustOpenPath(tb testing.TB, path string) *kvstore.Store {
	tb.Helper()
	s, err := kvstore.Open(path, time.Second)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Check(); err != nil {
			tb.Errorf("Check: %v", err)
		}
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustUpdate(tb testing.TB, s tracker.Store, fn func(tracker.Tx) error) {
	tb.Helper()
	if err := s.Update(fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

func mustView(tb testing.TB, s tracker.Store, fn func(tracker.Tx) error) {
	tb.Helper()
	if err := s.View(fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

func fileSum(tb testing.TB, path string) [32]byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return sha256.Sum256(b)
}

var t0 = time.Date(2026, 9, 1, 16, 0, 0, 0, time.UTC) // 2026-09-02 00:00 in Beijing

// newInstance returns an instance of item due at due.
func newInstance(id, item string, st tracker.Status, due time.Time) *tracker.Instance {
	return &tracker.Instance{
		ID:     id,
		Item:   item,
		Unit:   "u1",
		Status: st,
		Start:  t0,
		Deadline: tracker.Deadline{
			LastDay: tracker.DateOf(due),
			Due:     due,
			Rule:    "10wd",
			Why:     "10 working days from 2026-09-01",
		},
		UpdatedAt: t0,
	}
}

func putInstances(tb testing.TB, s *kvstore.Store, ins ...*tracker.Instance) {
	tb.Helper()
	mustUpdate(tb, s, func(tx tracker.Tx) error {
		for _, in := range ins {
			if err := tx.PutInstance(in); err != nil {
				return err
			}
		}
		return nil
	})
}

// dueIDs returns the ids DueBefore(before) visits, in order.
func dueIDs(tb testing.TB, s *kvstore.Store, before time.Time) []string {
	tb.Helper()
	var ids []string
	mustView(tb, s, func(tx tracker.Tx) error {
		return tx.DueBefore(before, func(in *tracker.Instance) error {
			ids = append(ids, in.ID)
			return nil
		})
	})
	return ids
}

// Ensure that every entity reads back as it was written.
func TestRoundTrip(t *testing.T) { eachEngine(t, testRoundTrip) }

func testRoundTrip(t *testing.T, s *kvstore.Store) {
	office := tracker.Office{Name: "督查室", Email: "ducha@example.gov.cn"}
	person := &tracker.Person{ID: "zhang", Name: "张三", Email: "zhang@example.gov.cn", Source: "people.md:3"}
	unit := &tracker.Unit{ID: "fgw", Name: "发改委", Head: "zhang", Leader: "li", Source: "units.md:7"}
	policy := &tracker.Policy{ID: "std", Steps: []tracker.Step{
		{At: "-3wd", To: []string{"unit"}, Level: tracker.LevelReminder},
		{At: "+1d", Every: "1d", To: []string{"unit", "leader"}, Level: tracker.LevelOverdue},
	}, MaxExtension: "30d"}
	item := &tracker.Item{ID: "2026-031", Title: "关于……的通知", Doc: "洛政办〔2026〕31号",
		Unit: "fgw", CoUnits: []string{"cz"}, Due: "10wd", Policy: "std", TrackedAt: t0}
	in := newInstance("2026-031/fgw", "2026-031", tracker.StatusOpen, t0.Add(240*time.Hour))
	in.Limit = &tracker.Deadline{Due: t0.Add(480 * time.Hour), Timed: true}
	in.AssignedAt = t0
	in.Note = "进展"

	mustUpdate(t, s, func(tx tracker.Tx) error {
		return errors.Join(
			tx.PutOffice(office),
			tx.PutPerson(person),
			tx.PutUnit(unit),
			tx.PutPolicy(policy),
			tx.PutItem(item),
			tx.PutInstance(in),
			tx.PutMeta("daemon", []byte("ok")),
		)
	})

	mustView(t, s, func(tx tracker.Tx) error {
		check := func(name string, got, want any, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v", name, err)
			} else if !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %+v, want %+v", name, got, want)
			}
		}
		o, err := tx.Office()
		check("Office", o, office, err)
		p, err := tx.Person("zhang")
		check("Person", p, person, err)
		u, err := tx.Unit("fgw")
		check("Unit", u, unit, err)
		pol, err := tx.Policy("std")
		check("Policy", pol, policy, err)
		it, err := tx.Item("2026-031")
		check("Item", it, item, err)
		got, err := tx.Instance("2026-031/fgw")
		check("Instance", got, in, err)
		m, err := tx.Meta("daemon")
		check("Meta", m, []byte("ok"), err)
		m, err = tx.Meta("absent")
		check("Meta(absent)", m, []byte(nil), err)

		var units []*tracker.Unit
		err = tx.Units(func(u *tracker.Unit) error { units = append(units, u); return nil })
		check("Units", units, []*tracker.Unit{unit}, err)
		var items []*tracker.Item
		err = tx.Items(func(it *tracker.Item) error { items = append(items, it); return nil })
		check("Items", items, []*tracker.Item{item}, err)
		return nil
	})
}

// Ensure that an empty store has a zero office and not-found entities.
func TestNotFound(t *testing.T) { eachEngine(t, testNotFound) }

func testNotFound(t *testing.T, s *kvstore.Store) {
	mustView(t, s, func(tx tracker.Tx) error {
		o, err := tx.Office()
		if err != nil || o != (tracker.Office{}) {
			t.Errorf("Office() = %+v, %v; want zero, nil", o, err)
		}
		gets := map[string]func() error{
			"person":   func() error { _, err := tx.Person("x"); return err },
			"unit":     func() error { _, err := tx.Unit("x"); return err },
			"policy":   func() error { _, err := tx.Policy("x"); return err },
			"item":     func() error { _, err := tx.Item("x"); return err },
			"instance": func() error { _, err := tx.Instance("x"); return err },
		}
		for kind, get := range gets {
			err := get()
			if !errors.Is(err, tracker.ErrNotFound) {
				t.Errorf("%s: err = %v, want ErrNotFound", kind, err)
			} else if want := kind + ` "x": not found`; err.Error() != want {
				t.Errorf("%s: err = %q, want %q", kind, err, want)
			}
		}
		evs, err := tx.Events("x")
		if err != nil || len(evs) != 0 {
			t.Errorf("Events(x) = %v, %v; want none", evs, err)
		}
		return nil
	})
}

// Ensure that the write methods of a View transaction fail and write nothing.
func TestViewIsReadOnly(t *testing.T) { eachEngine(t, testViewIsReadOnly) }

func testViewIsReadOnly(t *testing.T, s *kvstore.Store) {
	unit := &tracker.Unit{ID: "fgw", Name: "发改委"}
	mustUpdate(t, s, func(tx tracker.Tx) error { return tx.PutUnit(unit) })
	in := newInstance("i", "i", tracker.StatusOpen, t0)
	mustView(t, s, func(tx tracker.Tx) error {
		writes := map[string]error{
			"PutOffice":   tx.PutOffice(tracker.Office{Name: "x"}),
			"PutPerson":   tx.PutPerson(&tracker.Person{ID: "p"}),
			"PutUnit":     tx.PutUnit(unit), // identical value: still an error
			"PutPolicy":   tx.PutPolicy(&tracker.Policy{ID: "p"}),
			"PutItem":     tx.PutItem(&tracker.Item{ID: "i"}),
			"PutInstance": tx.PutInstance(in),
			"AppendEvent": tx.AppendEvent("i", tracker.Event{Action: "done"}),
			"PutMeta":     tx.PutMeta("k", []byte("v")),
		}
		for name, err := range writes {
			if !errors.Is(err, kv.ErrTxNotWritable) {
				t.Errorf("%s in View: err = %v, want ErrTxNotWritable", name, err)
			}
		}
		return nil
	})
	if ids := dueIDs(t, s, time.Time{}); len(ids) != 0 {
		t.Errorf("due index after read-only writes: %v", ids)
	}
}

// Ensure that empty ids and ids with NUL are refused.
func TestBadIDs(t *testing.T) { eachEngine(t, testBadIDs) }

func testBadIDs(t *testing.T, s *kvstore.Store) {
	err := s.Update(func(tx tracker.Tx) error {
		for _, err := range []error{
			tx.PutUnit(&tracker.Unit{}),
			tx.PutInstance(newInstance("", "a", tracker.StatusOpen, t0)),
			tx.PutInstance(newInstance("a\x00b", "a", tracker.StatusOpen, t0)),
			tx.AppendEvent("", tracker.Event{}),
			tx.PutMeta("", nil),
		} {
			if err == nil {
				t.Errorf("bad id accepted")
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Ensure that PutInstance keeps the due index in step with status and deadline.
func TestPutInstanceIndex(t *testing.T) { eachEngine(t, testPutInstanceIndex) }

func testPutInstanceIndex(t *testing.T, s *kvstore.Store) {
	far := t0.Add(1000 * time.Hour)
	a := newInstance("a", "a", tracker.StatusOpen, t0)
	b := newInstance("b", "b", tracker.StatusPending, t0.Add(time.Hour))
	c := newInstance("c", "c", tracker.StatusWithdrawn, t0)
	putInstances(t, s, a, b, c)
	if got, want := dueIDs(t, s, far), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("after insert: due = %v, want %v", got, want)
	}

	// open → done removes a from the index.
	a.Status, a.DoneAt = tracker.StatusDone, t0
	putInstances(t, s, a)
	if got, want := dueIDs(t, s, far), []string{"b"}; !slices.Equal(got, want) {
		t.Fatalf("after done: due = %v, want %v", got, want)
	}

	// A deadline change moves b: now after the cutoff t0+2h.
	b.Deadline.Due = t0.Add(3 * time.Hour)
	putInstances(t, s, b)
	if got := dueIDs(t, s, t0.Add(2*time.Hour)); len(got) != 0 {
		t.Fatalf("after extension: due before t0+2h = %v, want none", got)
	}
	if got, want := dueIDs(t, s, far), []string{"b"}; !slices.Equal(got, want) {
		t.Fatalf("after extension: due = %v, want %v", got, want)
	}

	// done → open (reopened) indexes a again; a status change between
	// active statuses with the same deadline keeps one entry.
	a.Status = tracker.StatusReturned
	putInstances(t, s, a)
	a.Status = tracker.StatusOpen
	putInstances(t, s, a)
	if got, want := dueIDs(t, s, far), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("after reopen: due = %v, want %v", got, want)
	}

	// Re-putting the same values writes nothing.
	before := dbSum(t, s)
	putInstances(t, s, a, b, c)
	if dbSum(t, s) != before {
		t.Errorf("re-put of identical instances changed the file")
	}
	if got, want := dueIDs(t, s, far), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("after re-put: due = %v, want %v", got, want)
	}
}

// Ensure that DueBefore visits active instances in deadline order, stops
// at the cutoff (exclusive) and on ErrStop.
func TestDueBefore(t *testing.T) { eachEngine(t, testDueBefore) }

func testDueBefore(t *testing.T, s *kvstore.Store) {
	old := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC) // negative Unix time sorts first
	putInstances(t, s,
		newInstance("late", "late", tracker.StatusOpen, t0.Add(48*time.Hour)),
		newInstance("z-same", "z", tracker.StatusOpen, t0),
		newInstance("a-same", "a", tracker.StatusOpen, t0),
		newInstance("frac", "frac", tracker.StatusOpen, t0.Add(500*time.Millisecond)),
		newInstance("ancient", "ancient", tracker.StatusOpen, old),
		newInstance("done", "done", tracker.StatusDone, t0.Add(-time.Hour)),
		newInstance("early", "early", tracker.StatusReturned, t0.Add(-time.Hour)),
	)
	tests := []struct {
		before time.Time
		want   []string
	}{
		// Order is by whole second, then id: frac sorts among the t0 ties.
		{time.Time{}, []string{"ancient", "early", "a-same", "frac", "z-same", "late"}},
		{t0, []string{"ancient", "early"}}, // exclusive: due == t0 is not before t0
		{t0.Add(time.Nanosecond), []string{"ancient", "early", "a-same", "z-same"}},
		{t0.Add(600 * time.Millisecond), []string{"ancient", "early", "a-same", "frac", "z-same"}},
		{t0.Add(time.Second), []string{"ancient", "early", "a-same", "frac", "z-same"}},
		{old, nil},
		{old.Add(time.Second), []string{"ancient"}},
	}
	for _, tt := range tests {
		if got := dueIDs(t, s, tt.before); !slices.Equal(got, tt.want) {
			t.Errorf("DueBefore(%v) = %v, want %v", tt.before, got, tt.want)
		}
	}

	// ErrStop ends the scan without error; other errors come back.
	var got []string
	mustView(t, s, func(tx tracker.Tx) error {
		return tx.DueBefore(time.Time{}, func(in *tracker.Instance) error {
			got = append(got, in.ID)
			if len(got) == 2 {
				return fmt.Errorf("enough: %w", tracker.ErrStop)
			}
			return nil
		})
	})
	if want := []string{"ancient", "early"}; !slices.Equal(got, want) {
		t.Errorf("DueBefore with ErrStop visited %v, want %v", got, want)
	}
	boom := errors.New("boom")
	err := s.View(func(tx tracker.Tx) error {
		return tx.DueBefore(time.Time{}, func(*tracker.Instance) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Errorf("DueBefore error = %v, want boom", err)
	}
}

// Ensure that an Update may change instances while DueBefore walks them:
// each overdue instance is visited once, including one whose extended
// deadline is still before the cutoff.
func TestDueBeforeWritesDuringScan(t *testing.T) { eachEngine(t, testDueBeforeWritesDuringScan) }

func testDueBeforeWritesDuringScan(t *testing.T, s *kvstore.Store) {
	var ins []*tracker.Instance
	for i := range 50 {
		ins = append(ins, newInstance(fmt.Sprintf("i%02d", i), "i", tracker.StatusOpen, t0.Add(time.Duration(i)*time.Minute)))
	}
	putInstances(t, s, ins...)
	cut := t0.Add(30 * time.Minute) // i00..i29 overdue
	visits := map[string]int{}
	mustUpdate(t, s, func(tx tracker.Tx) error {
		return tx.DueBefore(cut, func(in *tracker.Instance) error {
			visits[in.ID]++
			switch {
			case in.ID == "i05" && visits[in.ID] == 1:
				in.Deadline.Due = cut.Add(-time.Second) // moved, still overdue
			case in.ID < "i15":
				in.Status = tracker.StatusDone
			default:
				in.Deadline.Due = cut.Add(time.Hour) // extended past the cutoff
			}
			return tx.PutInstance(in)
		})
	})
	for i := range 30 {
		id := fmt.Sprintf("i%02d", i)
		want := 1
		if id == "i05" {
			want = 2
		}
		if visits[id] != want {
			t.Errorf("%s visited %d times, want %d", id, visits[id], want)
		}
	}
	if len(visits) != 30 {
		t.Errorf("visited %d instances, want 30", len(visits))
	}
	if got := dueIDs(t, s, cut); len(got) != 0 {
		t.Errorf("still due before cutoff: %v", got)
	}
}

// Ensure that InstancesOf tells items apart whose ids share a prefix.
func TestInstancesOf(t *testing.T) { eachEngine(t, testInstancesOf) }

func testInstancesOf(t *testing.T, s *kvstore.Store) {
	open := tracker.StatusOpen
	putInstances(t, s,
		newInstance("a", "a", open, t0),
		newInstance("a/2026-09-03/u1", "a", open, t0),
		newInstance("a/u2", "a", open, t0),
		newInstance("a-x/u1", "a-x", open, t0),
		newInstance("a.b/u1", "a.b", open, t0),
		newInstance("a/b/u1", "a/b", open, t0),
		newInstance("ab", "ab", open, t0),
		newInstance("ab/u1", "ab", open, t0),
		newInstance("b/u1", "b", open, t0),
	)
	ids := func(item string, stopAfter int) []string {
		var got []string
		mustView(t, s, func(tx tracker.Tx) error {
			return tx.InstancesOf(item, func(in *tracker.Instance) error {
				got = append(got, in.ID)
				if len(got) == stopAfter {
					return tracker.ErrStop
				}
				return nil
			})
		})
		return got
	}
	tests := []struct {
		item      string
		stopAfter int
		want      []string
	}{
		{"a", 0, []string{"a", "a/2026-09-03/u1", "a/u2"}},
		{"a", 1, []string{"a"}},
		{"a", 2, []string{"a", "a/2026-09-03/u1"}},
		{"a/b", 0, []string{"a/b/u1"}},
		{"ab", 0, []string{"ab", "ab/u1"}},
		{"a-x", 0, []string{"a-x/u1"}},
		{"b", 0, []string{"b/u1"}},
		{"c", 0, nil},
		{"", 0, nil},
	}
	for _, tt := range tests {
		if got := ids(tt.item, tt.stopAfter); !slices.Equal(got, tt.want) {
			t.Errorf("InstancesOf(%q) stopping after %d = %v, want %v", tt.item, tt.stopAfter, got, tt.want)
		}
	}

	var all []string
	mustView(t, s, func(tx tracker.Tx) error {
		return tx.Instances(func(in *tracker.Instance) error { all = append(all, in.ID); return nil })
	})
	if !slices.IsSorted(all) || len(all) != 9 {
		t.Errorf("Instances = %v, want all 9 in id order", all)
	}
}

// Ensure that history is kept per instance in append order, across
// transactions, and that ids sharing a prefix do not mix.
func TestHistory(t *testing.T) { eachEngine(t, testHistory) }

func testHistory(t *testing.T, s *kvstore.Store) {
	ids := []string{"a", "a/1", "ab", "a"}
	want := map[string][]tracker.Event{}
	for round := range 3 {
		mustUpdate(t, s, func(tx tracker.Tx) error {
			for i, id := range ids {
				e := tracker.Event{At: t0.Add(time.Duration(round*10+i) * time.Minute), Actor: "office",
					Action: "progress", Note: fmt.Sprintf("%d-%d", round, i)}
				want[id] = append(want[id], e)
				if err := tx.AppendEvent(id, e); err != nil {
					return err
				}
			}
			return nil
		})
	}
	mustView(t, s, func(tx tracker.Tx) error {
		for id, w := range want {
			got, err := tx.Events(id)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("Events(%q) = %v, want %v", id, got, w)
			}
		}
		return nil
	})
}

// Ensure that an Update whose fn fails, or panics, keeps nothing and
// releases the writer lock.
func TestUpdateRollback(t *testing.T) { eachEngine(t, testUpdateRollback) }

func testUpdateRollback(t *testing.T, s *kvstore.Store) {
	boom := errors.New("boom")
	write := func(tx tracker.Tx) {
		if err := errors.Join(
			tx.PutOffice(tracker.Office{Name: "x"}),
			tx.PutUnit(&tracker.Unit{ID: "u"}),
			tx.PutInstance(newInstance("i", "i", tracker.StatusOpen, t0)),
			tx.AppendEvent("i", tracker.Event{Action: "tracked"}),
			tx.PutMeta("k", []byte("v")),
		); err != nil {
			t.Fatal(err)
		}
	}
	before := dbSum(t, s)
	err := s.Update(func(tx tracker.Tx) error {
		write(tx)
		return fmt.Errorf("later: %w", boom)
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want boom", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic in fn did not propagate")
			}
		}()
		_ = s.Update(func(tx tracker.Tx) error {
			write(tx)
			panic("fn panicked")
		})
	}()
	if dbSum(t, s) != before {
		t.Errorf("rolled-back updates changed the file")
	}
	mustView(t, s, func(tx tracker.Tx) error {
		if o, _ := tx.Office(); o != (tracker.Office{}) {
			t.Errorf("office kept: %+v", o)
		}
		if _, err := tx.Unit("u"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("unit kept: %v", err)
		}
		if _, err := tx.Instance("i"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("instance kept: %v", err)
		}
		if evs, _ := tx.Events("i"); len(evs) != 0 {
			t.Errorf("events kept: %v", evs)
		}
		if m, _ := tx.Meta("k"); m != nil {
			t.Errorf("meta kept: %q", m)
		}
		return nil
	})
	if ids := dueIDs(t, s, time.Time{}); len(ids) != 0 {
		t.Errorf("due index kept: %v", ids)
	}
	// The writer lock was released: a new Update commits.
	mustUpdate(t, s, func(tx tracker.Tx) error { return tx.PutUnit(&tracker.Unit{ID: "u2"}) })
}

// fill writes a small but complete data set: fillEntities and one event
// per instance.
func fill(tb testing.TB, s *kvstore.Store) {
	tb.Helper()
	fillEntities(tb, s)
	mustUpdate(tb, s, func(tx tracker.Tx) error {
		var errs []error
		for i := range 200 {
			errs = append(errs, tx.AppendEvent(fmt.Sprintf("item%03d/u1", i), tracker.Event{At: t0, Action: "tracked"}))
		}
		return errors.Join(errs...)
	})
}

// fillEntities writes the office, a person, a policy and 200 units, items
// and instances (133 of them active); the same values on every call.
func fillEntities(tb testing.TB, s *kvstore.Store) {
	tb.Helper()
	mustUpdate(tb, s, func(tx tracker.Tx) error {
		errs := []error{
			tx.PutOffice(tracker.Office{Name: "督查室"}),
			tx.PutPerson(&tracker.Person{ID: "p1", Name: "甲"}),
			tx.PutPolicy(&tracker.Policy{ID: "std"}),
			tx.PutMeta("schema_version", []byte(strconv.Itoa(kvstore.SchemaVersion))),
		}
		for i := range 200 {
			id := fmt.Sprintf("item%03d", i)
			st := tracker.StatusOpen
			if i%3 == 0 {
				st = tracker.StatusDone
			}
			errs = append(errs,
				tx.PutUnit(&tracker.Unit{ID: fmt.Sprintf("u%03d", i), Name: "单位"}),
				tx.PutItem(&tracker.Item{ID: id, Title: "事项", TrackedAt: t0}),
				tx.PutInstance(newInstance(id+"/u1", id, st, t0.Add(time.Duration(i)*time.Hour))),
			)
		}
		return errors.Join(errs...)
	})
}

// Ensure that re-writing identical values, or an Update that only reads,
// leaves the file byte-for-byte unchanged, also across a reopen.
func TestIdempotentUpdateLeavesFileUnchanged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "duban.db")
	s, err := kvstore.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)

	s = mustOpenPath(t, path)
	if fileSum(t, path) != before {
		t.Fatal("Open of an existing database changed the file")
	}
	fillEntities(t, s)
	if fileSum(t, path) != before {
		t.Error("an Update that wrote identical values changed the file")
	}
	mustUpdate(t, s, func(tx tracker.Tx) error {
		return tx.Instances(func(in *tracker.Instance) error { return tx.PutInstance(in) })
	})
	mustUpdate(t, s, func(tx tracker.Tx) error {
		_, err := tx.Instance("item001/u1")
		return err
	})
	if fileSum(t, path) != before {
		t.Error("an Update that re-put or only read changed the file")
	}
	// A real change does commit.
	mustUpdate(t, s, func(tx tracker.Tx) error { return tx.PutOffice(tracker.Office{Name: "新"}) })
	if fileSum(t, path) == before {
		t.Error("a changed office did not change the file")
	}
}

// Document the bbolt behaviour Update works around: committing a
// read-write transaction that changed nothing still writes a new freelist
// and meta page, so the file changes.
func TestBoltEmptyCommitRewritesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)
	if err := db.Update(func(tx *bolt.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if fileSum(t, path) == before {
		t.Error("bbolt's empty commit left the file unchanged; Update's rollback-when-clean is no longer needed")
	}
}

// Ensure that a new file has mode 0600 and the schema version.
func TestNewFile(t *testing.T) {
	s := mustOpen(t)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("mode = %v, want 0600", perm)
	}
	mustView(t, s, func(tx tracker.Tx) error {
		v, err := tx.Meta("schema_version")
		if want := strconv.Itoa(kvstore.SchemaVersion); err != nil || string(v) != want {
			t.Errorf("schema_version = %q, %v; want %q", v, err, want)
		}
		return nil
	})
}

// Ensure that a database of a newer schema, or not a duban database, is refused.
func TestOpenRefuses(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { testOpenRefuses(t, e.db(t), e.db(t)) })
	}
}

func testOpenRefuses(t *testing.T, newer, foreign string) {
	s, err := kvstore.Open(newer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, func(tx tracker.Tx) error {
		return tx.PutMeta("schema_version", []byte(strconv.Itoa(kvstore.SchemaVersion+1)))
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// foreign: another program's buckets, no meta
	rawUpdate(t, foreign, func(tx kv.Tx) error {
		var names [][]byte
		if err := tx.ForEachBucket(func(name []byte) error { names = append(names, slices.Clone(name)); return nil }); err != nil {
			return err
		}
		for _, name := range names {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
		_, err := tx.CreateBucketIfNotExists([]byte("other"))
		return err
	})

	tests := []struct {
		path, want string
	}{
		{newer, fmt.Sprintf("schema version %d is newer", kvstore.SchemaVersion+1)},
		{foreign, "not a duban database"},
	}
	for _, tt := range tests {
		for _, open := range []func(string, time.Duration) (*kvstore.Store, error){kvstore.Open, kvstore.OpenReadOnly} {
			s, err := open(tt.path, time.Second)
			if err == nil {
				s.Close()
				t.Errorf("open %s succeeded", tt.path)
			} else if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("open %s: err = %v, want %q", tt.path, err, tt.want)
			}
		}
	}
}

// Ensure that OpenReadOnly reads, refuses writes and missing files.
func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "duban.db")
	if _, err := kvstore.OpenReadOnly(path, time.Second); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly(missing) err = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly created the file")
	}
	s, err := kvstore.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)

	r1, err := kvstore.OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := kvstore.OpenReadOnly(path, time.Second) // readers share the lock
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if n := len(dueIDs(t, r2, time.Time{})); n != 133 {
		t.Errorf("read-only DueBefore saw %d instances, want 133", n)
	}
	if err := r1.Update(func(tx tracker.Tx) error { return nil }); err == nil {
		t.Error("Update on a read-only store succeeded")
	}
	if err := r1.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if fileSum(t, path) != before {
		t.Error("read-only use changed the file")
	}
}

// Ensure that Check reports a due index out of step with the instances.
func TestCheckFindsBrokenIndex(t *testing.T) { eachEngineDB(t, testCheckFindsBrokenIndex) }

func testCheckFindsBrokenIndex(t *testing.T, path string) {
	s, err := kvstore.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	putInstances(t, s, newInstance("a", "a", tracker.StatusOpen, t0), newInstance("b", "b", tracker.StatusDone, t0))
	if err := s.Check(); err != nil {
		t.Fatalf("Check of a good store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx kv.Tx) error {
		due := tx.Bucket([]byte("due"))
		k, _ := due.Cursor().First() // a's entry
		k = slices.Clone(k)
		if err := due.Delete(k); err != nil {
			return err
		}
		stale := append(slices.Clone(k[:8]), 'b') // b is done
		return due.Put(stale, nil)
	})
	s, err = kvstore.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Check()
	if err == nil || !strings.Contains(err.Error(), `"a" is missing`) || !strings.Contains(err.Error(), `"b" in status done`) {
		t.Errorf("Check = %v, want both problems", err)
	}
}

// Ensure that Backup, run while updates go on, writes a 0600 copy that
// opens, passes Check and holds the data.
func TestBackup(t *testing.T) {
	s := mustOpen(t)
	fill(t, s)
	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		var err error
		for i := 0; err == nil; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			err = s.Update(func(tx tracker.Tx) error {
				return tx.PutMeta("tick", []byte(fmt.Sprint(i)))
			})
		}
		done <- err
	}()
	dst := filepath.Join(t.TempDir(), "backup.db")
	_, err := s.Backup(dst)
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatalf("concurrent update: %v", werr)
	}
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if _, err := s.Backup(s.Path()); !errors.Is(err, kvstore.ErrLiveDB) {
		t.Error("Backup onto the database itself succeeded")
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("backup mode = %v, want 0600", perm)
	}
	b := mustOpenPath(t, dst) // cleanup runs Check
	if got, want := dueIDs(t, b, time.Time{}), dueIDs(t, s, time.Time{}); !slices.Equal(got, want) || len(got) != 133 {
		t.Errorf("backup due = %d ids, store %d", len(got), len(want))
	}
	mustView(t, b, func(tx tracker.Tx) error {
		evs, err := tx.Events("item007/u1")
		if err != nil || len(evs) != 1 {
			t.Errorf("backup Events = %v, %v", evs, err)
		}
		o, err := tx.Office()
		if err != nil || o.Name != "督查室" {
			t.Errorf("backup Office = %+v, %v", o, err)
		}
		return nil
	})
	entries, err := os.ReadDir(filepath.Dir(dst))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("backup left temporary files: %v", entries)
	}
}

// Ensure that AssignedBetween visits active, assigned instances in
// [from, to) in AssignedAt order, and follows reassignment and completion.
func TestAssignedBetween(t *testing.T) { eachEngine(t, testAssignedBetween) }

func testAssignedBetween(t *testing.T, s *kvstore.Store) {
	assigned := func(id string, st tracker.Status, at time.Time) *tracker.Instance {
		in := newInstance(id, id, st, t0.Add(1000*time.Hour))
		in.AssignedAt = at
		return in
	}
	a := assigned("a", tracker.StatusOpen, t0)
	b := assigned("b", tracker.StatusOpen, t0.Add(time.Hour))
	putInstances(t, s,
		a, b,
		assigned("pending", tracker.StatusPending, time.Time{}),
		assigned("done", tracker.StatusDone, t0),
		assigned("early", tracker.StatusOpen, t0.Add(-time.Nanosecond)),
		assigned("frac", tracker.StatusReturned, t0.Add(500*time.Millisecond)),
	)
	ids := func(from, to time.Time) []string {
		var got []string
		mustView(t, s, func(tx tracker.Tx) error {
			return tx.AssignedBetween(from, to, func(in *tracker.Instance) error {
				got = append(got, in.ID)
				return nil
			})
		})
		return got
	}
	tests := []struct {
		from, to time.Time
		want     []string
	}{
		{t0, t0.Add(time.Hour), []string{"a", "frac"}},
		{t0, t0.Add(time.Hour + time.Nanosecond), []string{"a", "frac", "b"}},
		{t0.Add(400 * time.Millisecond), t0.Add(2 * time.Hour), []string{"frac", "b"}},
		{t0.Add(600 * time.Millisecond), t0.Add(2 * time.Hour), []string{"b"}},
		{t0.Add(-time.Second), t0.Add(time.Millisecond), []string{"early", "a"}},
		{t0.Add(-time.Second), t0, []string{"early"}},
		{time.Time{}, time.Time{}, []string{"early", "a", "frac", "b"}},
		{t0.Add(time.Second), time.Time{}, []string{"b"}},
		{t0.Add(2 * time.Hour), t0.Add(3 * time.Hour), nil},
	}
	for _, tt := range tests {
		if got := ids(tt.from, tt.to); !slices.Equal(got, tt.want) {
			t.Errorf("AssignedBetween(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}

	b.AssignedAt = t0.Add(-time.Hour) // reassigned: moves
	a.Status = tracker.StatusDone     // done: leaves
	putInstances(t, s, a, b)
	if got, want := ids(time.Time{}, time.Time{}), []string{"b", "early", "frac"}; !slices.Equal(got, want) {
		t.Errorf("after reassign and done: %v, want %v", got, want)
	}
	// The due index followed too: a left it.
	if got, want := dueIDs(t, s, time.Time{}), []string{"b", "early", "frac", "pending"}; !slices.Equal(got, want) {
		t.Errorf("due after reassign and done: %v, want %v", got, want)
	}
}

// Ensure that Policies visits every policy in id order and stops on ErrStop.
func TestPolicies(t *testing.T) { eachEngine(t, testPolicies) }

func testPolicies(t *testing.T, s *kvstore.Store) {
	mustUpdate(t, s, func(tx tracker.Tx) error {
		return errors.Join(
			tx.PutPolicy(&tracker.Policy{ID: "b", MaxExtension: "10d"}),
			tx.PutPolicy(&tracker.Policy{ID: "a"}),
			tx.PutPolicy(&tracker.Policy{ID: "c"}),
		)
	})
	var got []string
	mustView(t, s, func(tx tracker.Tx) error {
		return tx.Policies(func(p *tracker.Policy) error {
			got = append(got, p.ID)
			if p.ID == "b" {
				if p.MaxExtension != "10d" {
					t.Errorf("policy b = %+v", p)
				}
				return tracker.ErrStop
			}
			return nil
		})
	})
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Policies visited %v, want %v", got, want)
	}
}

// Ensure that reads in an Update see its earlier writes, buffered or not.
func TestReadYourWrites(t *testing.T) { eachEngine(t, testReadYourWrites) }

func testReadYourWrites(t *testing.T, s *kvstore.Store) {
	putInstances(t, s, newInstance("m", "m", tracker.StatusOpen, t0))
	mustUpdate(t, s, func(tx tracker.Tx) error {
		// "a" sorts before "m": buffered; "z" after: written through.
		for _, id := range []string{"z", "a"} {
			if err := tx.PutInstance(newInstance(id, id, tracker.StatusOpen, t0.Add(time.Hour))); err != nil {
				return err
			}
			if err := tx.AppendEvent(id, tracker.Event{Action: "tracked"}); err != nil {
				return err
			}
			in, err := tx.Instance(id)
			if err != nil || in.ID != id {
				t.Errorf("Instance(%q) in the writing tx = %v, %v", id, in, err)
			}
		}
		done := newInstance("m", "m", tracker.StatusDone, t0)
		if err := tx.PutInstance(done); err != nil {
			return err
		}
		var due []string
		if err := tx.DueBefore(time.Time{}, func(in *tracker.Instance) error {
			due = append(due, in.ID)
			return nil
		}); err != nil {
			return err
		}
		if want := []string{"a", "z"}; !slices.Equal(due, want) {
			t.Errorf("DueBefore in the writing tx = %v, want %v", due, want)
		}
		var all []string
		if err := tx.Instances(func(in *tracker.Instance) error { all = append(all, in.ID); return nil }); err != nil {
			return err
		}
		if want := []string{"a", "m", "z"}; !slices.Equal(all, want) {
			t.Errorf("Instances in the writing tx = %v, want %v", all, want)
		}
		if evs, err := tx.Events("a"); err != nil || len(evs) != 1 {
			t.Errorf("Events(a) in the writing tx = %v, %v", evs, err)
		}
		if err := tx.PutMeta("k", []byte("v")); err != nil {
			return err
		}
		if v, _ := tx.Meta("k"); string(v) != "v" {
			t.Errorf("Meta(k) in the writing tx = %q", v)
		}
		return nil
	})
}

// Ensure that random operations, in random order, over many transactions
// (some rolled back) keep the instances and both indexes equal to a
// simple model.
func TestRandomOperations(t *testing.T) { eachEngine(t, testRandomOperations) }

func testRandomOperations(t *testing.T, s *kvstore.Store) {
	rng := rand.New(rand.NewPCG(7, 11))
	model := map[string]tracker.Instance{}
	statuses := []tracker.Status{tracker.StatusPending, tracker.StatusOpen, tracker.StatusReturned, tracker.StatusDone, tracker.StatusWithdrawn}
	errRollback := errors.New("rollback")
	for round := range 40 {
		next := maps.Clone(model)
		fail := round%5 == 4
		err := s.Update(func(tx tracker.Tx) error {
			for range 1 + rng.IntN(400) {
				id := fmt.Sprintf("it%03d/u%d", rng.IntN(300), rng.IntN(3))
				in, ok := next[id]
				if !ok {
					in = *newInstance(id, id[:5], tracker.StatusOpen, t0)
				}
				switch rng.IntN(4) {
				case 0:
					in.Status = statuses[rng.IntN(len(statuses))]
				case 1:
					in.Deadline.Due = t0.Add(time.Duration(rng.IntN(100)) * time.Hour)
				case 2:
					in.AssignedAt = time.Time{}
					if rng.IntN(3) > 0 {
						in.AssignedAt = t0.Add(time.Duration(rng.IntN(50)) * time.Minute)
					}
				case 3:
					in.Note = fmt.Sprint(rng.IntN(3))
				}
				if err := tx.PutInstance(&in); err != nil {
					return err
				}
				next[id] = in
			}
			if fail {
				return errRollback
			}
			return nil
		})
		if fail {
			if !errors.Is(err, errRollback) {
				t.Fatalf("round %d: %v", round, err)
			}
		} else {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			model = next
		}
		// Check is a query per index entry and instance on PostgreSQL:
		// there, every eighth round (and the cleanup) is enough.
		if s.Engine() == kvstore.EngineBolt || round%8 == 7 {
			if err := s.Check(); err != nil {
				t.Fatalf("round %d: Check: %v", round, err)
			}
		}
		compareModel(t, s, model)
	}
}

func compareModel(t *testing.T, s *kvstore.Store, model map[string]tracker.Instance) {
	t.Helper()
	type entry struct {
		at time.Time
		id string
	}
	var wantDue, wantAssigned []entry
	for id, in := range model {
		if in.Status.Active() {
			wantDue = append(wantDue, entry{in.Deadline.Due, id})
			if !in.AssignedAt.IsZero() {
				wantAssigned = append(wantAssigned, entry{in.AssignedAt, id})
			}
		}
	}
	order := func(a, b entry) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	}
	slices.SortFunc(wantDue, order)
	slices.SortFunc(wantAssigned, order)
	ids := func(es []entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.id)
		}
		return out
	}
	mustView(t, s, func(tx tracker.Tx) error {
		var n int
		err := tx.Instances(func(in *tracker.Instance) error {
			n++
			if want := model[in.ID]; !reflect.DeepEqual(*in, want) {
				t.Errorf("instance %s = %+v, want %+v", in.ID, *in, want)
			}
			return nil
		})
		if err != nil || n != len(model) {
			t.Errorf("Instances: %d, %v; want %d", n, err, len(model))
		}
		var due, assigned []string
		if err := tx.DueBefore(time.Time{}, func(in *tracker.Instance) error { due = append(due, in.ID); return nil }); err != nil {
			return err
		}
		if err := tx.AssignedBetween(time.Time{}, time.Time{}, func(in *tracker.Instance) error { assigned = append(assigned, in.ID); return nil }); err != nil {
			return err
		}
		if want := ids(wantDue); !slices.Equal(due, want) {
			t.Errorf("DueBefore = %v\nwant %v", due, want)
		}
		if want := ids(wantAssigned); !slices.Equal(assigned, want) {
			t.Errorf("AssignedBetween = %v\nwant %v", assigned, want)
		}
		return nil
	})
}

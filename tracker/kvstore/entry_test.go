package kvstore_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/kv"
)

// entryFromInstance is what DueEntries must give for in, whose item has
// title and doc: the fields of a list row, the others zero.
func entryFromInstance(in *tracker.Instance, title, doc string) tracker.DueEntry {
	e := tracker.DueEntry{Title: title, Doc: doc, HasItem: true}
	e.In = tracker.Instance{ID: in.ID, Item: in.Item, Unit: in.Unit, Co: in.Co, Status: in.Status, Note: in.Note}
	strip := func(d tracker.Deadline) tracker.Deadline {
		return tracker.Deadline{LastDay: d.LastDay, Due: d.Due.UTC(), Timed: d.Timed, Provisional: d.Provisional}
	}
	e.In.Deadline = strip(in.Deadline)
	if in.Limit != nil {
		l := strip(*in.Limit)
		e.In.Limit = &l
	}
	if in.Extensions > 0 {
		e.In.Extensions = 1
	}
	if !in.DoneAt.IsZero() {
		e.In.DoneAt = in.DoneAt.UTC()
	}
	return e
}

// dueEntries returns what DueEntries(before) visits, in order.
func dueEntries(tb testing.TB, s *kvstore.Store, before time.Time) []tracker.DueEntry {
	tb.Helper()
	var es []tracker.DueEntry
	mustView(tb, s, func(tx tracker.Tx) error {
		return tx.DueEntries(before, func(e *tracker.DueEntry) error {
			es = append(es, *e)
			return nil
		})
	})
	return es
}

// wantEntries reads every active instance and its item the long way, in
// due index order, as the entries DueEntries(before) must give.
func wantEntries(tb testing.TB, s *kvstore.Store, before time.Time) []tracker.DueEntry {
	tb.Helper()
	var es []tracker.DueEntry
	mustView(tb, s, func(tx tracker.Tx) error {
		return tx.DueBefore(before, func(in *tracker.Instance) error {
			it, err := tx.Item(in.Item)
			if err != nil {
				return err
			}
			es = append(es, entryFromInstance(in, it.Title, it.Doc))
			return nil
		})
	})
	return es
}

// richInstances are active instances with every field a row shows set in
// some of them: co, timed and provisional deadlines, limits, extensions,
// a done time, notes, sub-second and pre-1970 times.
func richInstances() []*tracker.Instance {
	var ins []*tracker.Instance
	for i := range 12 {
		item := fmt.Sprintf("it%02d", i%5)
		in := newInstance(fmt.Sprintf("%s/u%d", item, i), item, []tracker.Status{tracker.StatusOpen, tracker.StatusPending, tracker.StatusReturned}[i%3], t0.Add(time.Duration(i-3)*36*time.Hour))
		in.Unit = fmt.Sprintf("u%d", i%4)
		in.Co = i%2 == 1
		in.Deadline.Timed = i%3 == 1
		in.Deadline.Provisional = i%4 == 2
		if i%3 == 0 {
			in.Limit = &tracker.Deadline{LastDay: tracker.DateOf(t0.AddDate(0, 1, i)), Due: t0.AddDate(0, 1, i), Timed: i%2 == 0, Provisional: i == 6, Rule: "1mo"}
		}
		in.Extensions = i % 3
		if i == 4 {
			in.DoneAt = t0.Add(-time.Hour + 123456789)
		}
		if i%5 == 1 {
			in.Note = fmt.Sprintf("进展%d：已办理", i)
		}
		if i == 7 {
			in.Deadline.Due = time.Date(1969, 12, 31, 23, 59, 59, 5e8, time.UTC)
			in.Deadline.LastDay = tracker.DateOf(in.Deadline.Due)
		}
		ins = append(ins, in)
	}
	return ins
}

func putItems(tb testing.TB, s *kvstore.Store, n int, title string) {
	tb.Helper()
	mustUpdate(tb, s, func(tx tracker.Tx) error {
		for i := range n {
			id := fmt.Sprintf("it%02d", i)
			if err := tx.PutItem(&tracker.Item{ID: id, Title: fmt.Sprintf("%s%d", title, i), Doc: fmt.Sprintf("洛政办〔2026〕%d号", i), TrackedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Ensure that the due index entries hold what a list row shows of the
// instance and its item, and stay in step when the item's title or doc
// changes (in a later transaction or the same one) and when an instance
// changes.
func TestDueEntriesCoverRows(t *testing.T) { eachEngine(t, testDueEntriesCoverRows) }

func testDueEntriesCoverRows(t *testing.T, s *kvstore.Store) {
	putItems(t, s, 5, "事项")
	ins := richInstances()
	putInstances(t, s, ins...)
	check := func(what string) {
		t.Helper()
		for _, before := range []time.Time{{}, t0, t0.Add(500 * time.Millisecond)} {
			got, want := dueEntries(t, s, before), wantEntries(t, s, before)
			if len(want) == 0 && !before.IsZero() && before != t0 {
				t.Fatalf("%s: no entries before %v", what, before)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: DueEntries(%v) =\n%+v\nwant\n%+v", what, before, got, want)
			}
		}
		if err := s.Check(); err != nil {
			t.Fatalf("%s: Check: %v", what, err)
		}
	}
	check("written")
	putItems(t, s, 5, "改名事项") // a later transaction renames every item
	check("items renamed")
	mustUpdate(t, s, func(tx tracker.Tx) error {
		it, err := tx.Item("it01")
		if err != nil {
			return err
		}
		it.Doc = "洛政办〔2027〕1号"
		if err := tx.PutItem(it); err != nil {
			return err
		}
		in := *ins[1]
		in.Note, in.Extensions = "再次延期", 2
		return tx.PutInstance(&in)
	})
	check("doc and an instance changed together")
	if got := dueEntries(t, s, time.Time{}); !strings.Contains(fmt.Sprint(got), "洛政办〔2027〕1号") {
		t.Fatalf("the doc change is not in the entries: %+v", got)
	}
}

// Ensure that an instance indexed before its item is stored gets its
// item's title and doc when the item is stored in the same transaction,
// and says it has none (and passes Check) when the item comes later.
func TestDueEntryBeforeItem(t *testing.T) { eachEngine(t, testDueEntryBeforeItem) }

func testDueEntryBeforeItem(t *testing.T, s *kvstore.Store) {
	mustUpdate(t, s, func(tx tracker.Tx) error {
		if err := tx.PutInstance(newInstance("a", "a", tracker.StatusOpen, t0)); err != nil {
			return err
		}
		return tx.PutItem(&tracker.Item{ID: "a", Title: "甲", Doc: "1号", TrackedAt: t0})
	})
	putInstances(t, s, newInstance("b", "b", tracker.StatusOpen, t0.Add(time.Hour)))
	mustUpdate(t, s, func(tx tracker.Tx) error {
		return tx.PutItem(&tracker.Item{ID: "b", Title: "乙", TrackedAt: t0})
	})
	got := dueEntries(t, s, time.Time{})
	if len(got) != 2 || !got[0].HasItem || got[0].Title != "甲" || got[0].Doc != "1号" || got[1].HasItem || got[1].Title != "" {
		t.Errorf("entries = %+v; want a with its item, b without", got)
	}
}

// downgrade rewrites the database at path in the schema 1 layout: the due
// index values empty and schema_version "1", as the code before the
// covering index wrote them.
func downgrade(tb testing.TB, db string) {
	tb.Helper()
	rawUpdate(tb, db, func(tx kv.Tx) error {
		due := tx.Bucket([]byte("due"))
		var keys [][]byte
		c := due.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := due.Put(k, nil); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("1"))
	})
}

// Ensure that a schema 1 database reads the same read-only (through the
// instances) and is migrated by Open: version 2, full entries, Check
// passes, and the entries are what the instances and items say.
func TestMigrateSchema1(t *testing.T) { eachEngineDB(t, testMigrateSchema1) }

func testMigrateSchema1(t *testing.T, path string) {
	s, err := kvstore.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	putItems(t, s, 5, "事项")
	putInstances(t, s, richInstances()...)
	want := dueEntries(t, s, time.Time{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	downgrade(t, path)

	r, err := kvstore.OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	version := func(s *kvstore.Store) string {
		var v []byte
		mustView(t, s, func(tx tracker.Tx) (err error) { v, err = tx.Meta("schema_version"); return err })
		return string(v)
	}
	if v := version(r); v != "1" {
		t.Fatalf("read-only open changed the version to %s", v)
	}
	if got := dueEntries(t, r, time.Time{}); !reflect.DeepEqual(got, want) {
		t.Errorf("schema 1 read-only DueEntries =\n%+v\nwant\n%+v", got, want)
	}
	if err := r.Check(); err != nil {
		t.Errorf("Check of a schema 1 file: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpenPath(t, path) // migrates; its cleanup runs Check
	if v := version(s); v != fmt.Sprint(kvstore.SchemaVersion) {
		t.Fatalf("schema_version after Open = %s, want %d", v, kvstore.SchemaVersion)
	}
	if got := dueEntries(t, s, time.Time{}); !reflect.DeepEqual(got, want) {
		t.Errorf("migrated DueEntries =\n%+v\nwant\n%+v", got, want)
	}
	if got := wantEntries(t, s, time.Time{}); !reflect.DeepEqual(got, want) {
		t.Errorf("migrated instances give\n%+v\nwant\n%+v", got, want)
	}
}

// Ensure that Check finds a due entry that no longer says what its item
// or instance says.
func TestCheckFindsStaleEntry(t *testing.T) { eachEngineDB(t, testCheckFindsStaleEntry) }

func testCheckFindsStaleEntry(t *testing.T, path string) {
	s, err := kvstore.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	putItems(t, s, 5, "事项")
	putInstances(t, s, richInstances()...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawUpdate(t, path, func(tx kv.Tx) error {
		// it00's title changes behind the store's back
		items := tx.Bucket([]byte("items"))
		v := strings.Replace(string(items.Get([]byte("it00"))), "事项0", "别的事项", 1)
		return items.Put([]byte("it00"), []byte(v))
	})
	s, err = kvstore.Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), `keeps title "事项0" and doc "洛政办〔2026〕0号", its item "it00" has "别的事项"`) {
		t.Errorf("Check = %v, want the stale title reported", err)
	}
}

package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"duban/cmd/internal/workload"

	"duban/tracker"
	"duban/tracker/kvstore"
)

var updateListGolden = flag.Bool("update-list-golden", false, "rewrite testdata/list-golden.txt from this build's output")

// listFixtureItems adds to the worked example what the list must show in
// every form: a timed deadline, a provisional one (a year without holiday
// data), several lead units, co-units, a hard limit and no unit (pending).
const listFixtureItems = `items:
  - id: timed-9
    title: 紧急情况四十八小时内报告
    doc: 洛政办〔2026〕9号
    unit: mishu
    start: 2026-09-29 15:30
    due: 48h
    limit: 5d
    policy: standard
  - id: plan-2027
    title: 二〇二七年规划编制
    units: [fzj, caizheng]
    co_units: [wendian]
    co_due: -1wd
    start: 2026-12-01
    due: 30wd
    limit: 40wd
    policy: standard
  - id: letter-88
    title: 群众来信反映噪声扰民问题
    start: 2026-09-29 09:30
    due: 5d
`

// TestListOutputUnchanged pins the bytes of every form of list (JSON,
// CSV, table; the index path and the all-statuses path) on a fixture with
// co-units, several lead units, provisional, timed and limited deadlines,
// and instances pending, open, in review, done, returned, withdrawn and
// extended, at several instants. testdata/list-golden.txt was written by
// the code before the due index covered the list rows
// (-update-list-golden).
func TestListOutputUnchanged(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	extra := filepath.Join(e.dir, "extra.yaml")
	if err := os.WriteFile(extra, []byte(listFixtureItems), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("import", examplePath("units.yaml"), extra, "--at", "2026-09-29 16:00")
	e.mustRun("assign", "letter-77", "--unit", "wendian", "--at", "2026-09-30 09:00")
	e.mustRun("progress", "cosign-118", "--note", "已征求意见", "--at", "2026-10-10 09:00")
	e.mustRun("extend", "cosign-118", "--to", "+2wd", "--reason", "待法制局意见", "--at", "2026-10-10 10:00")
	e.mustRun("return", "filing-0930", "--reason", "不属于本处职责", "--at", "2026-09-26 10:00")
	e.mustRun("withdraw", "opinion-203/caizheng", "--reason", "无需财政意见", "--at", "2026-09-26 10:00")
	e.mustRun("done", "minutes-31", "--note", "已签发", "--at", "2026-09-28 11:00")
	e.mustRun("done", "plan-2027/caizheng", "--at", "2026-12-02 11:00")
	// 报结 comes from the units' link or a reply: write it as the store would.
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(func(tx tracker.Tx) error {
		in, err := tx.Instance("opinion-203/fzj")
		if err != nil {
			return err
		}
		in.Status, in.Note = tracker.StatusReview, "已报送意见，待审核"
		return tx.PutInstance(in)
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	output := func() string {
		var got strings.Builder
		listForms(e, &got)
		return got.String()
	}
	got := output()
	golden := filepath.Join("testdata", "list-golden.txt")
	if *updateListGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	sameText(t, got, string(want), golden)

	// A database written by the code before the covering index (schema
	// 1: empty due index values) is migrated by the first command and
	// lists the same.
	schema1(t, e.db)
	sameText(t, output(), string(want), golden+" (from a schema 1 database)")
	st, err = kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Errorf("Check after the migration: %v", err)
	}
	var v []byte
	if err := st.View(func(tx tracker.Tx) (err error) { v, err = tx.Meta("schema_version"); return err }); err != nil || string(v) != strconv.Itoa(kvstore.SchemaVersion) {
		t.Errorf("schema_version after the migration = %q, %v", v, err)
	}
}

// listForms writes the output of every list form, at several instants, to w.
func listForms(e *testEnv, w *strings.Builder) {
	for _, at := range []string{"2026-09-30 10:00", "2026-10-12 10:00", "2026-10-20 10:00", "2027-03-01 10:00"} {
		for _, args := range [][]string{
			{"list", "--format", "json"},
			{"list", "--overdue", "--format", "json"},
			{"list", "--due-within", "10wd", "--format", "json"},
			{"list", "--status", "all", "--format", "json"},
			{"list", "--status", "pending,returned,review", "--format", "json"},
			{"list", "--unit", "fzj", "--format", "json"},
			{"list", "--item", "opinion-203", "--format", "json"},
			{"list", "--format", "csv"},
			{"list", "--overdue", "--format", "table"},
		} {
			args = append(args, "--at", at)
			w.WriteString("$ duban " + strings.Join(args, " ") + "\n")
			w.WriteString(e.mustRun(args...))
		}
	}
}

// sameText fails t at the first line where got differs from want.
func sameText(t *testing.T, got, want, what string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(gl), len(wl)) {
		if gl[i] != wl[i] {
			t.Fatalf("list output differs from %s at line %d:\ngot  %s\nwant %s", what, i+1, gl[i], wl[i])
		}
	}
	t.Fatalf("list output differs from %s: %d lines, want %d", what, len(gl), len(wl))
}

// schema1 rewrites the database at path as schema 1 wrote it: the due
// index values empty, schema_version "1".
func schema1(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		due := tx.Bucket([]byte("due"))
		var keys [][]byte
		if err := due.ForEach(func(k, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		if len(keys) == 0 {
			return errors.New("empty due index")
		}
		for _, k := range keys {
			if err := due.Put(k, nil); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("1"))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestWorkloadOverdueScenario checks that `dubangen -overdue N` gives
// what the overdue-list benchmark promises: at the instant it prints,
// exactly N instances are overdue, each of a different item, and they
// are not in id order when listed in deadline order.
func TestWorkloadOverdueScenario(t *testing.T) {
	e := newTestEnv(t)
	s := workload.Spec{Items: 3000, Units: 20, Seed: 7, From: "2026-01-05", Days: 730, Overdue: 300}
	path := filepath.Join(e.dir, "spread.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.Write(f, s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	at, err := s.OverdueAt()
	if err != nil {
		t.Fatal(err)
	}
	e.mustRun("import", path, "--at", "2026-01-05 08:00")
	out := e.mustRun("list", "--overdue", "--format", "json", "--at", at.Format(time.RFC3339))
	var rows []listRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	items := make(map[string]bool)
	inOrder := true
	for i, r := range rows {
		items[r.Item] = true
		if i > 0 && r.ID < rows[i-1].ID {
			inOrder = false
		}
	}
	if len(rows) != s.Overdue || len(items) != s.Overdue || inOrder {
		t.Errorf("at %s: %d overdue rows of %d items, in id order %v; want %d of as many items, not in id order",
			at.Format(time.RFC3339), len(rows), len(items), inOrder, s.Overdue)
	}
	all := e.list("--at", at.Format(time.RFC3339))
	if len(all) <= s.Items {
		t.Errorf("%d active instances, want more than the %d items (co-units)", len(all), s.Items)
	}
}

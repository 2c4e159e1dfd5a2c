package workload_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"duban/cmd/internal/workload"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/recur"
	"duban/tracker/trackfile"
)

// TestWorkloadLoads checks that every generated file passes the tracking
// file loader: with two units the co-unit used to collide with the lead
// unit on about half of the co-unit items.
func TestWorkloadLoads(t *testing.T) {
	for _, s := range []workload.Spec{
		{Items: 500, Units: 2, Seed: 1, From: "2026-01-05", Days: 30, Recurring: true},
		{Items: 200, Units: 1, Seed: 2, From: "2026-09-20", Days: 20},
		{Items: 1000, Units: 100, Seed: 3, From: "2026-01-05", Days: 300, Recurring: true},
	} {
		var dir, items, whole bytes.Buffer
		d, it := s, s
		d.Part, it.Part = workload.PartDirectory, workload.PartItems
		for _, w := range []struct {
			s   workload.Spec
			buf *bytes.Buffer
		}{{s, &whole}, {d, &dir}, {it, &items}} {
			if err := workload.Write(w.buf, w.s); err != nil {
				t.Fatal(err)
			}
		}
		wantItems := s.Items
		if s.Recurring {
			wantItems += 2
		}
		for name, files := range map[string][]trackfile.File{
			"single": {{Name: "tracked.yaml", Data: whole.Bytes()}},
			"split":  {{Name: "units.yaml", Data: dir.Bytes()}, {Name: "items.yaml", Data: items.Bytes()}},
		} {
			b, err := trackfile.Load(files, time.UTC, nil)
			if err != nil {
				t.Fatalf("%+v %s: %v", s, name, err)
			}
			if len(b.Items) != wantItems || len(b.Units) != s.Units {
				t.Errorf("%+v %s: %d items, %d units; want %d, %d", s, name, len(b.Items), len(b.Units), wantItems, s.Units)
			}
		}
	}
}

func TestWorkloadDeterministic(t *testing.T) {
	s := workload.Spec{Items: 100, Units: 10, Seed: 9, From: "2026-03-02", Days: 10, Recurring: true}
	var a, b bytes.Buffer
	if err := workload.Write(&a, s); err != nil {
		t.Fatal(err)
	}
	if err := workload.Write(&b, s); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("the same spec gave two different files")
	}
	s.Seed++
	var c bytes.Buffer
	if err := workload.Write(&c, s); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("another seed gave the same file")
	}
}

func TestWorkloadBadSpec(t *testing.T) {
	for _, s := range []workload.Spec{
		{Items: 1, Units: 0, From: "2026-01-05", Days: 1},
		{Items: 1, Units: 1, From: "2026-13-05", Days: 1},
		{Items: 1, Units: 1, From: "2026-01-05", Days: 0},
		{Items: 1, Units: 1, From: "2026-01-05", Days: 1, Part: "people"},
	} {
		var buf bytes.Buffer
		if err := workload.Write(&buf, s); err == nil {
			t.Errorf("%+v: no error", s)
		} else if buf.Len() != 0 {
			t.Errorf("%+v: wrote %d bytes before failing", s, buf.Len())
		}
	}
}

// TestStylesImportTheSameStore imports the same workload written in block
// style and in flow style (one item a line) into two fresh stores: the
// bundles are equal, and so is every record in the two bbolt files, but
// for the source lines of the items.
func TestStylesImportTheSameStore(t *testing.T) {
	cal, err := tracker.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	x := &tracker.Expander{
		Env: tracker.Env{Cal: cal, Loc: loc, DayEnd: 24 * 60, SendTime: 9 * 60},
		Every: func(spec string, loc *time.Location) (tracker.Schedule, error) {
			return recur.Parse(spec, loc)
		},
		Horizon: 60,
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, loc)
	spec := workload.Spec{Items: 2000, Units: 20, Seed: 4, From: "2026-01-05", Days: 90, Recurring: true}
	var bundles []*tracker.Bundle
	var dumps []string
	for _, style := range []string{workload.StyleBlock, workload.StyleFlow} {
		s := spec
		s.Style = style
		var buf bytes.Buffer
		if err := workload.Write(&buf, s); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "duban.db")
		st, err := kvstore.Open(path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var b *tracker.Bundle
		err = st.Update(func(tx tracker.Tx) error {
			var err error
			b, err = trackfile.Load([]trackfile.File{{Name: "tracked.yaml", Data: buf.Bytes()}}, loc, nil,
				trackfile.WithDeadlines(x.Env, now, nil))
			if err != nil {
				return err
			}
			res, err := x.Import(tx, b, now, "test")
			if err == nil && (res.ItemsAdded != spec.Items+2 || res.InstancesAdded <= spec.Items) {
				err = fmt.Errorf("imported %+v", res)
			}
			return err
		})
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("%s: %v", style, err)
		}
		bundles = append(bundles, b)
		dumps = append(dumps, dumpStore(t, path))
	}
	if bundles[0].Items[5].Source == bundles[1].Items[5].Source {
		t.Errorf("both styles put item 5 at %s", bundles[0].Items[5].Source)
	}
	for _, b := range bundles {
		for i := range b.Items {
			b.Items[i].Source = ""
		}
	}
	if !reflect.DeepEqual(bundles[0], bundles[1]) {
		t.Error("block and flow styles load different bundles")
	}
	if dumps[0] != dumps[1] {
		a, b := strings.Split(dumps[0], "\n"), strings.Split(dumps[1], "\n")
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("stores differ (%d and %d records); first difference:\nblock: %.300s\nflow:  %.300s", len(a), len(b), a[i], b[i])
			}
		}
		t.Fatalf("stores differ: %d and %d records", len(a), len(b))
	}
}

// sourceField matches the source of a record: file:line, which differs
// between the styles.
var sourceField = regexp.MustCompile(`"source":"[^"]*"`)

// dumpStore lists every key and value of the bbolt file at path, one a
// line, with source fields blanked.
func dumpStore(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out strings.Builder
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(prefix+string(k)+"/", b.Bucket(k))
			}
			fmt.Fprintf(&out, "%s%q=%s\n", prefix, k, sourceField.ReplaceAll(v, []byte(`"source":""`)))
			return nil
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(string(name)+"/", b) })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.String()
}

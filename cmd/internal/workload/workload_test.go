package workload_test

import (
	"bytes"
	"testing"
	"time"

	"duban/cmd/internal/workload"
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

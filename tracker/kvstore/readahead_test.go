package kvstore_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// An index scan longer than a read ahead (kv.Prefetch on PostgreSQL)
// visits every instance once, in order, with its latest value, also in
// an Update that rewrites each instance it visits (moving its index
// entries) and deletes some instances ahead of the scan.
func TestScanReadsAhead(t *testing.T) { eachEngine(t, testScanReadsAhead) }

func testScanReadsAhead(t *testing.T, s *kvstore.Store) {
	const n = 700
	var ins []*tracker.Instance
	for i := range n {
		id := fmt.Sprintf("r%04d", (i*389)%n) // ids not in deadline order
		ins = append(ins, newInstance(id, "item"+id, tracker.StatusOpen, t0.Add(time.Duration(i)*time.Minute)))
	}
	putInstances(t, s, ins...)
	var want []string
	for _, in := range ins {
		want = append(want, in.ID)
	}
	if got := dueIDs(t, s, t0.Add(n*time.Minute)); !slices.Equal(got, want) {
		t.Fatalf("DueBefore visited %d ids, want %d in deadline order", len(got), len(want))
	}
	var visited []string
	mustUpdate(t, s, func(tx tracker.Tx) error {
		return tx.DueBefore(t0.Add(n*time.Minute), func(in *tracker.Instance) error {
			visited = append(visited, in.ID)
			// Postpone it past the scan's end: its entry moves behind it.
			in.Deadline.Due = in.Deadline.Due.Add(1000 * time.Hour)
			in.Note = "postponed"
			if err := tx.PutInstance(in); err != nil {
				return err
			}
			// Close the instance 300 entries ahead: the scan must not
			// see it (its read-ahead copy is stale).
			if j := slices.Index(want, in.ID) + 300; j < n && j%2 == 0 {
				other, err := tx.Instance(want[j])
				if err != nil {
					return err
				}
				other.Status = tracker.StatusDone
				return tx.PutInstance(other)
			}
			return nil
		})
	})
	var wantVisited []string
	closed := map[int]bool{}
	for i, id := range want {
		if closed[i] {
			continue
		}
		wantVisited = append(wantVisited, id)
		if j := i + 300; j < n && j%2 == 0 {
			closed[j] = true
		}
	}
	if !slices.Equal(visited, wantVisited) {
		t.Fatalf("the writing scan visited %d ids, want %d", len(visited), len(wantVisited))
	}
	mustView(t, s, func(tx tracker.Tx) error {
		for _, id := range visited {
			in, err := tx.Instance(id)
			if err != nil {
				return err
			}
			if in.Note != "postponed" {
				t.Fatalf("%s: note %q", id, in.Note)
			}
		}
		return nil
	})
}

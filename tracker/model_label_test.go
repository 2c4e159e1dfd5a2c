package tracker_test

import (
	"testing"

	"duban/tracker"
)

// TestStatusLabels: every status has its Chinese name (SPEC §8) and reads
// back from it or from the English one.
func TestStatusLabels(t *testing.T) {
	want := map[tracker.Status]string{"pending": "待分办", "open": "办理中", "review": "待审核", "done": "已办结",
		"returned": "已退回", "withdrawn": "已撤销"}
	if len(tracker.Statuses) != len(want) {
		t.Fatalf("Statuses = %v, want %d", tracker.Statuses, len(want))
	}
	for _, s := range tracker.Statuses {
		if s.Label() != want[s] {
			t.Errorf("%s.Label() = %q, want %q", s, s.Label(), want[s])
		}
		for _, in := range []string{string(s), want[s], " " + want[s] + " ", "  " + string(s)} {
			if got, ok := tracker.ParseStatus(in); !ok || got != s {
				t.Errorf("ParseStatus(%q) = %q, %v; want %q", in, got, ok, s)
			}
		}
	}
	if _, ok := tracker.ParseStatus("finished"); ok {
		t.Error(`ParseStatus("finished") accepted`)
	}
	if tracker.StatusReview.Active() {
		t.Error("review must receive no notices (SPEC §11)")
	}
}

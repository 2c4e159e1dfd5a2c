package tracker_test

import (
	"errors"
	"strings"
	"testing"

	"duban/tracker"
)

// TestResolveUnitByIDOrNameAndSuggestions: a unit is named by its id or
// its name; anything else is ErrNotFound with the closest units, and a
// name two units share is refused.
func TestResolveUnitByIDOrNameAndSuggestions(t *testing.T) {
	st := mustStore(t)
	x := testExpander(t)
	b := &tracker.Bundle{
		Units: []tracker.Unit{{ID: "fzj", Name: "市法制局"}, {ID: "caizheng", Name: "市财政局"},
			{ID: "mishu", Name: "秘书科"}, {ID: "mishu2", Name: "秘书科"}},
		Items: []tracker.Item{{ID: "minutes-31", Title: "第31次常务会议纪要签发", Unit: "fzj", Start: "2026-09-24 16:00", Due: "3d"}},
	}
	if err := st.Update(func(tx tracker.Tx) error { _, err := x.Import(tx, b, at("2026-09-24 16:00"), "test"); return err }); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		give, want string // want: the id, or a fragment of the error
		err        error
	}{
		{"fzj", "fzj", nil},
		{"市法制局", "fzj", nil},
		{" 市财政局 ", "caizheng", nil},
		{"fjz", "是否指：fzj（市法制局）？", tracker.ErrNotFound},      // transposed
		{"财政局", "是否指：caizheng（市财政局）？", tracker.ErrNotFound}, // part of the name
		{"nosuch", "没有单位“nosuch”；现有单位：caizheng（市财政局）、fzj（市法制局）、mishu（秘书科）、mishu2（秘书科）", tracker.ErrNotFound},
		{"秘书科", "有2个单位名为“秘书科”（mishu、mishu2）", tracker.ErrInvalid},
	}
	for _, c := range cases {
		var got string
		err := st.View(func(tx tracker.Tx) error { var err error; got, err = tracker.ResolveUnit(tx, c.give); return err })
		switch {
		case c.err == nil && (err != nil || got != c.want):
			t.Errorf("ResolveUnit(%q) = %q, %v; want %q", c.give, got, err, c.want)
		case c.err != nil && (!errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ResolveUnit(%q) error %v; want %v containing %q", c.give, err, c.err, c.want)
		}
	}

	items := []struct{ give, want string }{
		{"minutes31", "没有事项“minutes31”；是否指：minutes-31（第31次常务会议纪要签发）？"},
		{"minutes-31/fzj", "是否指：minutes-31（"}, // an instance id names its item
		{"常务会议", "是否指：minutes-31（"},           // part of the title
	}
	for _, c := range items {
		err := st.View(func(tx tracker.Tx) error { _, err := tracker.ResolveItem(tx, c.give); return err })
		if !errors.Is(err, tracker.ErrNotFound) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ResolveItem(%q) error %v; want ErrNotFound containing %q", c.give, err, c.want)
		}
	}
	f := tracker.Filter{Unit: "市法制局", Item: "minutes-31"}
	if err := st.View(f.Resolve); err != nil || f.Unit != "fzj" || f.Item != "minutes-31" {
		t.Errorf("Resolve = %v, filter %+v", err, f)
	}
}

package main

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestUnknownUnitOrItemIsBadInputWithASuggestion: list, export and report
// refuse a --unit or --item that names nothing (exit 2, a suggestion on
// stderr, nothing on stdout) and accept a unit's name for its id.
func TestUnknownUnitOrItemIsBadInputWithASuggestion(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"list", "--unit", "nosuch"}, "没有单位“nosuch”；现有单位：caizheng（市财政局）、fzj（市法制局）"},
		{[]string{"list", "--unit", "nosuch", "--format", "json"}, "没有单位“nosuch”"},
		{[]string{"list", "--unit", "fjz", "--status", "all"}, "没有单位“fjz”；是否指：fzj（市法制局）？"},
		{[]string{"list", "--unit", "法制"}, "是否指：fzj（市法制局）？"},
		{[]string{"list", "--item", "minutes31"}, "没有事项“minutes31”；是否指：minutes-31（第31次常务会议纪要签发）？"},
		{[]string{"list", "--item", "weekly-cases/2026-10-01/fzj", "--format", "csv"}, "是否指：weekly-cases（执行难案件进展周报）？"},
		{[]string{"export", "--format", "csv", "--unit", "fjz"}, "是否指：fzj（市法制局）？"},
		{[]string{"report", "--month", "2026-10", "--unit", "nosuch"}, "没有单位“nosuch”"},
	}
	for _, c := range bad {
		code, out, errs := e.run(append(c.args, "--at", "2026-10-09 10:00")...)
		if code != 2 || out != "" || !strings.Contains(errs, c.want) {
			t.Errorf("duban %s: exit %d, stdout %q, stderr %q; want 2, nothing, %q", strings.Join(c.args, " "), code, out, errs, c.want)
		}
	}

	byID := e.list("--status", "all", "--unit", "fzj")
	byName := e.list("--status", "all", "--unit", "市法制局")
	if len(byID) == 0 || !slices.Equal(slices.Sorted(maps.Keys(byID)), slices.Sorted(maps.Keys(byName))) {
		t.Errorf("--unit 市法制局 listed %v, --unit fzj %v", slices.Sorted(maps.Keys(byName)), slices.Sorted(maps.Keys(byID)))
	}
	for id, r := range byName {
		if r.Unit != "fzj" {
			t.Errorf("--unit 市法制局 listed %s of unit %s", id, r.Unit)
		}
	}
	if rows := e.list("--status", "all", "--item", "minutes-31"); len(rows) != 1 {
		t.Errorf("--item minutes-31: %v", rows)
	}
	a := e.mustRun("report", "--month", "2026-10", "--unit", "fzj", "--format", "json", "--at", "2026-11-02")
	b := e.mustRun("report", "--month", "2026-10", "--unit", "市法制局", "--format", "json", "--at", "2026-11-02")
	if a != b || !strings.Contains(a, `"unit": "fzj"`) {
		t.Errorf("report --unit 市法制局 differs from --unit fzj:\n%s\n%s", b, a)
	}
	a = e.mustRun("export", "--format", "csv", "--unit", "fzj", "--at", "2026-10-09")
	b = e.mustRun("export", "--format", "csv", "--unit", "市法制局", "--at", "2026-10-09")
	if a != b || strings.Count(a, "\n") < 3 {
		t.Errorf("export --unit 市法制局 differs from --unit fzj:\n%s\n%s", b, a)
	}
}

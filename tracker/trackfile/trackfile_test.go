package trackfile_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/trackfile"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

func load(tb testing.TB, known trackfile.Lookup, files ...trackfile.File) (*tracker.Bundle, trackfile.Errors) {
	tb.Helper()
	b, err := trackfile.Load(files, shanghai, known)
	if err == nil {
		if b == nil {
			tb.Fatal("Load returned neither a bundle nor an error")
		}
		return b, nil
	}
	if b != nil {
		tb.Fatalf("Load returned a bundle and an error: %v", err)
	}
	var errs trackfile.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		tb.Fatalf("Load error is not a non-empty trackfile.Errors: %T %v", err, err)
	}
	return nil, errs
}

func file(name string, lines ...string) trackfile.File {
	return trackfile.File{Name: name, Data: []byte(strings.Join(lines, "\n") + "\n")}
}

func TestSpecExample(t *testing.T) {
	b, errs := load(t, nil, trackfile.File{Name: "tracked.yaml", Data: mustRead(t, "testdata/spec.yaml")})
	if errs != nil {
		t.Fatal(errs)
	}
	want := &tracker.Bundle{
		Office: &tracker.Office{Name: "市政府督查室", Email: "ducha@example.gov.cn"},
		People: []tracker.Person{
			{ID: "wang", Name: "王冠标", Email: "wang@example.gov.cn", Source: "tracked.yaml:3"},
			{ID: "li", Name: "李秘书长", Email: "li@example.gov.cn", Source: "tracked.yaml:4"},
			{ID: "zhou", Name: "周科长", Email: "zhou@example.gov.cn", Source: "tracked.yaml:5"},
		},
		Units: []tracker.Unit{
			{ID: "fzj", Name: "市法制局", Head: "wang", Leader: "li", Source: "tracked.yaml:7"},
			{ID: "mishu", Name: "市政府办公室秘书科", Head: "zhou", Leader: "li", Source: "tracked.yaml:8"},
		},
		Policies: []tracker.Policy{{
			ID: "standard",
			Steps: []tracker.Step{
				{At: "-1wd", To: []string{"unit"}, Level: tracker.LevelReminder},
				{At: "0", To: []string{"unit"}, Level: tracker.LevelDue},
				{At: "+1wd", Every: "1wd", To: []string{"unit"}, Level: tracker.LevelOverdue},
				{At: "limit", To: []string{"unit", "leader", "office"}, Level: tracker.LevelEscalation},
			},
			Source: "tracked.yaml:10",
		}},
		Items: []tracker.Item{
			{
				ID: "minutes-31", Title: "第31次常务会议纪要签发", Doc: "洛政办〔2026〕31号",
				Requirements: "会议纪要签发并报市政府办公室", Unit: "mishu", CoUnits: []string{"fzj"},
				CoDue: "-2wd", Start: "2026-09-24 16:00", Due: "3d", Limit: "7d", Policy: "standard",
				Source: "tracked.yaml:17",
			},
			{
				ID: "weekly-cases", Title: "执行难案件进展周报", Units: []string{"fzj", "mishu"},
				Every: "weekly thu 12:00", From: "2026-09-01", Policy: "standard",
				Source: "tracked.yaml:28",
			},
		},
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("bundle differs\n got: %+v\nwant: %+v", b, want)
		for i := range min(len(b.Items), len(want.Items)) {
			if !reflect.DeepEqual(b.Items[i], want.Items[i]) {
				t.Errorf("item %d\n got: %+v\nwant: %+v", i, b.Items[i], want.Items[i])
			}
		}
	}
	if !b.Items[0].TrackedAt.IsZero() || b.Items[0].Roll != "" {
		t.Errorf("TrackedAt and Roll must be left zero: %+v", b.Items[0])
	}
}

func TestSplitImport(t *testing.T) {
	units := trackfile.File{Name: "units.yaml", Data: mustRead(t, "testdata/units.yaml")}
	items := trackfile.File{Name: "items.yaml", Data: mustRead(t, "testdata/items.yaml")}
	for _, order := range [][]trackfile.File{{units, items}, {items, units}} {
		b, errs := load(t, nil, order...)
		if errs != nil {
			t.Fatalf("%s first: %v", order[0].Name, errs)
		}
		if len(b.People) != 3 || len(b.Units) != 2 || len(b.Policies) != 1 || len(b.Items) != 3 || b.Office == nil {
			t.Fatalf("%s first: unexpected bundle %+v", order[0].Name, b)
		}
		var got []string
		for _, it := range b.Items {
			got = append(got, it.ID+"@"+it.Source)
		}
		if want := "minutes-31@items.yaml:3 monthly-report@items.yaml:9 countersign@items.yaml:19"; strings.Join(got, " ") != want {
			t.Errorf("items %v, want %s", got, want)
		}
		rep := b.Items[1]
		if !reflect.DeepEqual(rep.Units, []string{"fzj", "mishu"}) || rep.Roll != tracker.RollSkip ||
			rep.From != "2026-09-01" || rep.Until != "2027-08-31" || rep.Every != "monthly 5" {
			t.Errorf("monthly-report = %+v", rep)
		}
		cs := b.Items[2]
		if !reflect.DeepEqual(cs.Units, []string{"fzj"}) || cs.Unit != "" || cs.Requirements != "两个工作日内办结;\n逾期说明理由。\n" {
			t.Errorf("countersign = %+v", cs)
		}
		u := b.Units[1]
		if u != (tracker.Unit{ID: "mishu", Name: "市政府办公室秘书科", Head: "zhou", Contact: "wang", Leader: "li", Source: "units.yaml:11"}) {
			t.Errorf("unit mishu = %+v", u)
		}
		p := b.Policies[0]
		if p.MaxExtension != "7d" || !reflect.DeepEqual(p.Steps[3].To, []string{"unit", "leader", "office", "zhou", "audit@example.gov.cn"}) {
			t.Errorf("policy = %+v", p)
		}
	}
}

func TestKnownResolvesStoredReferences(t *testing.T) {
	items := trackfile.File{Name: "items.yaml", Data: mustRead(t, "testdata/items.yaml")}
	var asked []string
	known := func(kind, id string) bool {
		asked = append(asked, kind+":"+id)
		switch kind {
		case "unit":
			return id == "fzj" || id == "mishu"
		case "policy":
			return id == "standard"
		}
		return false
	}
	if _, errs := load(t, known, items); errs != nil {
		t.Fatal(errs)
	}
	// Each distinct id is looked up once.
	if want := []string{"policy:standard", "unit:fzj", "unit:mishu"}; !sameSet(asked, want) {
		t.Errorf("known asked %v, want %v", asked, want)
	}

	// Without the store, every reference is an error.
	_, errs := load(t, nil, items)
	wants := []want{
		{"items.yaml", 5, "items[0].unit", `unknown unit "mishu"`},
		{"items.yaml", 6, "items[0].co_units[0]", `unknown unit "fzj"`},
		{"items.yaml", 8, "items[0].policy", `unknown policy "standard"`},
		{"items.yaml", 12, "items[1].units[0]", `unknown unit "fzj"`},
		{"items.yaml", 13, "items[1].units[1]", `unknown unit "mishu"`},
		{"items.yaml", 18, "items[1].policy", `unknown policy "standard"`},
		{"items.yaml", 21, "items[2].units", `unknown unit "fzj"`},
	}
	check(t, errs, wants)

	// People referenced by units and policy steps go through known too.
	units := file("u.yaml",
		"units:",
		"  - {id: a, name: A, head: stored-head, leader: nobody}",
		"policies:",
		"  - id: p",
		"    steps: [{at: 0, to: [stored-head, ghost], level: due}]",
	)
	_, errs = load(t, func(kind, id string) bool { return kind == "person" && id == "stored-head" }, units)
	check(t, errs, []want{
		{"u.yaml", 2, "units[0].leader", `unknown person "nobody"`},
		{"u.yaml", 5, "policies[0].steps[0].to[1]", `unknown person "ghost"`},
	})
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return len(a) == len(b)
}

// want is an expected error: file, line, field and a part of the message.
type want struct {
	file  string
	line  int
	field string
	msg   string
}

// check asserts that errs are exactly want, in order.
func check(t *testing.T, errs trackfile.Errors, wants []want) {
	t.Helper()
	ok := len(errs) == len(wants)
	for i := 0; ok && i < len(wants); i++ {
		e, w := errs[i], wants[i]
		ok = e.File == w.file && e.Line == w.line && e.Field == w.field && strings.Contains(e.Msg, w.msg)
	}
	if !ok {
		var b strings.Builder
		for _, e := range errs {
			b.WriteString("\n  ")
			b.WriteString(e.Error())
		}
		t.Errorf("errors:%s\nwant %d errors: %+v", b.String(), len(wants), wants)
	}
}

// people, units and a policy for error cases.
var base = file("base.yaml",
	"people:",
	"  - {id: wang, name: 王, email: wang@example.gov.cn}",
	"units:",
	"  - {id: fzj, name: 市法制局, head: wang}",
	"  - {id: mishu, name: 秘书科, head: wang}",
	"policies:",
	"  - {id: standard, steps: [{at: 0, to: [unit], level: due}]}",
)

func TestErrors(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  []want
	}{
		// Structure.
		{"unknown top-level key", []string{"office: {name: x, email: x@y.cn}", "item: []"},
			[]want{{"t.yaml", 2, "item", `unknown key "item"; allowed keys: office, people, units, policies, items`}}},
		{"unknown item key", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    due: 3d", "    deu: 4d"},
			[]want{{"t.yaml", 6, "items[0].deu", `unknown key "deu"; allowed keys: id, title, doc, requirements`}}},
		{"unknown step key", []string{"policies:", "  - id: p", "    steps:", "      - {at: 0, to: [unit], level: due, when: now}"},
			[]want{{"t.yaml", 4, "policies[0].steps[0].when", `unknown key "when"; allowed keys: at, every, to, level`}}},
		{"duplicate key", []string{"items:", "  - id: a", "    title: t", "    due: 3d", "    due: 4d"},
			[]want{{"t.yaml", 5, "items[0].due", `key "due" is given twice (first at line 4)`}}},
		{"top level is a list", []string{"- a", "- b"},
			[]want{{"t.yaml", 1, "", "must be a mapping"}}},
		{"top level is a scalar", []string{"hello"},
			[]want{{"t.yaml", 1, "", "must be a mapping"}}},
		{"section is not a list", []string{"units: {id: a, name: A}"},
			[]want{{"t.yaml", 1, "units", "expected a list, got a mapping"}}},
		{"element is not a mapping", []string{"people:", "  - wang"},
			[]want{{"t.yaml", 2, "people[0]", `expected a mapping such as {id: wang`}}},
		{"scalar field given a list", []string{"items:", "  - id: a", "    title: [x, y]", "    due: 3d"},
			[]want{{"t.yaml", 3, "items[0].title", "expected a text value, got a list"}}},
		{"alias", []string{"items:", "  - id: &x a", "    title: *x", "    due: 3d"},
			[]want{{"t.yaml", 3, "items[0].title", "aliases are not supported"}}},

		// Ids.
		{"missing id", []string{"people:", "  - {name: 王, email: wang@example.gov.cn}"},
			[]want{{"t.yaml", 2, "people[0].id", "required"}}},
		{"empty id", []string{"units:", "  - id: ''", "    name: A"},
			[]want{{"t.yaml", 2, "units[0].id", "must not be empty"}}},
		{"id with slash", []string{"items:", "  - id: a/b", "    title: t", "    due: 3d"},
			[]want{{"t.yaml", 2, "items[0].id", `"a/b" is not a valid id`}}},
		{"id with space", []string{"policies:", "  - id: my policy", "    steps: [{at: 0, to: [unit], level: due}]"},
			[]want{{"t.yaml", 2, "policies[0].id", `"my policy" is not a valid id`}}},
		{"id starting with a dot", []string{"units:", "  - {id: .a, name: A}"},
			[]want{{"t.yaml", 2, "units[0].id", "not a valid id"}}},
		{"duplicate id in one file", []string{"units:", "  - {id: a, name: A}", "  - {id: b, name: B}", "  - {id: a, name: C}"},
			[]want{{"t.yaml", 4, "units[2].id", `duplicate unit id "a": already defined at t.yaml:2`}}},

		// People and office.
		{"person without email", []string{"people:", "  - {id: zhang, name: 张}"},
			[]want{{"t.yaml", 2, "people[0].email", "required"}}},
		{"email with display name", []string{"people:", "  - {id: zhang, email: '张三 <zhang@example.gov.cn>'}"},
			[]want{{"t.yaml", 2, "people[0].email", "write the bare address"}}},
		{"email in angle brackets", []string{"people:", "  - {id: zhang, email: '<zhang@example.gov.cn>'}"},
			[]want{{"t.yaml", 2, "people[0].email", "write the bare address"}}},
		{"email net/mail rejects", []string{"people:", "  - id: zhang", "    email: wang@@example.gov.cn"},
			[]want{{"t.yaml", 3, "people[0].email", `"wang@@example.gov.cn" is not an email address`}}},
		{"email without domain", []string{"office:", "  name: 督查室", "  email: ducha"},
			[]want{{"t.yaml", 3, "office.email", `"ducha" is not an email address`}}},
		{"email with CRLF header injection", []string{"people:", `  - {id: zhang, email: "a@b.cn\r\nBcc: x@y.cn"}`},
			[]want{{"t.yaml", 2, "people[0].email", "must not contain line breaks"}}},
		{"office email with LF", []string{"office:", "  name: 督查室", `  email: "ducha@example.gov.cn\nBcc: x@y.cn"`},
			[]want{{"t.yaml", 3, "office.email", "must not contain line breaks"}}},
		{"name with line break", []string{"people:", `  - {id: zhang, name: "张\n三", email: zhang@example.gov.cn}`},
			[]want{{"t.yaml", 2, "people[0].name", "必须是单行文字"}}},
		{"name with control character", []string{"units:", `  - {id: a, name: "A\u0007"}`},
			[]want{{"t.yaml", 2, "units[0].name", "控制字符"}}},

		// Units.
		{"unit without name", []string{"units:", "  - {id: a, head: wang}"},
			[]want{{"t.yaml", 2, "units[0].name", "required"}}},
		{"unit head unknown", []string{"units:", "  - id: a", "    name: A", "    head: wnag", "    contact: wang", "    leader: zhao"},
			[]want{{"t.yaml", 4, "units[0].head", `unknown person "wnag"`}, {"t.yaml", 6, "units[0].leader", `unknown person "zhao"`}}},

		// Policies.
		{"policy without steps", []string{"policies:", "  - id: p"},
			[]want{{"t.yaml", 2, "policies[0].steps", "required"}}},
		{"policy with empty steps", []string{"policies:", "  - id: p", "    steps: []"},
			[]want{{"t.yaml", 3, "policies[0].steps", "at least one step"}}},
		{"bad at", []string{"policies:", "  - id: p", "    steps:", "      - {at: 0, to: [unit], level: due}", "      - {at: 2 days, to: [unit], level: due}"},
			[]want{{"t.yaml", 5, "policies[0].steps[1].at", `"2 days" is not an offset`}}},
		{"missing at", []string{"policies:", "  - id: p", "    steps:", "      - {to: [unit], level: due}"},
			[]want{{"t.yaml", 4, "policies[0].steps[0].at", "required"}}},
		{"every not positive", []string{"policies:", "  - id: p", "    steps:", "      - {at: 0, every: -1wd, to: [unit], level: overdue}", "      - {at: 0, every: limit, to: [unit], level: overdue}", "      - {at: 0, every: 0, to: [unit], level: overdue}", "      - {at: 0, every: 2h, to: [unit], level: overdue}"},
			[]want{
				{"t.yaml", 4, "policies[0].steps[0].every", "not a repeat interval"},
				{"t.yaml", 5, "policies[0].steps[1].every", "not a repeat interval"},
				{"t.yaml", 6, "policies[0].steps[2].every", "not a repeat interval"},
			}},
		{"bad to", []string{"policies:", "  - id: p", "    steps:", "      - at: 0", "        level: due", "        to:", "          - unit", "          - 'x y'", "          - a@@b", "          - unit", "          - ''"},
			[]want{
				{"t.yaml", 8, "policies[0].steps[0].to[1]", "not a role"},
				{"t.yaml", 9, "policies[0].steps[0].to[2]", "not an email address"},
				{"t.yaml", 10, "policies[0].steps[0].to[3]", `"unit" is listed twice`},
				{"t.yaml", 11, "policies[0].steps[0].to[4]", "must not be empty"},
			}},
		{"to address with CRLF", []string{"policies:", "  - id: p", "    steps:", `      - {at: 0, to: ["x@y.cn\r\nBcc: z@y.cn"], level: due}`},
			[]want{{"t.yaml", 4, "policies[0].steps[0].to[0]", "line breaks"}}},
		{"empty to", []string{"policies:", "  - id: p", "    steps:", "      - {at: 0, to: [], level: due}"},
			[]want{{"t.yaml", 4, "policies[0].steps[0].to", "at least one recipient"}}},
		{"bad level", []string{"policies:", "  - id: p", "    steps:", "      - {at: 0, to: [unit], level: urgent}"},
			[]want{{"t.yaml", 4, "policies[0].steps[0].level", `"urgent" is not a level`}}},
		{"bad max_extension", []string{"policies:", "  - id: p", "    max_extension: 48h", "    steps: [{at: 0, to: [unit], level: due}]", "  - id: q", "    max_extension: 1 week", "    steps: [{at: 0, to: [unit], level: due}]"},
			[]want{
				{"t.yaml", 3, "policies[0].max_extension", "use Nd, Nwd or Nmo"},
				{"t.yaml", 6, "policies[1].max_extension", `"1 week" is not a deadline`},
			}},

		// Items.
		{"missing title", []string{"items:", "  - id: a", "    unit: fzj", "    due: 3d"},
			[]want{{"t.yaml", 2, "items[0].title", "required"}}},
		{"title with line break", []string{"items:", "  - id: a", "    title: |", "      two", "      lines", "    due: 3d"},
			[]want{{"t.yaml", 3, "items[0].title", "必须是单行文字"}}},
		{"doc with line break", []string{"items:", "  - id: a", "    title: t", `    doc: "洛政办\r\n31号"`, "    due: 3d"},
			[]want{{"t.yaml", 4, "items[0].doc", "必须是单行文字"}}},
		{"neither due nor every", []string{"items:", "  - id: a", "    title: t", "    unit: fzj"},
			[]want{{"t.yaml", 2, "items[0].due", "required: due"}}},
		{"both due and every", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    due: 3d", "    every: monthly 5"},
			[]want{{"t.yaml", 6, "items[0].every", "not both"}}},
		{"bad due", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    due: 3 days"},
			[]want{{"t.yaml", 5, "items[0].due", `"3 days" is not a deadline; use 3d, 3wd, 0wd, 1mo, 48h, 2026-09-30`}}},
		{"bad due date", []string{"items:", "  - id: a", "    title: t", "    due: 2026-02-30"},
			[]want{{"t.yaml", 4, "items[0].due", `"2026-02-30" is not a deadline`}}},
		{"bad limit", []string{"items:", "  - id: a", "    title: t", "    due: 3d", "    limit: 0d"},
			[]want{{"t.yaml", 5, "items[0].limit", "only 0wd may be zero"}}},
		{"limit with every", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    every: monthly 5", "    limit: 7d"},
			[]want{{"t.yaml", 6, "items[0].limit", "one-off items"}}},
		{"fixed limit before fixed due", []string{"items:", "  - id: a", "    title: t", "    due: 2026-09-30", "    limit: 2026-09-29", "  - id: b", "    title: t", "    due: 2026-09-30 17:00", "    limit: 2026-09-30 12:00", "  - id: c", "    title: t", "    due: 2026-09-30", "    limit: 2026-09-30", "  - id: d", "    title: t", "    due: 10d", "    limit: 2026-01-01"},
			[]want{
				{"t.yaml", 5, "items[0].limit", "before due"},
				{"t.yaml", 9, "items[1].limit", "before due"},
			}},
		{"bad co_due", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    co_units: [mishu]", "    due: 5wd", "    co_due: +2wd", "  - id: b", "    title: t", "    unit: fzj", "    co_units: [mishu]", "    due: 5wd", "    co_due: -4h"},
			[]want{
				{"t.yaml", 7, "items[0].co_due", "must be a negative number of working days or days"},
				{"t.yaml", 13, "items[1].co_due", "must be a negative"},
			}},
		{"empty due and every", []string{"items:", "  - id: a", "    title: ' '", "    unit: fzj", "    due: ''", "  - id: b", "    title: t", "    unit: fzj", `    every: ""`},
			[]want{
				{"t.yaml", 3, "items[0].title", "must not be empty"},
				{"t.yaml", 5, "items[0].due", "must not be empty"},
				{"t.yaml", 9, "items[1].every", "must not be empty"},
			}},
		{"co_due with empty co_units", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    co_units: []", "    due: 5wd", "    co_due: -2wd"},
			[]want{{"t.yaml", 7, "items[0].co_due", "needs co_units"}}},
		{"one-off fields on a recurring item", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    co_units: [mishu]", "    co_due: -1wd", "    start: 2026-09-01", "    every: monthly 5"},
			[]want{
				{"t.yaml", 5, "items[0].co_units", "one-off items"},
				{"t.yaml", 6, "items[0].co_due", "one-off items"},
				{"t.yaml", 7, "items[0].start", "one-off items"},
			}},
		{"roll skip on a one-off item", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    due: 3d", "    roll: skip"},
			[]want{{"t.yaml", 6, "items[0].roll", "recurring items"}}},
		{"co_due without co_units", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    due: 5wd", "    co_due: -2wd"},
			[]want{{"t.yaml", 6, "items[0].co_due", "needs co_units"}}},
		{"bad every", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    every: weekly thurs"},
			[]want{{"t.yaml", 5, "items[0].every", `"weekly thurs" is not a schedule`}}},
		{"every without unit", []string{"items:", "  - id: a", "    title: t", "    every: monthly 5"},
			[]want{{"t.yaml", 4, "items[0].every", "needs unit or units"}}},
		{"bad roll", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    every: monthly 5", "    roll: previous"},
			[]want{{"t.yaml", 6, "items[0].roll", `"previous" is not a roll`}}},
		{"from and until", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    every: monthly 5", "    from: 2026-10-01", "    until: 2026-09-30", "  - id: b", "    title: t", "    unit: fzj", "    due: 3d", "    from: 2026-10-01", "  - id: c", "    title: t", "    unit: fzj", "    every: monthly 5", "    until: 2026-9-30"},
			[]want{
				{"t.yaml", 7, "items[0].until", "before from"},
				{"t.yaml", 12, "items[1].from", "recurring items"},
				{"t.yaml", 17, "items[2].until", `"2026-9-30" is not a date`},
			}},
		{"bad start", []string{"items:", "  - id: a", "    title: t", "    start: 2026-09-24 4pm", "    due: 3d", "  - id: b", "    title: t", "    start: 24.9.2026", "    due: 3d", "  - id: c", "    title: t", "    start: 2026-09-24T16:00", "    due: 3d"},
			[]want{
				{"t.yaml", 4, "items[0].start", "is not a start"},
				{"t.yaml", 8, "items[1].start", "is not a start"},
				{"t.yaml", 12, "items[2].start", "is not a start"},
			}},
		{"unit and units", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    units: [mishu]", "    due: 3d"},
			[]want{{"t.yaml", 5, "items[0].units", "mutually exclusive"}}},
		{"unknown units", []string{"items:", "  - id: a", "    title: t", "    units: [fzj, nope]", "    co_units: [gone]", "    due: 3d"},
			[]want{
				{"t.yaml", 4, "items[0].units[1]", `unknown unit "nope"`},
				{"t.yaml", 5, "items[0].co_units[0]", `unknown unit "gone"`},
			}},
		{"duplicate units", []string{"items:", "  - id: a", "    title: t", "    units: [fzj, mishu, fzj]", "    due: 3d"},
			[]want{{"t.yaml", 4, "items[0].units[2]", "listed twice"}}},
		{"co-unit is a lead unit", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    co_units:", "      - mishu", "      - fzj", "      - mishu", "    due: 3d"},
			[]want{
				{"t.yaml", 7, "items[0].co_units[1]", "also a lead unit"},
				{"t.yaml", 8, "items[0].co_units[2]", "listed twice"},
			}},
		{"unknown policy", []string{"items:", "  - id: a", "    title: t", "    due: 3d", "    policy: strict"},
			[]want{{"t.yaml", 5, "items[0].policy", `unknown policy "strict"`}}},
		{"co_units as a scalar", []string{"items:", "  - id: a", "    title: t", "    unit: fzj", "    co_units: mishu", "    due: 3d"},
			[]want{{"t.yaml", 5, "items[0].co_units", "expected a list of unit ids"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := load(t, nil, base, file("t.yaml", c.lines...))
			check(t, errs, c.want)
		})
	}
}

func TestSeveralErrorsInOneFile(t *testing.T) {
	f := file("tracked.yaml",
		"office: {name: 督查室, email: 'Office <ducha@example.gov.cn>'}", // 1
		"people:",                                  // 2
		"  - {id: wang, email: wang@example}",      // 3: fine (net/mail accepts a dotless domain)
		"  - {id: wang, email: li@example.gov.cn}", // 4: duplicate
		"units:", // 5
		"  - {id: fzj, name: 市法制局, head: wang}", // 6
		"items:",                      // 7
		"  - id: a",                   // 8
		"    title: t",                // 9
		"    unit: fzj",               // 10
		"    due: 3 days",             // 11
		"    limit: 7d",               // 12
		"    colour: red",             // 13
		"  - id: b",                   // 14
		"    unit: fzj",               // 15: title missing (reported at 14)
		"    every: weekly thu 12:00", // 16
		"    roll: later",             // 17
		"  - id: a",                   // 18: duplicate item
		"    title: t",                // 19
		"    due: 2wd",                // 20
		"    policy: nope",            // 21
	)
	_, errs := load(t, nil, f)
	check(t, errs, []want{
		{"tracked.yaml", 1, "office.email", "bare address"},
		{"tracked.yaml", 4, "people[1].id", `duplicate person id "wang": already defined at tracked.yaml:3`},
		{"tracked.yaml", 11, "items[0].due", `"3 days" is not a deadline`},
		{"tracked.yaml", 13, "items[0].colour", "unknown key"},
		{"tracked.yaml", 14, "items[1].title", "required"},
		{"tracked.yaml", 17, "items[1].roll", "not a roll"},
		{"tracked.yaml", 18, "items[2].id", `duplicate item id "a": already defined at tracked.yaml:8`},
		{"tracked.yaml", 21, "items[2].policy", "unknown policy"},
	})
	if s := errs.Error(); strings.Count(s, "\n") != len(errs)-1 ||
		!strings.HasPrefix(s, "tracked.yaml:1: office.email: ") ||
		!strings.Contains(s, "\ntracked.yaml:11: items[0].due: \"3 days\" is not a deadline; use 3d, 3wd, 0wd, 1mo, 48h, 2026-09-30 or 2026-09-30 17:00\n") {
		t.Errorf("Errors.Error() =\n%s", s)
	}
}

func TestErrorsAcrossFiles(t *testing.T) {
	a := file("a.yaml",
		"office: {name: 督查室, email: ducha@example.gov.cn}",
		"units:",
		"  - {id: fzj, name: 市法制局}",
		"items:",
		"  - {id: x, title: t, unit: gone, due: 3d}",
	)
	b := file("b.yaml",
		"office: {name: 督查室, email: other@example.gov.cn}",
		"units:",
		"  - {id: fzj, name: 法制局}",
		"items:",
		"  - {id: y, title: t, unit: fzj, due: 3 d}",
	)
	same := file("c.yaml", "office: {name: 督查室, email: ducha@example.gov.cn}")
	_, errs := load(t, nil, b, a, same)
	check(t, errs, []want{
		{"b.yaml", 5, "items[0].due", "not a deadline"},
		{"a.yaml", 1, "office", "differs from the office set at b.yaml:1"},
		{"a.yaml", 3, "units[0].id", `duplicate unit id "fzj": already defined at b.yaml:3`},
		{"a.yaml", 5, "items[0].unit", `unknown unit "gone"`},
		{"c.yaml", 1, "office", "differs from the office set at b.yaml:1"},
	})

	// Equal offices in several files are fine; the office is set once.
	bundle, errs := load(t, nil, same, same)
	if errs != nil || bundle.Office == nil || bundle.Office.Email != "ducha@example.gov.cn" {
		t.Fatalf("equal offices: %v %+v", errs, bundle)
	}
}

func TestMalformedYAML(t *testing.T) {
	cases := []struct {
		name string
		data string
		line int
		msg  string
	}{
		{"tab indentation", "items:\n  - id: a\n\ttitle: t\n", 3, "tabs"},
		{"tab after key", "items:\n  - id: a\n    title:\tt\n    due: 3d\n\t  unit: fzj\n", 5, ""},
		{"unterminated double quote", "items:\n  - id: a\n    title: \"第31次\n    due: 3d\n", 3, ""},
		{"unterminated single quote", "people:\n  - {id: wang, name: '王}\n", 2, ""},
		{"bad mapping", "items:\n  - id: a\n    title: t: u\n", 3, "mapping values are not allowed"},
		{"bad mapping on line 1", "office: name: x\n", 1, "mapping values are not allowed"},
		{"bad indentation", "items:\n  - id: a\n    title: t\n   due: 3d\n", 4, ""},
		{"key outside mapping", "units:\n  - {id: a, name: A}\n  oops\n", 3, ""},
		{"unclosed flow sequence", "units:\n  - id: a\n    name: [A, B\n  - id: b\n", 3, ""},
		{"second document", "units: []\n---\nitems: []\n", 2, "one YAML document"},
		{"control character", "items:\n  - id: a\n    title: x\x01y\n", 3, "control characters"},
		{"invalid UTF-8", "items:\n  - id: a\n\n    title: \xff\n", 4, "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := load(t, nil, trackfile.File{Name: "bad.yaml", Data: []byte(c.data)})
			if len(errs) != 1 {
				t.Fatalf("want one error, got %v", errs)
			}
			e := errs[0]
			if e.File != "bad.yaml" || e.Line != c.line || e.Field != "" || !strings.Contains(e.Msg, c.msg) {
				t.Errorf("got %q (line %d), want line %d containing %q", e.Error(), e.Line, c.line, c.msg)
			}
		})
	}
}

func TestSyntaxErrorSuppressesDanglingReferences(t *testing.T) {
	units := file("units.yaml", "units:", "  - {id: fzj, name: 市法制局", "policies: []")
	items := trackfile.File{Name: "items.yaml", Data: mustRead(t, "testdata/items.yaml")}
	bad := file("bad.yaml", "items:", "  - {id: x, title: t, due: 3 days}")
	_, errs := load(t, nil, units, items, bad)
	check(t, errs, []want{
		{"units.yaml", 2, "", "did not find expected ',' or '}'"},
		{"bad.yaml", 2, "items[0].due", "not a deadline"},
	})
}

func TestEmptyFiles(t *testing.T) {
	for _, data := range []string{"", "\n", "# nothing yet\n", "---\n", "items:\n", "items: []\npeople: ~\n"} {
		b, errs := load(t, nil, trackfile.File{Name: "e.yaml", Data: []byte(data)})
		if errs != nil {
			t.Errorf("%q: %v", data, errs)
			continue
		}
		if b.Office != nil || len(b.People)+len(b.Units)+len(b.Policies)+len(b.Items) != 0 {
			t.Errorf("%q: bundle not empty: %+v", data, b)
		}
	}
	b, errs := load(t, nil)
	if errs != nil || b == nil {
		t.Errorf("no files: %v %v", b, errs)
	}
}

func TestScalarsAreText(t *testing.T) {
	f := file("s.yaml",
		"people:",
		"  - {id: 007, name: 0, email: bond@example.gov.cn}",
		"units:",
		"  - {id: 12, name: 2026-09-30, head: 007}",
		"policies:",
		"  - id: 1.5",
		"    steps:",
		"      - {at: 0, to: [unit], level: due}",
		"      - at: -0",
		"        to: [007]",
		"        level: reminder",
		"items:",
		"  - id: 2026",
		"    title: 2026-09-24 16:00",
		"    doc: true",
		"    unit: 12",
		"    start: 2026-09-24 16:00",
		"    due: 2026-09-30",
		"    limit: 2026-10-08 17:00",
		"    policy: 1.5",
		"  - id: on",
		"    title: yes",
		"    units: 12",
		"    every: 0 12 * * THU",
		"    from: 2026-09-01",
		"    until: 2027-01-01",
	)
	b, errs := load(t, nil, f)
	if errs != nil {
		t.Fatal(errs)
	}
	if p := b.People[0]; p.ID != "007" || p.Name != "0" {
		t.Errorf("person = %+v", p)
	}
	if u := b.Units[0]; u.ID != "12" || u.Name != "2026-09-30" || u.Head != "007" {
		t.Errorf("unit = %+v", u)
	}
	if p := b.Policies[0]; p.ID != "1.5" || p.Steps[0].At != "0" || p.Steps[1].At != "-0" || p.Steps[1].To[0] != "007" {
		t.Errorf("policy = %+v", p)
	}
	it := b.Items[0]
	if it.ID != "2026" || it.Title != "2026-09-24 16:00" || it.Doc != "true" || it.Unit != "12" ||
		it.Start != "2026-09-24 16:00" || it.Due != "2026-09-30" || it.Limit != "2026-10-08 17:00" || it.Policy != "1.5" {
		t.Errorf("item = %+v", it)
	}
	if it := b.Items[1]; it.ID != "on" || it.Title != "yes" || !reflect.DeepEqual(it.Units, []string{"12"}) ||
		it.Every != "0 12 * * THU" || it.From != "2026-09-01" || it.Until != "2027-01-01" {
		t.Errorf("item = %+v", it)
	}
}

func TestFlowAndBlockListsAgree(t *testing.T) {
	flow := file("f.yaml",
		"items:",
		"  - {id: a, title: t, units: [fzj, mishu], co_units: [], due: 3d}",
	)
	block := file("f.yaml",
		"items:",
		"- id: a",
		"  title: t",
		"  units:",
		"  - fzj",
		"  - mishu",
		"  due: 3d",
	)
	quoted := file("f.yaml",
		"items:",
		`  - "id": "a"`,
		`    'title': 't'`,
		`    units: ["fzj", 'mishu']`,
		`    due: "3d"`,
	)
	var got []tracker.Item
	for _, f := range []trackfile.File{flow, block, quoted} {
		b, errs := load(t, nil, base, f)
		if errs != nil {
			t.Fatal(errs)
		}
		it := b.Items[0]
		it.Source = ""
		got = append(got, it)
	}
	if !reflect.DeepEqual(got[0], got[1]) || !reflect.DeepEqual(got[0], got[2]) {
		t.Errorf("flow, block and quoted forms differ:\n%+v\n%+v\n%+v", got[0], got[1], got[2])
	}
}

func TestWindowsStyleFile(t *testing.T) {
	plain := mustRead(t, "testdata/units.yaml")
	want, errs := load(t, nil, trackfile.File{Name: "units.yaml", Data: plain})
	if errs != nil {
		t.Fatal(errs)
	}
	// A byte order mark, a document start marker, CRLF line ends and an
	// end marker: the lines stay the same but for the one "---" adds.
	data := "\uFEFF---\r\n" + strings.ReplaceAll(string(plain), "\n", "\r\n") + "...\r\n"
	b, errs := load(t, nil, trackfile.File{Name: "units.yaml", Data: []byte(data)})
	if errs != nil {
		t.Fatal(errs)
	}
	if b.Units[1].Source != "units.yaml:12" || b.Units[1].Leader != "li" || b.Units[1].Name != "市政府办公室秘书科" {
		t.Errorf("unit = %+v", b.Units[1])
	}
	for _, x := range []*tracker.Bundle{b, want} {
		for i := range x.People {
			x.People[i].Source = ""
		}
		for i := range x.Units {
			x.Units[i].Source = ""
		}
		for i := range x.Policies {
			x.Policies[i].Source = ""
		}
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("bundles differ\n got: %+v\nwant: %+v", b, want)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &trackfile.Error{File: "tracked.yaml", Line: 14, Field: "items[2].due", Msg: `"3 days" is not a deadline`}
	if got := e.Error(); got != `tracked.yaml:14: items[2].due: "3 days" is not a deadline` {
		t.Errorf("Error() = %q", got)
	}
	e = &trackfile.Error{File: "tracked.yaml", Line: 3, Msg: "found character that cannot start any token"}
	if got := e.Error(); got != "tracked.yaml:3: found character that cannot start any token" {
		t.Errorf("Error() = %q", got)
	}
	errs := trackfile.Errors{e, {File: "b.yaml", Line: 1, Field: "x", Msg: "y"}}
	var target *trackfile.Error
	if !errors.As(error(errs), &target) || target != e {
		t.Errorf("errors.As(*Error) = %v", target)
	}
	if got := errs.Error(); got != "tracked.yaml:3: found character that cannot start any token\nb.yaml:1: x: y" {
		t.Errorf("Errors.Error() = %q", got)
	}
}

// FuzzLoad feeds the loader arbitrary bytes, alone and after a valid
// units.yaml: it must not panic, must return a bundle or a non-empty,
// ordered Errors whose every entry names the file and a line, and must
// finish in bounded time (a hang in the YAML parser or in the search for
// a syntax error's line shows as a failure, not as a stuck fuzzer). The
// seed corpus is testdata/fuzz/FuzzLoad plus the inputs added here.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"testdata/spec.yaml", "testdata/units.yaml", "testdata/items.yaml", "testdata/odd.yaml"} {
		f.Add(mustRead(f, name))
	}
	for _, s := range []string{
		"",
		"items:\n  - {id: a, title: t, unit: fzj, due: 3d, limit: 2026-01-01}\n",
		"items:\n  - id: a\n    title: t\n    units: [x, x]\n    every: cron 0 12 * * THU\n    roll: skip\n    from: 2026-09-01\n    until: 2026-08-01\n",
		"policies:\n  - id: p\n    max_extension: 1mo\n    steps: [{at: limit, every: 1wd, to: [office, a@b.cn, p1], level: escalation}]\n",
		"people:\n  - {id: a, email: \"a@b.cn\\r\\nBcc: x@y.cn\"}\n",
		"items:\n\t- id: a\n",
		"a: &x [*x]\nitems: *x\n",
		"office: {name: x, email: 'X <x@y.cn>'}\nunits:\n  - {id: u, name: U, head: nobody}\n",
	} {
		f.Add([]byte(s))
	}
	units := mustRead(f, "testdata/units.yaml")
	known := func(kind, id string) bool { return id == "stored" }
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, files := range [][]trackfile.File{
			{{Name: "f.yaml", Data: data}},
			{{Name: "units.yaml", Data: units}, {Name: "f.yaml", Data: data}},
		} {
			start := time.Now()
			b, err := trackfile.Load(files, shanghai, known)
			if d := time.Since(start); d > fuzzLoadBound {
				t.Fatalf("Load took %v on %d bytes", d, len(data))
			}
			if err == nil {
				if b == nil {
					t.Fatal("neither bundle nor error")
				}
				continue
			}
			var errs trackfile.Errors
			if b != nil || !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("bad result: bundle %v, error %T %v", b, err, err)
			}
			for i, e := range errs {
				if e == nil || e.Msg == "" || e.File == "" || e.Line < 1 {
					t.Fatalf("malformed error %d: %#v", i, e)
				}
				if i > 0 && e.File == errs[i-1].File && e.Line < errs[i-1].Line {
					t.Fatalf("errors out of order: %v", errs)
				}
			}
		}
	})
}

// fuzzLoadBound is how long FuzzLoad lets one Load of a fuzz input (a few
// KiB at most) take: generous for a slow, shared machine, and far below
// what a hang would take.
const fuzzLoadBound = 10 * time.Second

// TestParsersAgree loads files as they are and with a document end
// marker added; the bundles must be equal. (It compared the hand-written
// fast parser with yaml.v3; yaml.v3 is now the only parser, and the test
// keeps checking that the marker changes nothing, lines included.)
func TestParsersAgree(t *testing.T) {
	for _, name := range []string{"spec.yaml", "units.yaml", "items.yaml", "odd.yaml"} {
		data := mustRead(t, "testdata/"+name)
		files := func(data []byte) []trackfile.File {
			if name == "items.yaml" {
				return []trackfile.File{{Name: "units.yaml", Data: mustRead(t, "testdata/units.yaml")}, {Name: name, Data: data}}
			}
			return []trackfile.File{{Name: name, Data: data}}
		}
		fast, errs := load(t, nil, files(data)...)
		if errs != nil {
			t.Fatalf("%s: %v", name, errs)
		}
		slow, errs := load(t, nil, files(append(append([]byte(nil), data...), "...\n"...))...)
		if errs != nil {
			t.Fatalf("%s with ...: %v", name, errs)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: fast and yaml.v3 bundles differ\nfast: %+v\nslow: %+v", name, fast, slow)
		}
	}
	b, _ := load(t, nil, trackfile.File{Name: "odd.yaml", Data: mustRead(t, "testdata/odd.yaml")})
	it := b.Items[0]
	if it.Title != "第31次常务会议 纪要签发" || it.Requirements != "会议纪要签发并报市政府办公室, 并抄送各相关单位。\n" || it.Source != "odd.yaml:25" {
		t.Errorf("odd item = %+v", it)
	}
	if b.People[1].Name != "李秘书长" || b.Units[0].Head != "wang" || b.Items[1].Title != "执行难案件 进展周报" {
		t.Errorf("odd bundle = %+v", b)
	}
}

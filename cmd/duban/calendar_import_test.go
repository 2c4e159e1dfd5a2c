package main

// SPEC §12: the working calendar from the State Council notice, end to
// end through `duban calendar import` and real daemon passes.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"duban/tracker"
)

// notice2027 is a realistic 2027 notice (written for the tests in the
// grammar of the real ones): 2 weekdays more off at the Spring Festival
// than the law alone gives, and two weekend working days.
func notice2027(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "tracker", "calnotice", "testdata", "2027.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// calendarItems straddle the year boundary (cross-a) and the 2027 Spring
// Festival, whose 调休 the provisional calendar does not know.
const calendarItems = `items:
  - {id: cross-a, title: 跨年办理事项, unit: mishu, start: "2026-12-28 10:00", due: 10wd, policy: standard}
  - {id: spring-b, title: 春节前后事项, unit: fzj, start: "2027-01-29 10:00", due: 5wd, policy: standard}
  - {id: spring-c, title: 节后报送事项, unit: mishu, start: "2027-02-03 10:00", due: 3wd, policy: standard}
  - {id: spring-d, title: 节前部署事项, unit: mishu, start: "2027-02-02 10:00", due: 4wd, policy: standard}
`

// TestCalendarImportAppliesANoticeThroughDaemonPasses: the preview names
// every moved deadline and changes nothing; --apply stores the notice;
// the next daemon pass recomputes, clears 暂定 and mails one 更正 per
// recipient; nothing is lost or sent twice.
func TestCalendarImportAppliesANoticeThroughDaemonPasses(t *testing.T) {
	e := newMailEnv(t, "login")
	units := e.writeUnits()
	items := e.writeTemp("items.yaml", calendarItems)
	e.mustRun("import", units, items, "--at", "2026-11-10 10:00")
	first := e.byRecipient(e.pass("2026-11-10 10:01"))
	if len(first["wang@example.gov.cn"]) != 1 || len(first["zhou@example.gov.cn"]) != 1 {
		t.Fatalf("first pass: wang %d, zhou %d messages, want the assigned notices", len(first["wang@example.gov.cn"]), len(first["zhou@example.gov.cn"]))
	}
	before := e.list()
	for id, want := range map[string]string{"cross-a": "2027-01-13T00:00:00+08:00", "spring-b": "2027-02-12T00:00:00+08:00",
		"spring-c": "2027-02-13T00:00:00+08:00", "spring-d": "2027-02-13T00:00:00+08:00"} {
		if r := before[id]; r.Due != want || !r.Provisional {
			t.Fatalf("%s before the notice: due %s provisional %t, want %s provisional", id, r.Due, r.Provisional, want)
		}
	}

	// The preview: the grid, the blocks, the moves; nothing written.
	hash := e.dbHash()
	out := e.mustRun("calendar", "import", notice2027(t), "--at", "2026-11-10 11:00")
	for _, want := range []string{
		"国务院办公厅关于2027年部分节假日安排的通知（2027年，全国）",
		"春节          2027年2月5日至2027年2月13日 共9天　调休上班：2月14日（周日）、2月20日（周六）",
		"spring-b", "春节前后事项", "2027-02-11 24:00（暂定）", "→ 2027-02-14 24:00",
		"不再“暂定”的期限：4项", "将寄出的更正：3封", "以上为预览，没有做任何改动",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preview lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "cross-a  ") {
		t.Errorf("preview moves cross-a, whose deadline stays:\n%s", out)
	}
	if e.dbHash() != hash {
		t.Fatal("the preview changed the database")
	}
	var pj importJSON
	if err := json.Unmarshal([]byte(e.mustRun("calendar", "import", notice2027(t), "--format", "json")), &pj); err != nil {
		t.Fatal(err)
	}
	if pj.Year != 2027 || len(pj.Days) != 35 || len(pj.Moves) != 3 || pj.Corrections != 3 || len(pj.NoLongerProvisional) != 4 {
		t.Errorf("json preview: year %d, %d days, %d moves, %d corrections, %d resolved", pj.Year, len(pj.Days), len(pj.Moves), pj.Corrections, len(pj.NoLongerProvisional))
	}

	e.mustRun("calendar", "import", notice2027(t), "--apply", "--at", "2026-11-10 11:00")
	// A second national notice for 2027 needs --replace.
	if code, _, stderr := e.run("calendar", "import", e.writeTemp("other.txt", strings.Replace(readFile(t, notice2027(t)), "9月26日（周日）、", "", 1))); code != 2 || !strings.Contains(stderr, "--replace") {
		t.Errorf("second 2027 notice without --replace: exit %d, %s", code, stderr)
	}

	// The next daemon pass recomputes and mails the corrections.
	byR := e.byRecipient(e.pass("2026-11-10 12:00"))
	after := e.list()
	for id, want := range map[string]string{"cross-a": "2027-01-13T00:00:00+08:00", "spring-b": "2027-02-15T00:00:00+08:00",
		"spring-c": "2027-02-16T00:00:00+08:00", "spring-d": "2027-02-16T00:00:00+08:00"} {
		if r := after[id]; r.Due != want || r.Provisional {
			t.Errorf("%s after the notice: due %s provisional %t, want %s not provisional", id, r.Due, r.Provisional, want)
		}
	}
	if len(byR) != 2 || len(byR["wang@example.gov.cn"]) != 1 || len(byR["zhou@example.gov.cn"]) != 1 {
		t.Fatalf("after the notice: messages %v, want one to wang and one to zhou", recipients(byR))
	}
	for to, ids := range map[string][]string{"wang@example.gov.cn": {"spring-b"}, "zhou@example.gov.cn": {"spring-c", "spring-d"}} {
		m := byR[to][0]
		if n := strings.Count(m.Text, "【更正】"); n != len(ids) || !strings.Contains(m.Subject, "更正") {
			t.Errorf("%s: %d corrections in %q, want %d:\n%s", to, n, m.Subject, len(ids), m.Text)
		}
		for _, id := range ids {
			if !strings.Contains(m.Text, "事项编号："+id) {
				t.Errorf("%s: the correction lacks %s:\n%s", to, id, m.Text)
			}
		}
	}
	if text := byR["wang@example.gov.cn"][0].Text; !strings.Contains(text, "现办理时限：2027年2月14日(星期日)24时前\n") {
		t.Errorf("the correction does not give the firm deadline:\n%s", text)
	}
	// History names the notice; a second pass sends nothing more;
	// no notice identity occurs twice.
	if show := e.mustRun("show", "spring-b"); !regexp.MustCompile(`2027年通知`).MatchString(show) {
		t.Errorf("show spring-b: the recompute does not name the notice:\n%s", show)
	}
	if again := e.pass("2026-11-10 12:01"); len(again) != 0 {
		t.Errorf("a second pass sent %d messages", len(again))
	}
	seen := map[string]bool{}
	notices := 0
	for _, r := range e.outbox("--all") {
		if seen[r.Key] {
			t.Errorf("outbox key %s twice", r.Key)
		}
		seen[r.Key] = true
		if r.Instance != "" {
			if notices++; r.State != "sent" {
				t.Errorf("%s is %s, want sent", r.Key, r.State)
			}
		}
	}
	if notices != 7 {
		t.Errorf("outbox holds %d notices, want 4 assigned and 3 corrections: %v", notices, seen)
	}

	// show and export use the imported notice.
	show := e.mustRun("calendar", "show", "2027")
	if !strings.Contains(show, "来源：通知（2026-11-10 11:00 由") || !strings.Contains(show, "14班") {
		t.Errorf("calendar show 2027:\n%s", show)
	}
	var exp tracker.HolidayFile
	if err := json.Unmarshal([]byte(e.mustRun("calendar", "export", "2027")), &exp); err != nil || exp.Year != 2027 || len(exp.Days) != 35 {
		t.Errorf("calendar export 2027: %v %+v", err, exp)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func recipients(m map[string][]parsedMail) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

package main

// SPEC §12: the working calendar from the State Council notice, end to
// end through `duban calendar import` and real daemon passes.

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/daemon"
	"duban/tracker"
	"duban/tracker/kvstore"
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
		"与现在使用的暂定日历相比，11天改变：2月11日（周四）休、2月12日（周五）休、2月14日（周日）班、2月20日（周六）班、4月25日（周日）班、5月5日（周三）休、",
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
	for _, m := range pj.Moves {
		if m.ID == "spring-b" && (m.Field != "deadline" || !m.From.Equal(atTime(t, "2027-02-12 00:00")) || !m.To.Equal(atTime(t, "2027-02-15 00:00"))) {
			t.Errorf("json move of spring-b: %+v", m)
		}
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

	// due, show and export use the imported notice.
	if due := e.mustRun("due", "5wd", "--from", "2027-01-29 10:00"); !strings.HasPrefix(due, "2027-02-14 24:00") || strings.Contains(due, "暂定") {
		t.Errorf("due 5wd from 29 Jan 2027: %s", due)
	}
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

// TestCalendarImportIntoTheRunningDaemon: the notice pasted on standard
// input is forwarded over the admin socket; the daemon stores it, rebuilds
// its calendar and recomputes at once (no SIGHUP, no restart), and the
// 更正 goes out with the pass the command wakes.
func TestCalendarImportIntoTheRunningDaemon(t *testing.T) {
	dir := t.TempDir()
	e := &testEnv{t: t, dir: dir, config: filepath.Join(dir, "duban.yaml"), db: filepath.Join(dir, "duban.db")}
	e.writeUnits()
	e.writeTemp("items.yaml", calendarItems)
	sock := shortSocket(t, dir)
	e.writeTemp("duban.yaml", "db: duban.db\nadmin: {socket: "+sock+"}\ntracking: [units.yaml, items.yaml]\n"+
		"mail: {transport: file, file: {dir: outbox}}\nlog: {level: info}\n")
	_, logs := startTestDaemon(t, e, "2026-11-10 10:00")
	// The socket file exists a moment before it answers: wait for an answer.
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			break
		}
		if time.Now().After(wait) {
			t.Fatalf("the daemon does not answer on %s:\n%s", sock, logs.String())
		}
	}
	sentTo := func(level string) map[string]int {
		out := map[string]int{}
		for _, r := range e.outbox("--all") {
			if r.Level == level && r.State == "sent" {
				out[r.To]++
			}
		}
		return out
	}
	for wait := time.Now().Add(10 * time.Second); len(sentTo("assigned")) < 2 && time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
	}
	if got := sentTo("assigned"); len(got) != 2 {
		t.Fatalf("assigned notices sent: %v\n%s", got, logs.String())
	}

	var out, errb bytes.Buffer
	c := &app{stdout: &out, stderr: &errb, stdin: strings.NewReader(readFile(t, notice2027(t))), cwd: dir, actor: "office"}
	if code := c.execute(t.Context(), []string{"calendar", "import", "-", "--apply", "--config", e.config}); code != 0 {
		t.Fatalf("calendar import - --apply: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "守护进程已按新日历重新计算期限") || !strings.Contains(out.String(), "→ 2027-02-14 24:00") {
		t.Errorf("import output:\n%s", out.String())
	}
	// Recomputed before the command returned.
	rows := e.list()
	if r := rows["spring-b"]; r.Due != "2027-02-15T00:00:00+08:00" || r.Provisional {
		t.Errorf("spring-b after the import: %+v\n%s", r, logs.String())
	}
	var corr map[string]int
	for wait := time.Now().Add(10 * time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
		if corr = sentTo(string(tracker.LevelCorrection)); corr["wang@example.gov.cn"] == 1 && corr["zhou@example.gov.cn"] == 2 {
			break
		}
	}
	if len(corr) != 2 || corr["wang@example.gov.cn"] != 1 || corr["zhou@example.gov.cn"] != 2 {
		t.Errorf("corrections sent: %v, want spring-b's to wang and spring-c's and spring-d's to zhou\n%s", corr, logs.String())
	}
	if show := e.mustRun("calendar", "show", "2027"); !strings.Contains(show, "由 office 载入") {
		t.Errorf("calendar show 2027 through the daemon:\n%s", show)
	}
}

// TestCalendarImportRefusesAndLayers: a bad notice exits 2 quoting the
// line and changes nothing; the 2020 notice and its extension, applied in
// turn, give exactly the embedded 2020 data; a regional notice adds its
// day; --replace supersedes; show names each year's source.
func TestCalendarImportRefusesAndLayers(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	hash := e.dbHash()
	bad := e.writeTemp("bad.txt", "国务院办公厅关于2027年部分节假日安排的通知\n一、元旦：1月1日至3日放假，共3天。\n二、春节：2月5日至13日放假调休，共9天。2月15日（星期一）上班。\n")
	code, out, stderr := e.run("calendar", "import", bad, "--apply")
	if code != 2 || !strings.Contains(stderr, "第3行「二、春节:2月5日至13日放假调休,共9天。2月15日(星期一)上班。」") ||
		!strings.Contains(stderr, "不是周末") || out != "" {
		t.Errorf("bad notice: exit %d\nstdout %s\nstderr %s", code, out, stderr)
	}
	if e.dbHash() != hash {
		t.Error("a refused notice changed the database")
	}

	// 2020: the notice, then its extension, equal the embedded file.
	embedded := exportDays(t, e, "2020")
	e.mustRun("calendar", "import", filepath.Join("..", "..", "tracker", "calnotice", "testdata", "2020.txt"), "--apply")
	if got := exportDays(t, e, "2020"); len(got) != len(embedded)-3 {
		t.Errorf("2020 without the extension: %d days, want %d", len(got), len(embedded)-3)
	}
	out = e.mustRun("calendar", "import", filepath.Join("..", "..", "tracker", "calnotice", "testdata", "2020-extension.txt"), "--apply")
	if !strings.Contains(out, "补充通知") || !strings.Contains(out, "2020年1月24日至2020年2月2日 共10天") {
		t.Errorf("extension preview:\n%s", out)
	}
	if got := exportDays(t, e, "2020"); !slicesEqualJSON(got, embedded) {
		t.Errorf("2020 notice + extension:\n%v\nwant the embedded\n%v", got, embedded)
	}
	if show := e.mustRun("calendar", "show", "2021"); !strings.Contains(show, "来源：内置") {
		t.Errorf("show 2021:\n%s", show)
	}
	if show := e.mustRun("calendar", "show", "2020"); !strings.Contains(show, "来源：通知（") {
		t.Errorf("show 2020:\n%s", show)
	}
	show := e.mustRun("calendar", "show", "2028")
	if !strings.Contains(show, "来源：暂定：按《全国年节及纪念日放假办法》推算") || !strings.Contains(show, "春节（暂定）") {
		t.Errorf("show 2028:\n%s", show)
	}
	if code, _, stderr := e.run("calendar", "export", "2028"); code != 2 || !strings.Contains(stderr, "暂定") {
		t.Errorf("export 2028: exit %d %s", code, stderr)
	}

	// A regional notice adds its day; a second national notice needs
	// --replace and keeps the regional day.
	reg := e.writeTemp("nx.txt", "宁夏回族自治区人民政府办公厅关于2024年开斋节放假的通知\n一、开斋节：4月10日（星期三）放假1天。\n")
	if code, _, stderr := e.run("calendar", "import", reg, "--apply"); code != 2 || !strings.Contains(stderr, "请加 --regional") {
		t.Errorf("regional notice without --regional: exit %d %s", code, stderr)
	}
	if code, _, stderr := e.run("calendar", "import", reg, "--apply", "--regional"); code != 0 {
		t.Fatalf("regional: %s", stderr)
	}
	if !strings.Contains(e.mustRun("calendar", "show", "2024"), "开斋节") {
		t.Error("show 2024 lacks the regional day")
	}
	national := filepath.Join("..", "..", "tracker", "calnotice", "testdata", "2024.txt")
	e.mustRun("calendar", "import", national, "--apply") // 2024 had no imported national notice
	if code, _, stderr := e.run("calendar", "import", national, "--apply"); code != 0 || !strings.Contains(e.mustRun("calendar", "import", national), "已经载入") {
		t.Errorf("the same notice again: exit %d %s", code, stderr)
	}
	changed := e.writeTemp("2024b.txt", strings.Replace(readFile(t, national), "五、端午节：6月10日放假，与周末连休。", "五、端午节：6月10日放假，与周末连休。6月8日（星期六）上班。", 1))
	if code, _, stderr := e.run("calendar", "import", changed); code != 2 || !strings.Contains(stderr, "--replace") {
		t.Errorf("second national 2024 notice: exit %d %s", code, stderr)
	}
	out = e.mustRun("calendar", "import", changed, "--replace", "--apply")
	if !strings.Contains(out, "取代") || !strings.Contains(out, "6月8日（周六）班") {
		t.Errorf("--replace preview:\n%s", out)
	}
	days := exportDays(t, e, "2024")
	var kaizhai, june8 bool
	for _, d := range days {
		kaizhai = kaizhai || d.Date == "2024-04-10" && d.IsOffDay
		june8 = june8 || d.Date == "2024-06-08" && !d.IsOffDay
	}
	if !kaizhai || !june8 {
		t.Errorf("2024 after --replace: 开斋节 %t, 8 June working %t", kaizhai, june8)
	}
}

func exportDays(t *testing.T, e *testEnv, year string) []tracker.HolidayDay {
	t.Helper()
	var f tracker.HolidayFile
	if err := json.Unmarshal([]byte(e.mustRun("calendar", "export", year)), &f); err != nil {
		t.Fatal(err)
	}
	return f.Days
}

func slicesEqualJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// startTestDaemon runs the daemon loop of e's configuration until the test
// ends, its clock starting at the given time and running on; it returns
// the daemon's log.
func startTestDaemon(t *testing.T, e *testEnv, at string) (*daemon.Daemon, *syncBuffer) {
	t.Helper()
	a := e.loadApp()
	st, err := kvstore.Open(a.cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	base, start := atTime(t, at), time.Now()
	d, err := daemon.New(daemon.Options{Config: a.cfg, Expander: a.x, Store: st, Logger: newLogger(logs, a.cfg.Log, a.cfg.Location),
		Clock: func() time.Time { return base.Add(time.Since(start)) }, ReadConfig: a.reload, Exec: execForwarded})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		st.Close()
	})
	return d, logs
}

// TestWeeklySummaryWarningEndsWithTheImportedNotice: the summary of 2 Nov
// warns that 2027 is missing and tells the office what to do; once the
// notice is imported the next summary no longer warns.
func TestWeeklySummaryWarningEndsWithTheImportedNotice(t *testing.T) {
	e, be := rptMailEnv(t)
	const office = "ducha@example.gov.cn"
	w45, w46 := "weekly|2026-W45|"+office, "weekly|2026-W46|"+office
	keys := []string{w45, w46, "bulletin|2026-09|" + office, "bulletin|2026-09|msz@example.gov.cn", "bulletin|2026-09|li@example.gov.cn",
		"bulletin|2026-10|" + office, "bulletin|2026-10|msz@example.gov.cn", "bulletin|2026-10|li@example.gov.cn"}
	m, ok := rptPass(t, e, be, "2026-11-02 09:00", keys...)[w45]
	if !ok || !strings.Contains(m.Text, "“工作日历”页粘贴国务院办公厅通知全文") {
		t.Fatalf("2 Nov summary (sent %t) lacks the warning:\n%s", ok, m.Text)
	}
	e.mustRun("calendar", "import", notice2027(t), "--apply", "--at", "2026-11-05 10:00")
	m, ok = rptPass(t, e, be, "2026-11-09 09:00", keys...)[w46]
	if !ok || strings.Contains(m.Text, "特别提示") || strings.Contains(m.HTML, "特别提示") {
		t.Errorf("9 Nov summary (sent %t) still warns with the 2027 notice imported:\n%s", ok, m.Text)
	}
}

package main

// Issue 7, points 5, 7 and 13: what the office and the units read —
// 暂定 on each provisional date, Chinese labels and wording, the ledger's
// and the bulletin's columns, the weekly summary's recipients.

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The holiday arrangement of 2027 is not loaded: every date in 2027 is
// provisional (SPEC §3).
const oUnitsYAML = `office: {name: 市政府督查室, email: ducha@example.gov.cn}
people:
  - {id: wang, name: 王冠标, email: wang@example.gov.cn}
  - {id: zhou, name: 周科长, email: zhou@example.gov.cn}
  - {id: chen, name: 陈主任, email: chen@example.gov.cn}
units:
  - {id: zfj, name: 市住房局, head: zhou}
  - {id: fzj, name: 市法制局, head: wang}
  - {id: afj, name: 市安监局, head: chen}
policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit], level: reminder}
      - {at: 0, to: [unit], level: due}
      - {at: +1wd, every: 1wd, to: [unit], level: overdue}
`

const oItemsYAML = `items:
  # 3wd from Tue 1 Dec 2026: 2, 3, 4 → Fri 4 Dec, a 2026 date; the limit,
  # 30 working days, reaches into January 2027: only the limit is provisional.
  - {id: limit-prov, title: 只有最迟时限暂定的事项, doc: 洛政办〔2026〕301号, unit: fzj, start: 2026-12-01, due: 3wd, limit: 30wd, policy: standard}
  # 10wd from Mon 21 Dec 2026 ends in January 2027: the deadline is provisional.
  - {id: due-prov, title: 办理时限暂定的事项, unit: zfj, co_units: [afj], start: 2026-12-21, due: 10wd, policy: standard}
`

// oEnv is an installation with oUnitsYAML and oItemsYAML imported on
// 22 Dec 2026, mailing to .eml files; extra is appended to its config.
func oEnv(t *testing.T, extra string) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	if extra != "" {
		cfg, err := os.ReadFile(e.config)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(e.config, append(cfg, extra...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.mustRun("import", e.writeTemp("units.yaml", oUnitsYAML), e.writeTemp("items.yaml", oItemsYAML), "--at", "2026-12-22 10:00")
	return e
}

// oRows returns `list --status all --format json` by id, with the limit.
func oRows(t *testing.T, e *testEnv, at string) map[string]listRow {
	t.Helper()
	rows := e.list("--status", "all", "--at", at)
	if len(rows) == 0 {
		t.Fatal("no instances")
	}
	return rows
}

// oDay returns the civil date of an RFC 3339 deadline instant as shown in
// tables: day deadlines end at 24:00 of their last day.
func oDay(t *testing.T, rfc string) string {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, rfc)
	if err != nil {
		t.Fatal(err)
	}
	return tm.Add(-time.Minute).Format("2006-01-02") + " 24:00"
}

// TestListAndShowSpeakChineseAndMarkEachProvisionalDate: list and show
// use Chinese headers and status names; --status takes either name; the
// mark 暂定 stands on the provisional date only. Today's main printed
// "ID", "open" and put "(暂定)" on the deadline when only the limit was
// provisional.
func TestListAndShowSpeakChineseAndMarkEachProvisionalDate(t *testing.T) {
	e := oEnv(t, "")
	const at = "2026-12-22 10:00"
	rows := oRows(t, e, at)
	lp, dp := rows["limit-prov"], rows["due-prov"]
	if lp.Status != "open" || !lp.Provisional || lp.Limit == nil || !strings.HasPrefix(*lp.Limit, "2027-") ||
		!strings.HasPrefix(lp.Due, "2026-12-05T00:00") {
		t.Fatalf("limit-prov in JSON: %+v (want status open, due 2026-12-04 24:00, a 2027 limit, provisional)", lp)
	}
	if !strings.HasPrefix(dp.Due, "2027-01-") || !dp.Provisional {
		t.Fatalf("due-prov in JSON: %+v (want a provisional January 2027 deadline)", dp)
	}

	table := e.mustRun("list", "--at", at)
	lines := strings.Split(table, "\n")
	for _, h := range []string{"编号", "单位", "事项", "状态", "办理时限", "最迟时限", "逾期"} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header %q lacks %q", lines[0], h)
		}
	}
	for _, w := range []string{"ID", "open", "pending"} {
		if regexp.MustCompile(`\b` + w + `\b`).MatchString(table) {
			t.Errorf("table shows %q:\n%s", w, table)
		}
	}
	line := func(id string) string {
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), id+" ") {
				return l
			}
		}
		t.Fatalf("no line for %s:\n%s", id, table)
		return ""
	}
	lpDue, lpLimit := oDay(t, lp.Due), oDay(t, *lp.Limit)
	l := line("limit-prov")
	if !strings.Contains(l, "办理中") || !strings.Contains(l, lpLimit+"（暂定）") {
		t.Errorf("limit-prov line %q: want 办理中 and the limit %s marked （暂定）", l, lpLimit)
	}
	if strings.Contains(l, lpDue+"（暂定）") || strings.Contains(l, lpDue+" (暂定)") {
		t.Errorf("limit-prov line %q: the deadline %s is not provisional but is marked", l, lpDue)
	}
	if l := line("due-prov/afj"); !strings.Contains(l, "市安监局（协办）") || !strings.Contains(l, "（暂定）") {
		t.Errorf("co-unit line %q: want 市安监局（协办） and its deadline marked", l)
	}

	// --status takes the Chinese or the English name, several, or all.
	for _, s := range []string{"办理中", "open", "OPEN", " 办理中 "} {
		if got := e.mustRun("list", "--status", s, "--at", at); got != table {
			t.Errorf("--status %q lists\n%s\nwant\n%s", s, got, table)
		}
	}
	if got := e.list("--status", "已办结,待审核", "--at", at); len(got) != 0 {
		t.Errorf("--status 已办结,待审核 lists %v, want nothing", got)
	}
	if got := e.list("--status", "all", "--at", at); len(got) != len(rows) {
		t.Errorf("--status all lists %d, want %d", len(got), len(rows))
	}
	code, _, stderr := e.run("list", "--status", "完成", "--at", at)
	if code != 2 || !strings.Contains(stderr, "已办结") || !strings.Contains(stderr, "完成") {
		t.Errorf("--status 完成: exit %d, %q; want 2 naming the statuses", code, stderr)
	}

	show := strings.ReplaceAll(e.mustRun("show", "limit-prov", "--at", at), "　", "") // labels are padded with U+3000
	for _, w := range []string{"编号", "事项：只有最迟时限暂定的事项", "文号：洛政办〔2026〕301号", "承办单位：市法制局（fzj）",
		"状态：办理中，已逾期", "办理时限：" + lpDue + "  [", "最迟时限：" + lpLimit + "（暂定）", "通知计划：", "办理记录："} {
		if !strings.Contains(show, w) {
			t.Errorf("show lacks %q:\n%s", w, show)
		}
	}
	for _, w := range []string{"status:", "deadline:", "hard limit:", "history:", "plan:", "provisional", " open", "tracked "} {
		if strings.Contains(show, w) {
			t.Errorf("show prints %q:\n%s", w, show)
		}
	}
	var v struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("show", "limit-prov", "--format", "json", "--at", at)), &v); err != nil || v.Status != "open" {
		t.Errorf("show JSON status %q (%v), want the English open", v.Status, err)
	}
}

// oMails reads the .eml files of the file transport, decoded.
func oMails(t *testing.T, e *testEnv) []rptMail {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(e.dir, "outbox", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []rptMail
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := rptParseMail(raw)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		to := regexp.MustCompile(`(?m)^To: .*<([^>]+)>|(?m)^To: ([^\s<]+@[^\s>]+)`).FindSubmatch(raw)
		if to != nil {
			m.To = []string{string(to[1]) + string(to[2])}
		}
		out = append(out, m)
	}
	return out
}

// oEnglish finds status, level and command words and config keys in mail.
var oEnglish = regexp.MustCompile(`\b(duban|done|extend|open|pending|review|returned|withdrawn|overdue|reminder|escalation|assigned|day_end|send_time|weekly_to|leaders|config|status|level)\b`)

// TestNoticesMarkEachProvisionalDateAndSpeakToRecipients: a notice marks
// the provisional date only (the limit of one item, the deadline of the
// other), explains the mark, names no command or English word, and the
// calendar invitation's summary carries 暂定 when the deadline is
// provisional. Today's main marked nothing and wrote "以 duban done 登记办结".
func TestNoticesMarkEachProvisionalDateAndSpeakToRecipients(t *testing.T) {
	e := oEnv(t, "")
	e.mustRun("serve", "--once", "--at", "2026-12-22 10:05")
	var wang, zhou *rptMail
	mails := oMails(t, e)
	for i := range mails {
		m := &mails[i]
		switch {
		case !strings.Contains(m.Subject, "【"):
		case strings.Contains(m.Text, "只有最迟时限暂定的事项"):
			wang = m
		case strings.Contains(m.Text, "办理时限暂定的事项") && strings.Contains(m.Text, "市住房局"):
			zhou = m
		}
	}
	if wang == nil || zhou == nil {
		var subjects []string
		for _, m := range mails {
			subjects = append(subjects, m.Subject)
		}
		t.Fatalf("notices for both items expected; got %v", subjects)
	}
	field := func(m *rptMail, name string) string {
		for _, l := range strings.Split(m.Text, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimLeft(l, "　 "), name+"："); ok {
				return v
			}
		}
		return ""
	}
	if d, l := field(wang, "办理时限"), field(wang, "最迟时限"); strings.Contains(d, "（暂定）") || !strings.HasSuffix(l, "（暂定）") ||
		!strings.HasPrefix(l, "2027年") {
		t.Errorf("limit-prov notice: 办理时限 %q, 最迟时限 %q; want only the 2027 limit marked （暂定）", d, l)
	}
	if d := field(zhou, "办理时限"); !strings.HasPrefix(d, "2027年1月") || !strings.HasSuffix(d, "24时前（暂定）") {
		t.Errorf("due-prov notice: 办理时限 %q, want a January 2027 deadline marked （暂定）", d)
	}
	for _, m := range []*rptMail{wang, zhou} {
		if !strings.Contains(field(m, "时限说明"), "暂定") || !strings.Contains(m.HTML, "时限说明") {
			t.Errorf("notice to %v does not explain 暂定:\n%s", m.To, m.Text)
		}
		if !strings.Contains(m.Text, "办理完毕后请回复督查室报结；如需延期，请说明理由。") {
			t.Errorf("notice to %v does not say how to report back:\n%s", m.To, m.Text)
		}
		if w := oEnglish.FindAllString(m.Subject+"\n"+m.Text, -1); len(w) > 0 {
			t.Errorf("notice to %v names %v:\n%s", m.To, w, m.Text)
		}
	}
	summary := func(m *rptMail) string {
		ics := strings.ReplaceAll(string(m.Attachments["deadline.ics"]), "\r\n ", "")
		for _, l := range strings.Split(ics, "\r\n") {
			if s, ok := strings.CutPrefix(l, "SUMMARY:"); ok {
				return s
			}
		}
		t.Fatalf("no SUMMARY in the invitation to %v:\n%s", m.To, ics)
		return ""
	}
	if s := summary(zhou); s != "办理时限暂定的事项 截止（暂定）" {
		t.Errorf("due-prov invitation SUMMARY %q, want it marked （暂定）", s)
	}
	if s := summary(wang); s != "只有最迟时限暂定的事项 截止" {
		t.Errorf("limit-prov invitation SUMMARY %q: its deadline is not provisional", s)
	}
}

// TestWeeklySummaryGoesToWeeklyToAndMarksProvisionalDates: with
// report.weekly_to set, the summary goes to those addresses and not to
// the office; its dates carry 暂定 where provisional. The bulletin still
// goes to the office. Today's main had no such key.
func TestWeeklySummaryGoesToWeeklyToAndMarksProvisionalDates(t *testing.T) {
	e := oEnv(t, "report:\n  weekly_to: [\"办公室主任 <zr@example.gov.cn>\", fgld@example.gov.cn]\n")
	e.mustRun("serve", "--once", "--at", "2026-12-22 10:05")
	var weekly, bulletin []rptMail
	for _, m := range oMails(t, e) {
		switch {
		case strings.HasPrefix(m.Subject, "督办工作周报"):
			weekly = append(weekly, m)
		case strings.HasSuffix(m.Subject, "办理情况通报"):
			bulletin = append(bulletin, m)
		}
	}
	var to []string
	for _, m := range weekly {
		to = append(to, m.To...)
	}
	slices.Sort(to)
	if want := []string{"fgld@example.gov.cn", "zr@example.gov.cn"}; !slices.Equal(to, want) {
		t.Fatalf("weekly summary went to %v, want %v", to, want)
	}
	if len(bulletin) != 1 || !slices.Equal(bulletin[0].To, []string{"ducha@example.gov.cn"}) {
		t.Errorf("bulletin: %d mails to %v, want one to the office", len(bulletin), bulletin)
	}
	rows := oRows(t, e, "2026-12-22 10:05")
	lp, dp := rows["limit-prov"], rows["due-prov"]
	text := weekly[0].Text
	for _, w := range []string{
		oDay(t, dp.Due) + "（暂定）",                                // tracked this week, deadline provisional
		oDay(t, lp.Due) + "（最迟 " + oDay(t, *lp.Limit) + "（暂定））", // tracked, only the limit provisional
		"市法制局：只有最迟时限暂定的事项（洛政办〔2026〕301号），期限 " + oDay(t, lp.Due) + "，已逾期", // overdue, its deadline not provisional
		"市住房局、市安监局（协办）",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("weekly summary lacks %q:\n%s", w, text)
		}
	}
	if !strings.Contains(weekly[0].HTML, oDay(t, dp.Due)+"（暂定）") {
		t.Errorf("weekly summary HTML lacks the provisional mark")
	}
	if w := oEnglish.FindAllString(text, -1); len(w) > 0 {
		t.Errorf("weekly summary names %v:\n%s", w, text)
	}
}

// TestBulletinListsEveryUnitMarksProvisionalAndStatesDayEnd: the January
// 2027 bulletin lists every unit in the order of units.yaml (市住房局,
// 市法制局, 市安监局), with nothing due too; the overdue provisional
// deadline carries 暂定; the footer states the day end (17:30 here), not
// the config key. Today's main listed units with something due, by id,
// and wrote "day_end".
func TestBulletinListsEveryUnitMarksProvisionalAndStatesDayEnd(t *testing.T) {
	e := oEnv(t, "day_end: \"17:30\"\n")
	const at = "2027-02-03 10:00"
	var rep rptJSON
	if err := json.Unmarshal([]byte(e.mustRun("report", "--month", "2027-01", "--format", "json", "--at", at)), &rep); err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, u := range rep.Units {
		units = append(units, fmt.Sprintf("%s:%d", u.UnitName, u.Due))
	}
	// limit-prov is due in December: the 市法制局 row is there, with 0 due.
	if want := []string{"市住房局:1", "市法制局:0", "市安监局:1"}; !slices.Equal(units, want) {
		t.Errorf("units %v, want %v", units, want)
	}
	table := e.mustRun("report", "--month", "2027-01", "--at", at)
	rows := oRows(t, e, at)
	due, err := time.Parse(time.RFC3339, rows["due-prov"].Due)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{due.Format("2006-01-02 15:04") + "（暂定）", "市安监局（协办）", "本办设为17:30", "暂定："} {
		if !strings.Contains(table, w) {
			t.Errorf("bulletin table lacks %q:\n%s", w, table)
		}
	}
	html := e.mustRun("report", "--month", "2027-01", "--format", "html", "--at", at)
	for _, body := range []string{table, html} {
		for _, bad := range []string{"day_end", "duban extend", "(协办)", " 协办"} {
			if strings.Contains(body, bad) {
				t.Errorf("bulletin shows %q", bad)
			}
		}
	}
	if !strings.Contains(html, due.Format("2006-01-02 15:04")+"（暂定）") {
		t.Errorf("bulletin HTML lacks the provisional mark")
	}
}

// TestLedgerShowsOriginalDeadlineExtensionsLatenessAndProvisional: the
// ledger has 原期限 and 延期, counts 逾期工作日 for an instance done late,
// and names the provisional dates per row. Today's main had none of them.
func TestLedgerShowsOriginalDeadlineExtensionsLatenessAndProvisional(t *testing.T) {
	e := oEnv(t, "")
	// Due Fri 4 Dec, done Wed 9 Dec: 7, 8, 9 Dec → 3 working days late.
	if out := e.mustRun("done", "limit-prov", "--at", "2026-12-09 10:00"); out != "limit-prov：已登记办结（已办结），办理时限 2026-12-04 24:00\n" {
		t.Errorf("done prints %q", out)
	}
	before := oRows(t, e, "2026-12-22 10:00")["due-prov"].Due
	e.mustRun("extend", "due-prov", "--to", "+2wd", "--reason", "待会签", "--at", "2026-12-23 10:00")
	out := e.mustRun("export", "--format", "csv", "--at", "2026-12-23 11:00")
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := make(map[string]int)
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range []string{"原期限", "延期", "逾期工作日", "暂定"} {
		if _, ok := col[h]; !ok {
			t.Fatalf("no column %s in %v", h, recs[0])
		}
	}
	row := func(id string) []string {
		for _, r := range recs[1:] {
			if r[0] == id {
				return r
			}
		}
		t.Fatalf("no row %s", id)
		return nil
	}
	lp, dp := row("limit-prov"), row("due-prov")
	if lp[col["逾期工作日"]] != "3" || lp[col["状态"]] != "已办结" || lp[col["暂定"]] != "最迟时限" || lp[col["原期限"]] != "" ||
		lp[col["延期"]] != "" {
		t.Errorf("limit-prov row %q: want 已办结, 3 working days late, 暂定 最迟时限, no extension", lp)
	}
	orig, _ := time.Parse(time.RFC3339, before)
	if dp[col["原期限"]] != orig.Add(-time.Minute).Format("2006-01-02") || dp[col["延期"]] != "已延期1次" ||
		dp[col["暂定"]] != "办理时限、原期限" || dp[col["逾期工作日"]] != "" || dp[col["办理时限"]] == dp[col["原期限"]] {
		t.Errorf("due-prov row %q: want 原期限 %s, 已延期1次, 暂定 办理时限、原期限", dp, orig.Format("2006-01-02"))
	}
	// The export imports back unchanged.
	path := e.writeTemp("台账.csv", out)
	before2 := e.dbHash()
	res := e.mustRun("import", path, "--at", "2026-12-23 11:00")
	if e.dbHash() != before2 {
		t.Errorf("re-importing the export changed the database: %s", res)
	}
}

// TestLogTimesInConfiguredZone: the daemon's log records carry the
// configured zone's offset, not the machine's.
func TestLogTimesInConfiguredZone(t *testing.T) {
	for _, tz := range []struct{ zone, offset string }{{"Asia/Shanghai", "+08:00"}, {"America/Sao_Paulo", "-03:00"}} {
		t.Setenv("DUBAN_LOG_LEVEL", "info")
		t.Setenv("DUBAN_LOG_FORMAT", "json")
		e := oEnv(t, "timezone: "+tz.zone+"\n")
		_, _, stderr := e.run("serve", "--once", "--at", "2026-12-22 10:05")
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
			var rec struct {
				Time string `json:"time"`
			}
			if json.Unmarshal([]byte(l), &rec) != nil || rec.Time == "" {
				continue
			}
			n++
			if !strings.HasSuffix(rec.Time, tz.offset) {
				t.Errorf("%s: log time %q, want the offset %s", tz.zone, rec.Time, tz.offset)
			}
		}
		if n == 0 {
			t.Errorf("%s: no JSON log record in %q", tz.zone, stderr)
		}
	}
}

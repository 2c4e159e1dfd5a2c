package main

// Tests of the working calendar as the daemon uses it: the provisional
// calendar of a year without a State Council file (SPEC §3) and the
// weekly summary's warning while next year's file is missing.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWeeklySummaryWarnsMissingNextYear drives real daemon passes: the
// summary of 30 Oct says nothing about the calendar; from 1 November,
// while the 2027 arrangement is missing, the summary to the office warns
// in its text and HTML; once a 2027 file is in calendar.files the warning
// is gone.
func TestWeeklySummaryWarnsMissingNextYear(t *testing.T) {
	e, be := rptMailEnv(t)
	const office = "ducha@example.gov.cn"
	const warning = "特别提示：《国务院办公厅关于2027年部分节假日安排的通知》尚未载入系统。2027年的期限暂按《全国年节及纪念日放假办法》规定的法定节假日计算"
	w44, w45, w46 := "weekly|2026-W44|"+office, "weekly|2026-W45|"+office, "weekly|2026-W46|"+office
	bulletins := []string{"bulletin|2026-09|" + office, "bulletin|2026-09|msz@example.gov.cn", "bulletin|2026-09|li@example.gov.cn",
		"bulletin|2026-10|" + office, "bulletin|2026-10|msz@example.gov.cn", "bulletin|2026-10|li@example.gov.cn"}
	keys := append([]string{w44, w45, w46}, bulletins...)

	// Fri 30 Oct: the W44 summary, before November, carries no warning.
	got := rptPass(t, e, be, "2026-10-30 10:00", keys...)
	m, ok := got[w44]
	if !ok {
		t.Fatalf("30 Oct: W44 summary not sent (got %v)", len(got))
	}
	if strings.Contains(m.Text, "特别提示") || strings.Contains(m.HTML, "特别提示") {
		t.Errorf("30 Oct summary warns before November:\n%s", m.Text)
	}

	// Mon 2 Nov: 2027 is still missing, the W45 summary warns, in the
	// text right after the opening and in the HTML.
	got = rptPass(t, e, be, "2026-11-02 09:00", keys...)
	m, ok = got[w45]
	if !ok {
		t.Fatalf("2 Nov: W45 summary not sent")
	}
	opening, rest, _ := strings.Cut(m.Text, "\n一、")
	if !strings.Contains(opening, warning) || strings.Contains(rest, "特别提示") {
		t.Errorf("2 Nov summary text lacks the warning at the top:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, `<p class="warn"><strong>特别提示：</strong>《国务院办公厅关于2027年部分节假日安排的通知》尚未载入系统。`) {
		t.Errorf("2 Nov summary HTML lacks the warning:\n%s", m.HTML)
	}
	if !strings.Contains(opening, "请在督办工作台的“工作日历”页粘贴国务院办公厅通知全文（从中国政府网复制的文字即可），或交系统管理员载入") {
		t.Errorf("the warning does not say what to do:\n%s", opening)
	}
	if strings.Contains(m.Text, "calendar") || strings.Contains(m.Text, "duban") {
		t.Errorf("the warning speaks in config keys or commands:\n%s", opening)
	}

	// The office loads the notice: the next summary no longer warns.
	cal := filepath.Join(e.dir, "2027.json")
	if err := os.WriteFile(cal, []byte(`{"year":2027,"papers":["https://www.gov.cn/test"],"days":[`+
		`{"name":"元旦","date":"2027-01-01","isOffDay":true},{"name":"元旦","date":"2027-01-02","isOffDay":true},`+
		`{"name":"元旦","date":"2027-01-03","isOffDay":true}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.config, append(cfg, []byte("calendar:\n  files: ["+cal+"]\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	got = rptPass(t, e, be, "2026-11-09 09:00", keys...)
	m, ok = got[w46]
	if !ok {
		t.Fatalf("9 Nov: W46 summary not sent")
	}
	if strings.Contains(m.Text, "特别提示") || strings.Contains(m.HTML, "特别提示") {
		t.Errorf("9 Nov summary still warns with 2027 loaded:\n%s", m.Text)
	}
}

// TestServeNoNoticeOnNewYearsDay2027: without the 2027 notice, 1 Jan 2027
// is still off by law. An item of 3 working days from Tue 29 Dec 2026 ends
// on Mon 4 Jan (30, 31 Dec, 4 Jan), not on New Year's Day: the pass on
// 1 Jan sends no notice, the 今日到期 notice goes out on 4 Jan.
func TestServeNoNoticeOnNewYearsDay2027(t *testing.T) {
	e := newMailEnv(t, "plain")
	units := e.writeTemp("units.yaml", `office: {name: 市政府督查室, email: ducha@example.gov.cn}
people:
  - {id: wang, name: 王冠标, email: wang@example.gov.cn}
units:
  - {id: fzj, name: 市法制局, head: wang}
policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit], level: reminder}
      - {at: 0, to: [unit], level: due}
      - {at: +1wd, every: 1wd, to: [unit], level: overdue}
`)
	items := e.writeTemp("items.yaml", `items:
  - {id: yearend, title: 年度工作总结, unit: fzj, start: "2026-12-29 10:00", due: 3wd, policy: standard}
`)
	e.mustRun("import", units, items, "--at", "2026-12-29 10:00")
	e.pass("2026-12-29 10:01")
	e.pass("2026-12-31 09:00")
	for _, at := range []string{"2027-01-01 09:00", "2027-01-01 17:00", "2027-01-02 09:00", "2027-01-03 09:00"} {
		for _, m := range e.notices(e.pass(at)) {
			t.Errorf("pass at %s sent %q to %v on a day off:\n%s", at, m.Subject, m.Envelope.To, m.Text)
		}
	}
	var due *digestEntry
	for _, m := range e.byRecipient(e.pass("2027-01-04 09:00"))["wang@example.gov.cn"] {
		if en := m.entry("yearend", "due"); en != nil {
			due = en
		}
	}
	if due == nil {
		t.Fatal("4 Jan 09:00: no 今日到期 notice for yearend to wang")
	}
	if v, _ := due.field("办理时限"); !strings.Contains(v, "2027年1月4日") {
		t.Errorf("办理时限 %q, want the provisional last day 2027年1月4日", v)
	}
}

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/xuri/excelize/v2"

	"duban/notify/smtptest"
)

var updateDocs = flag.Bool("update-docs", false, "regenerate docs/bulletin-sample.html and docs/bulletin-sample.xlsx from the October 2026 test history")

// The October 2026 history. Expected figures are worked out by hand on
// the 2026 calendar: 1–7 Oct off (National Day), Sat 10 Oct a make-up
// working day, Sat 31 Oct off, so October's working days are 8, 9, 10,
// 12–16, 19–23 and 26–30; 25–27 Sep off; Mon 2 Nov is November's first
// working day.
const rptUnitsYAML = `office: {name: 市政府督查室, email: ducha@example.gov.cn}
people:
  - {id: wang, name: 王冠标, email: wang@example.gov.cn}
  - {id: li,   name: 李秘书长, email: li@example.gov.cn}
  - {id: zhou, name: 周科长, email: zhou@example.gov.cn}
  - {id: chen, name: 陈主任, email: chen@example.gov.cn}
  - {id: liu,  name: 刘处长, email: liu@example.gov.cn}
units:
  - {id: fzj,      name: 市法制局, head: wang, leader: li}
  - {id: mishu,    name: 市政府办公室秘书科, head: zhou, leader: li}
  - {id: wendian,  name: 市政府办公室文电处, head: liu, leader: li}
  - {id: caizheng, name: 市财政局, head: chen, leader: li}
policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit], level: reminder}
      - {at: 0, to: [unit], level: due}
      - {at: +1wd, every: 1wd, to: [unit], level: overdue}
  - id: weekly
    steps:
      - {at: -3h, to: [unit], level: reminder}
      - {at: +1wd, to: [unit, office], level: overdue}
`

const rptItemsYAML = `items:
  # 3wd from Fri 9 Oct: 10 (make-up Sat), 12, 13 → 13 Oct. Done 12 Oct: on time.
  - {id: cosign-301, title: 关于加强行政规范性文件管理的意见(会签稿), doc: 洛政法〔2026〕301号, unit: fzj, start: 2026-10-09, due: 3wd, policy: standard}
  # 2wd from 12 Oct → 14 Oct. Done 19 Oct: late by 15, 16, 19 = 3.
  - {id: minutes-35, title: 第35次常务会议纪要签发, doc: 洛政办〔2026〕35号, unit: mishu, start: 2026-10-12 09:00, due: 2wd, policy: standard}
  # 5wd from 12 Oct → 19 Oct; extended on 16 Oct (in time) +3wd → 22 Oct; done 21 Oct: on time, extended.
  - {id: reply-412, title: 关于城区停车难问题的答复, doc: 洛政办函〔2026〕412号, unit: wendian, start: 2026-10-12, due: 5wd, policy: standard}
  # 3wd from 8 Oct: 9, 10, 12 → 12 Oct; extended on 14 Oct, after it had passed, to 23 Oct;
  # done 22 Oct: late against 12 Oct by 13–16, 19–22 = 8.
  - {id: accounts-q3, title: 三季度财政收支情况报告, doc: 洛财〔2026〕77号, unit: caizheng, start: 2026-10-08, due: 3wd, policy: standard}
  # 5wd from 20 Oct → 27 Oct; still open: overdue at month end by 28, 29, 30 = 3.
  - {id: rules-88, title: 行政执法案卷评查问题整改, doc: 洛政法〔2026〕88号, unit: fzj, start: 2026-10-20, due: 5wd, policy: standard}
  # Fixed date 30 Oct, done 16 Oct: done early, on time.
  - {id: speech-17, title: 全市安全生产工作会议讲话稿, unit: mishu, start: 2026-10-15, due: 2026-10-30, policy: standard}
  # 2wd from 9 Oct → 12 Oct; withdrawn: not counted.
  - {id: survey-09, title: 办公用房使用情况调查, unit: wendian, start: 2026-10-09, due: 2wd, policy: standard}
  # Thursdays 12:00; 1 Oct (National Day) rolls to Thu 8 Oct 12:00, due with the 8 Oct period.
  - {id: weekly-cases, title: 执行难案件进展周报, requirements: 每周四12时前书面上报本周进展情况, units: [fzj, mishu], every: weekly thu 12:00, from: 2026-09-21, policy: weekly}
  # 10wd from 9 Oct → 22 Oct (lead, done 22 Oct: on time); co-unit 2wd earlier → 20 Oct
  # (done 21 Oct: late by 1, counted for the co-unit).
  - {id: opinion-215, title: 《市政府工作规则》修订征求意见, doc: 洛政办〔2026〕215号, unit: wendian, co_units: [fzj], co_due: -2wd, start: 2026-10-09, due: 10wd, policy: standard}
  # 3wd from 12 Oct → 15 Oct; returned on 13 Oct: still open, overdue by 16, 19–23, 26–30 = 11.
  - {id: fees-63, title: 行政事业性收费清理, doc: 洛政办〔2026〕63号, unit: caizheng, start: 2026-10-12, due: 3wd, policy: standard}
  # Due 6 Nov: not in October.
  - {id: budget-2027, title: 2027年部门预算编制, unit: caizheng, start: 2026-10-26, due: 2026-11-06, policy: standard}
  # 5wd from 21 Sep: 22, 23, 24, 28, 29 → 29 Sep; done 9 Oct: in September's report, not October's.
  - {id: filing-0922, title: 公务用车改革情况备案, unit: wendian, start: 2026-09-21, due: 5wd, policy: standard}
  # 3wd from 26 Oct → 29 Oct; done 2 Nov, after the month: overdue at month end by 30 Oct = 1.
  - {id: letter-96, title: 群众来信反映老旧小区加装电梯问题, unit: mishu, start: 2026-10-26, due: 3wd, policy: standard}
`

// Tracked on 28 Oct: in the week's summary of 2 Nov, due Wed 4 Nov (5wd: 29, 30, 2, 3, 4).
const rptLateYAML = `items:
  - {id: hotline-1028, title: 12345热线集中反映供暖问题办理, doc: 洛政办〔2026〕228号, requirements: 五个工作日内办结并答复来电群众, unit: wendian, start: 2026-10-28, due: 5wd, policy: standard}
`

// rptHistory builds the October history through the CLI: import, then
// every action with its --at time.
func rptHistory(t *testing.T, config string) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	if config != "" {
		if err := os.WriteFile(e.config, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, content string) string {
		p := filepath.Join(e.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	e.mustRun("import", write("units.yaml", rptUnitsYAML), write("items.yaml", rptItemsYAML), "--at", "2026-09-20 09:00")
	e.mustRun("import", write("late.yaml", rptLateYAML), "--at", "2026-10-28 10:00")
	for _, a := range [][]string{
		{"done", "filing-0922", "2026-10-09 10:00"},
		{"done", "cosign-301", "2026-10-12 15:00"},
		{"done", "minutes-35", "2026-10-19 10:00"},
		{"extend", "reply-412", "2026-10-16 10:00", "--to", "+3wd", "--reason", "待市交通局意见"},
		{"done", "reply-412", "2026-10-21 16:00"},
		{"extend", "accounts-q3", "2026-10-14 09:00", "--to", "2026-10-23", "--reason", "补报延期"},
		{"done", "accounts-q3", "2026-10-22 11:00"},
		{"done", "speech-17", "2026-10-16 09:30"},
		{"withdraw", "survey-09", "2026-10-11 10:00", "--reason", "调查取消"},
		{"done", "weekly-cases/2026-10-01/fzj", "2026-10-08 11:00"},
		{"done", "weekly-cases/2026-10-08/fzj", "2026-10-08 11:00"},
		{"done", "weekly-cases/2026-10-15/fzj", "2026-10-15 14:00"},
		{"done", "weekly-cases/2026-10-22/fzj", "2026-10-22 09:00"},
		{"done", "weekly-cases/2026-10-01/mishu", "2026-10-09 10:00"},
		{"done", "weekly-cases/2026-10-08/mishu", "2026-10-09 10:00"},
		{"done", "weekly-cases/2026-10-15/mishu", "2026-10-15 10:00"},
		{"done", "weekly-cases/2026-10-22/mishu", "2026-10-26 10:00"},
		{"done", "weekly-cases/2026-10-29/mishu", "2026-10-29 11:00"},
		{"done", "opinion-215", "2026-10-22 15:00"},
		{"done", "opinion-215/fzj", "2026-10-21 10:00"},
		{"return", "fees-63", "2026-10-13 10:00", "--reason", "不属于本单位职责"},
		{"done", "letter-96", "2026-11-02 10:00"},
	} {
		args := append([]string{a[0], a[1], "--at", a[2]}, a[3:]...)
		e.mustRun(args...)
	}
	return e
}

// rptJSON mirrors the report's JSON contract (snake_case).
type rptJSON struct {
	Month    string    `json:"month"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Cutoff   string    `json:"cutoff"`
	Complete bool      `json:"complete"`
	Units    []rptUnit `json:"units"`
	Total    rptUnit   `json:"total"`
	Entries  []struct {
		ID           string  `json:"id"`
		Unit         string  `json:"unit"`
		UnitName     string  `json:"unit_name"`
		Co           bool    `json:"co"`
		Title        string  `json:"title"`
		Doc          string  `json:"doc"`
		Kind         string  `json:"kind"`
		Status       string  `json:"status"`
		Due          string  `json:"due"`
		LastDay      string  `json:"last_day"`
		CurrentDue   *string `json:"current_due"`
		DoneAt       *string `json:"done_at"`
		WorkdaysLate int     `json:"workdays_late"`
		Extended     bool    `json:"extended"`
		ExtendedLate bool    `json:"extended_late"`
	} `json:"entries"`
}

type rptUnit struct {
	Unit       string   `json:"unit"`
	UnitName   string   `json:"unit_name"`
	Due        int      `json:"due"`
	OnTime     int      `json:"on_time"`
	Late       int      `json:"late"`
	Overdue    int      `json:"overdue"`
	NotYetDue  int      `json:"not_yet_due"`
	Extended   int      `json:"extended"`
	OnTimeRate *float64 `json:"on_time_rate"`
	AvgLate    float64  `json:"avg_late_workdays"`
	MaxLate    int      `json:"max_late_workdays"`
}

func rate(f float64) *float64 { return &f }

// The expected October figures, by hand (see the comments of rptItemsYAML):
//
//	caizheng: accounts-q3 late 8 (extended after the deadline), fees-63 overdue 11 (returned)
//	fzj:      cosign-301 on time; rules-88 overdue 3; opinion-215/fzj late 1 (co-unit);
//	          weekly 10-01, 10-08, 10-22 on time, 10-15 late 1 (done 14:00 after 12:00), 10-29 overdue 1
//	mishu:    minutes-35 late 3; speech-17 on time (early); letter-96 overdue 1 (done 2 Nov);
//	          weekly 10-01 and 10-08 late 1 (done Fri 9 Oct), 10-15 on time, 10-22 late 2 (23, 26), 10-29 on time
//	wendian:  reply-412 on time (extended in time), opinion-215 on time; survey-09 withdrawn
//
// Units come in the order of units.yaml, not by id.
var rptWantUnits = []rptUnit{
	{Unit: "fzj", UnitName: "市法制局", Due: 8, OnTime: 4, Late: 2, Overdue: 2, Extended: 0, OnTimeRate: rate(0.5), AvgLate: 1.5, MaxLate: 3},
	{Unit: "mishu", UnitName: "市政府办公室秘书科", Due: 8, OnTime: 3, Late: 4, Overdue: 1, Extended: 0, OnTimeRate: rate(0.375), AvgLate: 1.6, MaxLate: 3},
	{Unit: "wendian", UnitName: "市政府办公室文电处", Due: 2, OnTime: 2, Late: 0, Overdue: 0, Extended: 1, OnTimeRate: rate(1), AvgLate: 0, MaxLate: 0},
	{Unit: "caizheng", UnitName: "市财政局", Due: 2, OnTime: 0, Late: 1, Overdue: 1, Extended: 1, OnTimeRate: rate(0), AvgLate: 9.5, MaxLate: 11},
}

// 20 due, 9 on time, 7 late, 4 overdue; lateness 8+11+1+3+1+1+3+1+1+2+1 = 33 over 11 = 3.
var rptWantTotal = rptUnit{UnitName: "合计", Due: 20, OnTime: 9, Late: 7, Overdue: 4, Extended: 2, OnTimeRate: rate(0.45), AvgLate: 3, MaxLate: 11}

// rptWantEntry is one line of the 通报 list: id, unit, kind, due (RFC 3339), done (or ""), working days late, extended, extended late.
type rptWantEntry struct {
	id, unit, kind, due, done string
	late                      int
	ext, extLate, co          bool
}

var rptWantEntries = []rptWantEntry{
	{"weekly-cases/2026-10-15/fzj", "fzj", "late", "2026-10-15T12:00:00+08:00", "2026-10-15T14:00:00+08:00", 1, false, false, false},
	{"opinion-215/fzj", "fzj", "late", "2026-10-21T00:00:00+08:00", "2026-10-21T10:00:00+08:00", 1, false, false, true},
	{"rules-88", "fzj", "overdue", "2026-10-28T00:00:00+08:00", "", 3, false, false, false},
	{"weekly-cases/2026-10-29/fzj", "fzj", "overdue", "2026-10-29T12:00:00+08:00", "", 1, false, false, false},
	{"weekly-cases/2026-10-01/mishu", "mishu", "late", "2026-10-08T12:00:00+08:00", "2026-10-09T10:00:00+08:00", 1, false, false, false},
	{"weekly-cases/2026-10-08/mishu", "mishu", "late", "2026-10-08T12:00:00+08:00", "2026-10-09T10:00:00+08:00", 1, false, false, false},
	{"minutes-35", "mishu", "late", "2026-10-15T00:00:00+08:00", "2026-10-19T10:00:00+08:00", 3, false, false, false},
	{"weekly-cases/2026-10-22/mishu", "mishu", "late", "2026-10-22T12:00:00+08:00", "2026-10-26T10:00:00+08:00", 2, false, false, false},
	{"letter-96", "mishu", "overdue", "2026-10-30T00:00:00+08:00", "2026-11-02T10:00:00+08:00", 1, false, false, false},
	{"accounts-q3", "caizheng", "late", "2026-10-13T00:00:00+08:00", "2026-10-22T11:00:00+08:00", 8, true, true, false},
	{"fees-63", "caizheng", "overdue", "2026-10-16T00:00:00+08:00", "", 11, false, false, false},
}

func rptCheckUnit(t *testing.T, got, want rptUnit) {
	t.Helper()
	g, w := got, want
	g.OnTimeRate, w.OnTimeRate = nil, nil
	if g != w {
		t.Errorf("unit %s:\n got %+v\nwant %+v", want.Unit, g, w)
	}
	if (got.OnTimeRate == nil) != (want.OnTimeRate == nil) || (got.OnTimeRate != nil && *got.OnTimeRate != *want.OnTimeRate) {
		t.Errorf("unit %s: on_time_rate %v, want %v", want.Unit, got.OnTimeRate, *want.OnTimeRate)
	}
}

func TestReportOctober2026(t *testing.T) {
	e := rptHistory(t, "")
	out := e.mustRun("report", "--month", "2026-10", "--format", "json", "--at", "2026-11-03 10:00")
	var rep rptJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report json: %v\n%s", err, out)
	}
	if rep.Month != "2026-10" || rep.From != "2026-10-01" || rep.To != "2026-10-31" || !rep.Complete ||
		rep.Cutoff != "2026-11-01T00:00:00+08:00" {
		t.Errorf("header: %+v", rep)
	}
	if len(rep.Units) != len(rptWantUnits) {
		t.Fatalf("units %+v, want %d rows", rep.Units, len(rptWantUnits))
	}
	for i, w := range rptWantUnits {
		rptCheckUnit(t, rep.Units[i], w)
	}
	rptCheckUnit(t, rep.Total, rptWantTotal)
	if len(rep.Entries) != len(rptWantEntries) {
		var ids []string
		for _, e := range rep.Entries {
			ids = append(ids, e.ID)
		}
		t.Fatalf("entries %v, want %d", ids, len(rptWantEntries))
	}
	for i, w := range rptWantEntries {
		g := rep.Entries[i]
		done := ""
		if g.DoneAt != nil {
			done = *g.DoneAt
		}
		if g.ID != w.id || g.Unit != w.unit || g.Kind != w.kind || g.Due != w.due || done != w.done ||
			g.WorkdaysLate != w.late || g.Extended != w.ext || g.ExtendedLate != w.extLate || g.Co != w.co {
			t.Errorf("entry %d:\n got %s %s %s due %s done %s late %d ext %v/%v co %v\nwant %+v",
				i, g.ID, g.Unit, g.Kind, g.Due, done, g.WorkdaysLate, g.Extended, g.ExtendedLate, g.Co, w)
		}
	}
	// The extension recorded too late keeps the extended deadline visible.
	if c := rep.Entries[9].CurrentDue; c == nil || *c != "2026-10-24T00:00:00+08:00" {
		t.Errorf("accounts-q3 current_due = %v, want 2026-10-24T00:00:00+08:00", c)
	}
	if e := rep.Entries[10]; e.Status != "returned" || e.Title != "行政事业性收费清理" || e.Doc != "洛政办〔2026〕63号" || e.UnitName != "市财政局" {
		t.Errorf("fees-63 entry %+v", e)
	}

	// One unit.
	out = e.mustRun("report", "--month", "2026-10", "--unit", "mishu", "--format", "json", "--at", "2026-11-03 10:00")
	var one rptJSON
	if err := json.Unmarshal([]byte(out), &one); err != nil {
		t.Fatal(err)
	}
	if len(one.Units) != 1 || len(one.Entries) != 5 {
		t.Fatalf("--unit mishu: %d units, %d entries", len(one.Units), len(one.Entries))
	}
	rptCheckUnit(t, one.Units[0], rptWantUnits[1])
	w := rptWantUnits[1]
	w.Unit, w.UnitName = "", "合计"
	rptCheckUnit(t, one.Total, w)

	// September: filing-0922, done 9 Oct after its 29 Sep deadline, is
	// overdue at September's end (30 Sep: 1 working day); the weekly
	// periods of 24 Sep are still open (25–27 Sep off, 28, 29, 30 → 3).
	out = e.mustRun("report", "--month", "2026-09", "--format", "json", "--at", "2026-11-03 10:00")
	var sep rptJSON
	if err := json.Unmarshal([]byte(out), &sep); err != nil {
		t.Fatal(err)
	}
	if sep.Total.Due != 3 || sep.Total.Overdue != 3 || sep.Total.MaxLate != 3 || len(sep.Entries) != 3 {
		t.Errorf("September: %+v %+v", sep.Total, sep.Entries)
	}

	// Table: aligned, with the definitions as footer.
	table := e.mustRun("report", "--month", "2026-10", "--at", "2026-11-03 10:00")
	for _, s := range []string{"2026年10月督办事项办理情况通报", "市政府督查室", "按月末状态统计", "合计", "45.0%", "37.5%",
		"通报名单", "事后延期", "逾期未办结（已退回）", "逾期未办结（月末后办结）", "统计口径", "按时办结率：按时办结数 ÷（应办数 − 未到期数）"} {
		if !strings.Contains(table, s) {
			t.Errorf("table output lacks %q:\n%s", s, table)
		}
	}

	// CSV: the unit table, an empty line, the list.
	out = e.mustRun("report", "--month", "2026-10", "--format", "csv", "--at", "2026-11-03 10:00")
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// csv.Reader skips the empty line: header + 4 units + total, header + 11 entries.
	if len(recs) != 6+12 || recs[0][0] != "单位" || recs[5][0] != "合计" || recs[5][7] != "45.0%" || recs[6][0] != "单位" ||
		recs[16][3] != "accounts-q3" || recs[16][8] != "事后延期" {
		t.Errorf("csv:\n%s", out)
	}
	if !strings.Contains(out, "\n\n单位,事项") {
		t.Errorf("csv sections are not separated by an empty line:\n%s", out)
	}

	// HTML: a self-contained page with the chart and the footer.
	html := e.mustRun("report", "--month", "2026-10", "--format", "html", "--at", "2026-11-03 10:00")
	for _, s := range []string{"<title>2026年10月督办事项办理情况通报</title>", "<svg", "</svg>", "45.0%", "37.5%", "100.0%",
		"行政事业性收费清理", "统计口径", "逾期工作日"} {
		if !strings.Contains(html, s) {
			t.Errorf("html lacks %q", s)
		}
	}
	for _, s := range []string{"<script", "http://", "https://", "<link"} {
		if strings.Contains(html, s) {
			t.Errorf("html is not self-contained: has %q", s)
		}
	}

	// xlsx needs --output; written, it reads back cell by cell.
	if code, _, stderr := e.run("report", "--month", "2026-10", "--format", "xlsx"); code != 2 || !strings.Contains(stderr, "--output") {
		t.Errorf("xlsx to stdout: exit %d %q, want 2 and a hint", code, stderr)
	}
	xlsx := filepath.Join(e.dir, "report.xlsx")
	e.mustRun("report", "--month", "2026-10", "--format", "xlsx", "--output", xlsx, "--at", "2026-11-03 10:00")
	rptCheckXLSX(t, xlsx)

	for _, args := range [][]string{
		{"report", "--month", "2026-13"},
		{"report", "--month", "2026-10", "--unit", "nosuch"},
		{"report", "--month", "2026-10", "--format", "pdf"},
	} {
		if code, _, stderr := e.run(args...); code != 2 {
			t.Errorf("duban %v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}

	if *updateDocs {
		docs, _ := filepath.Abs(filepath.Join("..", "..", "docs"))
		e.mustRun("report", "--month", "2026-10", "--format", "html", "--output", filepath.Join(docs, "bulletin-sample.html"), "--at", "2026-11-03 09:00")
		e.mustRun("report", "--month", "2026-10", "--format", "xlsx", "--output", filepath.Join(docs, "bulletin-sample.xlsx"), "--at", "2026-11-03 09:00")
		t.Logf("wrote %s/bulletin-sample.{html,xlsx}; run docs/screenshot.sh for docs/bulletin.png", docs)
	}
}

// rptCheckXLSX reads the workbook back and checks it cell by cell.
func rptCheckXLSX(t *testing.T, path string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{"单位统计", "通报名单", "表扬与批评", "统计口径"}) {
		t.Errorf("sheets %v", got)
	}
	cell := func(sheet, ref string, raw bool) string {
		t.Helper()
		v, err := f.GetCellValue(sheet, ref, excelize.Options{RawCellValue: raw})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	num := func(sheet, ref string) float64 {
		t.Helper()
		v, err := strconv.ParseFloat(cell(sheet, ref, true), 64)
		if err != nil {
			t.Errorf("%s!%s = %q is not a number", sheet, ref, cell(sheet, ref, true))
		}
		return v
	}
	const st = "单位统计"
	if got, _ := f.GetRows(st); len(got) != 6 {
		t.Errorf("%s has %d rows, want header + 4 units + total", st, len(got))
	}
	header := []string{"单位", "应办", "按时办结", "逾期办结", "逾期未办结", "未到期", "延期", "按时办结率", "平均逾期（工作日）", "最长逾期（工作日）"}
	for c, h := range header {
		ref, _ := excelize.CoordinatesToCellName(c+1, 1)
		if got := cell(st, ref, false); got != h {
			t.Errorf("%s!%s = %q, want %q", st, ref, got, h)
		}
	}
	rows := append(append([]rptUnit{}, rptWantUnits...), rptWantTotal)
	for i, w := range rows {
		r := strconv.Itoa(i + 2)
		if got := cell(st, "A"+r, false); got != w.UnitName {
			t.Errorf("%s!A%s = %q, want %q", st, r, got, w.UnitName)
		}
		for c, n := range []int{w.Due, w.OnTime, w.Late, w.Overdue, w.NotYetDue, w.Extended} {
			ref, _ := excelize.CoordinatesToCellName(c+2, i+2)
			if got := num(st, ref); got != float64(n) {
				t.Errorf("%s!%s = %v, want %d", st, ref, got, n)
			}
		}
		if got := num(st, "H"+r); got != *w.OnTimeRate {
			t.Errorf("%s!H%s = %v, want %v", st, r, got, *w.OnTimeRate)
		}
		if got := num(st, "I"+r); got != w.AvgLate {
			t.Errorf("%s!I%s = %v, want %v", st, r, got, w.AvgLate)
		}
		if got := num(st, "J"+r); got != float64(w.MaxLate) {
			t.Errorf("%s!J%s = %v, want %v", st, r, got, w.MaxLate)
		}
	}
	// Rates are percentages, not text.
	if got := cell(st, "H6", false); got != "45.0%" {
		t.Errorf("%s!H6 shows %q, want 45.0%%", st, got)
	}
	if got := cell(st, "H3", false); got != "37.5%" {
		t.Errorf("%s!H3 shows %q, want 37.5%%", st, got)
	}
	for _, sheet := range []string{st, "通报名单"} {
		p, err := f.GetPanes(sheet)
		if err != nil || !p.Freeze || p.YSplit != 1 || p.TopLeftCell != "A2" {
			t.Errorf("%s panes %+v %v, want the header row frozen", sheet, p, err)
		}
	}
	// Column A fits 市政府办公室秘书科 (9 wide characters).
	if w, _ := f.GetColWidth(st, "A"); w < 18 {
		t.Errorf("%s column A width %v, too narrow for 市政府办公室秘书科", st, w)
	}

	const li = "通报名单"
	if got := cell(li, "E1", false); got != "期限" {
		t.Errorf("%s!E1 = %q", li, got)
	}
	if got, _ := f.GetRows(li); len(got) != 1+len(rptWantEntries) {
		t.Errorf("%s has %d rows, want %d", li, len(got), 1+len(rptWantEntries))
	}
	date := func(ref string) time.Time {
		t.Helper()
		tm, err := excelize.ExcelDateToTime(num(li, ref), false)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// Row 11: accounts-q3, counted against 12 Oct, done 22 Oct 11:00, 8 days.
	for ref, want := range map[string]string{"A11": "市财政局", "B11": "三季度财政收支情况报告", "C11": "洛财〔2026〕77号",
		"D11": "accounts-q3", "E11": "2026-10-12", "F11": "2026-10-22 11:00", "G11": "8", "H11": "逾期办结", "I11": "事后延期",
		"F12": "未办结", "H12": "逾期未办结（已退回）", "E2": "2026-10-15 12:00", "A3": "市法制局（协办）",
		"D10": "letter-96", "H10": "逾期未办结（月末后办结）", "F10": "2026-11-02 10:00"} {
		if got := cell(li, ref, false); got != want {
			t.Errorf("%s!%s = %q, want %q", li, ref, got, want)
		}
	}
	if got := date("E11"); !got.Equal(time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("%s!E11 = %v, want the date 2026-10-12", li, got)
	}
	if got := date("F11"); got.Sub(time.Date(2026, 10, 22, 11, 0, 0, 0, time.UTC)).Abs() > time.Second {
		t.Errorf("%s!F11 = %v, want 2026-10-22 11:00", li, got)
	}
	if got := date("E2"); got.Sub(time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)).Abs() > time.Second {
		t.Errorf("%s!E2 = %v, want 2026-10-15 12:00", li, got)
	}
	for i, w := range rptWantEntries {
		r := strconv.Itoa(i + 2)
		if got := cell(li, "D"+r, false); got != w.id {
			t.Errorf("%s!D%s = %q, want %s", li, r, got, w.id)
		}
		if got := num(li, "G"+r); got != float64(w.late) {
			t.Errorf("%s!G%s = %v, want %d", li, r, got, w.late)
		}
	}
	if got := cell("统计口径", "A2", false); got != "应办" {
		t.Errorf("统计口径!A2 = %q", got)
	}
}

// TestReportMonthInProgress: mid-month, the cutoff is --at and instances
// not yet due are counted apart.
func TestReportMonthInProgress(t *testing.T) {
	e := rptHistory(t, "")
	out := e.mustRun("report", "--month", "2026-10", "--unit", "fzj", "--format", "json", "--at", "2026-10-20 10:00")
	var rep rptJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	// fzj as of 20 Oct 10:00: cosign-301, weekly 10-01, 10-08, 10-22 (done
	// 22 Oct: not yet at the cutoff, not due) ... by hand:
	//   on time: cosign-301, weekly 10-01, 10-08
	//   late:    weekly 10-15 (1)
	//   not due: opinion-215/fzj (20 Oct, due at 21 Oct 00:00), weekly 10-22, 10-29, rules-88
	want := rptUnit{Unit: "fzj", UnitName: "市法制局", Due: 8, OnTime: 3, Late: 1, NotYetDue: 4, OnTimeRate: rate(0.75), AvgLate: 1, MaxLate: 1}
	if rep.Complete || rep.Cutoff != "2026-10-20T10:00:00+08:00" || len(rep.Units) != 1 {
		t.Fatalf("report %+v", rep)
	}
	rptCheckUnit(t, rep.Units[0], want)
	// The month defaults to the one before --at.
	out = e.mustRun("report", "--format", "json", "--at", "2026-11-03 10:00")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Month != "2026-10" {
		t.Errorf("default month %q (%v), want 2026-10", rep.Month, err)
	}
}

// An in-process SMTP server on loopback that keeps every message.

type rptMail struct {
	To          []string
	MessageID   string
	Subject     string
	Text, HTML  string
	Attachments map[string][]byte
}

// rptMailbox reads what the report tests' SMTP server received.
type rptMailbox struct {
	srv  *smtptest.Server
	seen int
}

// take returns the messages received since the last take, decoded.
func (b *rptMailbox) take(t *testing.T) []rptMail {
	t.Helper()
	msgs := b.srv.Messages()
	var out []rptMail
	for _, r := range msgs[b.seen:] {
		m, err := rptParseMail(r.Data)
		if err != nil {
			t.Fatalf("received message: %v\n%s", err, r.Data)
		}
		m.To = r.To
		out = append(out, m)
	}
	b.seen = len(msgs)
	return out
}

func rptParseMail(raw []byte) (rptMail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return rptMail{}, err
	}
	dec := new(mime.WordDecoder)
	subj, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return rptMail{}, err
	}
	m := rptMail{MessageID: msg.Header.Get("Message-Id"), Subject: subj, Attachments: map[string][]byte{}}
	var walk func(ctype, cte, disp string, body io.Reader) error
	walk = func(ctype, cte, disp string, body io.Reader) error {
		mt, params, err := mime.ParseMediaType(ctype)
		if err != nil {
			return err
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p); err != nil {
					return err
				}
			}
		}
		if strings.EqualFold(cte, "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		data, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		if _, dp, err := mime.ParseMediaType(disp); err == nil && strings.HasPrefix(disp, "attachment") {
			m.Attachments[dp["filename"]] = data
			return nil
		}
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
		switch mt {
		case "text/plain":
			m.Text = string(data)
		case "text/html":
			m.HTML = string(data)
		}
		return nil
	}
	err = walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
	return m, err
}

// rptMailEnv builds the October history with a config that mails through
// an in-process SMTP server, with two leaders for the bulletin.
func rptMailEnv(t *testing.T, extraLeaders ...string) (*testEnv, *rptMailbox) {
	t.Helper()
	srv := startSMTPServer(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DUBAN_MAIL_SMTP_PASSWORD", smtptest.Password)
	sock := filepath.Join(os.TempDir(), "duban-rpt-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".sock")
	t.Cleanup(func() { os.Remove(sock) })
	cfg := "db: duban.db\nadmin: {socket: " + sock + "}\nlog: {level: warn}\n" +
		"mail:\n  transport: smtp\n  from: 督查室 <ducha@example.gov.cn>\n" +
		"  smtp: {host: 127.0.0.1, port: " + strconv.Itoa(srv.Port) + ", tls: starttls, ca_file: " + ca +
		", username: " + smtptest.User + ", auth: plain, timeout: 10s}\n" +
		"report:\n  leaders: [\"秘书长 <msz@example.gov.cn>\", li@example.gov.cn" + strings.Join(append([]string{""}, extraLeaders...), ", ") + "]\n"
	return rptHistory(t, cfg), &rptMailbox{srv: srv}
}

// rptMessageID is the Message-ID notify derives from a delivery key.
func rptMessageID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "<" + hex.EncodeToString(sum[:])[:32] + "@example.gov.cn>"
}

// rptPass runs one daemon pass as of at and returns the bulletins and
// weekly summaries it sent, by delivery key.
func rptPass(t *testing.T, e *testEnv, be *rptMailbox, at string, keys ...string) map[string]rptMail {
	t.Helper()
	e.mustRun("serve", "--once", "--at", at)
	byID := make(map[string]string)
	for _, k := range keys {
		byID[rptMessageID(k)] = k
	}
	got := make(map[string]rptMail)
	for _, m := range be.take(t) {
		isReport := strings.HasPrefix(m.Subject, "督办工作周报") || strings.HasSuffix(m.Subject, "办理情况通报") ||
			strings.HasSuffix(m.Subject, "投递失败")
		k, ok := byID[m.MessageID]
		switch {
		case ok:
			if _, dup := got[k]; dup {
				t.Errorf("pass %s: %s sent twice", at, k)
			}
			got[k] = m
		case isReport:
			t.Errorf("pass %s: unexpected report %q to %v", at, m.Subject, m.To)
		}
	}
	return got
}

func TestBulletinAndWeeklySummaryMailedOnce(t *testing.T) {
	e, be := rptMailEnv(t)
	const office, msz, li = "ducha@example.gov.cn", "msz@example.gov.cn", "li@example.gov.cn"
	// The daemon first runs on Fri 30 Oct: September's bulletin (due Thu
	// 8 Oct, the first working day after National Day) and the summary of
	// the week of 26 Oct come out late, once.
	sepKeys := []string{"bulletin|2026-09|" + office, "bulletin|2026-09|" + msz, "bulletin|2026-09|" + li, "weekly|2026-W44|" + office}
	got := rptPass(t, e, be, "2026-10-30 10:00", sepKeys...)
	if len(got) != 4 {
		t.Errorf("30 Oct: sent %v, want %v", slices.Collect(mapKeys(got)), sepKeys)
	}
	octKeys := []string{"bulletin|2026-10|" + office, "bulletin|2026-10|" + msz, "bulletin|2026-10|" + li, "weekly|2026-W45|" + office}
	all := append(append([]string{}, sepKeys...), octKeys...)
	if got := rptPass(t, e, be, "2026-11-02 08:59", all...); len(got) != 0 {
		t.Errorf("2 Nov 08:59: sent %v, want nothing before send_time", slices.Collect(mapKeys(got)))
	}
	// Mon 2 Nov 09:00, the first working day: October's bulletin to the
	// office and both leaders, the week's summary to the office.
	got = rptPass(t, e, be, "2026-11-02 09:00", all...)
	for _, k := range octKeys {
		if _, ok := got[k]; !ok {
			t.Errorf("2 Nov 09:00: %s not sent", k)
		}
	}
	if len(got) != len(octKeys) {
		t.Errorf("2 Nov 09:00: sent %v", slices.Collect(mapKeys(got)))
	}
	rptCheckBulletinMail(t, got["bulletin|2026-10|"+msz], msz)
	rptCheckWeeklyMail(t, got["weekly|2026-W45|"+office])
	// Later passes and restarts send none of them again.
	for _, at := range []string{"2026-11-02 09:30", "2026-11-03 09:00", "2026-11-06 17:00"} {
		if got := rptPass(t, e, be, at, all...); len(got) != 0 {
			t.Errorf("%s: sent %v again", at, slices.Collect(mapKeys(got)))
		}
	}
	// The next Monday: only the new week's summary.
	got = rptPass(t, e, be, "2026-11-09 09:00", append(all, "weekly|2026-W46|"+office)...)
	if _, ok := got["weekly|2026-W46|"+office]; !ok || len(got) != 1 {
		t.Errorf("9 Nov: sent %v, want the W46 summary only", slices.Collect(mapKeys(got)))
	}
	rptCheckOutbox(t, e, append(all, "weekly|2026-W46|"+office), nil)
}

// TestBulletinAfterDowntime: the daemon is down from Fri 30 Oct until
// Wed 4 Nov. October's bulletin (due Mon 2 Nov 09:00) and that week's
// summary go out at the first pass on 4 Nov, marked late, and once.
func TestBulletinAfterDowntime(t *testing.T) {
	e, be := rptMailEnv(t)
	const office, msz, li = "ducha@example.gov.cn", "msz@example.gov.cn", "li@example.gov.cn"
	sepKeys := []string{"bulletin|2026-09|" + office, "bulletin|2026-09|" + msz, "bulletin|2026-09|" + li, "weekly|2026-W44|" + office}
	rptPass(t, e, be, "2026-10-30 10:00", sepKeys...)
	octKeys := []string{"bulletin|2026-10|" + office, "bulletin|2026-10|" + msz, "bulletin|2026-10|" + li, "weekly|2026-W45|" + office}
	got := rptPass(t, e, be, "2026-11-04 10:00", octKeys...)
	if len(got) != len(octKeys) {
		t.Errorf("4 Nov: sent %v, want %v", slices.Collect(mapKeys(got)), octKeys)
	}
	rptCheckBulletinMail(t, got["bulletin|2026-10|"+office], office)
	for _, at := range []string{"2026-11-04 10:05", "2026-11-04 11:00", "2026-11-05 09:00"} {
		if got := rptPass(t, e, be, at, octKeys...); len(got) != 0 {
			t.Errorf("%s: sent %v again", at, slices.Collect(mapKeys(got)))
		}
	}
	rptCheckOutbox(t, e, append(sepKeys, octKeys...), map[string]string{"bulletin|2026-10|" + office: "2026-11-02T09:00:00+08:00",
		"weekly|2026-W45|" + office: "2026-11-02T09:00:00+08:00"})
}

// TestWeeklySummaryAfterHolidayMonday: Mon 5 Oct is National Day, so the
// week's summary waits for the next working day, Thu 8 Oct — which is
// also September's bulletin day.
func TestWeeklySummaryAfterHolidayMonday(t *testing.T) {
	e, be := rptMailEnv(t)
	const office = "ducha@example.gov.cn"
	keys := []string{"weekly|2026-W41|" + office, "bulletin|2026-09|" + office, "bulletin|2026-09|msz@example.gov.cn", "bulletin|2026-09|li@example.gov.cn"}
	// 2 Oct: the W40 summary (Mon 28 Sep) comes out late at the first pass.
	got := rptPass(t, e, be, "2026-10-02 10:00", append(keys, "weekly|2026-W40|"+office)...)
	if _, ok := got["weekly|2026-W40|"+office]; !ok || len(got) != 1 {
		t.Errorf("2 Oct: sent %v, want the W40 summary", slices.Collect(mapKeys(got)))
	}
	for _, at := range []string{"2026-10-05 09:00", "2026-10-07 12:00", "2026-10-08 08:59"} {
		if got := rptPass(t, e, be, at, keys...); len(got) != 0 {
			t.Errorf("%s: sent %v before the first working day", at, slices.Collect(mapKeys(got)))
		}
	}
	got = rptPass(t, e, be, "2026-10-08 09:00", keys...)
	if len(got) != len(keys) {
		t.Errorf("8 Oct 09:00: sent %v, want %v", slices.Collect(mapKeys(got)), keys)
	}
	if m := got["weekly|2026-W41|"+office]; !strings.Contains(m.Subject, "2026年第41周（10月5日至10月11日）") {
		t.Errorf("W41 subject %q", m.Subject)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if !yield(k) {
				return
			}
		}
	}
}

func rptCheckBulletinMail(t *testing.T, m rptMail, to string) {
	t.Helper()
	if len(m.To) != 1 || m.To[0] != to {
		t.Errorf("bulletin to %v, want %s", m.To, to)
	}
	if m.Subject != "2026年10月督办事项办理情况通报" {
		t.Errorf("bulletin subject %q", m.Subject)
	}
	for _, s := range []string{"<svg", "45.0%", "行政事业性收费清理", "统计口径"} {
		if !strings.Contains(m.HTML, s) {
			t.Errorf("bulletin HTML lacks %q", s)
		}
	}
	for _, s := range []string{"现将2026年10月督办事项办理情况通报如下", "合计", "45.0%", "accounts-q3"} {
		if !strings.Contains(m.Text, s) {
			t.Errorf("bulletin text lacks %q", s)
		}
	}
	data, ok := m.Attachments["2026年10月督办通报.xlsx"]
	if !ok {
		t.Fatalf("bulletin attachments %v, want 2026年10月督办通报.xlsx", slices.Collect(mapKeys(m.Attachments)))
	}
	path := filepath.Join(t.TempDir(), "attached.xlsx")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rptCheckXLSX(t, path)
}

func rptCheckWeeklyMail(t *testing.T, m rptMail) {
	t.Helper()
	if m.Subject != "督办工作周报：2026年第45周（11月2日至11月8日）" {
		t.Errorf("weekly subject %q", m.Subject)
	}
	sections := strings.SplitN(m.Text, "\n二、", 2)
	if len(sections) != 2 {
		t.Fatalf("weekly text:\n%s", m.Text)
	}
	due, overdue, _ := strings.Cut(sections[1], "\n三、")
	// Tracked since Mon 26 Oct: hotline-1028 only (the rest on 20 Sep).
	if !strings.Contains(sections[0], "新纳入督办的事项（1项）") || !strings.Contains(sections[0], "hotline-1028") ||
		!strings.Contains(sections[0], "五个工作日内办结并答复来电群众") || !strings.Contains(sections[0], "2026-11-04 24:00") {
		t.Errorf("weekly tracked section:\n%s", sections[0])
	}
	// Due 2–8 Nov, not yet overdue: hotline-1028 (4 Nov), budget-2027 (6 Nov), weekly-cases of Thu 5 Nov.
	for _, id := range []string{"hotline-1028", "budget-2027", "weekly-cases/2026-11-05/fzj", "weekly-cases/2026-11-05/mishu"} {
		if !strings.Contains(due, "编号："+id+"\n") {
			t.Errorf("weekly due-this-week section lacks %s:\n%s", id, due)
		}
	}
	if !strings.Contains(due, "本周到期的事项（4项）") {
		t.Errorf("weekly due-this-week count:\n%s", due)
	}
	// Overdue at 2 Nov 09:00: the 24 Sep weekly reports, fees-63, rules-88, the 29 Oct fzj weekly report.
	if !strings.Contains(overdue, "逾期未办结的事项（5项）") {
		t.Errorf("weekly overdue count:\n%s", overdue)
	}
	for _, id := range []string{"weekly-cases/2026-09-24/fzj", "weekly-cases/2026-09-24/mishu", "fees-63", "rules-88", "weekly-cases/2026-10-29/fzj"} {
		if !strings.Contains(overdue, "编号："+id+"\n") {
			t.Errorf("weekly overdue section lacks %s:\n%s", id, overdue)
		}
	}
	// fees-63: last day 15 Oct; 16, 19–23, 26–30 Oct, 2 Nov → 12 working days.
	if !strings.Contains(overdue, "市财政局：行政事业性收费清理（洛政办〔2026〕63号），期限 2026-10-15 24:00，已逾期12个工作日") {
		t.Errorf("weekly fees-63 line:\n%s", overdue)
	}
	if !strings.Contains(m.HTML, "<table") || !strings.Contains(m.HTML, "hotline-1028") {
		t.Errorf("weekly HTML:\n%s", m.HTML)
	}
}

// rptCheckOutbox checks that the outbox shows each key sent once, with
// its scheduled time when given.
func rptCheckOutbox(t *testing.T, e *testEnv, keys []string, at map[string]string) {
	t.Helper()
	out := e.mustRun("outbox", "--all", "--format", "json")
	var rows []struct {
		Key       string `json:"key"`
		State     string `json:"state"`
		Level     string `json:"level"`
		At        string `json:"at"`
		Late      bool   `json:"late"`
		Attempts  int    `json:"attempts"`
		MessageID string `json:"message_id"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rows {
		if !strings.HasPrefix(r.Key, "bulletin|") && !strings.HasPrefix(r.Key, "weekly|") {
			continue
		}
		seen[r.Key]++
		if r.State != "sent" || r.Attempts != 1 || r.MessageID != rptMessageID(r.Key) {
			t.Errorf("outbox %s: %+v", r.Key, r)
		}
		if want, ok := at[r.Key]; ok && (r.At != want || !r.Late) {
			t.Errorf("outbox %s: at %s late %v, want %s and late", r.Key, r.At, r.Late, want)
		}
	}
	for _, k := range keys {
		if seen[k] != 1 {
			t.Errorf("outbox has %s %d times", k, seen[k])
		}
	}
	if len(seen) != len(keys) {
		t.Errorf("outbox report entries %v, want %v", seen, keys)
	}
}

// TestBulletinToARefusedAddress: a leader's address the server refuses
// (550) is recorded as failed and reported to the office, once; the
// others still get the bulletin.
func TestBulletinToARefusedAddress(t *testing.T) {
	e, be := rptMailEnv(t, "gone@example.gov.cn")
	be.srv.FailRecipient("gone@example.gov.cn", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"})
	const office = "ducha@example.gov.cn"
	sep := []string{"bulletin|2026-09|" + office, "bulletin|2026-09|msz@example.gov.cn", "bulletin|2026-09|li@example.gov.cn",
		"weekly|2026-W44|" + office, "failure|bulletin|2026-09|gone@example.gov.cn"}
	got := rptPass(t, e, be, "2026-10-30 10:00", sep...)
	// The failure report goes out in the same pass, after the failure.
	rep, ok := got["failure|bulletin|2026-09|gone@example.gov.cn"]
	if len(got) != len(sep) || !ok {
		t.Fatalf("30 Oct: sent %v, want %v", slices.Collect(mapKeys(got)), sep)
	}
	if rep.Subject != "月度督办通报投递失败" || len(rep.To) != 1 || rep.To[0] != office ||
		!strings.Contains(rep.Text, "gone@example.gov.cn") || !strings.Contains(rep.Text, "550") {
		t.Errorf("failure report %q to %v:\n%s", rep.Subject, rep.To, rep.Text)
	}
	// It speaks to the office, not to an operator: no config keys or commands.
	text, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(rep.Text)))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(text); !strings.Contains(s, "2026年9月") || strings.Contains(s, "duban") || strings.Contains(s, "config") ||
		strings.Contains(s, "bulletin|") {
		t.Errorf("failure report names a command, a config key or an outbox key:\n%s", s)
	}
	for _, at := range []string{"2026-10-30 11:00", "2026-10-31 09:00"} {
		if got := rptPass(t, e, be, at, sep...); len(got) != 0 {
			t.Errorf("%s: sent %v again", at, slices.Collect(mapKeys(got)))
		}
	}
	out := e.mustRun("outbox", "--failed", "--format", "json")
	var rows []struct{ Key, State, Level string }
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Key != "bulletin|2026-09|gone@example.gov.cn" || rows[0].Level != "bulletin" {
		t.Errorf("outbox --failed: %+v", rows)
	}
}

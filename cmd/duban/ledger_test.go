package main

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/xuri/excelize/v2"

	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/ledger"
)

// ledgerEnv is the example installation with some history: a completion,
// an extension, a return and a withdrawal.
func ledgerEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	e.importExample()
	e.mustRun("done", "minutes-31", "--note", "已签发, 报市政府办公室", "--at", "2026-09-28 11:00")
	e.mustRun("progress", "opinion-203/fzj", "--note", "已起草意见\n待局长审定", "--at", "2026-09-29 10:00")
	e.mustRun("extend", "cosign-118", "--to", "+2wd", "--reason", "待法制局意见", "--at", "2026-10-10 10:00")
	e.mustRun("return", "filing-0930", "--reason", "不属于本处职责", "--at", "2026-09-26 10:00")
	e.mustRun("withdraw", "opinion-203/caizheng", "--reason", "无需财政意见", "--at", "2026-09-26 10:00")
	return e
}

// export writes the ledger to dir/name and returns its path.
func (e *testEnv) export(name string, args ...string) string {
	e.t.Helper()
	out := filepath.Join(e.dir, name)
	format := strings.TrimPrefix(filepath.Ext(name), ".")
	e.mustRun(append([]string{"export", "--format", format, "--output", out}, args...)...)
	return out
}

// sheetRows maps the instance id of every row to its cell references.
func sheetRows(t *testing.T, f *excelize.File) map[string]int {
	t.Helper()
	rows, err := f.GetRows(ledger.SheetName)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int)
	for i, r := range rows[1:] {
		m[r[0]] = i + 2
	}
	return m
}

func TestExportXLSXCellByCell(t *testing.T) {
	e := ledgerEnv(t)
	path := e.export("ledger.xlsx", "--at", "2026-10-09 10:00")
	if *updateDocs {
		docs, _ := filepath.Abs(filepath.Join("..", "..", "docs", "ledger-sample.xlsx"))
		e.export("ledger-sample.xlsx", "--at", "2026-10-09 10:00")
		if data, err := os.ReadFile(filepath.Join(e.dir, "ledger-sample.xlsx")); err != nil || os.WriteFile(docs, data, 0o644) != nil {
			t.Fatalf("writing %s: %v", docs, err)
		}
		t.Logf("wrote %s", docs)
	}
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 1 || got[0] != "台账" {
		t.Fatalf("sheets %v, want [台账]", got)
	}
	want := []string{"编号", "承办单位", "单位编号", "事项", "文号", "办理要求", "开始时间", "办理时限", "最迟时限", "原期限", "延期", "状态", "办结时间", "最新进展", "逾期工作日", "暂定"}
	for i, h := range want {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		if v, _ := f.GetCellValue("台账", cell); v != h {
			t.Errorf("header %s = %q, want %q", cell, v, h)
		}
	}
	p, err := f.GetPanes("台账")
	if err != nil || !p.Freeze || p.YSplit != 1 || p.TopLeftCell != "A2" {
		t.Errorf("panes %+v (%v): want the header row frozen", p, err)
	}
	rows := sheetRows(t, f)
	if len(rows) != 27 {
		t.Errorf("%d rows, want 27 (every instance)", len(rows))
	}
	cell := func(id string, col string) string {
		t.Helper()
		r, ok := rows[id]
		if !ok {
			t.Fatalf("no row for %s", id)
		}
		v, err := f.GetCellValue("台账", col+strconv.Itoa(r))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	checks := []struct{ id, col, want string }{
		{"minutes-31", "A", "minutes-31"},
		{"minutes-31", "B", "市政府办公室秘书科"},
		{"minutes-31", "C", "mishu"},
		{"minutes-31", "D", "第31次常务会议纪要签发"},
		{"minutes-31", "E", "洛政办〔2026〕31号"},
		{"minutes-31", "F", "会议纪要签发并报市政府办公室"},
		{"minutes-31", "G", "2026-09-24 16:00"},
		{"minutes-31", "H", "2026-09-28"}, // 3d from Thu 24 Sep, Sun 27 rolled to Mon 28
		{"minutes-31", "I", "2026-10-08"}, // 7d lands on National Day, rolled to 8 Oct
		{"minutes-31", "L", "已办结"},
		{"minutes-31", "M", "2026-09-28 11:00"},
		{"minutes-31", "N", "已签发, 报市政府办公室"},
		{"minutes-31", "O", ""},
		{"cosign-118", "H", "2026-10-14"}, // extended +2wd
		{"cosign-118", "J", "2026-10-12"}, // 原期限: the deadline before the extension
		{"cosign-118", "K", "已延期1次"},
		{"minutes-31", "J", ""},
		{"minutes-31", "K", ""},
		{"minutes-31", "P", ""}, // nothing provisional
		{"cosign-118", "L", "办理中"},
		{"filing-0930", "L", "已退回"},
		{"filing-0930", "O", "2"}, // last day 30 Sep; 8 and 9 Oct are the working days since
		{"opinion-203/caizheng", "L", "已撤销"},
		{"opinion-203/fzj", "H", "2026-10-09"}, // co-unit: 2 working days before the lead's 12 Oct
		{"opinion-203/fzj", "N", "已起草意见\n待局长审定"},
		{"letter-77", "B", ""},
		{"letter-77", "L", "待分办"},
		{"weekly-cases/2026-10-01/fzj", "H", "2026-10-08 12:00"}, // timed: Thursday 1 Oct rolled to 8 Oct 12:00
		{"weekly-cases/2026-10-01/fzj", "O", "1"},
	}
	for _, c := range checks {
		if got := cell(c.id, c.col); got != c.want {
			t.Errorf("%s %s = %q, want %q", c.id, c.col, got, c.want)
		}
	}
	// 办理时限 is a real date: a serial number with a date format.
	ref := "H" + strconv.Itoa(rows["minutes-31"])
	raw, err := f.GetCellValue("台账", ref, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	serial, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		t.Fatalf("%s holds %q, not a date number", ref, raw)
	}
	if d, _ := excelize.ExcelDateToTime(serial, false); d.Format(time.DateOnly) != "2026-09-28" {
		t.Errorf("%s serial %v is %v, want 2026-09-28", ref, serial, d)
	}
	styleID, _ := f.GetCellStyle("台账", ref)
	st, err := f.GetStyle(styleID)
	if err != nil || st.CustomNumFmt == nil || *st.CustomNumFmt != "yyyy-mm-dd" {
		t.Errorf("%s style %+v (%v), want number format yyyy-mm-dd", ref, st, err)
	}
	ref = "G" + strconv.Itoa(rows["minutes-31"])
	raw, _ = f.GetCellValue("台账", ref, excelize.Options{RawCellValue: true})
	if serial, err := strconv.ParseFloat(raw, 64); err != nil || serial-float64(int(serial)) < 0.66 || serial-float64(int(serial)) > 0.67 {
		t.Errorf("%s raw %q, want a date-time number at 16:00", ref, raw)
	}
	// Widths fit Chinese text: 事项 is as wide as its widest title (CJK counts 2).
	wd, _ := f.GetColWidth("台账", "D")
	if min := float64(ledger.DisplayWidth("《市政府工作规则》修订征求意见")); wd < min {
		t.Errorf("column D width %v, narrower than %v", wd, min)
	}
	if wa, _ := f.GetColWidth("台账", "A"); wa < float64(len("monthly-accounts/2026-10-05/caizheng")) {
		t.Errorf("column A width %v too narrow for the ids", wa)
	}
}

func TestExportCSVAndFilters(t *testing.T) {
	e := ledgerEnv(t)
	out := e.mustRun("export", "--format", "csv", "--status", "open", "--unit", "fzj", "--at", "2026-10-09 10:00")
	if !strings.HasPrefix(out, "\uFEFF编号,承办单位,") {
		t.Fatalf("CSV does not start with a BOM and the headers: %q", out[:min(len(out), 40)])
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		if r[2] != "fzj" || r[11] != "办理中" {
			t.Errorf("--status open --unit fzj exported %v", r)
		}
	}
	if len(recs) < 3 {
		t.Errorf("only %d lines", len(recs))
	}
	for _, args := range [][]string{
		{"export", "--format", "xlsx"}, // needs --output
		{"export", "--format", "pdf"},
		{"export", "--status", "finished", "--format", "csv"},
		{"export", "--unit", "nosuch", "--format", "csv"},
	} {
		if code, _, stderr := e.run(args...); code != 2 {
			t.Errorf("duban %v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
}

func TestLedgerRoundTripIsNoOp(t *testing.T) {
	for _, name := range []string{"ledger.xlsx", "ledger.csv"} {
		t.Run(name, func(t *testing.T) {
			e := ledgerEnv(t)
			at := "2026-10-12 10:00"
			e.mustRun("import", examplePath("units.yaml"), examplePath("worked-2026.yaml"), "--at", at)
			path := e.export(name, "--at", "2026-10-09 10:00")
			before := e.dbHash()
			out := e.mustRun("import", path, "--at", at)
			if e.dbHash() != before {
				t.Errorf("importing the exported ledger changed the database; import said %s", out)
			}
			if !strings.Contains(out, "未作任何改动") {
				t.Errorf("import output %q", out)
			}
			// Together with the tracking files it came from: still nothing.
			e.mustRun("import", examplePath("units.yaml"), examplePath("worked-2026.yaml"), path, "--at", at)
			if e.dbHash() != before {
				t.Error("importing the tracking files and the ledger together changed the database")
			}
		})
	}
}

// history returns the actions (action:actor) of an instance.
func (e *testEnv) history(id string) []string {
	e.t.Helper()
	var v struct {
		History []struct {
			At                  time.Time
			Action, Actor, Note string
		} `json:"history"`
	}
	out := e.mustRun("show", id, "--format", "json")
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		e.t.Fatal(err)
	}
	var h []string
	for _, x := range v.History {
		h = append(h, x.Action+":"+x.Actor+"@"+x.At.In(shanghaiLoc(e.t)).Format("01-02 15:04")+"("+x.Note+")")
	}
	return h
}

func TestLedgerImportCreatesUpdatesAndCompletes(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	// Hand-written: columns in another order, some absent, user date styles.
	csvText := "\uFEFF状态,编号,事项,单位编号,办理时限,最迟时限,办结时间,最新进展,文号\r\n" +
		"办理中,ledger-1,关于老旧小区改造的督办件,fzj,2026/10/20,,,已召开协调会,洛政督〔2026〕5号\r\n" +
		"已办结,cosign-118,关于规范行政执法的意见(会签稿),fzj,2026-10-12,,2026-10-11 16:30,意见已送文电处,洛政法〔2026〕118号\r\n" +
		"办理中,opinion-203/fzj,,,,,,\"已起草意见\n待局长审定\",\r\n" +
		"已办结,ledger-2,群众来信答复,承办单位,2026-10-15 17:00,,,,\r\n"
	// ledger-2 names its unit by name instead (承办单位 column absent): fix the row.
	csvText = strings.Replace(csvText, "承办单位,2026-10-15", "caizheng,2026-10-15", 1)
	path := filepath.Join(e.dir, "office.csv")
	os.WriteFile(path, []byte(csvText), 0o600)
	out := e.mustRun("import", path, "--at", "2026-10-12 09:00")
	if !strings.Contains(out, "2个事项（新增2") {
		t.Errorf("import said %q, want 2 new items", out)
	}
	rows := e.list("--status", "all", "--at", "2026-10-12 09:00")
	if r := rows["ledger-1"]; r.Status != "open" || r.Unit != "fzj" || r.Due != "2026-10-21T00:00:00+08:00" {
		t.Errorf("ledger-1 = %+v", r)
	}
	if r := rows["ledger-2"]; r.Status != "done" || r.Due != "2026-10-15T17:00:00+08:00" {
		t.Errorf("ledger-2 = %+v", r)
	}
	if r := rows["cosign-118"]; r.Status != "done" {
		t.Errorf("cosign-118 = %+v, want done", r)
	}
	if h := strings.Join(e.history("cosign-118"), " "); !strings.Contains(h, "done:ledger import@10-11 16:30(意见已送文电处)") {
		t.Errorf("cosign-118 history %s: want done by the ledger import at 办结时间, with the note", h)
	}
	if h := strings.Join(e.history("opinion-203/fzj"), " "); !strings.Contains(h, "progress:ledger import") {
		t.Errorf("opinion-203/fzj history %s, want the progress note", h)
	}
	// The same ledger again: nothing changes.
	before := e.dbHash()
	e.mustRun("import", path, "--at", "2026-10-13 09:00")
	if e.dbHash() != before {
		t.Error("re-importing the same ledger changed the database")
	}
	// An update of the ledger's own item: new deadline, new unit.
	os.WriteFile(path, []byte("编号,事项,单位编号,办理时限\nledger-1,关于老旧小区改造的督办件,mishu,2026-10-23\n"), 0o600)
	e.mustRun("import", path, "--at", "2026-10-13 10:00")
	if r := e.list("--status", "all")["ledger-1"]; r.Unit != "mishu" || r.Due != "2026-10-24T00:00:00+08:00" {
		t.Errorf("ledger-1 after the update = %+v", r)
	}
	if h := strings.Join(e.history("ledger-1"), " "); !strings.Contains(h, "recomputed:ledger import") || !strings.Contains(h, "assign:ledger import") {
		t.Errorf("ledger-1 history %s", h)
	}
}

// editXLSX copies an exported ledger and applies edits (cell → value; a
// value of nil clears the cell).
func editXLSX(t *testing.T, src, dst string, edits map[string]any) {
	t.Helper()
	f, err := excelize.OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for cell, v := range edits {
		if err := f.SetCellValue("台账", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(dst); err != nil {
		t.Fatal(err)
	}
}

func TestLedgerBadRowsChangeNothing(t *testing.T) {
	e := ledgerEnv(t)
	src := e.export("export.xlsx", "--at", "2026-10-09 10:00")
	f, _ := excelize.OpenFile(src)
	rows := sheetRows(t, f)
	f.Close()
	r := func(id string) string { return strconv.Itoa(rows[id]) }
	cases := []struct {
		name  string
		edits map[string]any
		want  []string
	}{
		{"bad date", map[string]any{"H" + r("cosign-118"): "2026-13-01"},
			[]string{`ledger.xlsx: 台账!H` + r("cosign-118") + ` (办理时限): "2026-13-01" is not a date`}},
		{"unknown unit", map[string]any{"C" + r("letter-77"): "nosuch"},
			[]string{`ledger.xlsx: 台账!C` + r("letter-77") + ` (单位编号): unknown unit "nosuch"`}},
		{"unknown header", map[string]any{"Q1": "备注"},
			[]string{`ledger.xlsx: 台账!Q1: unknown header "备注"`}},
		{"duplicate id", map[string]any{"A" + r("monthly-accounts/2026-09-05/caizheng"): "minutes-31"},
			[]string{`ledger.xlsx: 台账!A` + r("monthly-accounts/2026-09-05/caizheng") + ` (编号): duplicate 编号 "minutes-31": already in row ` + r("minutes-31")}},
		{"done moves back", map[string]any{"L" + r("minutes-31"): "办理中", "M" + r("minutes-31"): nil},
			[]string{`ledger.xlsx: 台账!L` + r("minutes-31") + ` (状态): minutes-31 is 已办结; the ledger cannot change it to 办理中`}},
		{"bad status", map[string]any{"L" + r("cosign-118"): "办完了"},
			[]string{`台账!L` + r("cosign-118") + ` (状态): "办完了" is not a status`}},
		{"instance row changes its item", map[string]any{"D" + r("opinion-203/fzj"): "别的标题"},
			[]string{`台账!D` + r("opinion-203/fzj") + ` (事项)`}},
		{"extended deadline edited", map[string]any{"H" + r("cosign-118"): "2026-10-20"},
			[]string{`台账!H` + r("cosign-118") + ` (办理时限)`, "duban extend"}},
		// Every problem at once, and the good edits are not applied either.
		{"several", map[string]any{"H" + r("cosign-118"): "明天", "C" + r("letter-77"): "nosuch", "N" + r("filing-0930"): "新的进展"},
			[]string{`台账!C` + r("letter-77"), `台账!H` + r("cosign-118")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(e.dir, "ledger.xlsx")
			editXLSX(t, src, dst, c.edits)
			t.Chdir(e.dir) // messages name the file as given
			before := e.dbHash()
			code, _, stderr := e.run("import", "ledger.xlsx", "--at", "2026-10-12 10:00")
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %s", code, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if e.dbHash() != before {
				t.Error("a rejected ledger changed the database")
			}
		})
	}
}

func TestLedgerBadCSVChangesNothing(t *testing.T) {
	e := ledgerEnv(t)
	src := e.export("export.csv", "--at", "2026-10-09 10:00")
	data, _ := os.ReadFile(src)
	lines := strings.Split(string(data), "\r\n")
	lineOf := func(id string) int {
		for i, l := range lines {
			if strings.HasPrefix(l, id+",") {
				return i + 1
			}
		}
		t.Fatalf("no line for %s", id)
		return 0
	}
	cases := []struct {
		name, from, to, id string
		want               string
	}{
		{"bad date", ",2026-10-14,", ",2026-13-01,", "cosign-118", `ledger.csv:%d: column H (办理时限): "2026-13-01" is not a date`},
		{"unknown unit", ",wendian,", ",nosuch,", "filing-0930", `ledger.csv:%d: column C (单位编号): unknown unit "nosuch"`},
		{"status backwards", ",已办结,2026-09-28 11:00,", ",办理中,,", "minutes-31", `ledger.csv:%d: column L (状态): minutes-31 is 已办结`},
		{"duplicate id", "monthly-accounts/2026-09-05/caizheng,", "minutes-31,", "monthly-accounts/2026-09-05/caizheng", `ledger.csv:%d: column A (编号): duplicate 编号 "minutes-31": already in line`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := lineOf(c.id)
			edited := append([]string(nil), lines...)
			if !strings.Contains(edited[n-1], c.from) {
				t.Fatalf("line %d %q has no %q", n, edited[n-1], c.from)
			}
			edited[n-1] = strings.Replace(edited[n-1], c.from, c.to, 1)
			os.WriteFile(filepath.Join(e.dir, "ledger.csv"), []byte(strings.Join(edited, "\r\n")), 0o600)
			t.Chdir(e.dir)
			before := e.dbHash()
			code, _, stderr := e.run("import", "ledger.csv", "--at", "2026-10-12 10:00")
			want := c.want
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, n)
			}
			if code != 2 || !strings.Contains(stderr, want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, want)
			}
			if e.dbHash() != before {
				t.Error("a rejected ledger changed the database")
			}
		})
	}
	// An unknown header in a CSV names line 1 and the column.
	t.Chdir(e.dir)
	os.WriteFile(filepath.Join(e.dir, "ledger.csv"), []byte("编号,事项,备注\nx,y,z\n"), 0o600)
	if code, _, stderr := e.run("import", "ledger.csv"); code != 2 || !strings.Contains(stderr, `ledger.csv:1: column C: unknown header "备注"`) {
		t.Errorf("unknown CSV header: exit %d, %s", code, stderr)
	}
}

// icsEvents parses a calendar with golang-ical and indexes its events by UID.
func icsEvents(t *testing.T, data []byte) map[string]*ics.VEvent {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\r\n"), "\r\n") {
		if len(line) > 75 || strings.ContainsAny(line, "\r\n") {
			t.Errorf("calendar line %d: %q (%d octets)", i+1, line, len(line))
		}
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("golang-ical: %v\n%s", err, data)
	}
	m := make(map[string]*ics.VEvent)
	for _, ev := range cal.Events() {
		m[ev.Id()] = ev
	}
	return m
}

func propValue(ev *ics.VEvent, p ics.ComponentProperty) string {
	if v := ev.GetProperty(p); v != nil {
		return v.Value
	}
	return ""
}

func TestExportICS(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	evs := icsEvents(t, []byte(e.mustRun("export", "--format", "ics", "--unit", "fzj", "--at", "2026-09-26 10:00")))
	co, ok := evs["opinion-203/fzj@duban"]
	if !ok {
		t.Fatalf("no event for opinion-203/fzj: %v", evs)
	}
	// Co-unit deadline: Friday 9 Oct; the alarm is 09:00 on the working day before, Thursday 8 Oct.
	if v := co.GetProperty(ics.ComponentPropertyDtStart); v == nil || v.Value != "20261009" {
		t.Errorf("opinion-203/fzj DTSTART %+v, want the last day 20261009", v)
	}
	if end, err := co.GetAllDayEndAt(); err != nil || end.Format("2006-01-02") != "2026-10-10" {
		t.Errorf("opinion-203/fzj DTEND %v %v", end, err)
	}
	if al := co.Alarms(); len(al) != 1 || propValue2(al[0].GetProperty(ics.ComponentPropertyTrigger)) != "20261008T010000Z" {
		t.Errorf("opinion-203/fzj alarm %+v, want 09:00 on 8 Oct (01:00Z)", al)
	}
	weekly := evs["weekly-cases/2026-10-01/fzj@duban"]
	if weekly == nil {
		t.Fatal("no event for the weekly report of 1 Oct")
	}
	if end, err := weekly.GetEndAt(); err != nil || !end.Equal(time.Date(2026, 10, 8, 12, 0, 0, 0, shanghaiLoc(t))) {
		t.Errorf("weekly DTEND %v %v, want Thursday 8 Oct 12:00 (rolled over National Day)", end, err)
	}
	cos := evs["cosign-118@duban"]
	if cos == nil || propValue(cos, ics.ComponentPropertySequence) != "0" || propValue(cos, ics.ComponentPropertyDtStart) != "20261012" {
		t.Fatalf("cosign-118 before the extension: %+v", cos)
	}
	// 12 Oct is a Monday and Saturday 10 Oct a make-up working day: the alarm is then.
	if al := cos.Alarms(); len(al) != 1 || propValue2(al[0].GetProperty(ics.ComponentPropertyTrigger)) != "20261010T010000Z" {
		t.Errorf("cosign-118 alarm, want 09:00 on the make-up working day 10 Oct")
	}
	for id := range evs {
		if !strings.Contains(id, "fzj") && !strings.HasPrefix(id, "cosign-118") {
			t.Errorf("--unit fzj exported %s", id)
		}
	}
	e.mustRun("extend", "cosign-118", "--to", "+2wd", "--reason", "待意见", "--at", "2026-10-10 10:00")
	cos2 := icsEvents(t, []byte(e.mustRun("export", "--format", "ics", "--unit", "fzj", "--at", "2026-10-10 11:00")))["cosign-118@duban"]
	if cos2 == nil || propValue(cos2, ics.ComponentPropertySequence) != "1" || propValue(cos2, ics.ComponentPropertyDtStart) != "20261014" {
		t.Errorf("cosign-118 after the extension: %+v, want SEQUENCE 1 and DTSTART 20261014", cos2)
	}
}

func propValue2(p *ics.IANAProperty) string {
	if p == nil {
		return ""
	}
	return p.Value
}

// emlAttachments returns the attachments of an .eml file by name.
func emlAttachments(t *testing.T, path string) (to string, atts map[string][]byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	atts = make(map[string][]byte)
	var walk func(ctype string, body io.Reader, h map[string][]string)
	walk = func(ctype string, body io.Reader, h map[string][]string) {
		mt, params, err := mime.ParseMediaType(ctype)
		if err != nil {
			return
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err != nil {
					return
				}
				walk(p.Header.Get("Content-Type"), p, p.Header)
			}
		}
		_, dp, err := mime.ParseMediaType(strings.Join(h["Content-Disposition"], ""))
		if err != nil || dp["filename"] == "" {
			return
		}
		raw, _ := io.ReadAll(body)
		dec, _ := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw)))
		atts[dp["filename"]] = dec
	}
	walk(msg.Header.Get("Content-Type"), msg.Body, nil)
	return msg.Header.Get("To"), atts
}

func TestAssignedNoticeCarriesInvitation(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	outbox := filepath.Join(e.dir, "outbox")
	calendarFor := func(addr string) map[string]*ics.VEvent {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(outbox, "*.eml"))
		var found map[string]*ics.VEvent
		for _, f := range files {
			to, atts := emlAttachments(t, f)
			if !strings.Contains(to, addr) {
				continue
			}
			if data, ok := atts["deadline.ics"]; ok {
				found = icsEvents(t, data)
			}
			os.Remove(f)
		}
		return found
	}
	e.mustRun("serve", "--once", "--at", "2026-09-25 10:05")
	evs := calendarFor("wang@example.gov.cn") // head of fzj
	if evs == nil {
		t.Fatal("the assigned notice to fzj carries no deadline.ics")
	}
	cos := evs["cosign-118@duban"]
	if cos == nil || propValue(cos, ics.ComponentPropertySequence) != "0" || propValue(cos, ics.ComponentPropertyDtStart) != "20261012" {
		t.Fatalf("cosign-118 invitation %+v", cos)
	}
	if _, ok := evs["opinion-203/fzj@duban"]; !ok {
		t.Error("the co-unit assignment has no invitation")
	}
	// The extension: the next notice carries the updated invitation.
	e.mustRun("extend", "cosign-118", "--to", "+2wd", "--reason", "待意见", "--at", "2026-09-28 10:00")
	e.mustRun("serve", "--once", "--at", "2026-10-13 09:05")
	evs = calendarFor("wang@example.gov.cn")
	if evs == nil {
		t.Fatal("the notice after the extension carries no deadline.ics")
	}
	upd := evs["cosign-118@duban"]
	if upd == nil || upd.Id() != cos.Id() || propValue(upd, ics.ComponentPropertySequence) != "1" || propValue(upd, ics.ComponentPropertyDtStart) != "20261014" {
		t.Errorf("updated invitation %+v, want the same UID, SEQUENCE 1, DTSTART 20261014", upd)
	}
}

// TestExportChild is the child process of BenchmarkExportXLSX: it runs
// one export and exits, so the parent reads its peak RSS alone.
func TestExportChild(t *testing.T) {
	args := os.Getenv("DUBAN_EXPORT_CHILD")
	if args == "" {
		t.Skip("child process of BenchmarkExportXLSX")
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), strings.Split(args, "\x1f"), &out, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
}

// BenchmarkExportXLSX exports a ledger of 1 000 000 instances (100 000
// items × 10 units, mostly done) to .xlsx through the CLI, in a child
// process whose peak RSS (getrusage) is reported with the time.
func BenchmarkExportXLSX(b *testing.B) {
	if testing.Short() {
		b.Skip("1 000 000 instances")
	}
	const items, units = 100_000, 10
	// DUBAN_BENCH_DIR keeps the fixture between runs (built if missing).
	dir := os.Getenv("DUBAN_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	db := filepath.Join(dir, "bench.db")
	cfg := filepath.Join(dir, "duban.yaml")
	os.WriteFile(cfg, []byte("db: bench.db\nadmin: {socket: "+filepath.Join(dir, "s.sock")+"}\nlog: {level: warn}\n"), 0o600)
	if _, err := os.Stat(db); err != nil {
		buildLedgerFixture(b, db, items, units)
	}
	out := filepath.Join(dir, "ledger.xlsx")
	var elapsed time.Duration
	var peak, peakAnon int64
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExportChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "DUBAN_EXPORT_CHILD="+strings.Join([]string{
			"export", "--format", "xlsx", "--output", out, "--config", cfg, "--at", "2026-12-01"}, "\x1f"))
		var msg bytes.Buffer
		cmd.Stdout, cmd.Stderr = &msg, &msg
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		stop := make(chan struct{})
		anonc := make(chan int64)
		go func() { anonc <- sampleAnonRSS(cmd.Process.Pid, stop) }()
		err := cmd.Wait()
		close(stop)
		peakAnon = max(peakAnon, <-anonc)
		if err != nil {
			b.Fatalf("child: %v\n%s", err, msg.Bytes())
		}
		elapsed += time.Since(start)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = max(peak, ru.Maxrss*1024) // KiB on Linux
		}
	}
	fi, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "ms/export")
	dbInfo, err := os.Stat(db)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(peakAnon)/(1<<20), "peak-anon-MiB")
	b.ReportMetric(float64(dbInfo.Size())/(1<<20), "db-MiB")
	b.ReportMetric(float64(fi.Size())/(1<<20), "xlsx-MiB")
	// The total RSS includes the pages of the bbolt file that the export
	// read through its read-only mmap: page cache, which grows with the
	// file and which the kernel reclaims at will. The process's own memory
	// is the anonymous part, and that is what must stay bounded.
	if peakAnon > 500<<20 {
		b.Errorf("peak anonymous RSS %d MiB, want < 500 MiB", peakAnon>>20)
	}
	f, err := excelize.OpenFile(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if v, _ := f.GetCellValue(ledger.SheetName, "A1000001"); v == "" {
		b.Error("row 1000001 is empty")
	}
}

// sampleAnonRSS polls RssAnon in /proc/pid/status every 5 ms until stop
// is closed, and returns the largest value seen, in bytes.
func sampleAnonRSS(pid int, stop <-chan struct{}) int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var peak int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(path); err == nil {
			for line := range strings.SplitSeq(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
					peak = max(peak, kb*1024)
				}
			}
		}
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}

// buildLedgerFixture writes items × units instances straight into a
// store, in batches so that the fixture itself stays small in memory.
func buildLedgerFixture(b *testing.B, path string, items, units int) {
	b.Helper()
	st, err := kvstore.Open(path, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	loc := shanghaiLocB(b)
	var unitIDs []string
	if err := st.Update(func(tx tracker.Tx) error {
		for u := range units {
			id := fmt.Sprintf("u%02d", u)
			unitIDs = append(unitIDs, id)
			if err := tx.PutUnit(&tracker.Unit{ID: id, Name: fmt.Sprintf("市第%d委办局", u+1)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	const batch = 5_000
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, loc)
	for first := 0; first < items; first += batch {
		if err := st.Update(func(tx tracker.Tx) error {
			for i := first; i < min(first+batch, items); i++ {
				id := fmt.Sprintf("2026-%06d", i)
				it := &tracker.Item{ID: id, Title: fmt.Sprintf("关于第%d号督办事项的办理", i), Doc: fmt.Sprintf("洛政督〔2026〕%d号", i),
					Requirements: "按要求办结并书面报送督查室", Units: unitIDs, Due: "10wd", Start: "2026-01-05 09:00", TrackedAt: start}
				if err := tx.PutItem(it); err != nil {
					return err
				}
				s := start.AddDate(0, 0, i%300)
				last := tracker.DateOf(s).AddDays(14)
				dl := tracker.Deadline{LastDay: last, Due: last.At(24*60, loc), Rule: "10wd"}
				for u, uid := range unitIDs {
					in := &tracker.Instance{ID: id + "/" + uid, Item: id, Unit: uid, Status: tracker.StatusOpen,
						Start: s.UTC(), Deadline: dl, AssignedAt: start.UTC(), UpdatedAt: start.UTC()}
					if (i+u)%10 < 7 {
						in.Status, in.DoneAt, in.Note = tracker.StatusDone, s.AddDate(0, 0, 10).UTC(), "已办结并报送"
					}
					if err := tx.PutInstance(in); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func shanghaiLocB(b *testing.B) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	return loc
}

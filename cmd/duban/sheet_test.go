package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"duban/tracker/kvstore"
)

// sheetListRow is a row of `sheet list --format json`.
type sheetListRow struct {
	Number string    `json:"number"`
	ID     string    `json:"id"`
	Unit   string    `json:"unit"`
	Grade  string    `json:"grade"`
	Issued time.Time `json:"issued"`
	Within string    `json:"within"`
	Limit  time.Time `json:"limit"`
	Status string    `json:"status"`
}

func (e *testEnv) sheetList(args ...string) []sheetListRow {
	e.t.Helper()
	var rows []sheetListRow
	out := e.mustRun(append([]string{"sheet", "list", "--format", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		e.t.Fatalf("sheet list: %v\n%s", err, out)
	}
	return rows
}

// docxText returns word/document.xml of a .docx file.
func docxText(t *testing.T, path string) string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("%s has no word/document.xml", path)
	return ""
}

// TestSheetIssueMakesTheLimitTheHardLimitAndNumbersAreNeverReused: a 黄
// sheet on minutes-31 (last day Mon 28 Sep, limit 8 Oct) issued on Wed
// 30 Sep 10:00 with --within 3wd: the working days after 30 Sep are 8 Oct
// (1), 9 Oct (2) and Sat 10 Oct, a make-up working day (3), so the 限期
// and the new hard limit end on 10 Oct; the item's limit is kept as the
// original; the history records the sheet; 2 working days overdue (29,
// 30 Sep). A withdrawn sheet's number is not given again.
func TestSheetIssueMakesTheLimitTheHardLimitAndNumbersAreNeverReused(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	out := e.mustRun("sheet", "minutes-31", "--grade", "黄", "--within", "3wd", "--note", "请于限期内签发并报送", "--at", "2026-09-30 10:00")
	if !strings.Contains(out, "督〔2026〕1号") || !strings.Contains(out, "2026-10-10 24:00") {
		t.Errorf("sheet output %q: want 督〔2026〕1号 and 限期 2026-10-10 24:00", out)
	}
	var in struct {
		Limit         struct{ Due time.Time }  `json:"limit_rule"`
		OriginalLimit *struct{ Due time.Time } `json:"original_limit"`
		Sheets        int                      `json:"sheets"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("show", "minutes-31", "--format", "json")), &in); err != nil {
		t.Fatal(err)
	}
	if want := atTime(t, "2026-10-11 00:00"); !in.Limit.Due.Equal(want) {
		t.Errorf("hard limit %v, want the 限期 %v", in.Limit.Due, want)
	}
	if in.OriginalLimit == nil || !in.OriginalLimit.Due.Equal(atTime(t, "2026-10-09 00:00")) {
		t.Errorf("original limit %+v, want the item's 2026-10-08 24:00", in.OriginalLimit)
	}
	// Re-importing the tracking files keeps the sheet's limit.
	e.mustRun("import", examplePath("units.yaml"), examplePath("worked-2026.yaml"), "--at", "2026-09-30 10:30")
	if r := e.list("--status", "all")["minutes-31"]; r.Limit == nil || !strings.HasPrefix(*r.Limit, "2026-10-11T00:00:00") {
		t.Errorf("after re-import the limit is %v, want the sheet's 2026-10-11T00:00:00+08:00", r.Limit)
	}
	h := e.showHistory("minutes-31").History
	if last := h[len(h)-1]; last.Action != "sheet" || !strings.Contains(last.Note, "督〔2026〕1号（黄·重点督办）") {
		t.Errorf("last history event %+v, want the sheet", last)
	}
	// The escalation follows the new limit: send_time on the first working day after 10 Oct.
	plan := e.mustRun("plan", "--from", "2026-10-09", "--to", "2026-10-14", "--format", "json")
	var rows []struct {
		At    time.Time `json:"at"`
		ID    string    `json:"id"`
		Level string    `json:"level"`
	}
	if err := json.Unmarshal([]byte(plan), &rows); err != nil {
		t.Fatal(err)
	}
	var esc []time.Time
	for _, r := range rows {
		if r.ID == "minutes-31" && r.Level == "escalation" {
			esc = append(esc, r.At)
		}
	}
	if want := atTime(t, "2026-10-12 09:00"); len(esc) != 1 || !esc[0].Equal(want) {
		t.Errorf("escalations of minutes-31 %v, want one at %v (after the sheet's 限期, not the item's 8 Oct)", esc, want)
	}

	// A refused sheet changes nothing.
	before := e.dbHash()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sheet", "minutes-31", "--grade", "绿", "--within", "3wd"}, "--grade"},
		{[]string{"sheet", "minutes-31", "--grade", "红"}, "--within"},
		{[]string{"sheet", "minutes-31", "--grade", "红", "--within", "3x", "--at", "2026-09-30 11:00"}, "限期"},
		{[]string{"sheet", "nosuch", "--grade", "红", "--within", "3wd"}, "not found"},
	} {
		if code, _, stderr := e.run(c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %s", c.args, code, stderr, c.want)
		}
	}
	if e.dbHash() != before {
		t.Fatal("a refused sheet changed the database")
	}

	e.mustRun("sheet", "cosign-118", "--grade", "蓝", "--within", "2wd", "--at", "2026-10-13 10:00")
	e.mustRun("sheet", "withdraw", "督〔2026〕2号", "--reason", "已当面督促", "--at", "2026-10-13 11:00")
	e.mustRun("sheet", "cosign-118", "--grade", "红", "--within", "1wd", "--at", "2026-10-13 15:00")
	rows2 := e.sheetList("--year", "2026")
	var got []string
	for _, r := range rows2 {
		got = append(got, r.Number+" "+r.ID+" "+r.Grade+" "+r.Status)
	}
	want := []string{"督〔2026〕1号 minutes-31 黄 open", "督〔2026〕2号 cosign-118 蓝 withdrawn", "督〔2026〕3号 cosign-118 红 open"}
	if !slices.Equal(got, want) {
		t.Errorf("sheet list:\n got %q\nwant %q", got, want)
	}
	if rows := e.sheetList("--year", "2027"); len(rows) != 0 {
		t.Errorf("2027 has sheets: %+v", rows)
	}

	// The document: number, title, unit, 限期 and the overdue working days.
	docx := filepath.Join(e.dir, "s1.docx")
	e.mustRun("sheet", "show", "督〔2026〕1号", "--format", "docx", "--output", docx)
	doc := docxText(t, docx)
	for _, s := range []string{"市政府督查室", "督〔2026〕1号", "督办事项通知单", "重点督办", "市政府办公室秘书科", "第31次常务会议纪要签发",
		"洛政办〔2026〕31号", "2026年9月28日24时", "已逾期2个工作日", "请于限期内签发并报送", "2026年10月10日24时前（3个工作日内）", "2026年9月30日"} {
		if !strings.Contains(doc, s) {
			t.Errorf("document.xml lacks %q", s)
		}
	}
	html := e.mustRun("sheet", "show", "督〔2026〕1号", "--format", "html")
	if !strings.Contains(html, "size: A4") || !strings.Contains(html, "督〔2026〕1号") {
		t.Errorf("html sheet lacks A4 print CSS or the number:\n%.400s", html)
	}
	if code, _, stderr := e.run("sheet", "show", "督〔2026〕9号", "--format", "html"); code != 2 || !strings.Contains(stderr, "督〔2026〕9号") {
		t.Errorf("show of a missing sheet: exit %d %q", code, stderr)
	}
}

// TestSheetNumbersUnderConcurrentIssuance: 50 sheets issued at once get 50
// distinct consecutive numbers, both through the command path on a shared
// store (what the daemon and the workspace run) and through a running
// daemon's admin socket (forwarded commands).
func TestSheetNumbersUnderConcurrentIssuance(t *testing.T) {
	const n = 50
	check := func(t *testing.T, e *testEnv) {
		t.Helper()
		rows := e.sheetList("--year", "2026")
		var nums []string
		for _, r := range rows {
			nums = append(nums, r.Number)
		}
		var want []string
		for i := 1; i <= n; i++ {
			want = append(want, fmt.Sprintf("督〔2026〕%d号", i))
		}
		slices.Sort(nums)
		slices.Sort(want)
		if !slices.Equal(nums, want) {
			t.Errorf("numbers %q, want 1..%d once each", nums, n)
		}
	}
	sheetArgs := []string{"sheet", "minutes-31", "--grade", "蓝", "--within", "3wd", "--at", "2026-09-30 10:00"}

	t.Run("shared store", func(t *testing.T) {
		e := newTestEnv(t)
		e.importExample()
		probe := e.loadApp()
		st, err := kvstore.Open(probe.cfg.DB, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan string, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var out, errb bytes.Buffer
				a := &app{stdout: &out, stderr: &errb, cwd: e.dir, actor: "test", cfg: probe.cfg, x: probe.x, store: st, shared: true,
					clock: recordAtAt(sheetArgs)}
				if code := a.execute(context.Background(), sheetArgs); code != 0 {
					errs <- errb.String()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for s := range errs {
			t.Errorf("issue: %s", s)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		check(t, e)
	})

	t.Run("admin socket", func(t *testing.T) {
		e := newTestEnv(t)
		e.importExample()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int)
		var out, errb syncBuffer
		go func() { done <- run(ctx, []string{"serve", "--config", e.config}, &out, &errb) }()
		waitForSocket(t, e.loadApp().cfg.Admin.Socket)
		var wg sync.WaitGroup
		errs := make(chan string, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var o, eb bytes.Buffer
				a := &app{stdout: &o, stderr: &eb, cwd: e.dir, actor: "test", clock: recordAtAt(sheetArgs)}
				if code := a.execute(context.Background(), append(slices.Clone(sheetArgs), "--config", e.config)); code != 0 {
					errs <- eb.String()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for s := range errs {
			t.Errorf("issue via socket: %s", s)
		}
		check(t, e)
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exit %d: %s", code, errb.String())
		}
	})
}

// TestSheetIsMailedWithTheDocxToTheHeadAndForYellowTheLeader: a 黄 sheet
// goes to the unit's head (周科长) and its leader (李秘书长) at the next
// pass, each mail carrying the sheet as 督〔2026〕1号督办事项通知单.docx; a 蓝
// sheet goes to the head only.
func TestSheetIsMailedWithTheDocxToTheHeadAndForYellowTheLeader(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importExample()
	e.pass("2026-09-30 09:00")
	e.mustRun("sheet", "minutes-31", "--grade", "黄", "--within", "3wd", "--at", "2026-09-30 10:00")
	e.mustRun("sheet", "cosign-118", "--grade", "蓝", "--within", "2wd", "--at", "2026-09-30 10:00")
	msgs := e.pass("2026-09-30 10:05")
	by := e.byRecipient(msgs)
	for addr, want := range map[string][]string{
		"zhou@example.gov.cn": {"督〔2026〕1号督办事项通知单.docx"},
		"li@example.gov.cn":   {"督〔2026〕1号督办事项通知单.docx"},
		"wang@example.gov.cn": {"督〔2026〕2号督办事项通知单.docx"},
	} {
		msgs := by[addr]
		if len(msgs) != 1 {
			t.Errorf("%s got %d mails, want 1", addr, len(msgs))
			continue
		}
		m := msgs[0]
		var got []string
		for name := range m.Attachments {
			if strings.HasSuffix(name, ".docx") {
				got = append(got, name)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: docx attachments %q, want %q", addr, got, want)
			continue
		}
		if !strings.Contains(m.Subject, "督办事项通知单") || !strings.Contains(m.Text, want[0][:len(want[0])-len("督办事项通知单.docx")]) {
			t.Errorf("%s: subject %q / text lacks the sheet:\n%s", addr, m.Subject, m.Text)
		}
		data := m.AttachmentData[want[0]]
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Errorf("%s: attachment is not a zip: %v", addr, err)
			continue
		}
		if len(zr.File) == 0 || zr.File[0].Name != "[Content_Types].xml" {
			t.Errorf("%s: attachment is not a Word package", addr)
		}
	}
	if len(by) != 3 {
		t.Errorf("mails went to %d recipients, want 3: %v", len(by), slices.Collect(mapKeys(by)))
	}
}

// TestBulletinAndScoreReportOutputs: the October 2026 history of the
// report tests, with a 红 sheet on rules-88 (市法制局) on 20 Oct. The
// bulletin's JSON carries praise and criticism arrays with reasons and a
// sheets count and a score on every unit row; `report --kind score`
// gives the same month's score per unit, every item summing to it, as
// JSON, a table with the standard, and a workbook.
func TestBulletinAndScoreReportOutputs(t *testing.T) {
	e := rptHistory(t, "")
	e.mustRun("sheet", "rules-88", "--grade", "红", "--within", "2wd", "--at", "2026-10-20 10:00")
	var rep struct {
		Units []struct {
			Unit   string   `json:"unit"`
			Sheets int      `json:"sheets"`
			Score  *float64 `json:"score"`
		} `json:"units"`
		Praise    []struct{ Unit, UnitName, Reason string } `json:"praise"`
		Criticism []struct {
			Unit     string `json:"unit"`
			UnitName string `json:"unit_name"`
			Reason   string `json:"reason"`
		} `json:"criticism"`
	}
	out := e.mustRun("report", "--month", "2026-10", "--format", "json", "--at", "2026-11-03 10:00")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Praise == nil || !strings.Contains(out, `"praise": [`) {
		t.Errorf("praise is not an array:\n%s", out)
	}
	var fzj string
	for _, c := range rep.Criticism {
		if c.Unit == "fzj" {
			fzj = c.Reason
		}
	}
	if !strings.Contains(fzj, "逾期未办结") || !strings.Contains(fzj, "督〔2026〕1号") {
		t.Errorf("市法制局 criticised for %q, want its overdue instances and the 红 sheet", fzj)
	}
	byUnit := map[string]float64{}
	for _, u := range rep.Units {
		if u.Unit == "fzj" && u.Sheets != 1 {
			t.Errorf("fzj sheets %d, want 1", u.Sheets)
		}
		if u.Unit != "" && u.Score == nil {
			t.Errorf("unit %s has no score", u.Unit)
		}
		if u.Score != nil {
			byUnit[u.Unit] = *u.Score
		}
	}

	out = e.mustRun("report", "--kind", "score", "--from", "2026-10", "--to", "2026-10", "--format", "json", "--at", "2026-11-03 10:00")
	var scores []struct {
		Unit     string  `json:"unit"`
		UnitName string  `json:"unit_name"`
		Score    float64 `json:"score"`
		Items    []struct {
			ID     string  `json:"id"`
			Fact   string  `json:"fact"`
			Points float64 `json:"points"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &scores); err != nil {
		t.Fatalf("score json: %v\n%s", err, out)
	}
	if len(scores) != 4 {
		t.Fatalf("%d units scored, want the 4 units:\n%s", len(scores), out)
	}
	for _, s := range scores {
		sum := 100.0
		for _, it := range s.Items {
			if it.ID == "" || it.Fact == "" || it.Points == 0 {
				t.Errorf("%s: untraceable item %+v", s.Unit, it)
			}
			sum += it.Points
		}
		if fmt.Sprintf("%.2f", sum) != fmt.Sprintf("%.2f", s.Score) || byUnit[s.Unit] != s.Score {
			t.Errorf("%s: items sum to %.2f, score %v, bulletin column %v", s.Unit, sum, s.Score, byUnit[s.Unit])
		}
	}
	table := e.mustRun("report", "--kind", "score", "--from", "2026-10", "--at", "2026-11-03 10:00")
	for _, s := range []string{"2026年10月督办工作考核得分", "扣分与加分明细", "评分标准：基础分100", "督〔2026〕1号（红色·挂牌督办）"} {
		if !strings.Contains(table, s) {
			t.Errorf("score table lacks %q:\n%s", s, table)
		}
	}
	xlsx := filepath.Join(e.dir, "score.xlsx")
	e.mustRun("report", "--kind", "score", "--from", "2026-10", "--format", "xlsx", "--output", xlsx, "--at", "2026-11-03 10:00")
	if b, err := os.ReadFile(xlsx); err != nil || !bytes.HasPrefix(b, []byte("PK")) {
		t.Errorf("score.xlsx: %v", err)
	}
	if code, _, stderr := e.run("report", "--kind", "score", "--from", "2026-11", "--to", "2026-10"); code != 2 || !strings.Contains(stderr, "before") {
		t.Errorf("--to before --from: exit %d %q", code, stderr)
	}
}

// TestImportedScoringStandardIsUsed: `scoring:` in a tracking file
// replaces the defaults (base 90, no early bonus); a bad standard is
// refused with file:line and changes nothing.
func TestImportedScoringStandardIsUsed(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	std := e.writeTemp("scoring.yaml", "scoring:\n  base: 90\n  early: 0\n")
	e.mustRun("import", std, "--at", "2026-09-25 10:00")
	e.mustRun("done", "cosign-118", "--at", "2026-10-09 16:00")
	out := e.mustRun("report", "--kind", "score", "--from", "2026-10", "--format", "json", "--at", "2026-11-03 10:00")
	var scores []struct {
		Unit  string  `json:"unit"`
		Score float64 `json:"score"`
		Items []struct {
			ID     string  `json:"id"`
			Points float64 `json:"points"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &scores); err != nil {
		t.Fatal(err)
	}
	if len(scores) != 4 {
		t.Fatalf("%d units scored", len(scores))
	}
	for _, s := range scores {
		sum := 90.0
		for _, it := range s.Items {
			sum += it.Points
			if it.ID == "cosign-118" {
				t.Errorf("%s: cosign-118 (done early) scored %+v, want nothing with early: 0", s.Unit, it)
			}
		}
		if fmt.Sprintf("%.2f", sum) != fmt.Sprintf("%.2f", s.Score) {
			t.Errorf("%s: score %v, want the base 90 plus its items = %.2f", s.Unit, s.Score, sum)
		}
	}
	before := e.dbHash()
	bad := e.writeTemp("bad.yaml", "scoring:\n  late_cap: 5\n")
	if code, _, stderr := e.run("import", bad); code != 2 || !strings.Contains(stderr, "bad.yaml:2: scoring.late_cap: must be 0 or negative") {
		t.Errorf("bad standard: exit %d %q", code, stderr)
	}
	if e.dbHash() != before {
		t.Error("a refused standard changed the database")
	}
}

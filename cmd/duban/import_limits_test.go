package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// limitsEnv is an installation with two units and a policy stored.
func limitsEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t)
	// newTestEnv names the socket after t.TempDir's base ("001"), which
	// test processes running at the same time share: use one of our own.
	sockDir, err := os.MkdirTemp("", "dbn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	e.write("duban.yaml", "db: duban.db\nadmin: {socket: "+filepath.Join(sockDir, "s")+"}\nmail: {transport: file, file: {dir: outbox}}\nlog: {level: warn}\n")
	e.write("units.yaml", "office: {name: 市政府督查室, email: ducha@example.gov.cn}\n"+
		"people:\n  - {id: wang, name: 王冠标, email: wang@example.gov.cn}\n"+
		"units:\n  - {id: fzj, name: 市法制局, head: wang}\n  - {id: mishu, name: 秘书科, head: wang}\n")
	e.mustRun("import", e.path("units.yaml"), "--at", "2026-09-20 10:00")
	return e
}

func (e *testEnv) path(name string) string { return filepath.Join(e.dir, name) }

func (e *testEnv) write(name, data string) string {
	e.t.Helper()
	if err := os.WriteFile(e.path(name), []byte(data), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return e.path(name)
}

// refused imports files and expects exit 2, every want in stderr, a short
// message and an unchanged database.
func (e *testEnv) refused(want []string, files ...string) string {
	e.t.Helper()
	before := e.dbHash()
	args := append([]string{"import"}, files...)
	code, _, stderr := e.run(append(args, "--at", "2026-09-21 10:00")...)
	if code != 2 {
		e.t.Errorf("import: exit %d, want 2; stderr: %.1000s", code, stderr)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			e.t.Errorf("stderr: %.1000s\nwant %q", stderr, w)
		}
	}
	if e.dbHash() != before {
		e.t.Error("a refused import changed the database")
	}
	return stderr
}

// TestImportRefusesDeadlinesOutOfOrder (issue 7 §10): a co-unit whose
// last day falls before the start, and a limit before the deadline.
func TestImportRefusesDeadlinesOutOfOrder(t *testing.T) {
	e := limitsEnv(t)
	head := "items:\n  - id: a\n    title: 纪要签发\n    unit: mishu\n    start: 2026-09-24 16:00\n"
	e.write("co.yaml", head+"    co_units: [fzj]\n    co_due: -2wd\n    due: 1wd\n")
	e.refused([]string{"co.yaml:7: items[0].co_due: ", "早于事项的开始时间 2026-09-24 16:00"}, e.path("co.yaml"))
	e.write("limit.yaml", head+"    due: 5wd\n    limit: 3d\n")
	e.refused([]string{"limit.yaml:7: items[0].limit: 最迟时限 2026-09-28 24:00（\"3d\"）早于办理时限 2026-10-09 24:00"}, e.path("limit.yaml"))
}

// TestImportFieldLimits (issue 7 §10): a 40 000-character id is bad input
// (exit 2, not bbolt's "key too large"), a huge title is refused with a
// short message, and so is an over-long requirements text.
func TestImportFieldLimits(t *testing.T) {
	e := limitsEnv(t)
	e.write("id.yaml", "items:\n  - id: "+strings.Repeat("x", 40000)+"\n    title: t\n    unit: mishu\n    due: 3d\n")
	msg := e.refused([]string{"id.yaml:2: items[0].id: 过长：40000个字符，最多128个字符"}, e.path("id.yaml"))
	if len(msg) > 500 {
		t.Errorf("message of %d bytes", len(msg))
	}
	e.write("title.yaml", "items:\n  - id: a\n    title: "+strings.Repeat("题", 4<<20)+"\n    unit: mishu\n    due: 3d\n")
	msg = e.refused([]string{"title.yaml:3: items[0].title: 过长：4194304个字符，最多500个字符", "…\"（共4194304个字符）"}, e.path("title.yaml"))
	if len(msg) > 500 {
		t.Errorf("message of %d bytes for a 12 MiB title", len(msg))
	}
	e.write("req.yaml", "items:\n  - id: a\n    title: t\n    requirements: "+strings.Repeat("要", 10001)+"\n    unit: mishu\n    due: 3d\n")
	e.refused([]string{"req.yaml:4: items[0].requirements: 过长：10001个字符，最多10000个字符"}, e.path("req.yaml"))
}

// TestImportNamesFullWidth (issue 7 §10): full-width characters that break
// a rule or a time are named.
func TestImportNamesFullWidth(t *testing.T) {
	e := limitsEnv(t)
	e.write("fw.yaml", "items:\n  - id: a\n    title: t\n    unit: mishu\n    start: 2026-09-24 16：00\n    due: ３wd\n")
	e.refused([]string{"fw.yaml:5: items[0].start: ", "含全角字符“：”，请改用半角", "fw.yaml:6: items[0].due: ", "含全角字符“３”，请改用半角"}, e.path("fw.yaml"))
}

const ledgerHead = "编号,单位编号,事项,文号,办理时限,最新进展\n"

// TestLedgerCellsValidated (issue 7 §10b): control characters and invalid
// UTF-8 in ledger cells are refused with the line and column.
func TestLedgerCellsValidated(t *testing.T) {
	e := limitsEnv(t)
	e.write("esc.csv", ledgerHead+"l1,fzj,标题\x1b[2J,洛政办,2026-10-09,\n")
	e.refused([]string{"esc.csv:2: column C (事项): 含控制字符 U+001B"}, e.path("esc.csv"))
	e.write("nel.csv", ledgerHead+"l1,fzj,标题,洛政办\u2028续,2026-10-09,进展\x00\n")
	e.refused([]string{"nel.csv:2: column D (文号): 含换行符 U+2028", "nel.csv:2: column F (最新进展): 含控制字符 U+0000"}, e.path("nel.csv"))
	e.write("bad.csv", ledgerHead+"l1,fzj,标题\xc0\xaf,,2026-10-09,\n")
	e.refused([]string{"bad.csv:2: column C (事项): 含无效的UTF-8字节"}, e.path("bad.csv"))
}

// TestLedgerGBKCSV (issue 7 §10b): a CSV saved by Chinese Excel (GBK) is
// read, not refused with "no header row".
func TestLedgerGBKCSV(t *testing.T) {
	e := limitsEnv(t)
	data, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(ledgerHead + "gbk-1,fzj,第31次常务会议纪要签发,洛政办〔2026〕31号,2026-10-09,已起草\n"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(e.path("gbk.csv"), data, 0o600)
	e.mustRun("import", e.path("gbk.csv"), "--at", "2026-09-21 10:00")
	rows := e.list("--status", "all", "--at", "2026-09-21 10:00")
	if r, ok := rows["gbk-1"]; !ok || r.Title != "第31次常务会议纪要签发" || r.Unit != "fzj" {
		t.Errorf("imported %+v", rows)
	}
}

// bombXLSX is a 65 KiB .xlsx whose worksheet inflates to 64 MiB.
func bombXLSX(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"[Content_Types].xml":        `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`,
		"_rels/.rels":                `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`,
		"xl/workbook.xml":            `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>`,
		"xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	w, _ := zw.Create("xl/worksheets/sheet1.xml")
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>编号</t></is></c></row>`))
	pad := bytes.Repeat([]byte(" "), 1<<20)
	for range 64 {
		w.Write(pad)
	}
	w.Write([]byte(`</sheetData></worksheet>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLedgerZipBomb (issue 7 §10b): an .xlsx that expands 1000:1 is
// refused at once, with a Chinese message, without inflating it.
func TestLedgerZipBomb(t *testing.T) {
	e := limitsEnv(t)
	os.WriteFile(e.path("bomb.xlsx"), bombXLSX(t), 0o600)
	e.refused([]string{"bomb.xlsx: 其中 \"xl/worksheets/sheet1.xml\" 由 0.1 MiB 解压为 64.0 MiB", "压缩炸弹", "拒绝导入"}, e.path("bomb.xlsx"))
}

// TestLedgerImportCancelled (issue 7 §10b): a cancelled command context —
// what SIGTERM or SIGINT makes in main — stops a ledger import: exit 1,
// nothing written.
func TestLedgerImportCancelled(t *testing.T) {
	e := limitsEnv(t)
	var b strings.Builder
	b.WriteString(ledgerHead)
	for i := range 3000 {
		b.WriteString("c-" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ",fzj,事项,,2026-10-09,\n")
	}
	e.write("big.csv", b.String())
	before := e.dbHash()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	t0 := time.Now()
	code := run(ctx, []string{"import", e.path("big.csv"), "--at", "2026-09-21 10:00", "--config", e.config}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "context canceled") {
		t.Errorf("exit %d after %v, stderr %q; want exit 1, cancelled", code, time.Since(t0), errb.String())
	}
	if e.dbHash() != before {
		t.Error("a cancelled import changed the database")
	}
}

// TestActionNoteLimit (issue 7 §10): notes of progress, done and the other
// actions obey the same rules: at most 10 000 characters, no control
// characters but line breaks.
func TestActionNoteLimit(t *testing.T) {
	e := limitsEnv(t)
	e.write("one.yaml", "items:\n  - id: a\n    title: t\n    unit: mishu\n    start: 2026-09-24 16:00\n    due: 3wd\n")
	e.mustRun("import", e.path("one.yaml"), "--at", "2026-09-25 10:00")
	for _, note := range []string{strings.Repeat("进", 10001), "进展\x1b[31m"} {
		before := e.dbHash()
		code, _, stderr := e.run("progress", "a", "--note", note, "--at", "2026-09-25 11:00")
		if code != 2 || !strings.Contains(stderr, "progress a: ") || len(stderr) > 400 {
			t.Errorf("progress --note %.20q…: exit %d, %q; want exit 2 and a short message", note, code, stderr)
		}
		if e.dbHash() != before {
			t.Error("a refused note changed the database")
		}
	}
	e.mustRun("progress", "a", "--note", strings.Repeat("进", 9996)+"\n第二行", "--at", "2026-09-25 11:00")
}

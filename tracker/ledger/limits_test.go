package ledger

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// readErrs reads a ledger and returns every problem: the file's errors or
// the sheet's cell problems.
func readErrs(t *testing.T, name string, data []byte) (*Sheet, string) {
	t.Helper()
	sh, err := Read(name, data, shanghai)
	if err != nil {
		var es Errors
		if !errors.As(err, &es) {
			t.Fatalf("Read: %T %v, want Errors", err, err)
		}
		return nil, es.Error()
	}
	return sh, sh.Problems.Error()
}

const csvHead = "编号,单位编号,事项,文号,办理要求,办理时限,最新进展\n"

// TestCellsFollowFieldRules: every ledger cell is held to the tracking
// file's field rules — control characters (ESC, NUL, U+0085, U+2028),
// invalid UTF-8 and over-long values are refused with the line and column.
func TestCellsFollowFieldRules(t *testing.T) {
	cases := []struct {
		name, row string
		want      string
	}{
		{"ESC in title", "a1,fzj,标题\x1b[31m红,,,2026-10-09,\n", "ledger.csv:2: column C (事项): 含控制字符 U+001B"},
		{"NUL in doc", "a1,fzj,标题,洛政办\x00,,2026-10-09,\n", "ledger.csv:2: column D (文号): 含控制字符 U+0000"},
		{"NEL in note", "a1,fzj,标题,,,2026-10-09,进展\u0085续\n", "ledger.csv:2: column G (最新进展): 含换行符 U+0085"},
		{"LS in requirements", "a1,fzj,标题,,要求\u2028续,2026-10-09,\n", "ledger.csv:2: column E (办理要求): 含换行符 U+2028"},
		{"line break in title", "a1,fzj,\"两\n行\",,,2026-10-09,\n", "ledger.csv:2: column C (事项): 含换行符 U+000A"},
		{"invalid UTF-8", "a1,fzj,标题\xff\xfe,,,2026-10-09,\n", "ledger.csv:2: column C (事项): 含无效的UTF-8字节"},
		{"title too long", "a1,fzj," + strings.Repeat("长", 501) + ",,,2026-10-09,\n", "column C (事项): 过长：501个字符，最多500个字符"},
		{"id too long", strings.Repeat("x", 129) + ",fzj,标题,,,2026-10-09,\n", "column A (编号): 过长：129个字符，最多128个字符"},
		{"note too long", "a1,fzj,标题,,,2026-10-09," + strings.Repeat("进", 10001) + "\n", "column G (最新进展): 过长：10001个字符"},
		{"full-width date", "a1,fzj,标题,,,２０２６-10-09,\n", "含全角字符“２”“０”“６”，请改用半角"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, msg := readErrs(t, "ledger.csv", []byte(csvHead+c.row))
			if !strings.Contains(msg, c.want) {
				t.Errorf("problems:\n%s\nwant %q", msg, c.want)
			}
			if len(msg) > 600 {
				t.Errorf("message of %d bytes: a bad value must be quoted short", len(msg))
			}
		})
	}
	// Multi-line requirements and notes stay allowed.
	sh, msg := readErrs(t, "ledger.csv", []byte(csvHead+"a1,fzj,标题,,\"第一\n第二\",2026-10-09,\"进展\n续\"\n"))
	if msg != "" || sh.Rows[0].Requirements != "第一\n第二" || sh.Rows[0].Note != "进展\n续" {
		t.Errorf("multi-line cells: %q %+v", msg, sh.Rows)
	}
}

// TestCSVInGBK reads what Chinese Excel writes for "CSV": GBK/GB18030.
func TestCSVInGBK(t *testing.T) {
	text := csvHead + "gbk-1,fzj,第31次常务会议纪要签发,洛政办〔2026〕31号,报市政府办公室,2026-10-09,已起草\n"
	for _, enc := range []struct {
		name string
		enc  func([]byte) ([]byte, error)
	}{
		{"GBK", simplifiedchinese.GBK.NewEncoder().Bytes},
		{"GB18030", simplifiedchinese.GB18030.NewEncoder().Bytes},
	} {
		data, err := enc.enc([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		sh, msg := readErrs(t, "ledger.csv", data)
		if msg != "" {
			t.Fatalf("%s: %s", enc.name, msg)
		}
		r := sh.Rows[0]
		if r.ID != "gbk-1" || r.Title != "第31次常务会议纪要签发" || r.Doc != "洛政办〔2026〕31号" || r.Note != "已起草" {
			t.Errorf("%s: read %+v", enc.name, r)
		}
	}
	// UTF-8 with a byte order mark, as Excel's "CSV UTF-8" writes it.
	sh, msg := readErrs(t, "ledger.csv", append([]byte("\uFEFF"), text...))
	if msg != "" || sh.Rows[0].Title != "第31次常务会议纪要签发" {
		t.Errorf("UTF-8 with BOM: %q %+v", msg, sh)
	}
	// A GBK cell under a UTF-8 header is invalid UTF-8 in that cell, not
	// ������ silently.
	gbk, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("纪要"))
	mixed := csvHead + "m1,fzj," + string(gbk) + ",,,2026-10-09,\n"
	if _, msg := readErrs(t, "ledger.csv", []byte(mixed)); !strings.Contains(msg, "ledger.csv:2: column C (事项): 含无效的UTF-8字节") {
		t.Errorf("GBK cell under a UTF-8 header: %q", msg)
	}
	// Neither UTF-8 nor GB18030, nor UTF-16: the encoding is named.
	if _, msg := readErrs(t, "ledger.csv", []byte("\xff\xfe\xff\xfe,\x80\n")); !strings.Contains(msg, "UTF-16") {
		t.Errorf("UTF-16: %q", msg)
	}
	if _, msg := readErrs(t, "ledger.csv", []byte("\x80\x80,\xff\n\xff\xff\n")); !strings.Contains(msg, "文件编码无法识别") {
		t.Errorf("unknown encoding: %q", msg)
	}
}

// zipBomb builds a small .xlsx whose worksheet inflates to sheetMiB MiB
// of XML (whitespace, which deflate shrinks about 1000:1).
func zipBomb(t testing.TB, sheetMiB int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	part := func(name, body string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	part("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`)
	part("_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	part("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="台账" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	part("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>编号</t></is></c></row>`))
	pad := bytes.Repeat([]byte(" "), 1<<20)
	for range sheetMiB {
		w.Write(pad)
	}
	w.Write([]byte(`</sheetData></worksheet>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestZipBombRefusedAtOnce: an .xlsx whose sheet expands 1000:1 is refused
// from the zip directory, before anything is inflated.
func TestZipBombRefusedAtOnce(t *testing.T) {
	data := zipBomb(t, 64)
	t0 := time.Now()
	_, msg := readErrs(t, "bomb.xlsx", data)
	took := time.Since(t0)
	t.Logf("%d KiB file, 64 MiB sheet: refused in %v: %s", len(data)>>10, took, msg)
	if !strings.Contains(msg, "bomb.xlsx: ") || !strings.Contains(msg, "压缩炸弹") || !strings.Contains(msg, "xl/worksheets/sheet1.xml") {
		t.Errorf("got %q, want the zip bomb refused, naming the part", msg)
	}
	// A bomb over the total limit is refused by excelize's UnzipSizeLimit
	// too (here through the size the zip directory declares).
	if msg := checkZip(data); msg == "" {
		t.Error("checkZip passed a 1000:1 part")
	}
	// duban's own export is far from the limits.
	own := exportSample(t, 20000)
	if msg := checkZip(own); msg != "" {
		t.Errorf("checkZip refused duban's own export: %s", msg)
	}
	zr, _ := zip.NewReader(bytes.NewReader(own), int64(len(own)))
	for _, f := range zr.File {
		if strings.HasPrefix(f.Name, "xl/worksheets/") {
			t.Logf("duban's export of 20 000 rows: %s %d KiB → %d KiB (%.1f:1)", f.Name, f.CompressedSize64>>10, f.UncompressedSize64>>10,
				float64(f.UncompressedSize64)/float64(f.CompressedSize64))
		}
	}
}

// exportSample writes a ledger of n rows with the XLSX writer.
func exportSample(t *testing.T, n int) []byte {
	t.Helper()
	w, err := NewXLSX()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := &Record{ID: fmt.Sprintf("minutes-%d", i), UnitName: "市法制局", Unit: "fzj", Title: fmt.Sprintf("第%d次常务会议纪要签发", i),
			Doc: fmt.Sprintf("洛政办〔2026〕%d号", i), Requirements: "会议纪要签发并报市政府办公室", Status: tracker.StatusOpen,
			Due: Stamp{Date: tracker.Date{Year: 2026, Month: 10, Day: 9}}}
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

// cancelAfter is a context whose Err reports cancellation from its n-th
// call on: it proves that the reading loops look at the context while
// they run, without a timer.
type cancelAfter struct {
	context.Context
	n atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestReadStopsWhenCancelled: SIGTERM cancels the command's context; a
// long ledger read stops at the next check instead of running on.
func TestReadStopsWhenCancelled(t *testing.T) {
	var b strings.Builder
	b.WriteString(csvHead)
	for i := range 20000 {
		fmt.Fprintf(&b, "c-%d,fzj,事项%d,,,2026-10-09,\n", i, i)
	}
	xlsx := exportSample(t, 5000)
	for _, f := range []struct {
		name string
		data []byte
	}{{"big.csv", []byte(b.String())}, {"big.xlsx", xlsx}} {
		ctx := &cancelAfter{Context: context.Background()}
		ctx.n.Store(3) // cancelled after a few hundred rows
		sh, err := ReadContext(ctx, f.name, f.data, shanghai)
		if !errors.Is(err, context.Canceled) || sh != nil {
			t.Errorf("%s: ReadContext = %v, %v; want context.Canceled", f.name, sh, err)
		}
		// Not cancelled, the same file reads whole.
		sh, err = ReadContext(context.Background(), f.name, f.data, shanghai)
		if err != nil || len(sh.Rows) < 5000 {
			t.Fatalf("%s: %v", f.name, err)
		}
	}
}

// TestFileSizeLimit: a ledger file over MaxFileSize is refused unread.
func TestFileSizeLimit(t *testing.T) {
	_, msg := readErrs(t, "huge.csv", make([]byte, MaxFileSize+1))
	if !strings.Contains(msg, "huge.csv: 文件过大") {
		t.Errorf("got %q", msg)
	}
}

// TestApplyStopsWhenCancelled: checking and applying the rows of a long
// ledger stop when the context is cancelled; the transaction then writes
// nothing.
func TestApplyStopsWhenCancelled(t *testing.T) {
	st, err := kvstore.Open(filepath.Join(t.TempDir(), "duban.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cal, err := tracker.DefaultCalendar()
	if err != nil {
		t.Fatal(err)
	}
	x := &tracker.Expander{Env: tracker.Env{Cal: cal, Loc: shanghai, DayEnd: 24 * 60, SendTime: 9 * 60}}
	now := time.Date(2026, 9, 21, 10, 0, 0, 0, shanghai)
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := x.Import(tx, &tracker.Bundle{Units: []tracker.Unit{{ID: "fzj", Name: "市法制局"}}}, now, "test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(csvHead)
	for i := range 1000 {
		fmt.Fprintf(&b, "c-%d,fzj,事项%d,,,2026-10-09,\n", i, i)
	}
	sh, err := Read("big.csv", []byte(b.String()), shanghai)
	if err != nil || len(sh.Problems) > 0 {
		t.Fatal(err, sh.Problems)
	}
	ctx := &cancelAfter{Context: context.Background()}
	ctx.n.Store(2) // cancelled at the third check, row 768
	err = st.Update(func(tx tracker.Tx) error {
		_, err := ApplyContext(ctx, tx, x, []*Sheet{sh}, now)
		return err
	})
	if !errors.Is(err, context.Canceled) || ctx.n.Load() != -1 {
		t.Fatalf("ApplyContext = %v after %d checks; want context.Canceled at the third", err, 2-ctx.n.Load())
	}
	st.View(func(tx tracker.Tx) error {
		if _, err := tx.Item("c-0"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("a cancelled ledger import wrote item c-0: %v", err)
		}
		return nil
	})
	// Not cancelled, the same rows apply.
	if err := st.Update(func(tx tracker.Tx) error {
		res, err := ApplyContext(context.Background(), tx, x, []*Sheet{sh}, now)
		if err == nil && res.ItemsAdded != 1000 {
			t.Errorf("applied %+v", res)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

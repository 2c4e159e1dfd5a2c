package sheetdoc_test

import (
	"archive/zip"
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"duban/cmd/internal/sheetdoc"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sample is a sheet as Build gives it for the README's example.
var sample = sheetdoc.View{
	Office: "市政府督查室", Number: "督〔2026〕1号", Grade: "黄", GradeLabel: "重点督办",
	Unit: "市政府办公室秘书科", Matter: "第31次常务会议纪要签发", Doc: "洛政办〔2026〕31号",
	Original: "2026年9月28日24时", Overdue: "已逾期2个工作日", Demand: "请于限期内签发会议纪要并报市政府办公室，书面说明逾期原因 & 整改措施。",
	Limit: "2026年10月10日24时前（3个工作日内）", Contact: "市政府督查室（ducha@example.gov.cn）", Date: "2026年9月30日",
}

// TestDocumentGolden pins word/document.xml: the 红头, number, title,
// grade, the table of SPEC §15 and the signature. Run with -update after
// a deliberate change and read the diff.
func TestDocumentGolden(t *testing.T) {
	got, err := sheetdoc.Document(sample)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "document.golden.xml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("document.xml differs from %s (go test -run TestDocumentGolden -update to accept):\n%s", golden, got)
	}
	// The text escaped, the page A4, the fonts named and not embedded.
	for _, s := range []string{"整改措施。", "&amp;", `w:w="11906" w:h="16838"`, `w:color="FF0000"`} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("document.xml lacks %q", s)
		}
	}
	docx, err := sheetdoc.DOCX(sample)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := sheetdoc.DOCX(sample)
	if !bytes.Equal(docx, again) {
		t.Error("the same sheet gives different .docx bytes")
	}
	zr, err := zip.NewReader(bytes.NewReader(docx), int64(len(docx)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "word/fontTable.xml" {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if !strings.Contains(string(b), `w:altName w:val="仿宋,FangSong`) || strings.Contains(string(b), "embed") {
				t.Errorf("font table does not name fallbacks, or embeds: %s", b)
			}
		}
	}
	if strings.Join(names, " ") != "[Content_Types].xml _rels/.rels word/document.xml word/_rels/document.xml.rels word/styles.xml word/fontTable.xml" {
		t.Errorf("parts %v", names)
	}
}

// TestHTMLPrintsOnA4: the page declares A4 print geometry and shows the
// same rows as the .docx.
func TestHTMLPrintsOnA4(t *testing.T) {
	b, err := sheetdoc.HTML(sample)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"@page { size: A4;", "@media print", "督〔2026〕1号", "督办事项通知单", "督办等级：黄色·重点督办",
		"<th>逾期情况</th><td>已逾期2个工作日</td>", "<th>限期</th><td>2026年10月10日24时前（3个工作日内）</td>", "&amp; 整改措施"} {
		if !strings.Contains(s, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

// TestLibreOfficeOpensTheSheetOnOnePage converts the .docx with LibreOffice
// and reads the PDF with poppler: one A4 page, with the number, the title,
// the unit and the 限期. It skips where soffice is not installed, except
// under CI=true (.ci/run installs it), where it fails.
func TestLibreOfficeOpensTheSheetOnOnePage(t *testing.T) {
	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("soffice not found: CI must install libreoffice-writer-nogui and poppler-utils (.ci/run)")
		}
		t.Skip("soffice not installed (apt-get install libreoffice-writer-nogui poppler-utils fonts-noto-cjk)")
	}
	dir := t.TempDir()
	for _, v := range []sheetdoc.View{sample, long(sample)} {
		docx, err := sheetdoc.DOCX(v)
		if err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(dir, "sheet.docx")
		if err := os.WriteFile(in, docx, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(soffice, "--headless", "-env:UserInstallation=file://"+filepath.Join(dir, "profile"),
			"--convert-to", "pdf", "--outdir", dir, in)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("soffice: %v\n%s", err, out)
		}
		pdf := filepath.Join(dir, "sheet.pdf")
		info, err := exec.Command("pdfinfo", pdf).Output()
		if err != nil {
			t.Fatalf("pdfinfo: %v", err)
		}
		if m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info); m == nil || string(m[1]) != "1" {
			t.Errorf("%s: pdfinfo says\n%s\nwant 1 page", v.Number, info)
		}
		if m := regexp.MustCompile(`(?m)^Page size:\s+([\d.]+) x ([\d.]+) pts`).FindSubmatch(info); m == nil || !strings.HasPrefix(string(m[1]), "595") || !strings.HasPrefix(string(m[2]), "841") {
			t.Errorf("%s: page size not A4 (595 x 842 pts):\n%s", v.Number, info)
		}
		text, err := exec.Command("pdftotext", "-layout", pdf, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		flat := strings.Join(strings.Fields(string(text)), "")
		for _, want := range []string{v.Number, "督办事项通知单", v.Unit, "限期", strings.ReplaceAll(v.Limit, " ", ""), v.Office} {
			if !strings.Contains(flat, strings.ReplaceAll(want, " ", "")) {
				t.Errorf("%s: the PDF text lacks %q:\n%s", v.Number, want, text)
			}
		}
	}
}

// long is v with the longest texts an office writes: it must still fit.
func long(v sheetdoc.View) sheetdoc.View {
	v.Number = "督〔2026〕128号"
	v.Matter = strings.Repeat("关于进一步加强和改进行政执法工作的实施意见", 3)
	v.Demand = strings.Repeat("请于限期内办结并书面报送办理结果，说明逾期原因和整改措施。", 5)
	return v
}

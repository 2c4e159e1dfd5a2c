package web_test

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserSheetPrintsOnOneA4Page: the office issues a 红 sheet from the
// instance page, opens it and Chromium prints it to PDF on A4: exactly
// one page, with the number and the unit in it (SPEC §15).
func TestBrowserSheetPrintsOnOneA4Page(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	ts := httptest.NewServer(e.h)
	defer ts.Close()

	signIn(t, ctx, ts.URL, "office", e.pw["office"])
	demand := strings.Repeat("请于限期内完成纪要签发，逐项说明未按期办结的原因、责任人和整改措施，", 5)
	must(t, "issue a sheet", chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/instances/minutes-31"),
		chromedp.WaitVisible(chromedp.ID("form-sheet")),
		chromedp.SetValue(chromedp.CSS(`#form-sheet select[name="grade"]`), "红"),
		chromedp.SendKeys(chromedp.CSS(`#form-sheet input[name="within"]`), "3wd"),
		chromedp.SendKeys(chromedp.CSS(`#form-sheet textarea[name="note"]`), demand),
		chromedp.Submit(chromedp.CSS(`#form-sheet input[name="within"]`)),
		chromedp.WaitVisible(chromedp.ID("ok")),
	))
	ok, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("ok")))
	if ok != "已签发督办事项通知单 督〔2026〕1号" {
		t.Fatalf("after issuing: %q", ok)
	}
	must(t, "open the sheet", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#sheet-list td a`)),
		chromedp.WaitVisible(chromedp.CSS(".sheet table")),
	))
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".sheet")))
	must(t, "sheet text", err)
	for _, want := range []string{"督〔2026〕1号", "督办事项通知单", "市法制局", "红色·挂牌督办", "第31次常务会议纪要签发", "市政府督查室"} {
		if !strings.Contains(text, want) {
			t.Errorf("the sheet page lacks %q:\n%s", want, text)
		}
	}
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	must(t, "print to PDF", err)
	out := filepath.Join(t.TempDir(), "sheet.pdf")
	must(t, "write PDF", os.WriteFile(out, pdf, 0o644))
	pages := pdfPages(t, out, pdf)
	if pages != 1 {
		t.Errorf("the sheet prints on %d pages, want 1 (%s)", pages, out)
	}
	if os.Getenv("DUBAN_SCREENSHOTS") != "" {
		must(t, "考核", chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/scores?from=2026-09&to=2026-09&unit=fzj"), chromedp.WaitVisible(chromedp.ID("items"))))
		screenshot(t, ctx, "workspace-scores.png")
		must(t, "工作日历", chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/calendar?year=2026"), chromedp.WaitVisible(chromedp.ID("grid"))))
		screenshot(t, ctx, "workspace-calendar.png")
	}
	if _, err := exec.LookPath("pdftotext"); err == nil {
		txt, err := exec.Command("pdftotext", "-layout", out, "-").Output()
		must(t, "pdftotext", err)
		for _, want := range []string{"督〔2026〕1号", "市法制局"} {
			if !strings.Contains(strings.ReplaceAll(string(txt), " ", ""), want) {
				t.Errorf("the PDF's text lacks %q:\n%s", want, txt)
			}
		}
	}
}

// pdfPages counts a PDF's pages with pdfinfo (and checks the page is A4),
// or, without poppler, by its /Type /Page objects.
func pdfPages(t *testing.T, path string, pdf []byte) int {
	t.Helper()
	if _, err := exec.LookPath("pdfinfo"); err == nil {
		info, err := exec.Command("pdfinfo", path).Output()
		must(t, "pdfinfo", err)
		m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(info)
		if m == nil {
			t.Fatalf("pdfinfo: no page count:\n%s", info)
		}
		if !regexp.MustCompile(`(?m)^Page size:\s+595\.\d* x 841\.\d* pts \(A4\)`).Match(info) {
			t.Errorf("the PDF is not A4:\n%s", info)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	return len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1))
}

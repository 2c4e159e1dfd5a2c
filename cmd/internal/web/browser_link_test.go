package web_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"duban/cmd/internal/config"
	"duban/tracker"
)

// TestBrowserUnitLinkLoop: the head opens the personal link of a notice
// in Chromium, reports completion with a PDF, the office approves in the
// workspace, and the instance is done as of the report time, counted on
// time in the month's bulletin; a tampered link shows a refusal and
// changes nothing.
func TestBrowserUnitLinkLoop(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	ts := httptest.NewServer(e.h)
	defer ts.Close()
	link := e.link("wang@example.gov.cn", "minutes-31", "later-1")
	pdf := filepath.Join(t.TempDir(), "办理结果.pdf")
	must(t, "write pdf", os.WriteFile(pdf, []byte("%PDF-1.4\n年终总结\n%%EOF\n"), 0o600))

	must(t, "open the link", chromedp.Do(ctx, chromedp.Navigate(ts.URL+link), chromedp.WaitVisible(chromedp.ID("i-later-1"))))
	screenshot(t, ctx, "unit-link.png")
	reported := e.clk.Now()
	must(t, "报结 with a PDF", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#i-later-1 form.complete textarea`), "年终总结已报送"),
		chromedp.SetUploadFiles(chromedp.CSS(`#i-later-1 form.complete input[type="file"]`), []string{pdf}),
		chromedp.Submit(chromedp.CSS(`#i-later-1 form.complete textarea`)),
		chromedp.WaitVisible(chromedp.ID("done")),
	))
	done, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("done")))
	if !strings.Contains(done, "报结已登记，附件 1 个") {
		t.Errorf("after 报结: %q", done)
	}
	if s := showJSON(t, e, "later-1"); !strings.Contains(s, `"status": "review"`) || !strings.Contains(s, "办理结果.pdf") {
		t.Fatalf("after 报结:\n%s", s)
	}

	// A tampered link: a refusal, nothing changed.
	before := e.state("minutes-31")
	bad := link[:len(link)-2] + "xx"
	must(t, "tampered link", chromedp.Do(ctx, chromedp.Navigate(ts.URL+bad), chromedp.WaitVisible(chromedp.CSS("body"))))
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(body, "链接无效") {
		t.Errorf("tampered link shows %q", body)
	}
	if e.state("minutes-31") != before {
		t.Error("the tampered link changed minutes-31")
	}

	// The office approves in the workspace, a day later.
	e.clk.Add(24 * 3600e9)
	signIn(t, ctx, ts.URL, "office", e.pw["office"])
	must(t, "approve", chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/instances/later-1"),
		chromedp.WaitVisible(chromedp.ID("form-review")),
		chromedp.Click(chromedp.CSS(`#form-review input[value="approve"]`)),
		chromedp.Submit(chromedp.CSS(`#form-review textarea[name="note"]`)),
		chromedp.WaitVisible(chromedp.ID("ok")),
	))
	files, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("attachments")))
	if !strings.Contains(files, "办理结果.pdf") {
		t.Errorf("instance page attachments: %q", files)
	}
	s := showJSON(t, e, "later-1")
	if !strings.Contains(s, `"status": "done"`) || !strings.Contains(s, `"done_at": "`+reported.Format("2006-01-02T15:04:05+08:00")) {
		t.Errorf("after approval (done_at %s wanted):\n%s", reported.Format("2006-01-02T15:04:05+08:00"), s)
	}
	// The bulletin of December counts it on time.
	cfg, _ := config.Load("")
	x, _ := cfg.Expander()
	m, _ := tracker.ParseMonth("2026-12")
	must(t, "bulletin", e.st.View(func(tx tracker.Tx) error {
		rep, err := tracker.MonthlyReport(tx, x.Env, m, "fzj", e.clk.Now())
		if err != nil {
			return err
		}
		for _, u := range rep.Units {
			if u.Unit == "fzj" && u.OnTime < 1 {
				t.Errorf("December bulletin, 市法制局: %+v; want later-1 on time", u)
			}
		}
		return nil
	}))
	if rec := e.do("GET", "/reports/bulletin?month=2026-12", nil, e.login("office")); rec.Code != http.StatusOK {
		t.Errorf("bulletin page: %d", rec.Code)
	}
}

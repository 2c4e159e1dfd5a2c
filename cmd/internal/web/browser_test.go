package web_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The end-to-end tests drive Debian's chromium headless (SPEC §10). They
// skip when it is absent, except under CI=true (.ci/run installs it).
// DUBAN_SCREENSHOTS=1 also writes the README's screenshots to docs/.

func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; under CI=true the browser tests must run (apt-get install -y chromium fonts-noto-cjk)")
		}
		t.Skip("chromium not installed: skipping the browser tests (apt-get install -y chromium fonts-noto-cjk)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func signIn(t *testing.T, ctx context.Context, base, name, pw string) {
	t.Helper()
	must(t, "sign in as "+name, chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), name),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("rows")),
	))
}

// waitText waits until the element with id shows want (the page after a
// form post has loaded), failing after 10 s with what it showed last.
func waitText(t *testing.T, ctx context.Context, id, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		got, _ = chromedp.Run(tctx, chromedp.Text(chromedp.ID(id)))
		cancel()
		if got == want {
			return
		}
	}
	t.Fatalf("#%s shows %q, want %q", id, got, want)
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("DUBAN_SCREENSHOTS") == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(t, "screenshot "+name, err)
	out := filepath.Join("..", "..", "..", "docs", name)
	must(t, "write "+out, os.WriteFile(out, png, 0o644))
}

// TestBrowserOfficeAndLeader: the office signs in, finds an overdue item
// on the board, records progress, extends it and sees both in the
// history; a leader signs in and cannot change anything.
func TestBrowserOfficeAndLeader(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	ts := httptest.NewServer(e.h)
	defer ts.Close()

	signIn(t, ctx, ts.URL, "office", e.pw["office"])
	screenshot(t, ctx, "workspace-board.png")
	overdue, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("tr.red td.id a")))
	must(t, "an overdue row on the board", err)
	if overdue != "budget-7" {
		t.Fatalf("the red row is %q, want budget-7", overdue)
	}
	must(t, "open it", chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("tr.red td.id a")),
		chromedp.WaitVisible(chromedp.ID("form-progress")),
	))
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("title")))
	must(t, "title", err)
	if title != "预算调整方案 <script>alert(1)</script>" {
		t.Errorf("the page title reads %q: a <script> title must show as text", title)
	}
	must(t, "record progress", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#form-progress textarea"), "方案已报市政府常务会"),
		chromedp.Submit(chromedp.CSS("#form-progress textarea")),
	))
	waitText(t, ctx, "ok", "已登记进展")
	must(t, "extend", chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#form-extend input[name="to"]`), "2026-12-31"),
		chromedp.SendKeys(chromedp.CSS(`#form-extend textarea[name="reason"]`), "待人大常委会审议"),
		chromedp.Submit(chromedp.CSS(`#form-extend textarea`)),
	))
	// The progress page's #ok is visible until the browser has loaded the
	// answer to this form: wait for the new text, not for visibility.
	waitText(t, ctx, "ok", "已登记延期")
	hist, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("history")))
	must(t, "history", err)
	for _, want := range []string{"进展", "方案已报市政府常务会", "延期", "待人大常委会审议", "office", "2026-12-07 10:00"} {
		if !strings.Contains(hist, want) {
			t.Errorf("history lacks %q:\n%s", want, hist)
		}
	}
	status, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("status")))
	if !strings.Contains(status, "已延期") || strings.Contains(status, "逾期") {
		t.Errorf("status after the extension: %q", status)
	}
	screenshot(t, ctx, "workspace-instance.png")
	if os.Getenv("DUBAN_SCREENSHOTS") != "" {
		must(t, "bulletin", chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/reports/bulletin?month=2026-11"),
			chromedp.WaitVisible(chromedp.CSS("svg"))))
		screenshot(t, ctx, "workspace-bulletin.png")
	}
	must(t, "sign out", chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("logout")),
		chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("signin"))))

	// The leader: his units, no forms, and a POST of his own is refused.
	before := showHistory(t, e, "minutes-31")
	signIn(t, ctx, ts.URL, "li", e.pw["li"])
	board, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("rows")))
	if !strings.Contains(board, "minutes-31") || strings.Contains(board, "budget-7") {
		t.Errorf("leader's board:\n%s", board)
	}
	must(t, "leader opens minutes-31", chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/instances/minutes-31"),
		chromedp.WaitVisible(chromedp.ID("history"))))
	forms, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("form.action").length`))
	must(t, "count forms", err)
	if forms != 0 {
		t.Errorf("the leader sees %d action forms", forms)
	}
	// No script may run on the page (CSP: not even fetch); the leader
	// crafts the office's form by hand and sends it.
	_, err = chromedp.Run(ctx, chromedp.Evaluate[int](`(() => {
		const f = document.createElement("form");
		f.method = "post"; f.action = "/instances/minutes-31/progress";
		const n = document.createElement("input"); n.name = "note"; n.value = "领导批示";
		f.appendChild(n); document.body.appendChild(f); f.submit(); return 1; })()`))
	must(t, "leader POST", err)
	var answer string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		if strings.HasSuffix(loc, "/progress") {
			answer, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leader's form was not answered")
		}
	}
	if !strings.Contains(answer, "无权") {
		t.Errorf("the leader's POST was answered %q, want a refusal", answer)
	}
	if after := showHistory(t, e, "minutes-31"); after != before {
		t.Errorf("the leader changed minutes-31:\n%s", after)
	}
}

package web_test

import (
	"bytes"
	"context"
	"mime/quotedprintable"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"duban/cmd/internal/account"
	"duban/cmd/internal/config"
	"duban/cmd/internal/daemon"
	"duban/cmd/internal/importer"
	"duban/cmd/internal/web"
	"duban/notify/smtptest"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// TestBrowserLoopFromSMTP: the whole loop on loopback. The daemon mails
// the assigned notice through a real SMTP test server; the test takes
// the link from the received mail, opens it in Chromium and reports
// completion; the office rejects it (退回重办) in the workspace, and the
// next pass mails the unit the reason; the unit reports again and the
// office approves: done as of the second report.
func TestBrowserLoopFromSMTP(t *testing.T) {
	ctx := browser(t)
	smtpSrv := smtptest.Start(t, smtptest.Options{TLS: smtptest.None})
	dir := t.TempDir()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB = filepath.Join(dir, "duban.db")
	cfg.Admin.Socket = ""
	cfg.Mail.Transport = "smtp"
	cfg.Mail.SMTP.Host, cfg.Mail.SMTP.Port, cfg.Mail.SMTP.TLS, cfg.Mail.SMTP.Auth = smtpSrv.Host, smtpSrv.Port, "none", "none"
	cfg.Web.Attachments.Dir = filepath.Join(dir, "attachments")
	ts := httptest.NewUnstartedServer(nil)
	cfg.Web.BaseURL = "http://" + ts.Listener.Addr().String()
	x, err := cfg.Expander()
	if err != nil {
		t.Fatal(err)
	}
	st, err := kvstore.Open(cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	units := filepath.Join(dir, "units.yaml")
	must(t, "write units", os.WriteFile(units, []byte(testUnits), 0o600))
	loc := cfg.Location
	_, err = importer.Files(context.Background(), st, x, []string{units}, []string{"units.yaml"}, time.Date(2026, 11, 30, 10, 0, 0, 0, loc), "test", false)
	must(t, "import", err)
	// The workspace's clock as in newEnv: session cookies expire by it, in
	// a browser that runs on the wall clock.
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, loc)}
	d, err := daemon.New(daemon.Options{Config: cfg, Expander: x, Store: st, Clock: clk.Now})
	must(t, "daemon", err)
	srv, err := web.New(web.Options{Daemon: d})
	must(t, "web", err)
	ts.Config.Handler = srv.Handler()
	ts.Start()
	defer ts.Close()
	pw := "pw-office-secret"
	must(t, "account", st.Update(func(tx tracker.Tx) error {
		_, err := account.Add(tx, account.Spec{Name: "office", Role: tracker.RoleOffice, Password: pw}, clk.Now())
		return err
	}))

	// wangMail returns the text of the latest mail to wang containing want.
	wangMail := func(want string) string {
		t.Helper()
		msgs := smtpSrv.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			if len(msgs[i].To) == 0 || msgs[i].To[0] != "wang@example.gov.cn" {
				continue
			}
			text := decodeQP(msgs[i].Data)
			if strings.Contains(text, want) {
				return text
			}
		}
		t.Fatalf("no mail to wang contains %q (of %d)", want, len(msgs))
		return ""
	}
	must(t, "first pass", d.RunOnce(t.Context(), clk.Now()))
	text := wangMail("later-1")
	m := regexp.MustCompile(regexp.QuoteMeta(cfg.Web.BaseURL) + `/r/[A-Za-z0-9_.-]+`).FindString(text)
	if m == "" {
		t.Fatalf("the notice has no link:\n%s", text)
	}

	report := func(note string) {
		t.Helper()
		pdf := filepath.Join(t.TempDir(), "办理结果.pdf")
		must(t, "pdf", os.WriteFile(pdf, []byte("%PDF-1.4\n"+note+"\n%%EOF\n"), 0o600))
		must(t, "报结 "+note, chromedp.Do(ctx,
			chromedp.Navigate(m), chromedp.WaitVisible(chromedp.ID("i-later-1")),
			chromedp.SendKeys(chromedp.CSS(`#i-later-1 form.complete textarea`), note),
			chromedp.SetUploadFiles(chromedp.CSS(`#i-later-1 form.complete input[type="file"]`), []string{pdf}),
			chromedp.Submit(chromedp.CSS(`#i-later-1 form.complete textarea`)),
			chromedp.WaitVisible(chromedp.ID("done")),
		))
	}
	decide := func(decision, reason string) {
		t.Helper()
		acts := []chromedp.Action[chromedp.Void]{
			chromedp.Navigate(ts.URL + "/instances/later-1"),
			chromedp.WaitVisible(chromedp.ID("form-review")),
			chromedp.Click(chromedp.CSS(`#form-review input[value="` + decision + `"]`)),
		}
		if reason != "" {
			acts = append(acts, chromedp.SendKeys(chromedp.CSS(`#form-review textarea[name="reason"]`), reason))
		}
		acts = append(acts, chromedp.Submit(chromedp.CSS(`#form-review textarea[name="note"]`)), chromedp.WaitVisible(chromedp.ID("ok")))
		must(t, "review "+decision, chromedp.Do(ctx, acts...))
	}
	instance := func() *tracker.Instance {
		var in *tracker.Instance
		must(t, "read", st.View(func(tx tracker.Tx) error { in, err = tx.Instance("later-1"); return err }))
		return in
	}

	report("第一次报结")
	if in := instance(); in.Status != tracker.StatusReview {
		t.Fatalf("after 报结: %s", in.Status)
	}
	clk.Add(time.Hour)
	signIn(t, ctx, ts.URL, "office", pw)
	decide("reject", "缺少盖章件")
	clk.Add(time.Minute)
	must(t, "pass after the rejection", d.RunOnce(t.Context(), clk.Now()))
	if rework := wangMail("缺少盖章件"); !strings.Contains(rework, "退回重办") {
		t.Errorf("the rejection mail:\n%s", rework)
	}
	if in := instance(); in.Status != tracker.StatusOpen || in.NextNotice.Equal(tracker.Never) {
		t.Errorf("after the rejection: %s, next notice %v (notices must resume)", in.Status, in.NextNotice)
	}
	clk.Add(time.Hour)
	reported := clk.Now()
	report("已补盖章件")
	clk.Add(24 * time.Hour)
	signIn(t, ctx, ts.URL, "office", pw) // the session of yesterday has expired
	decide("approve", "")
	in := instance()
	if in.Status != tracker.StatusDone || !in.DoneAt.Equal(reported.UTC().Truncate(time.Second)) || in.Reworks != 1 {
		t.Errorf("after approval: %s done %v (want %v) reworks %d", in.Status, in.DoneAt, reported, in.Reworks)
	}
}

// decodeQP decodes a received message's quoted-printable text loosely:
// enough to find the link and the reason in it.
func decodeQP(raw []byte) string {
	b, _ := readAllQP(raw)
	return string(b)
}

func readAllQP(raw []byte) ([]byte, error) {
	var out bytes.Buffer
	_, err := out.ReadFrom(quotedprintable.NewReader(bytes.NewReader(raw)))
	return out.Bytes(), err
}

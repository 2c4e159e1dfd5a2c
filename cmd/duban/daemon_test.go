package main

// Tests of the daemon loop (daemon.Daemon.Run) through its API, set up
// and checked with the CLI: a simulated month under testing/synctest, and
// reloads (SIGHUP) in real time over the admin socket.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emersion/go-smtp"

	"duban/cmd/internal/config"
	"duban/cmd/internal/daemon"
	"duban/notify"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// memSender is an in-memory notify.Sender: no network inside a bubble.
type memSender struct {
	mu   sync.Mutex
	sent []memMessage
}

type memMessage struct {
	Key     string    // notify.Message.Key: a delivery key or "digest|…"
	At      time.Time // the daemon's clock when sent
	To      string
	Subject string
	Entries []digestEntry
}

func (s *memSender) Send(_ context.Context, m *notify.Message) error {
	if _, err := m.Bytes(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(m.To) != 1 {
		return fmt.Errorf("digest to %d addresses", len(m.To))
	}
	s.sent = append(s.sent, memMessage{Key: m.Key, At: m.Date, To: m.To[0].Address, Subject: m.Subject, Entries: parseDigestText(m.Text)})
	return nil
}

func (s *memSender) Close() error { return nil }

// passCounter is a slog handler that counts scheduler passes (the
// "sleeping" record the loop writes after each) and keeps errors.
type passCounter struct {
	mu     sync.Mutex
	passes int
	errs   []string
}

func (h *passCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *passCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *passCounter) WithGroup(string) slog.Handler            { return h }
func (h *passCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Message == "sleeping":
		h.passes++
	case r.Level >= slog.LevelWarn:
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		h.errs = append(h.errs, b.String())
	}
	return nil
}

// noticeLevels are the levels of notices (and failure reports), which
// go out in digests; other outbox entries are reports (bulletin, weekly).
var noticeLevels = map[tracker.Level]bool{
	tracker.LevelAssigned: true, tracker.LevelReminder: true, tracker.LevelDue: true,
	tracker.LevelOverdue: true, tracker.LevelEscalation: true, daemon.LevelFailure: true, tracker.LevelReassigned: true,
	tracker.LevelCorrection: true, tracker.LevelSheet: true, tracker.LevelReview: true, tracker.LevelRework: true,
}

// loadApp reads the env's configuration as the CLI would.
func (e *testEnv) loadApp() *app {
	e.t.Helper()
	a := &app{stdout: io.Discard, stderr: io.Discard, cwd: e.dir, configPath: e.config}
	if err := a.loadConfig(); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// TestDaemonSimulatedMonthSendsEachPlannedNoticeOnceOnWorkingDays runs the
// daemon loop for a month of fake time (testing/synctest) over the
// example office and checks the outbox against `duban plan`.
func TestDaemonSimulatedMonthSendsEachPlannedNoticeOnceOnWorkingDays(t *testing.T) {
	e := newTestEnv(t)
	// From the make-up working day Sun 20 Sep to Tue 20 Oct inclusive
	// (--to a date includes that day).
	const from, to = "2026-09-20 08:00", "2026-10-20"
	e.importAt(from)
	var plan []planRow
	if err := json.Unmarshal([]byte(e.mustRun("plan", "--from", from, "--to", to, "--format", "json")), &plan); err != nil {
		t.Fatal(err)
	}
	a := e.loadApp()
	cfg := *a.cfg
	cfg.Admin.Socket = "" // no admin socket: a unix listener is real I/O, outside the bubble's clock
	base, end := atTime(t, from), atTime(t, "2026-10-21 00:00")
	office := "ducha@example.gov.cn"

	mem := &memSender{}
	log := &passCounter{}
	var deliveries []*tracker.Delivery
	wall := time.Now()
	synctest.Test(t, func(t *testing.T) {
		st, err := kvstore.Open(e.db, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		start := time.Now() // the bubble's fake clock
		d, err := daemon.New(daemon.Options{Config: &cfg, Expander: a.x, Store: st, Logger: slog.New(log),
			Clock: func() time.Time { return base.Add(time.Since(start)) },
			NewSender: func() (notify.Sender, error) {
				return mem, nil
			},
			ReadConfig: func() (*config.Config, *tracker.Expander, error) { return nil, nil, fmt.Errorf("no reload") }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(end.Sub(base))
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := st.View(func(tx tracker.Tx) error {
			return tx.Deliveries(func(dl *tracker.Delivery) error {
				deliveries = append(deliveries, dl)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
	})
	took := time.Since(wall)
	t.Logf("simulated %s in %v real time: %d passes, %d messages, %d deliveries",
		end.Sub(base), took, log.passes, len(mem.sent), len(deliveries))
	// A month of fake time costs about 0.3 s of CPU: 0.2 s of real time on
	// an idle machine, 1 s with -race. The rest is fsync: each pass commits
	// a few bbolt transactions, and on a busy disk those take seconds in
	// all. Sleeping on the wall clock for even one notice would take hours.
	if took > 30*time.Second {
		t.Errorf("a simulated month took %v of real time, want well under a second", took)
	} else if limit := map[bool]time.Duration{false: time.Second, true: 3 * time.Second}[raceDetector]; took > limit {
		t.Logf("slower than the usual %v: a busy disk (fsync of the bbolt commits)", limit)
	}
	for _, msg := range log.errs {
		t.Errorf("daemon logged: %s", msg)
	}

	// The outbox in the window matches the plan, notice for notice and
	// address for address, each sent on time.
	key := func(id string, step int, at time.Time, addr string) string {
		return tracker.DeliveryKey(tracker.Notice{Instance: id, Step: step, At: at}, addr)
	}
	want := map[string]time.Time{}
	for _, r := range plan {
		to := r.To
		if len(to) == 0 {
			// plan shows no recipient for a pending item's unit role;
			// the daemon sends those notices to the office (scheduler.go).
			to = []string{office}
		}
		for _, addr := range to {
			want[key(r.ID, r.Step, r.At, addr)] = r.At
		}
	}
	got := map[string]*tracker.Delivery{}
	levelOf := map[string]tracker.Level{}
	byKey := map[string]*tracker.Delivery{}
	for _, dl := range deliveries {
		byKey[dl.Key] = dl
	}
	for _, dl := range deliveries {
		levelOf[dl.Key] = dl.Level
		switch {
		case !noticeLevels[dl.Level]:
			continue // the monthly bulletin and weekly summary are reports, not notices
		case dl.State == tracker.DeliveryQueued || dl.State == tracker.DeliveryFailed:
			t.Errorf("%s is %s at the end (%s)", dl.Key, dl.State, dl.LastError)
		case dl.At.Before(base) || !dl.At.Before(end):
			continue // caught up at the first pass, or after the window
		case dl.State == tracker.DeliverySuperseded:
			// One entry per instance and recipient: a more urgent notice
			// of the instance, due at the same pass, went instead.
			w := byKey[dl.SupersededBy+"|"+dl.To]
			if w == nil || w.State != tracker.DeliverySent || !w.SentAt.Equal(dl.At) || w.Level.Rank() < dl.Level.Rank() {
				t.Errorf("%s superseded by %s, which was not sent in its place", dl.Key, dl.SupersededBy)
			}
			got[dl.Key] = dl
			continue
		case dl.State != tracker.DeliverySent:
			t.Errorf("%s in the window is %s, want sent", dl.Key, dl.State)
			continue
		}
		got[dl.Key] = dl
		if !dl.SentAt.Equal(dl.At) || dl.Late {
			t.Errorf("%s due %s was sent at %s (late %v), want on time",
				dl.Key, dl.At.In(cfg.Location), dl.SentAt.In(cfg.Location), dl.Late)
		}
	}
	for k, at := range want {
		if got[k] == nil {
			t.Errorf("planned %s at %s was not sent", k, at.In(cfg.Location).Format("2006-01-02 15:04"))
		}
	}
	for k, dl := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("sent %s at %s, which plan did not show", k, dl.At.In(cfg.Location).Format("2006-01-02 15:04"))
		}
	}
	t.Logf("plan: %d notices to addresses in the window; sent: %d", len(want), len(got))
	if len(want) < 100 {
		t.Errorf("the plan has only %d notices; the example office should keep the daemon busy", len(want))
	}

	// Each notice reached its recipient in exactly one message, and each
	// recipient got at most one digest per pass.
	entries := 0
	perPass := map[string]int{}
	for _, m := range mem.sent {
		if l, ok := levelOf[m.Key]; ok && !noticeLevels[l] {
			continue // a report
		}
		entries += len(m.Entries)
		perPass[m.To+" "+m.At.String()]++
	}
	sent := 0
	for _, dl := range deliveries {
		if dl.State == tracker.DeliverySent && noticeLevels[dl.Level] {
			sent++
		}
	}
	if entries != sent {
		t.Errorf("messages carry %d notices, the outbox has %d sent", entries, sent)
	}
	for k, n := range perPass {
		if n != 1 {
			t.Errorf("%s: %d messages in one pass, want one digest", k, n)
		}
	}

	// No notice on a weekend or holiday, except the hour offsets of timed
	// deadlines; the make-up working days Sun 20 Sep and Sat 10 Oct do get
	// notices (monthly-accounts' daily 催办, cosign-118's reminder).
	cal := a.x.Env.Cal
	onMakeUp := map[tracker.Date]int{}
	err := func() error {
		st, err := kvstore.Open(e.db, time.Second)
		if err != nil {
			return err
		}
		defer st.Close()
		return st.View(func(tx tracker.Tx) error {
			for _, dl := range got {
				day := tracker.DateOf(dl.SentAt.In(cfg.Location))
				if wd := dl.SentAt.In(cfg.Location).Weekday(); wd == time.Saturday || wd == time.Sunday {
					onMakeUp[day]++
				}
				if cal.IsWorkday(day) {
					continue
				}
				in, err := tx.Instance(dl.Instance)
				if err != nil {
					return err
				}
				it, err := tx.Item(in.Item)
				if err != nil {
					return err
				}
				pol, err := tracker.PolicyFor(tx, it)
				if err != nil {
					return err
				}
				timed := dl.Step > 0 && in.Deadline.Timed && (strings.HasSuffix(pol.Steps[dl.Step-1].At, "h") || pol.Steps[dl.Step-1].At == "0")
				if !timed {
					t.Errorf("%s sent on %s %s, not a working day", dl.Key, day, dl.SentAt.In(cfg.Location).Weekday())
				}
			}
			return nil
		})
	}()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []tracker.Date{{Year: 2026, Month: time.September, Day: 20}, {Year: 2026, Month: time.October, Day: 10}} {
		if onMakeUp[d] == 0 {
			t.Errorf("no notice on %s, a make-up working day", d)
		}
		delete(onMakeUp, d)
	}
	if len(onMakeUp) > 0 {
		t.Errorf("notices on weekend days that are not make-up working days: %v", onMakeUp)
	}

	// The daemon slept between notices: a few passes a day at most, not
	// one a minute.
	minutes := int(end.Sub(base) / time.Minute)
	if log.passes == 0 || log.passes > 400 {
		t.Errorf("%d passes in %d minutes, want a few per day", log.passes, minutes)
	}
}

// syncBuffer is a bytes.Buffer safe for the daemon's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// copyExample copies an example tracking file into dir.
func copyExample(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(examplePath(name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitForSocket polls every 10 ms, for at most 10 s of wall time, until
// the daemon's admin socket exists.
func waitForSocket(t *testing.T, sock string) {
	t.Helper()
	// The socket file appears at bind, a moment before listen: wait until
	// a connection is accepted, not only until the file exists.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if conn, err := net.Dial("unix", sock); err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon does not answer on its socket %s", sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDaemonHangupReloadsTrackingFilesAndKeepsStateOnABadFile(t *testing.T) {
	dir := t.TempDir()
	copyExample(t, dir, "units.yaml")
	tracked := copyExample(t, dir, "worked-2026.yaml")
	e := &testEnv{t: t, dir: dir, config: filepath.Join(dir, "duban.yaml"), db: filepath.Join(dir, "duban.db")}
	sock := shortSocket(t, dir)
	e.writeTemp("duban.yaml", "db: duban.db\nadmin: {socket: "+sock+"}\ntracking: [units.yaml, worked-2026.yaml]\n"+
		"mail: {transport: file, file: {dir: outbox}}\nlog: {level: info}\n")

	a := e.loadApp()
	st, err := kvstore.Open(a.cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	base := atTime(t, "2026-09-25 10:00")
	start := time.Now()
	cfg := a.cfg
	d, err := daemon.New(daemon.Options{Config: cfg, Expander: a.x, Store: st, Logger: newLogger(logs, cfg.Log, cfg.Location),
		Clock: func() time.Time { return base.Add(time.Since(start)) }, ReadConfig: a.reload, Exec: execForwarded})
	if err != nil {
		t.Fatal(err)
	}
	// Reload returns when the loop takes the request, so a second
	// Reload returns only once the loop is back in its select, that is
	// after the first reload and its pass. The second reload of the same
	// files changes nothing (imports are idempotent).
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	running := true
	stop := func() {
		cancel()
		if running {
			running = false
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
		st.Close()
	}
	defer stop()
	reload := func() {
		t.Helper()
		for range 2 {
			if err := d.Reload(ctx); err != nil {
				running = false
				t.Fatalf("the daemon stopped: %v: %v\n%s", err, <-done, logs.String())
			}
		}
	}
	waitForSocket(t, sock)

	rows := e.list("--status", "all")
	if _, ok := rows["minutes-31"]; !ok {
		t.Fatalf("the daemon did not load the tracking files at start: %v\n%s", rows, logs.String())
	}
	if _, ok := rows["notice-88"]; ok {
		t.Fatal("notice-88 exists before it was added")
	}

	// Add an item and send SIGHUP: the new instance appears.
	orig, err := os.ReadFile(tracked)
	if err != nil {
		t.Fatal(err)
	}
	added := string(orig) + `
  - id: notice-88
    title: 关于加强汛期安全生产工作的通知
    doc: 洛政明电〔2026〕88号
    unit: fzj
    start: 2026-09-25 09:00
    due: 5wd
    policy: standard
`
	e.writeTemp("worked-2026.yaml", added)
	reload()
	r, ok := e.list("--status", "all")["notice-88"]
	if !ok {
		t.Fatalf("notice-88 not loaded after SIGHUP:\n%s", logs.String())
	}
	// 5wd from Fri 25 Sep: 28, 29, 30 Sep, (holidays), 8, 9 Oct.
	if r.Status != "open" || r.Unit != "fzj" || r.Due != "2026-10-10T00:00:00+08:00" {
		t.Errorf("notice-88 after reload: %+v", r)
	}

	// A broken file: reported, the old state kept, the daemon still answers.
	e.writeTemp("worked-2026.yaml", added+`
  - id: broken-99
    title: 未写明时限的事项
    unit: fzj
    due: 3 days
`)
	reload()
	if !strings.Contains(logs.String(), "tracking files not loaded") {
		t.Errorf("the bad file was not reported:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "worked-2026.yaml") || !strings.Contains(logs.String(), "3 days") {
		t.Errorf("the reload error does not name the file and the bad value:\n%s", logs.String())
	}
	rows = e.list("--status", "all")
	if _, ok := rows["broken-99"]; ok {
		t.Error("broken-99 from the bad file was stored")
	}
	if got := rows["notice-88"]; got != r {
		t.Errorf("notice-88 changed after a bad reload: %+v, was %+v", got, r)
	}
	if _, ok := rows["minutes-31"]; !ok || len(rows) < 20 {
		t.Errorf("state lost after a bad reload: %d instances", len(rows))
	}
	if out := e.mustRun("show", "notice-88"); !strings.Contains(out, "关于加强汛期安全生产工作的通知") {
		t.Errorf("show notice-88 via the socket:\n%s", out)
	}

	// Fix the file: the next SIGHUP loads it.
	e.writeTemp("worked-2026.yaml", added+`
  - id: broken-99
    title: 未写明时限的事项
    unit: fzj
    start: 2026-09-25 09:00
    due: 3d
`)
	reload()
	if _, ok := e.list("--status", "all")["broken-99"]; !ok {
		t.Errorf("broken-99 not loaded once the file was fixed:\n%s", logs.String())
	}
}

// SMTP replies for scripted failures.
var (
	smtpError451 = smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	smtpError550 = smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}
	smtpError535 = smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
)

// scriptedSender fails or accepts each message as fail says, recording
// every attempt with the daemon's clock.
type scriptedSender struct {
	mu       sync.Mutex
	fail     func(m *notify.Message) error
	attempts []memMessage
	accepted []memMessage
	onSend   func(n int) // called with the number of attempts so far
}

func (s *scriptedSender) Send(_ context.Context, m *notify.Message) error {
	s.mu.Lock()
	mm := memMessage{Key: m.Key, At: m.Date, To: m.To[0].Address, Subject: m.Subject, Entries: parseDigestText(m.Text)}
	s.attempts = append(s.attempts, mm)
	n := len(s.attempts)
	err := s.fail(m)
	if err == nil {
		s.accepted = append(s.accepted, mm)
	}
	s.mu.Unlock()
	if s.onSend != nil {
		s.onSend(n)
	}
	return err
}

func (s *scriptedSender) Close() error { return nil }

// runBubble runs the daemon loop over the env's store in a synctest
// bubble from base for span of fake time, with sender, and returns the
// outbox. The loop is stopped early if stop is closed.
func runBubble(t *testing.T, e *testEnv, base time.Time, span time.Duration, sender *scriptedSender, tweak func(*config.Config)) []*tracker.Delivery {
	t.Helper()
	a := e.loadApp()
	cfg := *a.cfg
	cfg.Admin.Socket = ""
	if tweak != nil {
		tweak(&cfg)
	}
	var out []*tracker.Delivery
	synctest.Test(t, func(t *testing.T) {
		st, err := kvstore.Open(e.db, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		start := time.Now()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		guard := sender.onSend
		sender.onSend = func(n int) {
			if n > 2000 { // a busy loop: stop it so the test fails instead of hanging
				cancel()
			}
			if guard != nil {
				guard(n)
			}
		}
		d, err := daemon.New(daemon.Options{Config: &cfg, Expander: a.x, Store: st, Logger: slog.New(&passCounter{}),
			Clock: func() time.Time { return base.Add(time.Since(start)) },
			NewSender: func() (notify.Sender, error) {
				return sender, nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		timer := time.NewTimer(span)
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if err := st.View(func(tx tracker.Tx) error {
			return tx.Deliveries(func(dl *tracker.Delivery) error {
				out = append(out, dl)
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
	})
	return out
}

func TestDaemonRetriesTemporaryFailuresOnTheBackoffScheduleAndReportsPermanentOnes(t *testing.T) {
	e := newTestEnv(t)
	e.importAt("2026-09-25 10:00")
	base := atTime(t, "2026-09-25 10:00")
	const bad = "chen@example.gov.cn"
	sender := &scriptedSender{}
	sender.fail = func(m *notify.Message) error {
		switch {
		case m.To[0].Address == bad:
			return fmt.Errorf("smtp RCPT %s: %w", bad, &smtpError550)
		case m.Date.Before(base.Add(5 * time.Minute)):
			return fmt.Errorf("smtp DATA end: %w", &smtpError451)
		}
		return nil
	}
	outbox := runBubble(t, e, base, time.Hour, sender, func(c *config.Config) {
		c.Mail.Retry.Initial, c.Mail.Retry.Max = time.Minute, 4*time.Minute
	})

	// zhou's digest: tried at 10:00, then after 1m, 2m and 4m; accepted at 10:07.
	var tries []string
	for _, m := range sender.attempts {
		if m.To == "zhou@example.gov.cn" {
			tries = append(tries, m.At.In(shanghaiLoc(t)).Format("15:04:05"))
		}
	}
	if want := []string{"10:00:00", "10:01:00", "10:03:00", "10:07:00"}; !slices.Equal(tries, want) {
		t.Errorf("attempts to zhou at %v, want %v (back-off 1m, 2m, 4m)", tries, want)
	}
	accepted := map[string]int{}
	for _, m := range sender.accepted {
		accepted[m.To]++
	}
	for to, n := range accepted {
		if n != 1 && to != "ducha@example.gov.cn" {
			t.Errorf("%s got %d messages, want 1", to, n)
		}
	}
	if accepted[bad] != 0 {
		t.Errorf("%s accepted", bad)
	}
	// The permanent failure is reported to the office once, right after
	// the attempt that failed (the office's own digest is separate).
	var reports []memMessage
	for _, m := range sender.accepted {
		if m.To == "ducha@example.gov.cn" && len(m.Entries) > 0 && m.Entries[0].Level == digestLevelNames["failure"] {
			reports = append(reports, m)
		}
	}
	if len(reports) != 1 {
		t.Fatalf("office got %d failure reports, want 1", len(reports))
	}
	failed := 0
	for _, dl := range outbox {
		switch {
		case dl.State == tracker.DeliveryQueued:
			t.Errorf("%s still queued", dl.Key)
		case dl.State == tracker.DeliveryFailed:
			failed++
			if dl.To != bad || dl.Attempts != 1 {
				t.Errorf("failed %s: to %s after %d attempts", dl.Key, dl.To, dl.Attempts)
			}
		}
	}
	reported := 0
	for _, en := range reports[0].Entries {
		if en.Level == digestLevelNames["failure"] {
			reported++
		}
	}
	if failed == 0 || reported != failed {
		t.Errorf("report lists %d failures, outbox has %d", reported, failed)
	}
}

func TestDaemonBacksOffWhenTheMailServerRefusesTheCredentials(t *testing.T) {
	e := newTestEnv(t)
	e.importAt("2026-09-25 10:00")
	base := atTime(t, "2026-09-25 10:00")
	sender := &scriptedSender{}
	sender.fail = func(m *notify.Message) error {
		if m.Date.Before(base.Add(30 * time.Minute)) {
			return fmt.Errorf("%w: LOGIN as ducha at 127.0.0.1:587: %w", notify.ErrAuth, &smtpError535)
		}
		return nil
	}
	outbox := runBubble(t, e, base, time.Hour, sender, func(c *config.Config) {
		c.Mail.Retry.Initial, c.Mail.Retry.Max = time.Minute, 4*time.Minute
	})
	failedTries := 0
	for _, m := range sender.attempts {
		if m.At.Before(base.Add(30 * time.Minute)) {
			failedTries++
		}
	}
	// At most one attempt per minute while the password is wrong.
	if failedTries == 0 || failedTries > 31 {
		t.Errorf("%d connection attempts in 30 minutes with a refused password, want at most one a minute", failedTries)
	}
	for _, dl := range outbox {
		// superseded: a more urgent notice of the instance went instead.
		if dl.State != tracker.DeliverySent && dl.State != tracker.DeliverySkipped && dl.State != tracker.DeliverySuperseded {
			t.Errorf("%s is %s after the password was fixed (%s)", dl.Key, dl.State, dl.LastError)
		}
	}
}

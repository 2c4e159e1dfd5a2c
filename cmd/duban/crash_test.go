package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"duban/cmd/internal/workload"
	"duban/notify/smtptest"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/pgtest"
)

// buildDuban builds the duban binary into a temp dir of tb and returns its
// path. The go build cache makes repeated builds cheap.
func buildDuban(tb testing.TB) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go command to build the binary:", err)
	}
	bin := filepath.Join(tb.TempDir(), "duban")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// smtpMsg is one message the recording server accepted.
type smtpMsg struct {
	MessageID string
	To        []string
	Instances []string // 事项编号 lines of the text body
	Subject   string
}

// startRecServer starts an SMTP server on 127.0.0.1 without TLS or AUTH
// that records the messages it accepts.
func startRecServer(tb testing.TB) *smtptest.Server {
	tb.Helper()
	return smtptest.Start(tb, smtptest.Options{TLS: smtptest.None})
}

// waitIdle waits until no session of rs is open, so that a message a
// killed client left in flight has been recorded (or dropped) before
// counting.
func waitIdle(tb testing.TB, rs *smtptest.Server) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for rs.OpenSessions() > 0 {
		if time.Now().After(deadline) {
			tb.Fatal("SMTP connections still open 10s after the client exited")
		}
		time.Sleep(time.Millisecond)
	}
}

// notices decodes the messages rs accepted.
func notices(tb testing.TB, rs *smtptest.Server) []smtpMsg {
	tb.Helper()
	var out []smtpMsg
	for _, r := range rs.Messages() {
		m, err := parseNotice(r.Data)
		if err != nil {
			tb.Fatalf("a received message did not parse: %v", err)
		}
		m.To = r.To
		out = append(out, m)
	}
	return out
}

var instanceLine = regexp.MustCompile(`事项编号：(\S+)`)

// parseNotice extracts the Message-ID, the subject and the instance ids
// (事项编号 lines of the text/plain part) of a notice.
func parseNotice(data []byte) (smtpMsg, error) {
	var m smtpMsg
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return m, err
	}
	m.MessageID = msg.Header.Get("Message-Id")
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return m, err
	}
	text, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		return m, fmt.Errorf("message %s: %w", m.MessageID, err)
	}
	for _, sm := range instanceLine.FindAllStringSubmatch(text, -1) {
		m.Instances = append(m.Instances, sm[1])
	}
	return m, nil
}

// textPart returns the decoded text/plain part of a body.
func textPart(ctype, cte string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable itself
			if err != nil {
				return "", fmt.Errorf("no text/plain part: %w", err)
			}
			if s, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err == nil {
				return s, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", fmt.Errorf("%s is not text/plain", mt)
	}
	if strings.EqualFold(cte, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	return string(b), err
}

// smtpConfig writes a config delivering to rs, one message per notice,
// for the database db (a bbolt file or a PostgreSQL URL).
func smtpConfig(tb testing.TB, dir, db string, port int, extra string) string {
	tb.Helper()
	sock := filepath.Join(os.TempDir(), "duban-"+strconv.FormatUint(rand.Uint64(), 36)+".sock")
	tb.Cleanup(func() { os.Remove(sock) })
	cfg := fmt.Sprintf(`db: %q
digest: false
admin: {socket: %s}
log: {level: warn}
mail:
  transport: smtp
  from: 督查室 <ducha@example.gov.cn>
  office: ducha@example.gov.cn
  smtp: {host: 127.0.0.1, port: %d, tls: none, auth: none, timeout: 10s}
  retry: {initial: 1m, max: 10m}
%s`, db, sock, port, extra)
	path := filepath.Join(dir, "duban.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// outboxEntry is one row of `duban outbox --format json`.
type outboxEntry struct {
	Key       string `json:"key"`
	Instance  string `json:"instance"`
	To        string `json:"to"`
	State     string `json:"state"`
	Attempts  int    `json:"attempts"`
	MessageID string `json:"message_id"`
	LastError string `json:"last_error"`
}

// outboxJSON runs `duban outbox --format json` with args in-process.
func outboxJSON(tb testing.TB, config string, args ...string) []outboxEntry {
	tb.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--config", config, "outbox", "--format", "json"}, args...)
	if code := run(tb.Context(), full, &out, &errb); code != 0 {
		tb.Fatalf("duban outbox: exit %d: %s", code, errb.String())
	}
	var rows []outboxEntry
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		tb.Fatalf("outbox output: %v\n%s", err, out.String())
	}
	return rows
}

// expectedMessageID is the Message-ID notify derives from a delivery key:
// "<" + 32 hex digits of SHA-256(key) + "@" + the From domain + ">".
func expectedMessageID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "<" + hex.EncodeToString(sum[:])[:32] + "@example.gov.cn>"
}

// TestCrashExactlyOnce kills `duban serve --once` with SIGKILL at random
// moments of its passes, against a slow SMTP server, and checks SPEC §6:
// every notice is delivered, a crash repeats at most the one message in
// flight, with the same Message-ID, and the database stays consistent.
//
// DUBAN_CRASH_ITERATIONS sets the number of killed passes (default 50,
// 20 on PostgreSQL), DUBAN_CRASH_SEED the random seed (default: time).
//
// On PostgreSQL each `serve --once` takes the leader lease (a short one
// here) and resigns; after a kill the next one waits for it to expire.
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: starts and kills the daemon binary many times")
	}
	t.Run("bbolt", func(t *testing.T) { crashExactlyOnce(t, "", 50) })
	t.Run("postgres", func(t *testing.T) { crashExactlyOnce(t, pgtest.URL(t), 20) })
}

// crashExactlyOnce is TestCrashExactlyOnce on a bbolt file (dbURL "") or
// the PostgreSQL database at dbURL.
func crashExactlyOnce(t *testing.T, dbURL string, iterations int) {
	if s := os.Getenv("DUBAN_CRASH_ITERATIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("DUBAN_CRASH_ITERATIONS=%q", s)
		}
		iterations = n
	}
	seed := seedFromEnv(t, "DUBAN_CRASH_SEED")
	t.Logf("seed %d (rerun with DUBAN_CRASH_SEED=%d), %d iterations", seed, seed, iterations)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	started := time.Now()

	bin := buildDuban(t)
	rs := startRecServer(t)
	dir := t.TempDir()
	// catchup all: every notice that came due is sent, so at the end every
	// outbox entry must be sent (latest would record some as skipped).
	db, extra := filepath.Join(dir, "duban.db"), "catchup: all\n"
	if dbURL != "" {
		db, extra = dbURL, extra+"cluster: {lease_ttl: 1s, renew: 300ms}\n"
	}
	config := smtpConfig(t, dir, db, rs.Port, extra)

	// 300 one-off items over 20 units starting 2–13 March 2026, plus the
	// weekly and monthly reports of every unit: several hundred notices
	// come due in the first days.
	track := filepath.Join(dir, "tracked.yaml")
	var buf bytes.Buffer
	writeWorkload(t, &buf, workload.Spec{Items: 300, Units: 20, Seed: 7, From: "2026-03-02", Days: 10, Recurring: true})
	if err := os.WriteFile(track, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"--config", config, "import", track, "--at", "2026-03-02 08:00"}, &out, &errb); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errb.String())
	}
	t.Log(strings.TrimSpace(out.String()))

	loc, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, loc)
	end := time.Date(2026, 3, 5, 18, 0, 0, 0, loc)

	// pass runs one `serve --once` as of at. kill decides when to SIGKILL
	// it (nil: never). It reports whether the process was killed.
	pass := func(kill func(p *os.Process, exited <-chan struct{})) bool {
		t.Helper()
		cmd := exec.Command(bin, "--config", config, "serve", "--once", "--at", at.Format(time.RFC3339))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var wg sync.WaitGroup
		if kill != nil {
			wg.Go(func() { kill(cmd.Process, exited) })
		}
		err := cmd.Wait()
		close(exited)
		wg.Wait()
		waitIdle(t, rs)
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
		if err != nil {
			t.Fatalf("serve --once --at %s: %v\n%s", at.Format(time.RFC3339), err, stderr.String())
		}
		return false
	}

	killed := 0
	rs.SetReplyDelay(3 * time.Millisecond)
	for i := range iterations {
		if rng.IntN(3) == 0 && at.Before(end) {
			at = at.Add(time.Duration(1+rng.IntN(8)) * time.Hour)
		}
		acc0, mails0 := rs.Accepted(), rs.Mails()
		early := rng.IntN(4) == 0
		wait := time.Duration(rng.IntN(150)) * time.Millisecond
		k := pass(func(p *os.Process, exited <-chan struct{}) {
			if early {
				// A random moment of start-up, load or decision: killed
				// only if no message has been started yet.
				select {
				case <-exited:
					return
				case <-time.After(wait):
				}
				if rs.Mails() == mails0 {
					p.Signal(syscall.SIGKILL)
					return
				}
			}
			// Mid-delivery: once two messages of this pass were accepted
			// (so the first one, which may be the copy of the previous
			// pass's message in flight, is recorded as sent: the sender
			// records each message before starting the next), wait a
			// random while and kill.
			for {
				if rs.Accepted()-acc0 >= 2 {
					break
				}
				select {
				case <-exited:
					return
				case <-time.After(200 * time.Microsecond):
				}
			}
			select {
			case <-exited:
			case <-time.After(wait):
				p.Signal(syscall.SIGKILL)
			}
		})
		if k {
			killed++
		}
		// After every crash the file must open and pass the consistency check.
		st, err := kvstore.OpenReadOnly(db, 5*time.Second)
		if err != nil {
			t.Fatalf("iteration %d: open after kill: %v", i, err)
		}
		if err := st.Check(); err != nil {
			t.Fatalf("iteration %d: check after kill: %v", i, err)
		}
		// At most the one message in flight at the kill was accepted by
		// the server without being recorded as sent.
		sent := make(map[string]bool)
		if err := st.View(func(tx tracker.Tx) error {
			return tx.Deliveries(func(d *tracker.Delivery) error {
				if d.State == tracker.DeliverySent {
					sent[d.MessageID] = true
				}
				return nil
			})
		}); err != nil {
			t.Fatal(err)
		}
		st.Close()
		var unrecorded []string
		for _, m := range notices(t, rs) {
			if !sent[m.MessageID] && !slices.Contains(unrecorded, m.MessageID) {
				unrecorded = append(unrecorded, m.MessageID)
			}
		}
		if max := boolInt(k); len(unrecorded) > max {
			t.Fatalf("iteration %d (killed %v): %d messages accepted by the server but not recorded as sent: %v", i, k, len(unrecorded), unrecorded)
		}
	}
	loopDone := time.Now()

	// Finish without killing: passes until nothing is queued.
	rs.SetReplyDelay(0)
	for n := 0; ; n++ {
		pass(nil)
		queued := 0
		for _, e := range outboxJSON(t, config) {
			if e.State == "queued" {
				queued++
			}
		}
		if queued == 0 {
			break
		}
		if n == 10 {
			t.Fatalf("still %d deliveries queued after 10 passes without a crash", queued)
		}
	}

	// The database opens read-write and is consistent.
	st, err := kvstore.Open(db, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	st.Close()

	if rows := outboxJSON(t, config); len(rows) != 0 {
		t.Errorf("outbox shows %d queued or failed deliveries after the final pass, e.g. %+v", len(rows), rows[0])
	}
	all := outboxJSON(t, config, "--all")
	byID := make(map[string]outboxEntry, len(all))
	states := map[string]int{}
	for _, e := range all {
		states[e.State]++
		if e.State != "sent" {
			t.Errorf("delivery %s is %s (%s), want sent", e.Key, e.State, e.LastError)
			continue
		}
		if want := expectedMessageID(e.Key); e.MessageID != want {
			t.Errorf("delivery %s recorded Message-ID %s, want %s (derived from the key)", e.Key, e.MessageID, want)
		}
		byID[e.MessageID] = e
	}

	msgs := notices(t, rs)
	got := make(map[string][]smtpMsg)
	for _, m := range msgs {
		got[m.MessageID] = append(got[m.MessageID], m)
	}
	dups, twice := 0, 0
	for id, ms := range got {
		e, ok := byID[id]
		if !ok {
			t.Errorf("received Message-ID %s (to %v, instances %v) that no sent delivery carries", id, ms[0].To, ms[0].Instances)
			continue
		}
		for _, m := range ms {
			// A bulletin or weekly summary (e.Instance == "") is about no
			// one instance; every other delivery is about exactly one.
			wantInstances := []string{e.Instance}
			if e.Instance == "" {
				wantInstances = nil
			}
			if len(m.To) != 1 || m.To[0] != e.To || !slices.Equal(m.Instances, wantInstances) {
				t.Errorf("message %s went to %v about %v; its delivery %s is to %s about %s", id, m.To, m.Instances, e.Key, e.To, e.Instance)
			}
		}
		if len(ms) > 2 {
			t.Errorf("delivery %s received %d times, want at most 2", e.Key, len(ms))
		}
		if len(ms) == 2 {
			twice++
			if ms[0].Subject != ms[1].Subject {
				t.Logf("copy of %s has subject %q, original %q", e.Key, ms[1].Subject, ms[0].Subject)
			}
		}
		dups += len(ms) - 1
	}
	for id, e := range byID {
		if len(got[id]) == 0 {
			t.Errorf("delivery %s is recorded as sent but the server never received %s", e.Key, id)
		}
	}
	if dups > killed {
		t.Errorf("%d duplicate messages from %d killed passes: a crash may repeat only the one message in flight", dups, killed)
	}
	t.Logf("%d iterations (%d killed) in %v, then %v to finish; %d deliveries %v, %d messages received, %d delivered twice",
		iterations, killed, loopDone.Sub(started).Round(time.Millisecond), time.Since(loopDone).Round(time.Millisecond),
		len(all), states, len(msgs), twice)
	if killed == 0 {
		t.Error("no pass was killed: the test did not test anything")
	}
	if len(all) < 200 {
		t.Errorf("only %d deliveries: the workload is too small to land kills mid-pass", len(all))
	}
}

// seedFromEnv returns the seed in the environment variable name, or one
// from the clock when it is unset.
func seedFromEnv(tb testing.TB, name string) uint64 {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return uint64(time.Now().UnixNano())
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		tb.Fatalf("%s=%q: want a number", name, s)
	}
	return n
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

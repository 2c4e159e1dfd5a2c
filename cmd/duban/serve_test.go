package main

// End-to-end tests of `duban serve --once`: the real CLI entry point, a
// real bbolt file, the embedded calendar and a real SMTP server on
// 127.0.0.1 (STARTTLS with a self-signed certificate trusted through
// mail.smtp.ca_file, AUTH LOGIN or PLAIN, password from the environment).

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"duban/notify"
	"duban/notify/smtptest"
	"duban/tracker"
	"duban/tracker/kvstore/pgtest"
)

// mailEnv is a scratch installation mailing through a test SMTP server.
type mailEnv struct {
	*testEnv
	srv *smtptest.Server
}

// newMailEnv writes a config for the smtp transport (auth "login" or
// "plain") with a short retry back-off: 1m doubling up to 4m.
func newMailEnv(t *testing.T, auth string) *mailEnv {
	t.Helper()
	srv := startSMTPServer(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), srv.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DUBAN_MAIL_SMTP_PASSWORD", smtptest.Password)
	cfg := fmt.Sprintf(`db: duban.db
admin: {socket: %s}
mail:
  transport: smtp
  from: 市政府督查室 <ducha@example.gov.cn>
  smtp:
    host: 127.0.0.1
    port: %d
    tls: starttls
    ca_file: ca.pem
    username: %s
    auth: %s
    timeout: 5s
  retry: {initial: 1m, max: 4m}
log: {level: warn}
`, shortSocket(t, dir), srv.Port, smtptest.User, auth)
	e := &testEnv{t: t, dir: dir, config: filepath.Join(dir, "duban.yaml"), db: filepath.Join(dir, "duban.db")}
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &mailEnv{testEnv: e, srv: srv}
}

// shortSocket is a socket path unique to dir and short enough for the
// ~108-byte limit of unix socket paths.
func shortSocket(t *testing.T, dir string) string {
	h := fnv.New64a()
	h.Write([]byte(dir))
	sock := filepath.Join(os.TempDir(), fmt.Sprintf("duban-%x.sock", h.Sum64()))
	t.Cleanup(func() { os.Remove(sock) })
	return sock
}

// pass runs `duban serve --once --at at` and returns the messages the
// server accepted during it, decoded.
func (e *mailEnv) pass(at string) []parsedMail {
	e.t.Helper()
	before := len(e.srv.Messages())
	code, out, stderr := e.run("serve", "--once", "--at", at)
	if code != 0 {
		e.t.Fatalf("serve --once --at %s: exit %d\nstdout: %s\nstderr: %s", at, code, out, stderr)
	}
	if strings.Contains(stderr, smtptest.Password) || strings.Contains(out, smtptest.Password) {
		e.t.Errorf("serve printed the SMTP password: %s", stderr)
	}
	var msgs []parsedMail
	for _, r := range e.srv.Messages()[before:] {
		msgs = append(msgs, parseMail(e.t, r))
	}
	return msgs
}

// notices drops the reports (monthly bulletin, weekly summary) from msgs,
// recognised by the Message-ID of their outbox key: they are mails of
// their own, not notice digests.
func (e *mailEnv) notices(msgs []parsedMail) []parsedMail {
	e.t.Helper()
	reports := map[string]bool{}
	for _, r := range e.outbox("--all") {
		if !noticeLevels[tracker.Level(r.Level)] {
			m := notify.Message{Key: r.Key, From: mail.Address{Address: "ducha@example.gov.cn"}}
			reports[m.MessageID()] = true
		}
	}
	var out []parsedMail
	for _, p := range msgs {
		if !reports[p.Header.Get("Message-Id")] {
			out = append(out, p)
		}
	}
	return out
}

// byRecipient groups the notice digests among msgs by their envelope
// recipient, checking that each went to exactly one address, the one in
// its To header.
func (e *mailEnv) byRecipient(msgs []parsedMail) map[string][]parsedMail {
	t := e.t
	t.Helper()
	m := make(map[string][]parsedMail)
	for _, p := range e.notices(msgs) {
		if len(p.Envelope.To) != 1 {
			t.Errorf("digest %q has envelope recipients %v, want one", p.Subject, p.Envelope.To)
			continue
		}
		to := p.Envelope.To[0]
		if len(p.To) != 1 || p.To[0].Address != to {
			t.Errorf("digest to %s has To header %v", to, p.To)
		}
		if p.Envelope.From != "ducha@example.gov.cn" {
			t.Errorf("envelope sender %q, want ducha@example.gov.cn", p.Envelope.From)
		}
		m[to] = append(m[to], p)
	}
	return m
}

// servedOutboxRow is one row of `duban outbox --format json`.
type servedOutboxRow struct {
	Key         string    `json:"key"`
	Notice      string    `json:"notice"`
	Instance    string    `json:"instance"`
	Step        int       `json:"step"`
	Rep         int       `json:"rep"`
	Level       string    `json:"level"`
	To          string    `json:"to"`
	At          time.Time `json:"at"`
	Late        bool      `json:"late"`
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	SentAt      time.Time `json:"sent_at"`
	LastError   string    `json:"last_error"`
}

func (e *testEnv) outbox(args ...string) []servedOutboxRow {
	e.t.Helper()
	out := e.mustRun(append([]string{"outbox", "--format", "json"}, args...)...)
	var rows []servedOutboxRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		e.t.Fatalf("outbox output is not a JSON array: %v\n%s", err, out)
	}
	return rows
}

// noticeRows is outbox without the reports (bulletin, weekly summary).
func (e *testEnv) noticeRows(args ...string) []servedOutboxRow {
	e.t.Helper()
	var out []servedOutboxRow
	for _, r := range e.outbox(args...) {
		if noticeLevels[tracker.Level(r.Level)] {
			out = append(out, r)
		}
	}
	return out
}

// writeTemp writes a file into the env's directory and returns its path.
func (e *testEnv) writeTemp(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// atTime parses a time in Asia/Shanghai (as --at does).
func atTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := parseAt(s, shanghaiLoc(t))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// The first pass, on a bbolt file and on PostgreSQL (where `serve --once`
// takes the leader lease, and its mail names the node and the term).
func TestServeFirstPassMailsEachUnitHeadOneDigestWithItsAssignments(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { firstPassMailsDigests(t, newMailEnv(t, "login")) })
	t.Run("postgres", func(t *testing.T) {
		e := newMailEnv(t, "login")
		e.onPostgres(pgtest.URL(t), "cluster: {node: duban-a}\n")
		msgs := firstPassMailsDigests(t, e)
		for _, m := range msgs {
			if m.Header.Get("X-Duban-Node") != "duban-a" || m.Header.Get("X-Duban-Term") != "1" {
				t.Errorf("message to %v: node %q term %q, want duban-a under term 1", m.Envelope.To,
					m.Header.Get("X-Duban-Node"), m.Header.Get("X-Duban-Term"))
			}
		}
	})
}

// onPostgres points e's config at the PostgreSQL database dbURL, with
// extra config lines.
func (e *testEnv) onPostgres(dbURL, extra string) {
	e.t.Helper()
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "db: duban.db\n", fmt.Sprintf("db: %q\n", dbURL), 1) + extra
	if err := os.WriteFile(e.config, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.db = dbURL
}

// firstPassMailsDigests checks the first pass after tracking and returns
// its messages.
func firstPassMailsDigests(t *testing.T, e *mailEnv) []parsedMail {
	e.importAt("2026-09-21 08:00")
	first := e.pass("2026-09-21 08:01")
	byTo := e.byRecipient(first)

	type assigned struct{ id, title string }
	want := map[string][]assigned{
		"wang@example.gov.cn": {{"cosign-118", "关于规范行政执法的意见(会签稿)"},
			{"opinion-203/fzj", "《市政府工作规则》修订征求意见"}, {"weekly-cases/2026-09-03/fzj", "执行难案件进展周报"}},
		"zhou@example.gov.cn": {{"minutes-31", "第31次常务会议纪要签发"}, {"weekly-cases/2026-09-03/mishu", "执行难案件进展周报"}},
		"liu@example.gov.cn":  {{"filing-0930", "公务用车改革情况备案"}, {"opinion-203", "《市政府工作规则》修订征求意见"}},
		"chen@example.gov.cn": {{"monthly-accounts/2026-09-05/caizheng", "上月会计月报表"}, {"opinion-203/caizheng", "《市政府工作规则》修订征求意见"}},
	}
	for head, items := range want {
		msgs := byTo[head]
		if len(msgs) != 1 {
			t.Errorf("%s got %d messages, want one digest", head, len(msgs))
			continue
		}
		m := msgs[0]
		// Each instance appears once (SPEC §6): its 督办通知, or the more
		// urgent notice of an instance already past due sent in its place,
		// which then carries deadline.ics.
		var got []string
		for _, en := range m.Entries {
			if slices.Contains(got, en.ID) {
				t.Errorf("%s: %s appears twice in one digest", head, en.ID)
			}
			got = append(got, en.ID)
		}
		var wantIDs []string
		for _, a := range items {
			wantIDs = append(wantIDs, a.id)
			var en *digestEntry
			for i := range m.Entries {
				if m.Entries[i].ID == a.id {
					en = &m.Entries[i]
				}
			}
			if en == nil {
				continue
			}
			if en.Title != a.title {
				t.Errorf("%s: notice for %s has title %q, want %q", head, a.id, en.Title, a.title)
			}
			if en.Late {
				t.Errorf("%s: the first notice of %s, one minute after tracking, is marked late", head, a.id)
			}
			if en.Level != digestLevelNames["assigned"] {
				k := "|" + head
				var assigned *servedOutboxRow
				for _, r := range e.outbox("--all") {
					if r.Instance == a.id && r.Step == 0 && strings.HasSuffix(r.Key, k) {
						assigned = &r
					}
				}
				if assigned == nil || assigned.State != "superseded" {
					t.Errorf("%s: %s sent as %s, and its assigned notice is %+v, want superseded", head, a.id, en.Level, assigned)
				}
				if _, ok := m.Attachments["deadline.ics"]; !ok {
					t.Errorf("%s: the notice standing for %s's 督办通知 has no deadline.ics", head, a.id)
				}
			}
		}
		for _, id := range wantIDs {
			if !slices.Contains(got, id) {
				t.Errorf("%s: no notice for newly assigned %s among %v", head, id, got)
			}
		}
		// The subject counts the entries: 【督办汇总】您有N项督办事项…
		wantSubject := fmt.Sprintf("【督办汇总】您有%d项督办事项", len(m.Entries))
		if !strings.HasPrefix(m.Subject, wantSubject) {
			t.Errorf("%s: subject %q, want it to start with %q", head, m.Subject, wantSubject)
		}
		if !strings.Contains(m.HTML, "督办通知") {
			t.Errorf("%s: the HTML alternative lacks the notices", head)
		}
	}
	// The 督办通知 carries document number, requirements, deadline and hard limit.
	if m := byTo["zhou@example.gov.cn"]; len(m) == 1 {
		en := m[0].entry("minutes-31", "assigned")
		fields := map[string]string{
			"文　　号": "洛政办〔2026〕31号",
			"办理要求": "会议纪要签发并报市政府办公室",
			"责任单位": "市政府办公室秘书科",
			"办理时限": "2026年9月28日(星期一)24时前",
			"最迟时限": "2026年10月8日(星期四)24时前",
		}
		for name, v := range fields {
			if got, ok := en.field(name); !ok || got != v {
				t.Errorf("minutes-31 assigned notice: %s = %q, want %q\n%s", name, got, v, m[0].Text)
			}
		}
		if !strings.HasPrefix(m[0].Text, "您好：\n") || !strings.Contains(m[0].Text, "市政府督查室\n联系邮箱：ducha@example.gov.cn") {
			t.Errorf("digest greeting or signature wrong:\n%s", m[0].Text)
		}
	}
	// letter-77 has no unit yet: it gets no assigned notice.
	for _, msgs := range byTo {
		for _, m := range msgs {
			if m.entry("letter-77", "assigned") != nil {
				t.Errorf("pending letter-77 got an assigned notice (to %v)", m.Envelope.To)
			}
		}
	}
	// Nothing left queued; a second pass a minute later sends nothing.
	if q := e.noticeRows(); len(q) != 0 {
		t.Errorf("outbox after the pass: %+v, want empty", q)
	}
	if msgs := e.pass("2026-09-21 08:02"); len(msgs) != 0 {
		t.Errorf("second pass sent %d messages, want none", len(msgs))
	}
	return first
}

func (e *testEnv) importAt(at string) {
	e.t.Helper()
	e.mustRun("import", examplePath("units.yaml"), examplePath("worked-2026.yaml"), "--at", at)
}

func TestServeSendsDueNoticeAtSendTimeOnTheLastDayOnce(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importAt("2026-09-25 10:00")
	e.pass("2026-09-25 10:01")
	// minutes-31's last day is Mon 28 Sep: the 今日到期 notice goes to the
	// unit head and the leader at 09:00 that morning, not before.
	if msgs := e.pass("2026-09-28 08:59"); len(msgs) != 0 {
		t.Errorf("pass at 08:59 sent %d messages, want none before send_time", len(msgs))
	}
	byTo := e.byRecipient(e.pass("2026-09-28 09:00"))
	for _, to := range []string{"zhou@example.gov.cn", "li@example.gov.cn"} {
		if len(byTo[to]) != 1 {
			t.Errorf("%s got %d messages at 09:00, want 1", to, len(byTo[to]))
			continue
		}
		en := byTo[to][0].entry("minutes-31", "due")
		if en == nil {
			t.Errorf("%s: no 今日到期 notice for minutes-31:\n%s", to, byTo[to][0].Text)
			continue
		}
		if en.Late {
			t.Errorf("%s: the due notice sent on time is marked late", to)
		}
		if v, _ := en.field("办理时限"); v != "2026年9月28日(星期一)24时前" {
			t.Errorf("%s: 办理时限 %q", to, v)
		}
	}
	if m := byTo["li@example.gov.cn"]; len(m) == 1 && m[0].Subject != "【今日到期】第31次常务会议纪要签发" {
		t.Errorf("leader's subject %q, want 【今日到期】第31次常务会议纪要签发", m[0].Subject)
	}
	// Nothing new is due: a pass at the same instant or later sends nothing.
	for _, at := range []string{"2026-09-28 09:00", "2026-09-28T09:00:30+08:00", "2026-09-28 09:30", "2026-09-28 17:00"} {
		if msgs := e.pass(at); len(msgs) != 0 {
			t.Errorf("pass at %s sent %d messages (to %v), want none", at, len(msgs), msgs[0].Envelope.To)
		}
	}
	// The server holds exactly one due notice for minutes-31 per recipient.
	count := map[string]int{}
	for _, r := range e.srv.Messages() {
		p := parseMail(t, r)
		if p.entry("minutes-31", "due") != nil {
			count[r.To[0]]++
		}
	}
	if count["zhou@example.gov.cn"] != 1 || count["li@example.gov.cn"] != 1 || len(count) != 2 {
		t.Errorf("due notices for minutes-31 by recipient: %v, want zhou and li once each", count)
	}
}

func TestServeAfterAWeekDownCollapsesMissedNoticesIntoOneDigestPerRecipient(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importAt("2026-10-08 10:00")
	first := e.pass("2026-10-08 10:00")
	if len(first) == 0 {
		t.Fatal("the first pass sent nothing")
	}
	// Down from Thu 8 Oct 10:00 to Thu 15 Oct 10:00: minutes-31 alone
	// missed six 逾期催办 (9, 10, 12, 13, 14, 15 Oct) and its escalation (9 Oct).
	msgs := e.pass("2026-10-15 10:00")
	byTo := e.byRecipient(msgs)
	for to, ms := range byTo {
		if len(ms) != 1 {
			t.Errorf("%s got %d messages after the downtime, want one digest", to, len(ms))
		}
	}
	for _, to := range []string{"wang@example.gov.cn", "zhou@example.gov.cn", "liu@example.gov.cn", "chen@example.gov.cn",
		"li@example.gov.cn", "ducha@example.gov.cn"} {
		if len(byTo[to]) == 0 {
			t.Errorf("%s got no catch-up digest", to)
		}
	}
	for to, ms := range byTo {
		seen := map[string]bool{}
		for _, en := range ms[0].Entries {
			k := en.ID
			if seen[k] {
				t.Errorf("%s: %s appears twice in the catch-up digest", to, k)
			}
			seen[k] = true
			if !en.Late {
				t.Errorf("%s: %s %s missed during downtime is not marked （补发）", to, en.Level, en.ID)
			}
		}
		if !strings.Contains(ms[0].Text, "补发说明：本通知因系统停机未能按时发出，现予补发。") {
			t.Errorf("%s: the digest does not explain the late notices", to)
		}
	}
	if z := byTo["zhou@example.gov.cn"]; len(z) == 1 {
		// One entry per instance: the escalation, the most urgent; the
		// overdue notice is superseded by it.
		if z[0].entry("minutes-31", "overdue") != nil || z[0].entry("minutes-31", "escalation") == nil {
			t.Errorf("zhou's catch-up digest: want minutes-31's escalation alone:\n%s", z[0].Text)
		}
		if en := z[0].entry("minutes-31", "escalation"); en != nil {
			// As of 15 Oct, 28 Sep's deadline is 10 working days past
			// (29, 30 Sep, 8, 9, 10 (make-up), 12, 13, 14, 15 Oct … counted by the calendar).
			if v, ok := en.field("逾期情况"); !ok || !strings.HasPrefix(v, "已逾期") {
				t.Errorf("minutes-31 overdue entry without 逾期情况: %v", en.Lines)
			}
		}
	}
	// The outbox: for minutes-31 and each level only the latest missed
	// notice was decided, the earlier ones are recorded as skipped; of
	// those, the unit got the escalation, its overdue notice superseded.
	all := e.outbox("--all")
	sent, skipped, superseded := map[string]int{}, map[string]int{}, map[string]int{}
	for _, r := range all {
		if r.Instance != "minutes-31" || !r.At.After(atTime(t, "2026-10-08 10:00")) {
			continue
		}
		switch r.State {
		case "sent":
			sent[r.Level+" "+r.To]++
			if !r.Late {
				t.Errorf("%s sent after downtime is not marked late", r.Key)
			}
		case "skipped":
			skipped[r.Level]++
		case "superseded":
			superseded[r.Level+" "+r.To]++
		default:
			t.Errorf("%s: state %s", r.Key, r.State)
		}
	}
	wantSent := map[string]int{"escalation zhou@example.gov.cn": 1,
		"escalation li@example.gov.cn": 1, "escalation ducha@example.gov.cn": 1}
	if fmt.Sprint(sent) != fmt.Sprint(wantSent) {
		t.Errorf("minutes-31 notices sent after the downtime: %v, want %v", sent, wantSent)
	}
	if want := map[string]int{"overdue zhou@example.gov.cn": 1}; fmt.Sprint(superseded) != fmt.Sprint(want) {
		t.Errorf("minutes-31 notices superseded: %v, want %v", superseded, want)
	}
	if skipped["overdue"] != 5 || skipped["escalation"] != 0 {
		t.Errorf("minutes-31 notices skipped: %v, want 5 overdue and no escalation", skipped)
	}
	// A later pass sends nothing more, and the escalation reached the
	// leader and the office exactly once over all passes.
	if more := e.pass("2026-10-15 10:01"); len(more) != 0 {
		t.Errorf("a pass right after the catch-up sent %d messages", len(more))
	}
	esc := map[string]int{}
	for _, r := range e.srv.Messages() {
		if parseMail(t, r).entry("minutes-31", "escalation") != nil {
			esc[r.To[0]]++
		}
	}
	if esc["li@example.gov.cn"] != 1 || esc["ducha@example.gov.cn"] != 1 || esc["zhou@example.gov.cn"] != 1 {
		t.Errorf("minutes-31 escalations received: %v, want leader, office and unit once each", esc)
	}
}

func TestServeSendsNothingForAnInstanceMarkedDone(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importAt("2026-09-25 10:00")
	first := e.byRecipient(e.pass("2026-09-25 10:01"))
	if len(first["zhou@example.gov.cn"]) != 1 || first["zhou@example.gov.cn"][0].entry("minutes-31", "assigned") == nil {
		t.Fatalf("zhou did not get the minutes-31 assigned notice: %v", first["zhou@example.gov.cn"])
	}
	e.mustRun("done", "minutes-31", "--note", "已签发", "--at", "2026-09-25 11:00")
	// The due day, the overdue days and the escalation day all pass.
	for _, at := range []string{"2026-09-28 09:00", "2026-09-29 09:00", "2026-09-30 09:00", "2026-10-09 09:00", "2026-10-12 09:00"} {
		for _, m := range e.pass(at) {
			for _, en := range m.Entries {
				if en.ID == "minutes-31" {
					t.Errorf("pass at %s: %s got %s for minutes-31 after it was done", at, m.Envelope.To, en.Level)
				}
			}
			if m.Envelope.To[0] == "li@example.gov.cn" {
				t.Errorf("pass at %s: the leader got a message (%s) though minutes-31 is done", at, m.Subject)
			}
		}
	}
	for _, r := range e.outbox("--all") {
		if r.Instance == "minutes-31" && r.Level != "assigned" {
			t.Errorf("outbox has %s (%s) for done minutes-31", r.Key, r.State)
		}
	}
	// A control: another open instance was chased on the same passes.
	n := 0
	for _, r := range e.outbox("--all") {
		if r.Instance == "filing-0930" && r.State == "sent" && r.Level != "assigned" {
			n++
		}
	}
	if n == 0 {
		t.Error("filing-0930 (open) got no notices on the same passes: the passes did not run")
	}
}

func TestServeRetriesTemporaryFailureAfterBackoffAndDeliversOnce(t *testing.T) {
	e := newMailEnv(t, "plain")
	e.importAt("2026-09-25 10:00")
	e.srv.FailData(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"})
	if msgs := e.pass("2026-09-25 10:01"); len(msgs) != 0 {
		t.Fatalf("server accepted %d messages while answering 451", len(msgs))
	}
	queued := e.noticeRows()
	if len(queued) == 0 {
		t.Fatal("nothing queued after a 451")
	}
	recipients := map[string]bool{}
	for _, r := range queued {
		recipients[r.To] = true
		if r.State != "queued" || r.Attempts != 1 || !strings.Contains(r.LastError, "451") {
			t.Errorf("%s after a 451: state %s attempts %d error %q; want queued, 1, 451", r.Key, r.State, r.Attempts, r.LastError)
		}
		if want := atTime(t, "2026-09-25 10:02"); !r.NextAttempt.Equal(want) {
			t.Errorf("%s next attempt %v, want %v (retry.initial 1m)", r.Key, r.NextAttempt, want)
		}
	}
	// Still failing at the retry: the back-off doubles to 2m.
	e.pass("2026-09-25 10:02")
	for _, r := range e.noticeRows() {
		if r.Attempts != 2 || !r.NextAttempt.Equal(atTime(t, "2026-09-25 10:04")) {
			t.Errorf("%s after two 451s: attempts %d next %v; want 2, 10:04", r.Key, r.Attempts, r.NextAttempt)
		}
	}
	// The server recovers; before the back-off ends nothing is sent.
	e.srv.FailData(nil)
	if msgs := e.pass("2026-09-25 10:03"); len(msgs) != 0 {
		t.Errorf("pass within the back-off sent %d messages", len(msgs))
	}
	byTo := e.byRecipient(e.pass("2026-09-25 10:04"))
	for to := range recipients {
		if len(byTo[to]) != 1 {
			t.Errorf("%s got %d messages at the retry, want 1", to, len(byTo[to]))
		}
	}
	if len(byTo) != len(recipients) {
		t.Errorf("retry mailed %d recipients, want %d", len(byTo), len(recipients))
	}
	if q := e.noticeRows(); len(q) != 0 {
		t.Errorf("still queued after the retry: %+v", q)
	}
	for _, r := range e.noticeRows("--all") {
		if r.State == "sent" && r.Attempts != 3 {
			t.Errorf("%s sent after %d attempts, want 3", r.Key, r.Attempts)
		}
	}
	if msgs := e.pass("2026-09-25 10:30"); len(msgs) != 0 {
		t.Errorf("a later pass re-sent %d messages", len(msgs))
	}
	auths := e.srv.Auths()
	if len(auths) == 0 || slices.ContainsFunc(auths, func(a smtptest.Auth) bool { return a.Mech != "PLAIN" || a.User != smtptest.User }) {
		t.Errorf("server saw AUTH %v, want PLAIN", auths)
	}
}

func TestServeRecordsPermanentRecipientFailureAndReportsItToTheOffice(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importAt("2026-09-25 10:00")
	const bad = "chen@example.gov.cn"
	e.srv.FailRecipient(bad, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"})
	byTo := e.byRecipient(e.pass("2026-09-25 10:01"))
	if len(byTo[bad]) != 0 {
		t.Errorf("the server accepted mail for %s", bad)
	}
	if len(byTo["wang@example.gov.cn"]) != 1 || len(byTo["zhou@example.gov.cn"]) != 1 {
		t.Errorf("the other heads were not mailed: %v", byTo)
	}
	failed := e.noticeRows("--failed")
	if len(failed) == 0 {
		t.Fatal("outbox --failed is empty after a 550")
	}
	var failedIDs []string
	for _, r := range failed {
		if r.To != bad || r.State != "failed" || !strings.Contains(r.LastError, "550") {
			t.Errorf("failed row %s: to %s state %s error %q", r.Key, r.To, r.State, r.LastError)
		}
		failedIDs = append(failedIDs, r.Instance)
	}
	// The failure reports are queued to the office …
	var reports []servedOutboxRow
	for _, r := range e.outbox() {
		if r.Level == "failure" {
			reports = append(reports, r)
		}
	}
	if len(reports) != len(failed) {
		t.Errorf("%d failure reports queued for %d failed deliveries", len(reports), len(failed))
	}
	for _, r := range reports {
		if r.To != "ducha@example.gov.cn" || r.State != "queued" {
			t.Errorf("failure report %s: to %s state %s", r.Key, r.To, r.State)
		}
	}
	// … and delivered at the next pass, once, naming the unit and the reason.
	msgs := e.notices(e.pass("2026-09-25 10:02"))
	if len(msgs) != 1 || msgs[0].Envelope.To[0] != "ducha@example.gov.cn" {
		t.Fatalf("pass after the failure sent %d messages (%v), want the office's report", len(msgs), msgs)
	}
	rep := msgs[0]
	if !strings.HasPrefix(rep.Subject, "【邮件投递失败】") {
		t.Errorf("report subject %q", rep.Subject)
	}
	var reported []string
	for _, en := range rep.Entries {
		if en.Level != digestLevelNames["failure"] {
			t.Errorf("report entry %s level %s", en.ID, en.Level)
		}
		reported = append(reported, en.ID)
		if v, _ := en.field("失败原因"); !strings.Contains(v, bad) || !strings.Contains(v, "550") {
			t.Errorf("report for %s: 失败原因 %q, want the address and the 550", en.ID, v)
		}
		if v, _ := en.field("收件单位"); v != "市财政局" && v != "市财政局（协办）" {
			t.Errorf("report for %s: 收件单位 %q, want 市财政局", en.ID, v)
		}
	}
	slices.Sort(reported)
	slices.Sort(failedIDs)
	if !slices.Equal(reported, failedIDs) {
		t.Errorf("report covers %v, want %v", reported, failedIDs)
	}
	if more := e.pass("2026-09-25 10:03"); len(more) != 0 {
		t.Errorf("a later pass sent %d more messages", len(more))
	}
	if f := e.noticeRows("--failed"); len(f) != len(failed) {
		t.Errorf("outbox --failed has %d rows after the report, want %d still shown", len(f), len(failed))
	}
	// The table form shows the failures too (exit 0).
	if out := e.mustRun("outbox", "--failed"); !strings.Contains(out, bad) || !strings.Contains(out, "发送失败") {
		t.Errorf("outbox --failed table:\n%s", out)
	}
}

func TestServeMailDecodesAndTitleInjectionIsRejectedAtImport(t *testing.T) {
	e := newMailEnv(t, "login")
	e.mustRun("import", examplePath("units.yaml"), "--at", "2026-09-21 09:00")

	// A title with CRLF is refused at import (exit 2), naming file, line and field.
	evil := e.writeTemp("evil.yaml", "items:\n  - id: evil-1\n    title: \"安全检查\\r\\nBcc: evil@x.cn\"\n    unit: fzj\n    start: 2026-09-21 10:00\n    due: 3wd\n")
	before := e.dbHash()
	code, _, stderr := e.run("import", evil, "--at", "2026-09-21 09:00")
	if code != 2 || !strings.Contains(stderr, "evil.yaml:3") || !strings.Contains(stderr, "title") {
		t.Errorf("import of a CRLF title: exit %d, stderr %q; want 2 naming evil.yaml:3 and title", code, stderr)
	}
	if e.dbHash() != before {
		t.Error("the rejected import changed the database")
	}

	// Multi-line requirements are allowed; a CRLF + "Bcc:" in them stays in the body.
	e.mustRun("import", e.writeTemp("safety.yaml", `items:
  - id: safety-9
    title: 安全生产大检查情况报告
    doc: 洛安委〔2026〕9号
    requirements: "报送检查情况\r\nBcc: evil@x.cn"
    unit: fzj
    start: 2026-09-21 10:00
    due: 3wd
`), "--at", "2026-09-21 09:00")
	msgs := e.notices(e.pass("2026-09-21 09:01"))
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want the one 督办通知 to the head of 市法制局", len(msgs))
	}
	m := msgs[0]
	if got := m.Envelope.To; len(got) != 1 || got[0] != "wang@example.gov.cn" {
		t.Errorf("envelope recipients %v, want only wang@example.gov.cn", got)
	}
	for _, line := range strings.Split(m.HeaderRaw, "\r\n") {
		if strings.HasPrefix(strings.ToLower(line), "bcc:") {
			t.Errorf("received header has a Bcc line: %q", line)
		}
	}
	if m.Header.Get("Bcc") != "" {
		t.Errorf("Bcc header %q", m.Header.Get("Bcc"))
	}
	for _, h := range m.PartHeaders {
		if len(h) == 0 || h.Get("Bcc") != "" {
			t.Errorf("MIME part header %v", h)
		}
	}
	if len(m.PartHeaders) < 2 {
		t.Errorf("%d MIME parts, want text and HTML at least", len(m.PartHeaders))
	}
	// Subject: RFC 2047 encoded words that decode to the Chinese text.
	if raw := m.Header.Get("Subject"); !strings.Contains(strings.ToLower(raw), "=?utf-8?") {
		t.Errorf("raw Subject %q is not RFC 2047-encoded", raw)
	}
	if m.Subject != "【督办通知】安全生产大检查情况报告" {
		t.Errorf("decoded Subject %q", m.Subject)
	}
	// Body: multipart (alternative, or mixed around it when an attachment
	// is added), quoted-printable UTF-8 text and HTML.
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") && !strings.HasPrefix(ct, "multipart/mixed") {
		t.Errorf("Content-Type %q, want multipart", ct)
	}
	if !strings.Contains(string(m.Envelope.Data), "Content-Type: multipart/alternative") && !strings.HasPrefix(m.Header.Get("Content-Type"), "multipart/alternative") {
		t.Error("no multipart/alternative text and HTML")
	}
	if !strings.Contains(string(m.Envelope.Data), "Content-Transfer-Encoding: quoted-printable") {
		t.Error("no quoted-printable part")
	}
	if len(m.Entries) != 1 {
		t.Fatalf("entries %+v", m.Entries)
	}
	en := m.Entries[0]
	if en.Level != "督办通知" || en.Title != "安全生产大检查情况报告" || en.ID != "safety-9" {
		t.Errorf("entry %+v", en)
	}
	if v, _ := en.field("文　　号"); v != "洛安委〔2026〕9号" {
		t.Errorf("文号 %q", v)
	}
	if !strings.Contains(m.Text, "办理要求：报送检查情况\nBcc: evil@x.cn") {
		t.Errorf("the requirements are not in the text body as written:\n%s", m.Text)
	}
	if !strings.Contains(m.Text, "办理时限：2026年9月24日(星期四)24时前") {
		t.Errorf("text body lacks the deadline:\n%s", m.Text)
	}
	if !strings.Contains(m.HTML, "安全生产大检查情况报告") || !strings.Contains(m.HTML, "洛安委〔2026〕9号") {
		t.Errorf("HTML body lacks the notice:\n%s", m.HTML)
	}
}

func TestServeAuthLoginWithLowerCasePrompts(t *testing.T) {
	e := newMailEnv(t, "login")
	e.srv.SetLoginPrompts("username:", "password:")
	e.importAt("2026-09-21 08:00")
	msgs := e.pass("2026-09-21 08:01")
	if len(msgs) == 0 {
		t.Fatal("nothing delivered with lower-case AUTH LOGIN prompts")
	}
	if q := e.noticeRows(); len(q) != 0 {
		t.Errorf("still queued: %+v", q)
	}
	auths := e.srv.Auths()
	if len(auths) == 0 || slices.ContainsFunc(auths, func(a smtptest.Auth) bool { return a.Mech != "LOGIN" || a.User != smtptest.User }) {
		t.Errorf("server saw AUTH %v, want LOGIN", auths)
	}
}

func TestServeWrongPasswordKeepsDeliveriesQueued(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importAt("2026-09-21 08:00")
	t.Setenv("DUBAN_MAIL_SMTP_PASSWORD", "wr0ng-pa55")
	code, _, stderr := e.run("serve", "--once", "--at", "2026-09-21 08:01")
	if code != 1 || !strings.Contains(stderr, "credentials") {
		t.Errorf("serve with a wrong password: exit %d, stderr %q; want 1 and a credentials error", code, stderr)
	}
	if strings.Contains(stderr, "wr0ng-pa55") {
		t.Errorf("stderr shows the password: %s", stderr)
	}
	for _, r := range e.noticeRows("--all") {
		// skipped: missed before tracking (catch-up); superseded: a more
		// urgent notice of the same instance goes to the recipient instead.
		if r.State != "queued" && r.State != "skipped" && r.State != "superseded" {
			t.Errorf("%s is %s after an AUTH failure, want queued", r.Key, r.State)
		}
		if r.Attempts != 0 {
			t.Errorf("%s: %d attempts counted for an AUTH failure, want 0", r.Key, r.Attempts)
		}
	}
	t.Setenv("DUBAN_MAIL_SMTP_PASSWORD", smtptest.Password)
	if msgs := e.pass("2026-09-21 08:02"); len(msgs) == 0 {
		t.Error("nothing delivered once the password was fixed")
	}
	if q := e.noticeRows(); len(q) != 0 {
		t.Errorf("still queued: %+v", q)
	}
}

// An assignment stored to the second, made within the same second as the
// previous pass (an admin command waking the daemon right after a pass),
// still gets its 督办通知.
func TestServeSendsAssignedNoticeForAnAssignmentInTheSecondOfThePreviousPass(t *testing.T) {
	e := newTestEnv(t)
	e.importAt("2026-09-28 09:30")
	e.mustRun("serve", "--once", "--at", "2026-09-28T10:00:00.4+08:00")
	e.mustRun("assign", "letter-77", "--unit", "wendian", "--at", "2026-09-28T10:00:00.8+08:00")
	e.mustRun("serve", "--once", "--at", "2026-09-28T10:00:01+08:00")
	var sent []string
	for _, r := range e.outbox("--all") {
		if r.Instance == "letter-77" && r.Level == "assigned" {
			sent = append(sent, r.To+" "+r.State)
		}
	}
	if !slices.Equal(sent, []string{"liu@example.gov.cn sent"}) {
		t.Errorf("letter-77 assigned notices: %v, want one sent to liu@example.gov.cn (head of 文电处)", sent)
	}
}

package main

// Issue 7, "notices that must stay true": each test drives `duban serve
// --once` through real passes against the test SMTP server and reads the
// mail back.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/config"
	"duban/notify"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// extraPolicies are appended to the example units.yaml, whose last
// section is its policy list.
const extraPolicies = `
  - id: due-only
    steps:
      - {at: 0, to: [unit], level: due}
  - id: chase
    steps:
      - {at: +1wd, every: 1wd, to: [unit], level: overdue}
`

// writeUnits writes the example units.yaml with extraPolicies.
func (e *testEnv) writeUnits() string {
	e.t.Helper()
	b, err := os.ReadFile(examplePath("units.yaml"))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.writeTemp("units.yaml", string(b)+extraPolicies)
}

// instance reads one stored instance (the daemon is not running).
func (e *testEnv) instance(id string) *tracker.Instance {
	e.t.Helper()
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	var in *tracker.Instance
	if err := st.View(func(tx tracker.Tx) error {
		in, err = tx.Instance(id)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return in
}

// Point 4: `at: 0` goes out at send_time on the last day, or on the
// working day before when the due instant is not later than send_time
// (or the last day is a day off), never at or after the deadline.
func TestServeDueNoticeGoesOutBeforeTheDeadlineNeverAtIt(t *testing.T) {
	e := newMailEnv(t, "login")
	units := e.writeUnits()
	items := e.writeTemp("items.yaml", `items:
  - id: weekly-noon
    title: 周报
    units: [mishu]
    every: weekly thu 12:00
    from: 2026-10-12
    policy: due-only
  - id: early-timed
    title: 早间报送
    unit: fzj
    start: 2026-10-12 10:00
    due: 2026-10-15 09:00
    policy: due-only
  - id: fixed-sat
    title: 周六截止
    unit: caizheng
    start: 2026-10-12 10:00
    due: 2026-10-17
    policy: due-only
`)
	e.mustRun("import", units, items, "--at", "2026-10-12 10:00")
	e.pass("2026-10-12 10:01")

	type seen struct{ pass, level, overdue string }
	got := map[string][]seen{}
	for _, at := range []string{"2026-10-13 09:00", "2026-10-14 09:00", "2026-10-15 09:00", "2026-10-15 12:00",
		"2026-10-16 09:00", "2026-10-19 09:00"} {
		for _, m := range e.notices(e.pass(at)) {
			for _, en := range m.Entries {
				od, _ := en.field("逾期情况")
				got[en.ID] = append(got[en.ID], seen{at, en.Level, od})
			}
		}
	}
	want := map[string]seen{
		// Thursday 12:00: send_time 09:00 that day is before the deadline.
		"weekly-noon/2026-10-15/mishu": {"2026-10-15 09:00", "今日到期", ""},
		// Due at 09:00: not later than send_time, so the working day before.
		"early-timed": {"2026-10-14 09:00", "明日到期", ""},
		// A fixed date on a Saturday is not rolled: the Friday before.
		"fixed-sat": {"2026-10-16 09:00", "明日到期", ""},
	}
	for id, w := range want {
		if g := got[id]; len(g) != 1 || g[0] != w {
			t.Errorf("%s: due notices %v, want one %v", id, g, w)
		}
	}
	// Every due notice in the outbox was sent before its instance's deadline.
	rows := e.list()
	for _, r := range e.outbox("--all") {
		if r.Level != string(tracker.LevelDue) {
			continue
		}
		due, err := time.Parse(time.RFC3339, rows[r.Instance].Due)
		if err != nil {
			t.Fatalf("%s: due %q: %v", r.Instance, rows[r.Instance].Due, err)
		}
		if !r.At.Before(due) || (r.State == "sent" && !r.SentAt.Before(due)) {
			t.Errorf("%s: due notice at %s (sent %s), not before the deadline %s", r.Key, r.At, r.SentAt, due)
		}
	}
}

// Point 2: the first pass ever marks nothing 补发, and an item imported
// with a past start says where it stands; only notices that came due
// while the daemon was down are 补发.
func TestServeMarksOnlyNoticesMissedWhileDownAsLate(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importAt("2026-12-01 10:00") // September data, months later
	first := e.notices(e.pass("2026-12-01 10:01"))
	if len(first) == 0 {
		t.Fatal("the first pass sent nothing")
	}
	x := e.loadApp().x
	for _, m := range first {
		for _, en := range m.Entries {
			if en.Late {
				t.Errorf("first pass ever: %s %s marked （补发） to %v", en.Level, en.ID, m.Envelope.To)
			}
		}
		if strings.Contains(m.Text, "补发") {
			t.Errorf("first pass ever: digest to %v mentions 补发:\n%s", m.Envelope.To, m.Text)
		}
	}
	// minutes-31 (last day 28 Sep) is reported as it stands on 1 Dec.
	in := e.instance("minutes-31")
	wantOverdue := fmt.Sprintf("已逾期%d个工作日", x.OverdueWorkdays(in.Deadline, atTime(t, "2026-12-01 10:01")))
	var found bool
	for _, m := range first {
		for _, en := range m.Entries {
			if en.ID == "minutes-31" && m.Envelope.To[0] == "zhou@example.gov.cn" {
				found = true
				if v, _ := en.field("逾期情况"); v != wantOverdue {
					t.Errorf("minutes-31 first notice: 逾期情况 %q, want %q", v, wantOverdue)
				}
			}
		}
	}
	if !found {
		t.Error("zhou got no notice of minutes-31 at the first pass")
	}

	// Down for a week; an item with a past start is imported just
	// before the daemon comes back.
	items := e.writeTemp("late.yaml", `items:
  - id: late-import
    title: 补录的逾期事项
    unit: fzj
    start: 2026-11-02 10:00
    due: 5wd
    policy: standard
`)
	e.mustRun("import", items, "--at", "2026-12-08 09:59")
	back := e.byRecipient(e.pass("2026-12-08 10:00"))
	var z, w *digestEntry
	for _, m := range back["zhou@example.gov.cn"] {
		for i := range m.Entries {
			if m.Entries[i].ID == "minutes-31" {
				z = &m.Entries[i]
			}
		}
	}
	for _, m := range back["wang@example.gov.cn"] {
		for i := range m.Entries {
			if m.Entries[i].ID == "late-import" {
				w = &m.Entries[i]
			}
		}
	}
	if z == nil || !z.Late {
		t.Errorf("minutes-31's 催办 missed during the week down: %+v, want it marked （补发）", z)
	}
	li := e.instance("late-import")
	want := fmt.Sprintf("已逾期%d个工作日", x.OverdueWorkdays(li.Deadline, atTime(t, "2026-12-08 10:00")))
	switch {
	case w == nil:
		t.Error("wang got no notice of late-import")
	case w.Late:
		t.Errorf("late-import, imported a minute before the pass, is marked （补发）: %+v", w)
	default:
		if v, _ := w.field("逾期情况"); v != want {
			t.Errorf("late-import: 逾期情况 %q, want %q", v, want)
		}
	}
}

// Point 3: a catch-up digest names each instance once per recipient: the
// most urgent notice, the others recorded as superseded.
func TestServeDigestNamesEachInstanceOnceAndRecordsTheRestAsSuperseded(t *testing.T) {
	e := newMailEnv(t, "login")
	e.importAt("2026-10-09 10:30")
	e.pass("2026-10-09 10:31")
	// Down over the weekend: cosign-118's 到期提醒 (Sat 10 Oct, a make-up
	// working day) was missed; its 今日到期 (Mon 12 Oct) is due now.
	msgs := e.pass("2026-10-12 09:00")
	for _, m := range e.notices(msgs) {
		ids := map[string]int{}
		for _, en := range m.Entries {
			ids[en.ID]++
			if ids[en.ID] == 2 {
				t.Errorf("digest to %v names %s twice:\n%s", m.Envelope.To, en.ID, m.Text)
			}
		}
	}
	byTo := e.byRecipient(msgs)
	var levels []string
	for _, m := range byTo["wang@example.gov.cn"] {
		for _, en := range m.Entries {
			if en.ID == "cosign-118" {
				levels = append(levels, en.Level)
			}
		}
	}
	if len(levels) != 1 || levels[0] != "今日到期" {
		t.Errorf("wang's notices of cosign-118: %v, want [今日到期]", levels)
	}
	var reminder *servedOutboxRow
	rows := e.outbox("--all")
	for i, r := range rows {
		if r.Instance == "cosign-118" && r.Level == "reminder" && r.To == "wang@example.gov.cn" {
			reminder = &rows[i]
		}
	}
	if reminder == nil || reminder.State != "superseded" {
		t.Fatalf("cosign-118's missed reminder: %+v, want superseded", reminder)
	}
	var raw []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("outbox", "--all", "--format", "json")), &raw); err != nil {
		t.Fatal(err)
	}
	for _, r := range raw {
		if r["key"] == reminder.Key && !strings.HasPrefix(fmt.Sprint(r["superseded_by"]), "cosign-118|2|") {
			t.Errorf("outbox --all: %s superseded_by %v, want cosign-118's due notice (step 2)", reminder.Key, r["superseded_by"])
		}
	}
	if table := e.mustRun("outbox", "--all"); !strings.Contains(table, "已被取代") || !strings.Contains(table, reminder.Notice) {
		t.Errorf("outbox --all does not show the superseded reminder:\n%s", table)
	}
	if q := e.noticeRows(); len(q) != 0 {
		t.Errorf("still queued or failed: %+v", q)
	}
}

// Point 1: loading a holiday file in cron mode recomputes the stored
// deadlines; no 催办 is dropped for an identity collision, and whoever was
// told a deadline that moved gets a 更正 with the .ics UID kept and its
// SEQUENCE raised.
func TestServeOnceRecomputesAfterACalendarChangeWithoutLosingNotices(t *testing.T) {
	e := newMailEnv(t, "login")
	units := e.writeUnits()
	items := e.writeTemp("items.yaml", `items:
  - id: overdue-a
    title: 跨年逾期事项
    unit: mishu
    start: 2026-12-21 10:00
    due: 3wd
    policy: chase
  - id: moved-b
    title: 跨年新办事项
    unit: fzj
    start: 2026-12-31 10:00
    due: 5wd
    policy: standard
`)
	e.mustRun("import", units, items, "--at", "2026-12-21 10:00")
	assigned := e.byRecipient(e.pass("2026-12-21 10:01"))["wang@example.gov.cn"]
	if len(assigned) != 1 {
		t.Fatalf("wang got %d messages at the first pass, want the assigned notice", len(assigned))
	}
	told, _ := assigned[0].entry("moved-b", "assigned").field("办理时限")
	ics0 := string(assigned[0].AttachmentData["deadline.ics"])
	if !strings.Contains(ics0, "UID:moved-b@duban") || !strings.Contains(ics0, "SEQUENCE:0") {
		t.Fatalf("assigned notice's deadline.ics:\n%s", ics0)
	}
	day := atTime(t, "2026-12-22 09:00")
	for ; day.Before(atTime(t, "2027-01-06 00:00")); day = day.AddDate(0, 0, 1) {
		e.pass(day.Format("2006-01-02 15:04"))
	}
	before := e.list()["moved-b"].Due

	// The 2027 arrangement arrives: 1 January and Monday 4 January off
	// (4 January had counted as a working day and had its 催办).
	e.writeTemp("2027.json", `{"year": 2027, "papers": [], "days": [
  {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
  {"name": "元旦", "date": "2027-01-04", "isOffDay": true}]}`)
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.config, append(cfg, []byte("calendar: {files: [2027.json]}\n")...), 0o600); err != nil {
		t.Fatal(err)
	}

	byDay := map[string]map[string][]parsedMail{}
	for _, at := range []string{"2027-01-06 09:00", "2027-01-06 09:01", "2027-01-07 09:00"} {
		byDay[at] = e.byRecipient(e.pass(at))
	}
	// The 催办 of 6 and 7 January each go out once (the 6th used to
	// collide with the repetition number of the 4th and was dropped).
	for _, at := range []string{"2027-01-06 09:00", "2027-01-07 09:00"} {
		n := 0
		for _, m := range byDay[at]["zhou@example.gov.cn"] {
			if m.entry("overdue-a", "overdue") != nil {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: zhou got %d 催办 of overdue-a, want 1", at, n)
		}
	}
	if len(byDay["2027-01-06 09:01"]) != 0 {
		t.Errorf("a second pass a minute later sent mail: %v", byDay["2027-01-06 09:01"])
	}
	// moved-b: 5wd from 31 Dec is now 5, 6, 7, 8, 11 January.
	after := e.list()["moved-b"]
	if after.Due != "2027-01-12T00:00:00+08:00" || after.Due == before {
		t.Errorf("moved-b due %s after the calendar change (before %s), want 2027-01-12T00:00:00+08:00", after.Due, before)
	}
	ws := byDay["2027-01-06 09:00"]["wang@example.gov.cn"]
	if len(ws) != 1 {
		t.Fatalf("wang got %d messages after the calendar change, want one with the 更正", len(ws))
	}
	text := ws[0].Text
	for _, want := range []string{"（一）【更正】跨年新办事项", "原办理时限：" + told, "现办理时限：2027年1月11日(星期一)24时前", "事项编号：moved-b"} {
		if !strings.Contains(text, want) {
			t.Errorf("correction lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(ws[0].Subject, "更正") {
		t.Errorf("correction subject %q", ws[0].Subject)
	}
	ics1 := string(ws[0].AttachmentData["deadline.ics"])
	if !strings.Contains(ics1, "UID:moved-b@duban") || !strings.Contains(ics1, "SEQUENCE:1") ||
		!strings.Contains(ics1, "DTSTART;VALUE=DATE:20270111") {
		t.Errorf("correction's deadline.ics keeps the UID and raises SEQUENCE to 1 on 11 Jan:\n%s", ics1)
	}
	// History records the recompute; no notice identity occurs twice.
	show := e.mustRun("show", "moved-b")
	if !regexp.MustCompile(`期限重算.*→ 2027-01-11 24:00`).MatchString(show) {
		t.Errorf("show moved-b: no recompute in the history:\n%s", show)
	}
	seen := map[string]bool{}
	for _, r := range e.outbox("--all") {
		if seen[r.Key] {
			t.Errorf("outbox key %s twice", r.Key)
		}
		seen[r.Key] = true
	}
}

// Point 1 through the running daemon: SIGHUP with a new holiday file in
// calendar.files recomputes the stored deadline, records it in the
// history and mails the 更正 to the unit that was told the old one.
func TestDaemonHangupWithANewHolidayFileRecomputesAndCorrects(t *testing.T) {
	dir := t.TempDir()
	e := &testEnv{t: t, dir: dir, config: filepath.Join(dir, "duban.yaml"), db: filepath.Join(dir, "duban.db")}
	e.writeUnits()
	e.writeTemp("items.yaml", `items:
  - id: moved-b
    title: 跨年新办事项
    unit: fzj
    start: 2026-12-31 10:00
    due: 5wd
    policy: standard
`)
	sock := shortSocket(t, dir)
	conf := "db: duban.db\nadmin: {socket: " + sock + "}\ntracking: [units.yaml, items.yaml]\n" +
		"mail: {transport: file, file: {dir: outbox}}\nlog: {level: info}\n"
	e.writeTemp("duban.yaml", conf)
	d, logs := startTestDaemon(t, e, "2026-12-21 10:00")
	waitForSocket(t, sock)
	// The start pass sends the assigned notice: wang is told the deadline.
	var told bool
	for wait := time.Now().Add(10 * time.Second); !told && time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
		for _, r := range e.outbox("--all") {
			told = told || r.Instance == "moved-b" && r.Level == "assigned" && r.State == "sent"
		}
	}
	if !told {
		t.Fatalf("the assigned notice of moved-b was not sent:\n%s", logs.String())
	}
	before := e.list()["moved-b"].Due

	e.writeTemp("2027.json", `{"year": 2027, "papers": [], "days": [
  {"name": "元旦", "date": "2027-01-01", "isOffDay": true},
  {"name": "元旦", "date": "2027-01-04", "isOffDay": true}]}`)
	e.writeTemp("duban.yaml", conf+"calendar: {files: [2027.json]}\n")
	for range 2 { // the second Reload returns once the first reload's pass is over
		if err := d.Reload(t.Context()); err != nil {
			t.Fatalf("the daemon stopped: %v\n%s", err, logs.String())
		}
	}
	after := e.list()["moved-b"].Due
	if after != "2027-01-12T00:00:00+08:00" {
		t.Errorf("moved-b due %s after SIGHUP (before %s), want 2027-01-12T00:00:00+08:00\n%s", after, before, logs.String())
	}
	var corr []servedOutboxRow
	for _, r := range e.outbox("--all") {
		if r.Level == string(tracker.LevelCorrection) {
			corr = append(corr, r)
		}
	}
	if len(corr) != 1 || corr[0].Instance != "moved-b" || corr[0].To != "wang@example.gov.cn" || corr[0].State != "sent" {
		t.Errorf("corrections after SIGHUP: %+v, want one sent to wang for moved-b", corr)
	}
	if show := e.mustRun("show", "moved-b"); !regexp.MustCompile(`期限重算.* → 2027-01-11 24:00`).MatchString(show) {
		t.Errorf("show moved-b: the history lacks the recompute from %s:\n%s", before, show)
	}
}

// Point 3 at delivery: a notice still queued for retry when the next
// notice of the same instance comes due goes out in the same message as
// one entry, the most urgent; the other is recorded as superseded.
func TestDaemonRetriedNoticeIsSupersededByTheNextNoticeOfItsInstance(t *testing.T) {
	e := newTestEnv(t)
	e.importAt("2026-09-25 10:00")
	base := atTime(t, "2026-09-28 08:00")
	fixed := atTime(t, "2026-09-29 09:30")
	sender := &scriptedSender{fail: func(m *notify.Message) error {
		if m.To[0].Address == "zhou@example.gov.cn" && m.Date.Before(fixed) {
			return &smtpError451
		}
		return nil
	}}
	outbox := runBubble(t, e, base, 40*time.Hour, sender, func(c *config.Config) {
		c.Mail.Retry.Initial, c.Mail.Retry.Max = time.Hour, 2*time.Hour
	})
	var got []string
	for _, m := range sender.accepted {
		if m.To != "zhou@example.gov.cn" {
			continue
		}
		n := 0
		for _, en := range m.Entries {
			if en.ID == "minutes-31" {
				n++
				got = append(got, en.Level)
			}
		}
		if n > 1 {
			t.Errorf("message to zhou at %s names minutes-31 %d times: %+v", m.At, n, m.Entries)
		}
	}
	// (The 督办通知, on its own back-off schedule, may go in a message of its own.)
	count := map[string]int{}
	for _, l := range got {
		count[l]++
	}
	if count[digestLevelNames["due"]] != 0 || count[digestLevelNames["overdue"]] != 1 {
		t.Errorf("zhou received minutes-31 as %v, want one 逾期催办 and no 今日到期 (retried until after it was overdue)", got)
	}
	var due, overdue *tracker.Delivery
	for _, dl := range outbox {
		if dl.Instance == "minutes-31" && dl.To == "zhou@example.gov.cn" {
			switch dl.Level {
			case tracker.LevelDue:
				due = dl
			case tracker.LevelOverdue:
				overdue = dl
			}
		}
	}
	if due == nil || overdue == nil {
		t.Fatalf("minutes-31 deliveries to zhou: due %+v, overdue %+v", due, overdue)
	}
	if due.State != tracker.DeliverySuperseded || due.SupersededBy != overdue.Notice || overdue.State != tracker.DeliverySent {
		t.Errorf("due %s %s (by %q), overdue %s %s: want the due notice superseded by the sent overdue one",
			due.Key, due.State, due.SupersededBy, overdue.Key, overdue.State)
	}
}

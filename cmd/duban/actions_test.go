package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// showHistory is the history part of `show --format json`.
type showHistory struct {
	History []struct {
		At         time.Time `json:"at"`
		RecordedAt time.Time `json:"recorded_at"`
		Action     string    `json:"action"`
		From, To   string
		Note       string
	} `json:"history"`
}

func (e *testEnv) showHistory(id string) showHistory {
	e.t.Helper()
	var v showHistory
	if err := json.Unmarshal([]byte(e.mustRun("show", id, "--format", "json")), &v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// newYearItem is an item that starts on 30 December 2026.
const newYearItem = `items:
  - id: ny-1
    title: 元旦期间值班安排
    unit: fzj
    start: 2026-12-30 10:00
    due: 3wd
`

// TestDoneBeforeTheStartIsRefused: `done --at 2025-01-01` on an item that
// starts on 2026-12-30 was accepted and counted 按时办结. An effective time
// before the start or after the recording time is refused (exit 2,
// nothing changed); an accepted one keeps both times, and show prints
// both when they differ.
func TestDoneBeforeTheStartIsRefused(t *testing.T) {
	e := newTestEnv(t)
	recorded := atTime(t, "2027-01-04 16:00")
	e.clock = func() time.Time { return recorded }
	e.mustRun("import", examplePath("units.yaml"), e.writeTemp("ny.yaml", newYearItem), "--at", "2026-12-28 09:00")
	before := e.dbHash()
	for _, c := range []struct{ at, want string }{
		{"2025-01-01", "早于本事项的起始日 2026-12-30"},
		{"2026-12-29 18:00", "早于本事项的起始日 2026-12-30"},
		{"2027-01-04 16:30", "晚于登记时间 2027-01-04 16:00"},
	} {
		code, _, stderr := e.run("done", "ny-1", "--at", c.at)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("done --at %s: exit %d, stderr %q; want exit 2 saying %q", c.at, code, stderr, c.want)
		}
	}
	if e.dbHash() != before {
		t.Fatal("a refused action changed the database")
	}
	// Backdated within the allowed range: accepted, both times kept.
	e.mustRun("done", "ny-1", "--note", "已安排", "--at", "2027-01-04 09:30")
	h := e.showHistory("ny-1").History
	last := h[len(h)-1]
	if last.Action != "done" || !last.At.Equal(atTime(t, "2027-01-04 09:30")) || !last.RecordedAt.Equal(recorded) {
		t.Errorf("done event at %v recorded %v, want 2027-01-04 09:30 and %v", last.At, last.RecordedAt, recorded)
	}
	out := e.mustRun("show", "ny-1")
	if !strings.Contains(out, "2027-01-04 09:30（登记于 2027-01-04 16:00）  办结") {
		t.Errorf("show history does not give both times:\n%s", out)
	}
	// The tracked event was recorded as it happened: one time only.
	if strings.Contains(out, "2026-12-28 09:00（登记于") {
		t.Errorf("show gives a second time for an event recorded when it happened:\n%s", out)
	}
}

// TestActionsThroughTheDaemonKeepBothTimes: a command forwarded to the
// running daemon is recorded at the caller's clock, effective at its --at.
func TestActionsThroughTheDaemonKeepBothTimes(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	recorded := atTime(t, "2026-10-20 15:00")
	e.clock = func() time.Time { return recorded }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "--config", e.config}, &out, &errb) }()
	b, _ := os.ReadFile(e.config)
	var sock string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "admin:") {
			sock = strings.TrimSuffix(strings.TrimPrefix(line, "admin: {socket: "), "}")
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not create its socket; stderr: %s", errb.String())
		}
	}
	e.mustRun("done", "cosign-118", "--note", "经守护进程登记", "--at", "2026-10-12 11:00")
	if code, _, stderr := e.run("done", "minutes-31", "--at", "2026-10-21 09:00"); code != 2 || !strings.Contains(stderr, "晚于登记时间") {
		t.Errorf("a future --at through the daemon: exit %d %q, want 2", code, stderr)
	}
	h := e.showHistory("cosign-118").History
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d; stderr: %s", code, errb.String())
	}
	last := h[len(h)-1]
	if last.Action != "done" || !last.At.Equal(atTime(t, "2026-10-12 11:00")) || !last.RecordedAt.Equal(recorded) {
		t.Errorf("done through the daemon at %v recorded %v, want 2026-10-12 11:00 and the caller's %v", last.At, last.RecordedAt, recorded)
	}
}

// TestExtendPastTheHardLimitNeedsLimit: minutes-31 (last day 28 Sep,
// limit 7d = 8 Oct) extended to 9 Oct was accepted and the escalation
// still fired at the old limit. Now it is refused unless --limit moves the
// limit, and the escalation follows the new one.
func TestExtendPastTheHardLimitNeedsLimit(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	before := e.dbHash()
	code, _, stderr := e.run("extend", "minutes-31", "--to", "2026-10-09", "--reason", "待领导审定", "--at", "2026-09-27 10:00")
	if code != 2 || !strings.Contains(stderr, "超过最迟时限 2026-10-08 24:00") || !strings.Contains(stderr, "--limit") {
		t.Fatalf("extend past the limit: exit %d, stderr %q; want exit 2 naming the limit and --limit", code, stderr)
	}
	if e.dbHash() != before {
		t.Fatal("the refused extension changed the database")
	}
	// Mon 12 Oct: the escalation goes out on the next working day, Tue 13 Oct.
	out := e.mustRun("extend", "minutes-31", "--to", "2026-10-09", "--limit", "2026-10-12", "--reason", "待领导审定", "--at", "2026-09-27 10:00")
	if !strings.Contains(out, "最迟时限 2026-10-12 24:00") {
		t.Errorf("extend output %q does not give the new limit", out)
	}
	r := e.list("--status", "all", "--at", "2026-10-09 10:00")["minutes-31"]
	if r.Limit == nil || *r.Limit != "2026-10-13T00:00:00+08:00" || r.Due != "2026-10-10T00:00:00+08:00" {
		t.Errorf("minutes-31 after extend: due %s limit %v", r.Due, r.Limit)
	}
	var rows []planRow
	if err := json.Unmarshal([]byte(e.mustRun("plan", "--from", "2026-10-08", "--to", "2026-10-20", "--format", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	var esc []string
	for _, p := range rows {
		if p.ID == "minutes-31" && p.Level == "escalation" {
			esc = append(esc, p.At.In(shanghaiLoc(t)).Format("2006-01-02 15:04"))
		}
	}
	if len(esc) != 1 || esc[0] != "2026-10-13 09:00" {
		t.Errorf("escalations of minutes-31 at %v, want only 2026-10-13 09:00 (after the new limit)", esc)
	}
	h := e.showHistory("minutes-31").History
	if n := len(h); n < 2 || h[n-2].Action != "extend" || h[n-1].Action != "limit" {
		t.Errorf("history %+v, want extend then limit", h)
	}
	if out := e.mustRun("show", "minutes-31", "--at", "2026-10-09 10:00"); !strings.Contains(out, "2026-10-08 24:00") || !strings.Contains(out, "2026-10-12 24:00") {
		t.Errorf("show does not give the old and the new hard limit:\n%s", out)
	}
	// The daemon's passes: nothing escalates after the old limit (9 Oct);
	// the escalation goes out after the new one (13 Oct).
	escalations := func() int {
		n := 0
		for _, r := range e.outbox("--all") {
			if r.Instance == "minutes-31" && r.Level == "escalation" {
				n++
			}
		}
		return n
	}
	e.mustRun("serve", "--once", "--at", "2026-10-09 09:30")
	if n := escalations(); n != 0 {
		t.Errorf("after the old limit: %d escalation deliveries, want none", n)
	}
	e.mustRun("serve", "--once", "--at", "2026-10-13 09:30")
	if n := escalations(); n != 3 {
		t.Errorf("after the new limit: %d escalation deliveries, want 3 (unit, leader, office)", n)
	}
}

// TestLateExtensionWarnsAndCountsLate: an extension recorded after the
// deadline is accepted with a warning, and the bulletin counts the
// instance late — also when --at claims a time before the deadline.
func TestLateExtensionWarnsAndCountsLate(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	// cosign-118: last day Mon 12 Oct. Recorded on 13 Oct.
	code, _, stderr := e.run("extend", "cosign-118", "--to", "+2wd", "--reason", "待法制局意见", "--at", "2026-10-13 10:00")
	if code != 0 || !strings.Contains(stderr, "事后延期") || !strings.Contains(stderr, "2026-10-12 24:00") {
		t.Errorf("late extension: exit %d, stderr %q; want accepted with a 事后延期 warning", code, stderr)
	}
	// opinion-203 (last day 12 Oct): recorded on 14 Oct, backdated to 12 Oct.
	e.clock = func() time.Time { return atTime(t, "2026-10-14 10:00") }
	if code, _, stderr := e.run("extend", "opinion-203", "--to", "+2wd", "--reason", "补登", "--at", "2026-10-12 10:00"); code != 0 || !strings.Contains(stderr, "事后延期") {
		t.Errorf("backdated late extension: exit %d, stderr %q; want a 事后延期 warning", code, stderr)
	}
	e.clock = nil
	var rep struct {
		Entries []struct {
			ID           string `json:"id"`
			LastDay      string `json:"last_day"`
			ExtendedLate bool   `json:"extended_late"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("report", "--month", "2026-10", "--format", "json", "--at", "2026-11-02 10:00")), &rep); err != nil {
		t.Fatal(err)
	}
	late := map[string]string{}
	for _, en := range rep.Entries {
		if en.ExtendedLate {
			late[en.ID] = en.LastDay
		}
	}
	for _, id := range []string{"cosign-118", "opinion-203"} {
		if late[id] != "2026-10-12" {
			t.Errorf("bulletin: %s extended late against %q, want the original last day 2026-10-12 (entries %+v)", id, late[id], rep.Entries)
		}
	}
}

// TestReassignIsExplicit: `assign` on an open instance silently moved it.
// Now it needs --reason and is recorded as 改派 from the old unit to the
// new; a pending instance is assigned as before.
func TestReassignIsExplicit(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	before := e.dbHash()
	code, _, stderr := e.run("assign", "cosign-118", "--unit", "mishu", "--at", "2026-10-09 11:00")
	if code != 2 || !strings.Contains(stderr, "改派") || !strings.Contains(stderr, "--reason") {
		t.Fatalf("assign an open instance without --reason: exit %d, stderr %q", code, stderr)
	}
	if e.dbHash() != before {
		t.Fatal("the refused reassignment changed the database")
	}
	e.mustRun("assign", "cosign-118", "--unit", "mishu", "--reason", "职责调整，改由秘书科办理", "--at", "2026-10-09 11:00")
	if r := e.list("--status", "all", "--at", "2026-10-09 12:00")["cosign-118"]; r.Unit != "mishu" || r.Status != "open" {
		t.Errorf("cosign-118 after 改派: %+v", r)
	}
	h := e.showHistory("cosign-118").History
	if last := h[len(h)-1]; last.Action != "reassign" || last.From != "fzj" || last.To != "mishu" || last.Note != "职责调整，改由秘书科办理" {
		t.Errorf("last event %+v, want reassign fzj → mishu with the reason", last)
	}
	if out := e.mustRun("show", "cosign-118"); !strings.Contains(out, "改派") {
		t.Errorf("show history does not name the 改派:\n%s", out)
	}
	// letter-77 is pending: assigning it needs no reason.
	e.mustRun("assign", "letter-77", "--unit", "wendian", "--at", "2026-09-29 09:00")
	if h := e.showHistory("letter-77").History; h[len(h)-1].Action != "assign" {
		t.Errorf("pending assignment recorded as %q", h[len(h)-1].Action)
	}
}

// TestReassignTellsTheOldUnit: after a 改派 the next pass mails the old
// unit's head a 改派通知 (new unit, reason) and the new unit's head the
// 督办通知; the old unit gets no calendar invitation.
func TestReassignTellsTheOldUnit(t *testing.T) {
	e := newMailEnv(t, "plain")
	e.importAt("2026-09-25 10:00")
	e.pass("2026-09-25 10:05") // the first 督办通知s
	// minutes-31: 秘书科 (head zhou) → 法制局 (head wang).
	e.mustRun("assign", "minutes-31", "--unit", "fzj", "--reason", "职责调整", "--at", "2026-09-25 11:00")
	byTo := e.byRecipient(e.pass("2026-09-25 11:05"))
	old := byTo["zhou@example.gov.cn"]
	if len(old) != 1 {
		t.Fatalf("old unit's head got %d messages, want one", len(old))
	}
	en := old[0].entry("minutes-31", "reassigned")
	if en == nil {
		t.Fatalf("no 改派通知 for minutes-31 to the old unit:\n%s", old[0].Text)
	}
	if u, _ := en.field("责任单位"); u != "市法制局" {
		t.Errorf("改派通知 names 责任单位 %q, want the new unit 市法制局", u)
	}
	if n, _ := en.field("备　　注"); !strings.Contains(n, "改由市法制局办理") || !strings.Contains(n, "职责调整") {
		t.Errorf("改派通知 note %q, want the new unit and the reason", n)
	}
	if _, ok := old[0].Attachments["deadline.ics"]; ok {
		t.Error("the 改派通知 carries a calendar invitation to the old unit")
	}
	if len(old[0].Entries) != 1 {
		t.Errorf("old unit's digest has %d entries, want only the 改派通知", len(old[0].Entries))
	}
	newHead := byTo["wang@example.gov.cn"]
	if len(newHead) != 1 || newHead[0].entry("minutes-31", "assigned") == nil {
		t.Errorf("new unit's head got %d messages without the 督办通知 of minutes-31", len(newHead))
	}
	// Reassigned back: the first unit is announced again, the second told.
	e.mustRun("assign", "minutes-31", "--unit", "mishu", "--reason", "仍由秘书科办理", "--at", "2026-09-25 14:00")
	byTo = e.byRecipient(e.pass("2026-09-25 14:05"))
	if m := byTo["zhou@example.gov.cn"]; len(m) != 1 || m[0].entry("minutes-31", "assigned") == nil {
		t.Errorf("after the second 改派 the first unit is not announced again: %d messages", len(m))
	}
	if m := byTo["wang@example.gov.cn"]; len(m) != 1 || m[0].entry("minutes-31", "reassigned") == nil {
		t.Errorf("after the second 改派 法制局 is not told: %d messages", len(m))
	}
	if msgs := e.pass("2026-09-25 14:06"); len(e.notices(msgs)) != 0 {
		t.Errorf("a pass after the 改派 notices sent %d more", len(msgs))
	}
}

package main

import (
	"bytes"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/ops"
	"duban/tracker/kvstore"
)

// reportAs records 报结 on id at the given time, as the unit's link does
// (the daemon is not running).
func (e *testEnv) reportAs(id, note, at string) {
	e.t.Helper()
	a := e.loadApp()
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	when := atTime(e.t, at)
	if _, err := ops.Act(st, a.x, ops.Request{Kind: "report", ID: id, Note: note, Actor: "unit", At: when, Recorded: when}); err != nil {
		e.t.Fatal(err)
	}
}

// TestReviewCommand: a reported instance is listed as 待审核 and gets no
// unit notices; `review --reject --reason` reopens it and the next pass
// mails the unit the reason; `review --approve` makes it done as of the
// report time. Bad flags exit 2 and change nothing.
func TestReviewCommand(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("import", examplePath("units.yaml"), e.writeTemp("ny.yaml", newYearItem), "--at", "2026-12-28 09:00")
	e.mustRun("serve", "--once", "--at", "2026-12-30 10:30") // the assigned notice
	e.reportAs("ny-1", "已办结", "2026-12-31 11:00")
	if r := e.list("--at", "2027-01-08 10:00")["ny-1"]; r.Status != "review" || r.Overdue {
		t.Fatalf("list after report: %+v", r)
	}
	before := e.dbHash()
	for _, args := range [][]string{{"review", "ny-1"}, {"review", "ny-1", "--reject"}, {"review", "ny-1", "--approve", "--reject", "--reason", "x"}} {
		if code, _, stderr := e.run(args...); code != 2 {
			t.Errorf("%v: exit %d, %s", args, code, stderr)
		}
	}
	if e.dbHash() != before {
		t.Error("refused review changed the database")
	}
	e.mustRun("review", "ny-1", "--reject", "--reason", "缺少盖章件", "--at", "2027-01-04 09:30")
	e.mustRun("serve", "--once", "--at", "2027-01-04 09:31")
	found := false
	for _, r := range e.noticeRows("--all") {
		if r.Instance == "ny-1" && r.Level == "rework" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no 退回重办 notice in the outbox: %+v", e.noticeRows("--all"))
	}
	if !outboxHas(t, filepath.Join(e.dir, "outbox"), "缺少盖章件") {
		t.Error("no mail carries the rejection reason")
	}
	e.reportAs("ny-1", "已补盖章件", "2027-01-04 15:00")
	out := e.mustRun("review", "ny-1", "--approve", "--at", "2027-01-06 09:00")
	if !strings.Contains(out, "审核通过") {
		t.Errorf("review --approve said %q", out)
	}
	in := e.instance("ny-1")
	if in.Status != "done" || !in.DoneAt.Equal(atTime(t, "2027-01-04 15:00")) || in.Reworks != 1 {
		t.Errorf("after approval: %s done_at %v reworks %d", in.Status, in.DoneAt, in.Reworks)
	}
}

// outboxHas reports whether a .eml in dir contains s (in its decoded
// text: the file transport writes quoted-printable or base64 bodies, so
// the raw bytes are searched for the UTF-8 text and its encodings).
func outboxHas(t *testing.T, dir, s string) bool {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, en := range ents {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		text, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
		if err == nil && strings.Contains(text, s) {
			return true
		}
	}
	return false
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/tracker/kvstore"
)

// env is a scratch installation: a config whose db, socket and outbox live
// in a temp dir, and the repo's example tracking files.
type testEnv struct {
	t      *testing.T
	dir    string
	config string
	db     string
	// clock is the wall clock that records actions. nil: each command is
	// recorded at its own --at (as if the office recorded things as they
	// happened), or at time.Now without --at.
	clock func() time.Time
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{t: t, dir: dir, config: filepath.Join(dir, "duban.yaml"), db: filepath.Join(dir, "duban.db")}
	// Unix socket paths are limited to ~108 bytes; keep it short. The name
	// derives from the whole temp dir: its last element alone ("001") is
	// the same in every test and every concurrent test process.
	sock := shortSocket(t, dir)
	cfg := "db: duban.db\nadmin: {socket: " + sock + "}\nmail: {transport: file, file: {dir: outbox}}\nlog: {level: warn}\n"
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func examplePath(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "docs", "example", name))
	return p
}

// run runs duban with the test config and returns exit status, stdout, stderr.
func (e *testEnv) run(args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{}, args...)
	full = append(full, "--config", e.config)
	cwd, err := os.Getwd()
	if err != nil {
		e.t.Fatal(err)
	}
	a := &app{stdout: &out, stderr: &errb, cwd: cwd, actor: currentUser(), clock: e.clock}
	if a.clock == nil {
		a.clock = recordAtAt(args)
	}
	code := a.execute(e.t.Context(), full)
	return code, out.String(), errb.String()
}

// recordAtAt returns a clock reading the --at value in args (in the
// test configuration's zone), or time.Now when there is none.
func recordAtAt(args []string) func() time.Time {
	for i, arg := range args {
		v, ok := strings.CutPrefix(arg, "--at=")
		if !ok && arg == "--at" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if ok {
			loc, _ := time.LoadLocation("Asia/Shanghai")
			if t, err := parseAt(v, loc); err == nil {
				return func() time.Time { return t }
			}
		}
	}
	return nil
}

func (e *testEnv) mustRun(args ...string) string {
	e.t.Helper()
	code, out, errs := e.run(args...)
	if code != 0 {
		e.t.Fatalf("duban %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (e *testEnv) dbHash() [32]byte {
	e.t.Helper()
	b, err := os.ReadFile(e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	return sha256.Sum256(b)
}

type listRow struct {
	ID          string  `json:"id"`
	Item        string  `json:"item"`
	Unit        string  `json:"unit"`
	Title       string  `json:"title"`
	Status      string  `json:"status"`
	Due         string  `json:"due"`
	Limit       *string `json:"limit"`
	Overdue     bool    `json:"overdue"`
	Provisional bool    `json:"provisional"`
}

func (e *testEnv) list(args ...string) map[string]listRow {
	e.t.Helper()
	out := e.mustRun(append([]string{"list", "--format", "json"}, args...)...)
	var rows []listRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		e.t.Fatalf("list output is not a JSON array: %v\n%s", err, out)
	}
	m := make(map[string]listRow)
	for _, r := range rows {
		m[r.ID] = r
	}
	return m
}

func (e *testEnv) importExample() {
	e.t.Helper()
	e.mustRun("import", examplePath("units.yaml"), examplePath("worked-2026.yaml"), "--at", "2026-09-25 10:00")
}

func TestExampleImportAndList(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	rows := e.list("--status", "all", "--at", "2026-10-09 10:00")
	want := map[string]struct {
		due, status string
		overdue     bool
	}{
		"minutes-31":           {"2026-09-29T00:00:00+08:00", "open", true},
		"cosign-118":           {"2026-10-13T00:00:00+08:00", "open", false},
		"opinion-203":          {"2026-10-13T00:00:00+08:00", "open", false},
		"opinion-203/fzj":      {"2026-10-10T00:00:00+08:00", "open", false},
		"opinion-203/caizheng": {"2026-10-10T00:00:00+08:00", "open", false},
		"filing-0930":          {"2026-10-01T00:00:00+08:00", "open", true},
		"letter-77":            {"2026-10-09T00:00:00+08:00", "pending", true},
		// Thursday 1 Oct is National Day: the period rolls to Thursday 8 Oct 12:00.
		"weekly-cases/2026-10-01/fzj":   {"2026-10-08T12:00:00+08:00", "open", true},
		"weekly-cases/2026-09-03/mishu": {"2026-09-03T12:00:00+08:00", "open", true},
		// 5 Oct is a holiday: the monthly report rolls to 8 Oct, due at its end.
		"monthly-accounts/2026-10-05/caizheng": {"2026-10-09T00:00:00+08:00", "open", true},
		// 5 Sep is a Saturday: rolled to Monday 7 Sep.
		"monthly-accounts/2026-09-05/caizheng": {"2026-09-08T00:00:00+08:00", "open", true},
	}
	for id, w := range want {
		r, ok := rows[id]
		if !ok {
			t.Errorf("list has no %s", id)
			continue
		}
		if r.Due != w.due || r.Status != w.status || r.Overdue != w.overdue {
			t.Errorf("%s: due %s status %s overdue %v; want %s %s %v", id, r.Due, r.Status, r.Overdue, w.due, w.status, w.overdue)
		}
	}
	if l := rows["minutes-31"].Limit; l == nil || *l != "2026-10-09T00:00:00+08:00" {
		t.Errorf("minutes-31 limit = %v, want 2026-10-09T00:00:00+08:00", l)
	}
	// Horizon: nothing materialised beyond import time + 40 days (25 Sep + 40 = 4 Nov).
	for id := range rows {
		if strings.HasPrefix(id, "weekly-cases/2026-11-05") {
			t.Errorf("%s is beyond the 40-day horizon of the import", id)
		}
	}
	if _, ok := rows["weekly-cases/2026-10-29/fzj"]; !ok {
		t.Error("weekly-cases/2026-10-29/fzj (within the horizon) missing")
	}

	overdue := e.list("--overdue", "--at", "2026-10-09 10:00")
	for id, r := range overdue {
		if !r.Overdue {
			t.Errorf("--overdue listed %s which is not overdue", id)
		}
	}
	if _, ok := overdue["minutes-31"]; !ok || len(overdue) == 0 {
		t.Errorf("--overdue misses minutes-31: %v", overdue)
	}
	for id, r := range rows {
		if r.Overdue && r.Status != "pending" {
			if _, ok := overdue[id]; !ok {
				t.Errorf("--overdue misses %s", id)
			}
		}
	}
}

func TestImportIsIdempotentAndKeepsProgress(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	e.mustRun("done", "minutes-31", "--note", "已签发", "--at", "2026-09-28 11:00")
	before := e.dbHash()
	e.importExample()
	if e.dbHash() != before {
		t.Error("re-importing the same files changed the database file")
	}
	if r := e.list("--status", "all")["minutes-31"]; r.Status != "done" {
		t.Errorf("after re-import minutes-31 is %s, want done", r.Status)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	cases := map[string]struct{ yaml, want string }{
		"malformed":    {"items:\n  - id: a\n    title: x\n   due: 3d\n", "bad.yaml:4"},
		"unknown key":  {"items:\n  - id: a\n    title: x\n    unit: fzj\n    due: 3d\n    dew: 2d\n", "bad.yaml:6"},
		"bad rule":     {"items:\n  - id: a\n    title: x\n    unit: fzj\n    due: 3 days\n", "bad.yaml:5"},
		"bad cron":     {"items:\n  - id: a\n    title: x\n    unit: fzj\n    every: weekly thurs\n", "bad.yaml:5"},
		"unknown unit": {"items:\n  - id: a\n    title: x\n    unit: nosuch\n    due: 3d\n", "bad.yaml:4"},
		"crlf address": {"people:\n  - {id: x, name: X, email: \"x@a.cn\\r\\nBcc: evil@b.cn\"}\n", "bad.yaml:2"},
		"bad address":  {"people:\n  - {id: x, name: X, email: \"not an address\"}\n", "bad.yaml:2"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := e.dbHash()
			bad := filepath.Join(e.dir, "bad.yaml")
			os.WriteFile(bad, []byte(c.yaml), 0o600)
			code, _, stderr := e.run("import", bad)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not name %s", stderr, c.want)
			}
			if e.dbHash() != before {
				t.Error("database changed after a failed import")
			}
		})
	}
}

func TestActionsAndShow(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	e.mustRun("assign", "letter-77", "--unit", "wendian", "--at", "2026-09-29 09:00")
	e.mustRun("progress", "cosign-118", "--note", "已征求意见", "--at", "2026-10-10 09:00")
	e.mustRun("extend", "cosign-118", "--to", "+2wd", "--reason", "待法制局意见", "--at", "2026-10-10 10:00")
	e.mustRun("return", "filing-0930", "--reason", "不属于本处职责", "--at", "2026-09-26 10:00")
	e.mustRun("withdraw", "opinion-203/caizheng", "--reason", "无需财政意见", "--at", "2026-09-26 10:00")
	rows := e.list("--status", "all", "--at", "2026-10-12 10:00")
	if r := rows["letter-77"]; r.Status != "open" || r.Unit != "wendian" {
		t.Errorf("letter-77 after assign: %+v", r)
	}
	// 12 Oct + 2 working days = 14 Oct.
	if r := rows["cosign-118"]; r.Due != "2026-10-15T00:00:00+08:00" {
		t.Errorf("cosign-118 after extend +2wd: due %s, want 2026-10-15T00:00:00+08:00", r.Due)
	}
	if rows["filing-0930"].Status != "returned" || rows["opinion-203/caizheng"].Status != "withdrawn" {
		t.Errorf("return/withdraw not recorded: %+v %+v", rows["filing-0930"], rows["opinion-203/caizheng"])
	}
	out := e.mustRun("show", "cosign-118", "--format", "json", "--at", "2026-10-12 10:00")
	var v struct {
		Deadline struct {
			LastDay string `json:"last_day"`
			Rule    string `json:"rule"`
		} `json:"deadline"`
		Original *struct {
			LastDay string `json:"last_day"`
		} `json:"original"`
		Plan    []planRow `json:"plan"`
		History []struct {
			Action, Actor string
		} `json:"history"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Deadline.LastDay != "2026-10-14" || v.Original == nil || v.Original.LastDay != "2026-10-12" {
		t.Errorf("show deadline %+v original %+v", v.Deadline, v.Original)
	}
	var actions []string
	for _, h := range v.History {
		actions = append(actions, h.Action)
	}
	if strings.Join(actions, ",") != "tracked,progress,extend" {
		t.Errorf("history = %v, want tracked,progress,extend", actions)
	}
	if len(v.Plan) == 0 || v.Plan[0].Level != "reminder" && v.Plan[0].Level != "due" {
		t.Errorf("plan after extension = %+v", v.Plan)
	}
	// Bad requests: exit 2, nothing changes.
	before := e.dbHash()
	for _, args := range [][]string{
		{"done", "nosuch"},
		{"extend", "cosign-118", "--to", "+2wd"},
		{"extend", "cosign-118", "--to", "2026-10-01", "--reason", "earlier"},
		{"assign", "minutes-31", "--unit", "nosuch"},
		{"done", "opinion-203/caizheng"},
		{"list", "--status", "finished"},
		{"list", "--format", "xml"},
		{"list", "--at", "yesterday"},
		{"frobnicate"},
	} {
		if code, _, stderr := e.run(args...); code != 2 {
			t.Errorf("duban %v: exit %d, want 2 (%s)", args, code, stderr)
		}
	}
	if e.dbHash() != before {
		t.Error("a rejected command changed the database")
	}
}

func TestPlanAndDue(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	out := e.mustRun("plan", "--from", "2026-09-28", "--to", "2026-10-09", "--format", "json")
	var rows []planRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	find := func(id string, step, rep int) *planRow {
		for i := range rows {
			if rows[i].ID == id && rows[i].Step == step && rows[i].Rep == rep {
				return &rows[i]
			}
		}
		return nil
	}
	// minutes policy: due notice on the morning of the last day to unit and leader.
	if r := find("minutes-31", 1, 0); r == nil || r.At.Format(time.RFC3339) != "2026-09-28T09:00:00+08:00" ||
		strings.Join(r.To, ",") != "zhou@example.gov.cn,li@example.gov.cn" {
		t.Errorf("minutes-31 due notice = %+v", r)
	}
	// Overdue: +1wd after 28 Sep is 29 Sep, then every working day: 30 Sep, 8 Oct, 9 Oct.
	if r := find("minutes-31", 2, 2); r == nil || r.At.Format(time.RFC3339) != "2026-10-08T09:00:00+08:00" {
		t.Errorf("minutes-31 third overdue notice = %+v, want 2026-10-08 09:00", r)
	}
	// Escalation: the first working day after the limit's last day (8 Oct) is 9 Oct.
	if r := find("minutes-31", 3, 0); r == nil || r.At.Format(time.RFC3339) != "2026-10-09T09:00:00+08:00" ||
		!strings.Contains(strings.Join(r.To, ","), "ducha@example.gov.cn") {
		t.Errorf("minutes-31 escalation = %+v", r)
	}
	// Weekly report: reminder 3h before Thursday 12:00 (-3h) → 09:00; the 1 Oct period rolled to 8 Oct.
	if r := find("weekly-cases/2026-10-01/fzj", 1, 0); r == nil || r.At.Format(time.RFC3339) != "2026-10-08T09:00:00+08:00" {
		t.Errorf("weekly reminder = %+v", r)
	}
	for _, r := range rows {
		day := r.At.In(shanghaiLoc(t))
		if wd := day.Weekday(); (wd == time.Saturday || wd == time.Sunday) && day.Format("01-02") != "10-10" {
			t.Errorf("%s step %d is planned on a weekend: %s", r.ID, r.Step, day)
		}
	}

	out = e.mustRun("due", "3wd", "--from", "2026-09-30", "--format", "json")
	var d struct {
		LastDay string `json:"last_day"`
		Due     string `json:"due"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	if d.LastDay != "2026-10-10" || d.Due != "2026-10-11T00:00:00+08:00" {
		t.Errorf("due 3wd --from 2026-09-30 = %+v", d)
	}
	if code, _, _ := e.run("due", "3 days"); code != 2 {
		t.Errorf("due with a bad rule: exit %d, want 2", code)
	}
}

func shanghaiLoc(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestLockedDatabaseFailsFast: with the database held by another opener
// and no daemon on the socket, a command fails within the lock timeout
// instead of hanging.
func TestLockedDatabaseFailsFast(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	code, _, stderr := e.run("list")
	if code != 1 || !strings.Contains(stderr, "in use by another process") {
		t.Errorf("exit %d, stderr %q; want 1 and a lock message", code, stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v, want about the 1s lock timeout", d)
	}
}

// TestAdminSocket: while the daemon runs, commands go through its socket.
func TestAdminSocket(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int)
	var out, errb bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "--config", e.config}, &out, &errb) }()
	var sock string
	{
		code, _, _ := 0, "", ""
		_ = code
	}
	b, _ := os.ReadFile(e.config)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "admin:") {
			sock = strings.TrimSuffix(strings.TrimPrefix(line, "admin: {socket: "), "}")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil {
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not create its socket; stderr: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.mustRun("done", "minutes-31", "--note", "via socket")
	if r := e.list("--status", "all")["minutes-31"]; r.Status != "done" {
		t.Errorf("minutes-31 via socket: %s, want done", r.Status)
	}
	if code, _, stderr := e.run("show", "nosuch"); code != 2 || !strings.Contains(stderr, "not found") {
		t.Errorf("show nosuch via socket: exit %d %q", code, stderr)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("serve exit %d; stderr: %s", code, errb.String())
	}
}

// TestLiveExampleIsCurrentOnAnyDay: the example office of config.example.yaml
// has no fixed dates, so on whatever day a newcomer first imports it, nothing
// is overdue yet, every deadline lies ahead, and `plan` without a window shows
// the notices of the coming two weeks.
func TestLiveExampleIsCurrentOnAnyDay(t *testing.T) {
	for _, day := range []string{"2026-12-06 10:00", "2027-03-10 15:30", "2030-07-01 08:00"} {
		t.Run(day, func(t *testing.T) {
			e := newTestEnv(t)
			e.mustRun("import", examplePath("units.yaml"), examplePath("tracked.yaml"), "--at", day)
			at, err := parseAt(day, shanghaiLoc(t))
			if err != nil {
				t.Fatal(err)
			}
			rows := e.list("--status", "all", "--at", day)
			if len(rows) < 10 {
				t.Fatalf("the live example gives %d instances, want at least 10", len(rows))
			}
			for id, r := range rows {
				due, err := time.Parse(time.RFC3339, r.Due)
				if err != nil {
					t.Fatalf("%s: due %q: %v", id, r.Due, err)
				}
				if r.Overdue || !due.After(at) {
					t.Errorf("%s is due %s, not after the first import at %s", id, r.Due, day)
				}
				if due.After(at.AddDate(0, 0, 41)) {
					t.Errorf("%s is due %s, beyond the 40-day horizon of the first import", id, r.Due)
				}
			}
			var plan []planRow
			if err := json.Unmarshal([]byte(e.mustRun("plan", "--format", "json", "--at", day)), &plan); err != nil {
				t.Fatal(err)
			}
			if len(plan) == 0 {
				t.Fatal("plan without --from/--to shows no notice for the next two weeks")
			}
			for _, n := range plan {
				if n.At.Before(at) || n.At.After(at.AddDate(0, 0, planDefaultDays)) {
					t.Errorf("plan row %s at %s is outside the default window from %s", n.ID, n.At, day)
				}
			}
		})
	}
}

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/account"
	"duban/cmd/internal/daemon"
	"duban/cmd/internal/web"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// TestAPIListIsListJSON: GET /api/v1/instances answers byte for byte
// what `list --format json` prints for the same filters.
func TestAPIListIsListJSON(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	const at = "2026-10-20 10:00"
	e.mustRun("progress", "cosign-118", "--note", "会签中", "--at", "2026-10-12 11:00")
	type query struct {
		flags []string
		api   string
	}
	queries := []query{
		{nil, ""},
		{[]string{"--overdue"}, "overdue=1"},
		{[]string{"--status", "all"}, "status=all"},
		{[]string{"--status", "办理中,done"}, "status=" + url.QueryEscape("办理中,done")},
		{[]string{"--unit", "市法制局"}, "unit=" + url.QueryEscape("市法制局")},
		{[]string{"--item", "weekly-cases", "--status", "all"}, "item=weekly-cases&status=all"},
		{[]string{"--due-within", "3wd", "--overdue"}, "due_within=3wd&overdue=true"},
	}
	want := make([]string, len(queries))
	for i, q := range queries {
		want[i] = e.mustRun(append([]string{"list", "--format", "json", "--at", at}, q.flags...)...)
	}

	wantShow := e.mustRun("show", "cosign-118", "--format", "json", "--at", at)
	a := e.loadApp()
	st, err := kvstore.Open(a.cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := atTime(t, at)
	d, err := daemon.New(daemon.Options{Config: a.cfg, Expander: a.x, Store: st, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{Daemon: d})
	if err != nil {
		t.Fatal(err)
	}
	var tok string
	if err := st.Update(func(tx tracker.Tx) error {
		if _, err := account.Add(tx, account.Spec{Name: "zhang", Role: tracker.RoleOffice, Password: "password-1"}, now); err != nil {
			return err
		}
		tok, err = account.NewToken(tx, "zhang", now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, q := range queries {
		req := httptest.NewRequest("GET", "/api/v1/instances?"+q.api, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != want[i] {
			t.Errorf("GET /api/v1/instances?%s: %d\n%s\nwant (list %s):\n%s", q.api, rec.Code, rec.Body, strings.Join(q.flags, " "), want[i])
		}
		if len(want[i]) < 10 && q.api != "" && q.api != "due_within=3wd&overdue=true" {
			t.Errorf("list %v printed almost nothing: %q", q.flags, want[i])
		}
	}
	// show: the same view as `show --format json`.
	req := httptest.NewRequest("GET", "/api/v1/instances/cosign-118", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Body.String() != wantShow {
		t.Errorf("GET /api/v1/instances/cosign-118:\n%s\nwant:\n%s", rec.Body, wantShow)
	}
}

// TestServeStartsTheWorkspace: `duban serve` serves web.listen in the
// daemon's process; the first start creates admin and prints its password
// once; the password signs in; the CLI still reaches the daemon; the end
// of the context stops both.
func TestServeStartsTheWorkspace(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	cfg, _ := os.ReadFile(e.config)
	if err := os.WriteFile(e.config, append(cfg, "web: {listen: \"127.0.0.1:0\"}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "--config", e.config}, &out, &errb) }()
	re := regexp.MustCompile(`督办工作台：(http://\S+)\n首次启动，已创建管理员账户 admin，初始密码（只显示这一次）：(\S+)\n`)
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil; time.Sleep(20 * time.Millisecond) {
		if m = re.FindStringSubmatch(out.String()); m == nil && time.Now().After(deadline) {
			t.Fatalf("serve printed %q; stderr %s", out.String(), errb.String())
		}
	}
	base, pw := m[1], m[2]
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := client.PostForm(base+"/login", url.Values{"username": {"admin"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "督办看板") || !strings.Contains(string(body), "minutes-31") {
		t.Fatalf("after login: %d %.500s", resp.StatusCode, body)
	}
	// The CLI goes through the admin socket, into the same store.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if code, list, _ := e.run("user", "list"); code == 0 && strings.Contains(list, "admin") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("user list through the daemon does not show admin")
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d; stderr %s", code, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	if strings.Count(out.String(), "初始密码") != 1 {
		t.Errorf("the password was printed %d times", strings.Count(out.String(), "初始密码"))
	}
	// A second start prints no password: the account exists.
	ctx2, cancel2 := context.WithCancel(t.Context())
	var out2 syncBuffer
	go func() { done <- run(ctx2, []string{"serve", "--config", e.config}, &out2, io.Discard) }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out2.String(), "督办工作台："); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("second serve did not start")
		}
	}
	cancel2()
	<-done
	if strings.Contains(out2.String(), "初始密码") {
		t.Errorf("second start printed a password: %s", out2.String())
	}
}

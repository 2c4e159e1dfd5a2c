package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/account"
	"duban/cmd/internal/daemon"
	"duban/cmd/internal/web"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/pgtest"
)

// On a bbolt file `duban status` shows one node, no lease, and the
// daemon's last pass; JSON keeps English fields.
func TestStatusSingleNode(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("import", examplePath("units.yaml"), examplePath("tracked.yaml"), "--at", "2026-03-02 08:00")
	e.mustRun("serve", "--once", "--at", "2026-03-02 09:00")
	var cs daemon.ClusterStatus
	if err := json.Unmarshal([]byte(e.mustRun("status", "--format", "json")), &cs); err != nil {
		t.Fatal(err)
	}
	if cs.Engine != "bbolt" || cs.Mode != "single" || cs.Running || cs.Leader != "" || cs.Term != 0 || cs.Node == "" {
		t.Errorf("status %+v, want a single bbolt node, not running, no lease", cs)
	}
	if cs.Daemon == nil || !cs.Daemon.LastPass.Equal(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)) || cs.Daemon.Node != "" {
		t.Errorf("last pass %+v, want 2026-03-02 09:00 Shanghai by no named node", cs.Daemon)
	}
	out := e.mustRun("status")
	for _, want := range []string{"本节点", "bbolt 数据库文件（单节点）", "未运行督办服务", "上次运行 2026-03-02 09:00:00"} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "主节点") {
		t.Errorf("a single node shows a leader:\n%s", out)
	}
	if code, _, _ := e.run("status", "--format", "xml"); code != 2 {
		t.Errorf("status --format xml: exit %d, want 2", code)
	}
}

// On PostgreSQL a running node shows itself leading under a term, with
// the lease's expiry after the database's now; a command without a
// daemon reads the same leader from the lease row; the board shows it.
func TestStatusOnPostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	e := newTestEnv(t)
	cfgText := fmt.Sprintf("db: %q\nadmin: {socket: %s}\nmail: {transport: file, file: {dir: outbox}}\nlog: {level: warn}\n"+
		"cluster: {node: duban-a, lease_ttl: 3s, renew: 1s}\n", dbURL, shortSocket(t, e.dir+"/a"))
	if err := os.WriteFile(e.config, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("import", examplePath("units.yaml"), examplePath("tracked.yaml"), "--at", "2026-03-02 08:00")
	a := e.loadApp()
	cfg := a.cfg
	st, err := kvstore.Open(cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg.Admin.Socket = ""
	d, err := daemon.New(daemon.Options{Config: cfg, Expander: a.x, Store: st, Node: "duban-a",
		Lease: daemon.LeaseFor(st, "duban-a", cfg.Cluster, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := d.Leading(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the only node did not lead within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cs, err := d.ClusterStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cs.Engine != "postgres" || cs.Mode != "cluster" || !cs.Running || !cs.Leading || cs.Node != "duban-a" ||
		cs.Leader != "duban-a" || cs.Term < 1 || !cs.LeaseExpires.After(cs.DBNow) || cs.LeaseExpires.Sub(cs.DBNow) > 3*time.Second {
		t.Errorf("running node's status %+v, want duban-a leading under a term, lease within 3s of the database's now", cs)
	}
	var offline daemon.ClusterStatus
	if err := json.Unmarshal([]byte(e.mustRun("status", "--format", "json")), &offline); err != nil {
		t.Fatal(err)
	}
	if offline.Running || offline.Leader != "duban-a" || offline.Term != cs.Term || offline.Node != "duban-a" {
		t.Errorf("status without the daemon %+v, want duban-a as leader under term %d", offline, cs.Term)
	}
	out := e.mustRun("status")
	for _, want := range []string{"PostgreSQL", "主节点", fmt.Sprintf("duban-a（任期 %d，租约至 ", cs.Term), "数据库时间"} {
		if !strings.Contains(out, want) {
			t.Errorf("status table lacks %q:\n%s", want, out)
		}
	}
	// The workspace's board shows the same.
	var secret string
	if err := st.Update(func(tx tracker.Tx) error {
		if _, err := account.Add(tx, account.Spec{Name: "zhang", Role: tracker.RoleOffice, Password: "password-1"}, time.Now()); err != nil {
			return err
		}
		secret, _, err = account.Login(tx, "zhang", "password-1", time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{Daemon: d})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "duban_session", Value: secret})
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if want := fmt.Sprintf("集群：本节点 duban-a（主节点），主节点 duban-a，任期 %d，租约至 ", cs.Term); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
		t.Errorf("board: %d, lacks %q:\n%s", rec.Code, want, rec.Body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Stopped cleanly, the node resigned: nobody leads.
	if err := json.Unmarshal([]byte(e.mustRun("status", "--format", "json")), &offline); err != nil {
		t.Fatal(err)
	}
	if offline.Leader != "" || offline.Term != cs.Term {
		t.Errorf("after a clean stop: leader %q under term %d, want none (resigned) and the term kept", offline.Leader, offline.Term)
	}
}

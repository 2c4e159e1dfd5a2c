package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/daemon"
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
	for _, want := range []string{"本节点", "bbolt 数据库文件（单节点）", "未运行 duban serve", "上次运行 2026-03-02 09:00:00"} {
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

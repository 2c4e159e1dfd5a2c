package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"duban/notify/robottest"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// TestRobotCrashRepeatsAtMostOneMessagePerKill kills `duban serve --once`
// with SIGKILL right after a robot server accepted a message and before
// the daemon could read the answer (the worst moment), on a random third
// of the accepted messages, and checks SPEC §13 with §6: every robot
// delivery ends sent and its instance reached its group; each kill
// repeats at most the one message in flight.
func TestRobotCrashRepeatsAtMostOneMessagePerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: starts and kills the daemon binary")
	}
	bin := buildDuban(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	// The process of the running pass, killed from the servers' hook.
	var mu sync.Mutex
	var proc *os.Process
	var exited chan struct{}
	kills, killing := 0, true
	onAccept := func(int) {
		mu.Lock()
		p, ex := proc, exited
		kill := killing && p != nil && rng.IntN(3) == 0
		if kill {
			kills++
			proc = nil
		}
		mu.Unlock()
		if kill {
			p.Signal(syscall.SIGKILL)
			<-ex // the answer is never read
		}
	}
	type robot struct{ name, kind, unit, secret string }
	robots := []robot{{"mishu-group", "wecom", "mishu", ""}, {"fzj-group", "dingtalk", "fzj", "SEC-d"}, {"cz-group", "feishu", "caizheng", "SEC-f"}}
	srv := map[string]*robottest.Server{}
	var cfgRobots strings.Builder
	for _, r := range robots {
		s := robottest.Start(t, robottest.Options{Kind: r.kind, Secret: r.secret, Unlimited: true, OnAccept: onAccept})
		srv[r.name] = s
		fmt.Fprintf(&cfgRobots, "  %s: {kind: %s, url: %q}\n", r.name, r.kind, s.URL)
		if r.secret != "" {
			t.Setenv("DUBAN_ROBOTS_"+strings.ToUpper(strings.ReplaceAll(r.name, "-", "_"))+"_SECRET", r.secret)
		}
	}
	config := filepath.Join(dir, "duban.yaml")
	cfg := fmt.Sprintf("db: duban.db\nadmin: {socket: %s}\nlog: {level: warn}\ncatchup: all\nmail: {transport: file, file: {dir: outbox}, office: ducha@example.gov.cn}\nrobots:\n%s",
		shortSocket(t, dir), cfgRobots.String())
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	units := `office: {name: 市政府督查室, email: ducha@example.gov.cn}
people:
  - {id: zhou, name: 周科长, email: zhou@example.gov.cn}
  - {id: wang, name: 王冠标, email: wang@example.gov.cn}
  - {id: chen, name: 陈主任, email: chen@example.gov.cn}
units:
  - {id: mishu, name: 市政府办公室秘书科, head: zhou, robot: mishu-group}
  - {id: fzj, name: 市法制局, head: wang, robot: fzj-group}
  - {id: caizheng, name: 市财政局, head: chen, robot: cz-group}
policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit, group], level: reminder}
      - {at: 0, to: [unit, group], level: due}
      - {at: +1wd, every: 1wd, to: [unit, group], level: overdue}
`
	var items strings.Builder
	items.WriteString("items:\n")
	for _, r := range robots {
		for i := range 40 {
			fmt.Fprintf(&items, "  - {id: %s-%02d, title: 第%02d号督办事项（%s）关于推进重点项目建设进度的督查, unit: %s, start: 2026-09-01, due: 2026-09-%02d, policy: standard}\n",
				r.unit, i, i, r.unit, r.unit, 9+i%3)
		}
	}
	up, ip := filepath.Join(dir, "units.yaml"), filepath.Join(dir, "items.yaml")
	os.WriteFile(up, []byte(units), 0o600)
	os.WriteFile(ip, []byte(items.String()), 0o600)
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"--config", config, "import", up, ip, "--at", "2026-09-01 08:00"}, &out, &errb); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errb.String())
	}
	db := filepath.Join(dir, "duban.db")

	loc, _ := time.LoadLocation("Asia/Shanghai")
	pass := func(at time.Time) bool {
		t.Helper()
		cmd := exec.Command(bin, "--config", config, "serve", "--once", "--at", at.Format(time.RFC3339))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		ex := make(chan struct{})
		mu.Lock()
		if err := cmd.Start(); err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		proc, exited = cmd.Process, ex
		mu.Unlock()
		err := cmd.Wait()
		mu.Lock()
		proc = nil
		mu.Unlock()
		close(ex)
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
		if err != nil {
			t.Fatalf("serve --once --at %s: %v\n%s", at, err, stderr.String())
		}
		return false
	}
	passes := 0
	for day := 7; day <= 18; day++ {
		at := time.Date(2026, 9, day, 9, 0, 0, 0, loc)
		for n := 0; ; n++ {
			passes++
			if !pass(at.Add(time.Duration(n) * time.Minute)) {
				break
			}
		}
	}
	// Finish without kills until nothing is queued.
	mu.Lock()
	killing = false
	mu.Unlock()
	end := time.Date(2026, 9, 18, 12, 0, 0, 0, loc)
	for n := range 3 {
		pass(end.Add(time.Duration(n) * time.Minute))
	}

	st, err := kvstore.OpenReadOnly(db, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	var sent []*tracker.Delivery
	msgIDs := map[string]bool{}
	titles := map[string]string{}
	if err := st.View(func(tx tracker.Tx) error {
		if err := tx.Deliveries(func(dl *tracker.Delivery) error {
			if _, ok := tracker.RobotRecipient(dl.To); !ok {
				return nil
			}
			switch dl.State {
			case tracker.DeliverySent:
				sent = append(sent, dl)
				msgIDs[dl.MessageID] = true
			case tracker.DeliverySuperseded:
			default:
				t.Errorf("robot delivery %s is %s (%s), want sent", dl.Key, dl.State, dl.LastError)
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Instances(func(in *tracker.Instance) error {
			it, err := tx.Item(in.Item)
			if err == nil {
				titles[in.ID] = it.Title
			}
			return err
		})
	}); err != nil {
		t.Fatal(err)
	}
	accepted := 0
	var texts = map[string][]string{}
	for name, s := range srv {
		for _, m := range s.Messages() {
			accepted++
			texts["robot:"+name] = append(texts["robot:"+name], m.Text)
		}
	}
	// Lost none: every sent delivery's instance is in a message its group got.
	for _, dl := range sent {
		found := false
		for _, tx := range texts[dl.To] {
			if strings.Contains(tx, titles[dl.Instance]) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("delivery %s recorded sent but no message to %s names %s", dl.Key, dl.To, titles[dl.Instance])
		}
	}
	repeats := accepted - len(msgIDs)
	if repeats > kills {
		t.Errorf("%d messages accepted, %d recorded: %d repeats from %d kills, want at most one per kill", accepted, len(msgIDs), repeats, kills)
	}
	if kills == 0 {
		t.Error("no pass was killed")
	}
	t.Logf("%d passes, %d kills, %d robot deliveries sent in %d messages, %d accepted by the servers: %d repeats (%.2f per kill)",
		passes, kills, len(sent), len(msgIDs), accepted, repeats, float64(repeats)/float64(max(kills, 1)))
}

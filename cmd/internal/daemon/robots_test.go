package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"duban/cmd/internal/config"
	"duban/cmd/internal/importer"
	"duban/notify"
	"duban/notify/robottest"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/trackfile"
)

// mailBox is an in-memory notify.Sender recording what the daemon mailed.
type mailBox struct {
	mu  sync.Mutex
	got []*notify.Message
}

func (m *mailBox) Send(_ context.Context, msg *notify.Message) error {
	if _, err := msg.Bytes(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, msg)
	return nil
}

func (m *mailBox) Close() error { return nil }

func (m *mailBox) to(addr string) []*notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*notify.Message
	for _, msg := range m.got {
		if msg.To[0].Address == addr {
			out = append(out, msg)
		}
	}
	return out
}

// robotEnv is a daemon over a fresh store whose units post to loopback
// robot servers.
type robotEnv struct {
	t     *testing.T
	d     *Daemon
	st    *kvstore.Store
	mail  *mailBox
	srv   map[string]*robottest.Server // by robot name
	clock *fakeClock
	// restart replaces the daemon by a new one over the same store, as a
	// restarted process would be.
	restart func()
}

// fakeClock is the injected time the servers' rate windows run on; the
// daemon's passes run at it too.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// robotSpec is one robot of a test: its kind, the unit posting to it,
// the secret the server checks and the one config gives the daemon.
type robotSpec struct {
	name, kind, unit     string
	secret, configSecret string
	keyword              string
	unlimited            bool
}

var shanghai = mustZone("Asia/Shanghai")

// newRobotEnv imports units (people with mobiles and im_ids, units
// pointing at their robots, the group role in every step of the policy,
// SPEC §13) and items at 2026-09-01 09:00.
func newRobotEnv(t *testing.T, robots []robotSpec, items string) *robotEnv {
	t.Helper()
	dir := t.TempDir()
	e := &robotEnv{t: t, mail: &mailBox{}, srv: map[string]*robottest.Server{}, clock: &fakeClock{}}
	var cfgRobots strings.Builder
	for _, r := range robots {
		srv := robottest.Start(t, robottest.Options{Kind: r.kind, Secret: r.secret, Keyword: r.keyword, Now: e.clock.Now, Unlimited: r.unlimited})
		e.srv[r.name] = srv
		fmt.Fprintf(&cfgRobots, "  %s: {kind: %s, url: %q, keyword: %q}\n", r.name, r.kind, srv.URL, r.keyword)
		if r.configSecret != "" {
			t.Setenv(config.RobotEnvName(r.name, "SECRET"), r.configSecret)
		}
	}
	cfgText := "db: duban.db\nlog: {level: warn}\nmail: {transport: file, file: {dir: outbox}, office: ducha@example.gov.cn, retry: {initial: 1m, max: 4m}}\n"
	if cfgRobots.Len() > 0 {
		cfgText += "robots:\n" + cfgRobots.String()
	}
	path := filepath.Join(dir, "duban.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := cfg.Expander()
	if err != nil {
		t.Fatal(err)
	}
	unitRobot := map[string]string{}
	for _, r := range robots {
		unitRobot[r.unit] = ", robot: " + r.name
	}
	units := `office: {name: 市政府督查室, email: ducha@example.gov.cn}
people:
  - {id: zhou, name: 周科长, email: zhou@example.gov.cn, mobile: "13800000001", im_id: ou_zhou}
  - {id: wang, name: 王冠标, email: wang@example.gov.cn, mobile: "13800000002", im_id: ou_wang}
  - {id: chen, name: 陈主任, email: chen@example.gov.cn, mobile: "13800000003", im_id: ou_chen}
units:
  - {id: mishu, name: 市政府办公室秘书科, head: zhou` + unitRobot["mishu"] + `}
  - {id: fzj, name: 市法制局, head: wang` + unitRobot["fzj"] + `}
  - {id: caizheng, name: 市财政局, head: chen` + unitRobot["caizheng"] + `}
policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit, group], level: reminder}
      - {at: 0, to: [unit, group], level: due}
      - {at: +1wd, every: 1wd, to: [unit, group], level: overdue}
`
	files := map[string]string{"units.yaml": units, "items.yaml": items}
	var paths []string
	for _, n := range []string{"units.yaml", "items.yaml"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(files[n]), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	st, err := kvstore.Open(cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.st = st
	at := time.Date(2026, 9, 1, 9, 0, 0, 0, shanghai)
	if _, err := importer.Files(t.Context(), st, x, paths, []string{"units.yaml", "items.yaml"}, at, "test", false,
		trackfile.WithRobots(cfg.RobotNames())); err != nil {
		t.Fatal(err)
	}
	e.restart = func() {
		var err error
		e.d, err = New(Options{Config: cfg, Expander: x, Store: st, NewSender: func() (notify.Sender, error) { return e.mail, nil }})
		if err != nil {
			t.Fatal(err)
		}
	}
	e.restart()
	return e
}

// pass runs one daemon pass at at (the servers' clock too).
func (e *robotEnv) pass(at time.Time) {
	e.t.Helper()
	e.clock.Set(at)
	if err := e.d.RunOnce(e.t.Context(), at); err != nil {
		e.t.Fatalf("pass at %s: %v", at, err)
	}
}

// deliveries returns the robot deliveries by state.
func (e *robotEnv) robotDeliveries() map[tracker.DeliveryState][]*tracker.Delivery {
	out := map[tracker.DeliveryState][]*tracker.Delivery{}
	e.st.View(func(tx tracker.Tx) error {
		return tx.Deliveries(func(dl *tracker.Delivery) error {
			if isRobot(dl) {
				out[dl.State] = append(out[dl.State], dl)
			}
			return nil
		})
	})
	return out
}

// itemsFor writes n one-off items of unit due on due (YYYY-MM-DD).
func itemsFor(unit string, n int, due string) string {
	var b strings.Builder
	b.WriteString("items:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: %s-%03d, title: 第%03d号督办事项（%s）关于推进重点项目建设进度的督查, doc: 洛政办〔2026〕%d号, unit: %s, start: 2026-09-01, due: %s, policy: standard}\n",
			unit, i, i, unit, i+1, unit, due)
	}
	return b.String()
}

// One message per group per pass, the overdue ones @ the unit's head,
// each instance once; a second pass at the same time sends nothing.
func TestRobotsOneMessagePerGroupPerPassWithMentionsOnOverdue(t *testing.T) {
	e := newRobotEnv(t, []robotSpec{
		{name: "mishu-group", kind: notify.KindDingTalk, unit: "mishu", secret: "SEC-mishu", configSecret: "SEC-mishu", keyword: "督办"},
		{name: "fzj-group", kind: notify.KindFeishu, unit: "fzj", secret: "SEC-fzj", configSecret: "SEC-fzj"},
		{name: "cz-group", kind: notify.KindWeCom, unit: "caizheng"},
	}, itemsFor("mishu", 3, "2026-09-10")+strings.TrimPrefix(itemsFor("fzj", 2, "2026-09-10"), "items:\n")+strings.TrimPrefix(itemsFor("caizheng", 2, "2026-09-30"), "items:\n"))
	e.pass(time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai)) // Monday: mishu and fzj overdue, caizheng not due
	ding, lark, wecom := e.srv["mishu-group"].Messages(), e.srv["fzj-group"].Messages(), e.srv["cz-group"].Messages()
	if len(ding) != 1 || len(lark) != 1 || len(wecom) != 0 {
		t.Fatalf("messages per group: 钉钉 %d, 飞书 %d, 企业微信 %d; want 1, 1, 0 (rejections %v %v)", len(ding), len(lark), len(wecom),
			e.srv["mishu-group"].Rejections(), e.srv["fzj-group"].Rejections())
	}
	for i := range 3 {
		if c := strings.Count(ding[0].Text, fmt.Sprintf("第%03d号督办事项（mishu）", i)); c != 1 {
			t.Errorf("钉钉 message names mishu-%03d %d times, want once", i, c)
		}
	}
	if !strings.Contains(ding[0].Text, "逾期催办") || !slices.Equal(ding[0].Mobiles, []string{"13800000001"}) || !strings.Contains(ding[0].Text, "@13800000001") {
		t.Errorf("钉钉 overdue message without @ of the head: mobiles %v\n%s", ding[0].Mobiles, ding[0].Text)
	}
	if !strings.Contains(lark[0].Text, "@ou_wang") || strings.Contains(lark[0].Text, "mishu") {
		t.Errorf("飞书 message: no @ of its head or another unit's items:\n%s", lark[0].Text)
	}
	if strings.Contains(ding[0].Text, "http") {
		t.Errorf("group message carries a link while the web is off:\n%s", ding[0].Text)
	}
	e.pass(time.Date(2026, 9, 14, 9, 0, 30, 0, shanghai))
	if n := len(e.srv["mishu-group"].Messages()) + len(e.srv["fzj-group"].Messages()); n != 2 {
		t.Errorf("a second pass posted again: %d messages in all", n)
	}
	ds := e.robotDeliveries()
	if len(ds[tracker.DeliveryQueued]) != 0 || len(ds[tracker.DeliveryFailed]) != 0 || len(ds[tracker.DeliverySent]) != 5 {
		t.Errorf("robot deliveries: %d queued, %d failed, %d sent; want 0, 0, 5", len(ds[tracker.DeliveryQueued]), len(ds[tracker.DeliveryFailed]), len(ds[tracker.DeliverySent]))
	}
	// Next working day: the next 催办, again one message per group.
	e.pass(time.Date(2026, 9, 15, 9, 0, 0, 0, shanghai))
	if len(e.srv["mishu-group"].Messages()) != 2 || len(e.srv["fzj-group"].Messages()) != 2 {
		t.Errorf("next day: %d and %d messages, want 2 each", len(e.srv["mishu-group"].Messages()), len(e.srv["fzj-group"].Messages()))
	}
}

// A 200-instance digest to a 企业微信 group is split into parts of at most
// 4,096 bytes at entry boundaries, paced at 20 a minute, every instance
// in exactly one part, none refused by the server.
func TestRobotsSplitA200InstanceDigestForWeCom(t *testing.T) {
	e := newRobotEnv(t, []robotSpec{{name: "cz-group", kind: notify.KindWeCom, unit: "caizheng"}}, itemsFor("caizheng", 200, "2026-09-10"))
	srv := e.srv["cz-group"]
	at := time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai)
	e.pass(at)
	first := len(srv.Messages())
	for i := 1; i <= 5 && len(e.robotDeliveries()[tracker.DeliveryQueued]) > 0; i++ {
		e.pass(at.Add(time.Duration(i) * time.Minute))
	}
	msgs := srv.Messages()
	if first == 0 || first > 20 {
		t.Errorf("first pass posted %d parts, want 1 to 20", first)
	}
	if len(srv.Rejections()) > 0 {
		t.Errorf("server refused: %v", srv.Rejections())
	}
	count := map[string]int{}
	for _, m := range msgs {
		if len(m.Text) > 4096 {
			t.Errorf("part of %d bytes", len(m.Text))
		}
		for i := range 200 {
			if strings.Contains(m.Text, fmt.Sprintf("第%03d号督办事项", i)) {
				count[fmt.Sprint(i)]++
			}
		}
	}
	for i := range 200 {
		if count[fmt.Sprint(i)] != 1 {
			t.Errorf("instance %d in %d parts, want 1", i, count[fmt.Sprint(i)])
		}
	}
	if q := len(e.robotDeliveries()[tracker.DeliveryQueued]); q != 0 {
		t.Errorf("%d deliveries still queued", q)
	}
	t.Logf("200 instances: %d parts (%d in the first pass)", len(msgs), first)
}

// queueRobot queues n deliveries to robot name at now, as a decision
// pass would (one overdue notice of an instance each).
func (e *robotEnv) queueRobot(name string, n, rep int, now time.Time) {
	e.t.Helper()
	var ids []string
	e.st.View(func(tx tracker.Tx) error {
		return tx.Instances(func(in *tracker.Instance) error {
			ids = append(ids, in.ID)
			return nil
		})
	})
	if err := e.st.Update(func(tx tracker.Tx) error {
		for i := range n {
			nt := tracker.Notice{Instance: ids[(rep+i)%len(ids)], Step: 2, Rep: rep*1000 + i, Level: tracker.LevelOverdue, At: now}
			if err := putQueued(tx, nt, tracker.RobotPrefix+name, now); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

// putQueued queues notice nt to to at now.
func putQueued(tx tracker.Tx, nt tracker.Notice, to string, now time.Time) error {
	return tx.PutDelivery(&tracker.Delivery{Key: tracker.DeliveryKey(nt, to), Notice: nt.Key(), Instance: nt.Instance,
		Step: nt.Step, Rep: nt.Rep, Level: nt.Level, To: to, At: now.UTC(), State: tracker.DeliveryQueued,
		QueuedAt: now.UTC(), NextAttempt: now.UTC()})
}

// 30 passes in a minute, each with a new notice for the same 钉钉 group
// and a restart half way, never post more than 20 messages in any minute: the server (which
// blocks a robot for 10 minutes after the 21st) refuses nothing, and
// the rest goes out once the window frees.
func TestRobotsPaceThirtyPassesInAMinute(t *testing.T) {
	e := newRobotEnv(t, []robotSpec{{name: "mishu-group", kind: notify.KindDingTalk, unit: "mishu", secret: "S", configSecret: "S"}},
		itemsFor("mishu", 30, "2026-10-30"))
	srv := e.srv["mishu-group"]
	base := time.Date(2026, 9, 14, 10, 0, 0, 0, shanghai)
	for i := range 30 {
		at := base.Add(time.Duration(i) * 2 * time.Second)
		e.queueRobot("mishu-group", 1, i, at)
		if i == 15 {
			e.restart() // the pace is kept in the store, not in the process
		}
		e.pass(at)
	}
	if n := len(srv.Messages()); n != 20 {
		t.Errorf("%d messages in the first minute, want 20 (the most the vendor allows)", n)
	}
	for i := 1; i <= 20 && len(e.robotDeliveries()[tracker.DeliveryQueued]) > 0; i++ {
		e.pass(base.Add(time.Minute + time.Duration(i)*10*time.Second))
	}
	msgs := srv.Messages()
	for i, m := range msgs {
		in := 0
		for _, o := range msgs {
			if !o.At.Before(m.At) && o.At.Sub(m.At) < time.Minute {
				in++
			}
		}
		if in > 20 {
			t.Errorf("%d messages in the minute from message %d", in, i)
		}
	}
	if r := srv.Rejections(); len(r) > 0 {
		t.Errorf("server refused %d requests: %v", len(r), r[0])
	}
	ds := e.robotDeliveries()
	if len(ds[tracker.DeliverySent]) != 30 || len(ds[tracker.DeliveryQueued]) != 0 {
		t.Errorf("sent %d, queued %d; want all 30 sent (%v)", len(ds[tracker.DeliverySent]), len(ds[tracker.DeliveryQueued]), ds)
	}
}

// A wrong secret fails that robot's deliveries only, with the vendor's
// code, and the office gets one mail about it per robot and day.
func TestRobotsWrongSecretFailsThatRobotOnlyAndIsMailedOnce(t *testing.T) {
	e := newRobotEnv(t, []robotSpec{
		{name: "mishu-group", kind: notify.KindDingTalk, unit: "mishu", secret: "SEC-right", configSecret: "SEC-wrong"},
		{name: "fzj-group", kind: notify.KindFeishu, unit: "fzj", secret: "SEC-fzj", configSecret: "SEC-fzj"},
	}, itemsFor("mishu", 2, "2026-09-10")+strings.TrimPrefix(itemsFor("fzj", 2, "2026-09-10"), "items:\n"))
	e.pass(time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai))
	e.pass(time.Date(2026, 9, 14, 9, 5, 0, 0, shanghai)) // the failure report goes out
	if len(e.srv["fzj-group"].Messages()) != 1 || len(e.srv["mishu-group"].Messages()) != 0 {
		t.Fatalf("飞书 %d, 钉钉 %d messages; want 1, 0", len(e.srv["fzj-group"].Messages()), len(e.srv["mishu-group"].Messages()))
	}
	ds := e.robotDeliveries()
	if len(ds[tracker.DeliveryFailed]) != 2 {
		t.Fatalf("%d failed robot deliveries, want mishu's 2", len(ds[tracker.DeliveryFailed]))
	}
	for _, dl := range ds[tracker.DeliveryFailed] {
		if dl.To != "robot:mishu-group" || !strings.Contains(dl.LastError, "310000") {
			t.Errorf("failed %s to %s: %q", dl.Key, dl.To, dl.LastError)
		}
	}
	reports := func() []*notify.Message {
		var out []*notify.Message
		for _, m := range e.mail.to("ducha@example.gov.cn") {
			if strings.Contains(m.Text, "mishu-group") {
				out = append(out, m)
			}
		}
		return out
	}
	rep := reports()
	if len(rep) != 1 {
		t.Fatalf("%d failure mails to the office, want 1", len(rep))
	}
	if !strings.Contains(rep[0].Text, "310000") || !strings.Contains(rep[0].Text, "robots.mishu-group.secret") {
		t.Errorf("failure mail lacks the code or what to do:\n%s", rep[0].Text)
	}
	// The next 催办 the same day fails again: no second mail that day.
	e.pass(time.Date(2026, 9, 14, 18, 0, 0, 0, shanghai))
	e.queueRobot("mishu-group", 1, 7, time.Date(2026, 9, 14, 18, 0, 0, 0, shanghai))
	e.pass(time.Date(2026, 9, 14, 18, 1, 0, 0, shanghai))
	e.pass(time.Date(2026, 9, 14, 18, 2, 0, 0, shanghai))
	if n := len(reports()); n != 1 {
		t.Errorf("%d failure mails the same day, want 1", n)
	}
	if n := len(e.robotDeliveries()[tracker.DeliveryFailed]); n != 3 {
		t.Errorf("%d failed deliveries, want 3", n)
	}
}

// A busy answer is retried after back-off, re-signed, and delivered once.
func TestRobotsRetryBusyAnswerReSigned(t *testing.T) {
	e := newRobotEnv(t, []robotSpec{{name: "fzj-group", kind: notify.KindFeishu, unit: "fzj", secret: "S", configSecret: "S"}}, itemsFor("fzj", 2, "2026-09-10"))
	srv := e.srv["fzj-group"]
	srv.FailNext(11232)
	at := time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai)
	e.pass(at)
	if len(srv.Messages()) != 0 || len(e.robotDeliveries()[tracker.DeliveryQueued]) != 2 {
		t.Fatalf("after a rate-limit answer: %d messages, %d queued", len(srv.Messages()), len(e.robotDeliveries()[tracker.DeliveryQueued]))
	}
	e.pass(at.Add(30 * time.Second)) // before the back-off: nothing
	e.pass(at.Add(2 * time.Minute))
	if len(srv.Messages()) != 1 || len(e.robotDeliveries()[tracker.DeliverySent]) != 2 {
		t.Errorf("after back-off: %d messages, %d sent; want 1, 2", len(srv.Messages()), len(e.robotDeliveries()[tracker.DeliverySent]))
	}
}

// With the workspace on, a group message links the board of its unit's
// instances (read-only for the group: no token, no action in the link).
func TestRobotsLinkTheUnitsBoardWhenTheWorkspaceIsOn(t *testing.T) {
	e := newRobotEnv(t, []robotSpec{{name: "mishu-group", kind: notify.KindWeCom, unit: "mishu"}}, itemsFor("mishu", 2, "2026-09-10"))
	e.d.cfg.Web.Listen, e.d.cfg.Web.BaseURL = "127.0.0.1:8080", "https://duban.example.gov.cn/"
	e.pass(time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai))
	msgs := e.srv["mishu-group"].Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "查看督办事项（只读）：https://duban.example.gov.cn/?unit=mishu") {
		t.Errorf("message without the board link:\n%v", msgs)
	}
}

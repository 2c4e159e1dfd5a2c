package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"duban/cmd/internal/importer"
	"duban/notify"
	"duban/tracker"
	"duban/tracker/kvstore/kv"
)

// fakeLease is a Lease a test switches by hand.
type fakeLease struct {
	mu      sync.Mutex
	fence   kv.Fence
	leading bool
	// after, when > 0, counts Leading calls down; at 0 the lease is lost.
	after int
}

func (l *fakeLease) Run(ctx context.Context, changed func()) { <-ctx.Done() }

func (l *fakeLease) Leading() (kv.Fence, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.after > 0 {
		l.after--
		if l.after == 0 {
			l.leading = false
		}
	}
	return l.fence, l.leading
}

func (l *fakeLease) set(term int64, leading bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fence, l.leading, l.after = kv.Fence{Holder: "node-a", Term: term}, leading, 0
}

// leaderEnv is a daemon in leader mode over a bbolt store (which ignores
// fences: the store's side is tested on PostgreSQL), mailing to a box.
func leaderEnv(t *testing.T, items string) (*robotEnv, *fakeLease) {
	t.Helper()
	e := newRobotEnv(t, nil, items)
	lease := &fakeLease{}
	d, err := New(Options{Config: e.d.cfg, Expander: e.d.Expander(), Store: e.st, Lease: lease, Node: "node-a",
		NewSender: func() (notify.Sender, error) { return e.mail, nil }})
	if err != nil {
		t.Fatal(err)
	}
	e.d = d
	return e, lease
}

func (e *robotEnv) deliveries(state tracker.DeliveryState) []*tracker.Delivery {
	var out []*tracker.Delivery
	e.st.View(func(tx tracker.Tx) error {
		return tx.Deliveries(func(dl *tracker.Delivery) error {
			if dl.State == state {
				out = append(out, dl)
			}
			return nil
		})
	})
	return out
}

// A standby neither decides nor sends; the leader does, claiming each
// delivery under its term and naming node and term in each message.
func TestLeaderModeOnlyTheLeaderActs(t *testing.T) {
	e, lease := leaderEnv(t, itemsFor("fzj", 3, "2026-09-10"))
	at := time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai)
	if err := e.d.pass(t.Context(), at); !errors.Is(err, errNotLeading) || !Deposed(err) {
		t.Fatalf("standby pass = %v, want errNotLeading", err)
	}
	if n := len(e.mail.got); n != 0 {
		t.Fatalf("standby sent %d messages", n)
	}
	if n := len(e.deliveries(tracker.DeliveryQueued)) + len(e.deliveries(tracker.DeliverySent)); n != 0 {
		t.Fatalf("standby decided %d deliveries", n)
	}

	lease.set(7, true)
	if err := e.d.pass(t.Context(), at); err != nil {
		t.Fatalf("leader pass: %v", err)
	}
	sent := e.deliveries(tracker.DeliverySent)
	if len(sent) == 0 || len(e.mail.got) == 0 {
		t.Fatalf("leader sent %d messages, %d deliveries marked", len(e.mail.got), len(sent))
	}
	for _, dl := range sent {
		if dl.ClaimTerm != 7 || dl.ClaimedBy != "node-a" {
			t.Errorf("delivery %s claimed by %q under term %d, want node-a under 7", dl.Key, dl.ClaimedBy, dl.ClaimTerm)
		}
	}
	for _, m := range e.mail.got {
		if m.Headers[HeaderNode] != "node-a" || m.Headers[HeaderTerm] != "7" {
			t.Errorf("message %s headers %v, want node-a and term 7", m.Key, m.Headers)
		}
	}
	var st *Status
	e.st.View(func(tx tracker.Tx) (err error) { st, err = LoadStatus(tx); return err })
	if st == nil || st.Node != "node-a" || st.Term != 7 {
		t.Errorf("status %+v, want the pass of node-a under term 7", st)
	}
}

// A leader that loses its lease during delivery stops before the next
// message leaves: what it did not send stays queued for the next leader.
func TestLeaderModeStopsWhenTheLeaseIsLost(t *testing.T) {
	e, lease := leaderEnv(t, itemsFor("fzj", 3, "2026-09-10")+"  - {id: cz-1, title: 财政事项, unit: caizheng, start: 2026-09-01, due: 2026-09-10, policy: standard}\n"+
		"  - {id: ms-1, title: 秘书事项, unit: mishu, start: 2026-09-01, due: 2026-09-10, policy: standard}\n")
	lease.set(3, true)
	// Leading is asked at the pass's start, then at each claim: the
	// second message's claim finds the lease lost.
	lease.mu.Lock()
	lease.after = 3
	lease.mu.Unlock()
	at := time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai)
	err := e.d.pass(t.Context(), at)
	if !Deposed(err) {
		t.Fatalf("pass = %v, want deposed", err)
	}
	if n := len(e.mail.got); n != 1 {
		t.Fatalf("%d messages sent, want 1 (the lease was lost before the second)", n)
	}
	queued := e.deliveries(tracker.DeliveryQueued)
	if len(queued) == 0 {
		t.Fatal("nothing left queued")
	}
	// The next leader (a higher term) sends the rest, the claimed one again.
	lease.set(4, true)
	if err := e.d.pass(t.Context(), at.Add(time.Minute)); err != nil {
		t.Fatalf("next leader's pass: %v", err)
	}
	if q := e.deliveries(tracker.DeliveryQueued); len(q) != 0 {
		t.Errorf("%d deliveries still queued", len(q))
	}
	for _, m := range e.mail.got[1:] {
		if m.Headers[HeaderTerm] != strconv.Itoa(4) {
			t.Errorf("message %s sent under term %s after the takeover, want 4", m.Key, m.Headers[HeaderTerm])
		}
	}
}

// Only the leader polls the reply mailbox: a standby does not connect.
func TestLeaderModeOnlyTheLeaderPollsIMAP(t *testing.T) {
	e, lease := leaderEnv(t, itemsFor("fzj", 1, "2026-09-10"))
	e.d.cfg.Inbound.IMAP.Host, e.d.cfg.Inbound.IMAP.Port = "127.0.0.1", 1 // nothing listens there
	e.d.cfg.Inbound.IMAP.TLS, e.d.cfg.Inbound.IMAP.Username = "none", "ducha"
	at := time.Date(2026, 9, 14, 9, 0, 0, 0, shanghai)
	if _, err := e.d.PollInbound(t.Context(), at); err != nil {
		t.Errorf("standby polled: %v", err)
	}
	lease.set(2, true)
	if _, err := e.d.PollInbound(t.Context(), at); err == nil {
		t.Error("the leader did not poll (no connection error from a closed port)")
	}
}

// Another node's write cannot wake the leader: the leader looks at the
// indexes every cluster.renew and sends what came due.
func TestLeaderModeLooksForOtherNodesWrites(t *testing.T) {
	e, lease := leaderEnv(t, itemsFor("fzj", 1, "2026-09-10"))
	e.d.cfg.Admin.Socket = ""
	e.d.lead.renew = 20 * time.Millisecond
	lease.set(5, true)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after 5s: %s", what)
			}
		}
	}
	waitFor("the first pass mailed fzj's head", func() bool { return len(e.mail.to("wang@example.gov.cn")) > 0 })
	// Let the passes settle: the loop is then asleep until the next notice.
	count := func() int {
		e.mail.mu.Lock()
		defer e.mail.mu.Unlock()
		return len(e.mail.got)
	}
	for n := -1; n != count(); time.Sleep(300 * time.Millisecond) {
		n = count()
	}
	// Another node records an item for caizheng: no Wake reaches this one.
	path := filepath.Join(t.TempDir(), "more.yaml")
	if err := os.WriteFile(path, []byte(itemsFor("caizheng", 1, "2026-09-30")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := importer.Files(t.Context(), e.st, e.d.Expander(), []string{path}, []string{"more.yaml"}, time.Now(), "other node", false); err != nil {
		t.Fatal(err)
	}
	waitFor("the leader mailed caizheng's head the new assignment", func() bool { return len(e.mail.to("chen@example.gov.cn")) > 0 })
}

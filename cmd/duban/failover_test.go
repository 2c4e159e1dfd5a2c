package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"duban/cmd/internal/daemon"
	"duban/cmd/internal/workload"
	"duban/notify/smtptest"
	"duban/tracker/kvstore/pgkv"
	"duban/tracker/kvstore/pgtest"
)

// The failover test's lease: short, so that takeovers are quick; the
// renewal at a third of it (the most config allows).
const (
	failoverTTL   = 3 * time.Second
	failoverRenew = time.Second
	// failoverSlack is what a takeover may take beyond TTL + renew: the
	// standby's poll and its first pass.
	failoverSlack = 2 * time.Second
	// A leader paused inside a write transaction holds its locks (the
	// write lock, or the lease row FOR SHARE at commit) until the server
	// ends its session: idle_in_transaction_session_timeout, 10 s. With
	// the default TTL (15 s) that is within the lease; with this test's
	// short one it bounds the takeover after a pause.
	failoverPauseLimit = pgkv.DefaultIdleInTxTimeout + failoverRenew + failoverSlack
)

// clusterNode is one `duban serve` process of the failover test.
type clusterNode struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

// acceptedMsg is one message the SMTP server accepted, with the node and
// term it names and when.
type acceptedMsg struct {
	at        time.Time
	messageID string
	node      string
	term      int64
}

// TestFailoverThreeNodes runs three `duban serve` nodes on one PostgreSQL
// database (SPEC §14) with thousands of notices coming due, and kills or
// pauses the leader at seeded random moments of delivery: SIGKILL at a
// random moment, SIGKILL from the SMTP server's hook between its
// acceptance and the node's mark (the worst moment), and SIGSTOP past the
// lease's TTL, then SIGCONT. Once the outbox is empty it counts: notices
// lost (must be 0), repeats (at most one per kill or pause), terms under
// which two nodes sent (0), and takeover times (at most TTL + renew +
// slack).
//
// DUBAN_FAILOVER_SEED sets the seed (default: time), DUBAN_FAILOVER_ITEMS
// the number of items (default 450: with digest off and catchup all,
// about 3,000 deliveries).
func TestFailoverThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("failover test: runs three daemons and kills them")
	}
	dbURL := pgtest.URL(t)
	seed := seedFromEnv(t, "DUBAN_FAILOVER_SEED")
	items := 450
	if s := os.Getenv("DUBAN_FAILOVER_ITEMS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			t.Fatalf("DUBAN_FAILOVER_ITEMS=%q (at least 100)", s)
		}
		items = n
	}
	t.Logf("seed %d (rerun with DUBAN_FAILOVER_SEED=%d), %d items", seed, seed, items)
	rng := rand.New(rand.NewPCG(seed, seed^0xfa11))
	ctx, cancel := context.WithTimeout(t.Context(), 170*time.Second) // the whole test within 3 minutes
	defer cancel()
	started := time.Now()

	bin := buildDuban(t)
	rs := smtptest.Start(t, smtptest.Options{TLS: smtptest.None})
	dir := t.TempDir()
	config := smtpConfig(t, dir, dbURL, rs.Port, fmt.Sprintf("catchup: all\ncluster: {lease_ttl: %s, renew: %s}\n", failoverTTL, failoverRenew))
	// Items started over the last 20 days: each gets its assigned notice
	// at the first pass (with digest off, one message per notice), some
	// their reminders and overdue notices too.
	track := filepath.Join(dir, "tracked.yaml")
	var buf bytes.Buffer
	from := time.Now().AddDate(0, 0, -20).Format(time.DateOnly)
	writeWorkload(t, &buf, workload.Spec{Items: items, Units: 20, Seed: 11, From: from, Days: 20})
	if err := os.WriteFile(track, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, bin, "--config", config, "import", track).CombinedOutput(); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// Every accepted message, in order; kill is the node to SIGKILL from
	// the hook at its next accepted message (between acceptance and mark).
	var mu sync.Mutex
	var accepted []acceptedMsg
	nodes := map[string]*clusterNode{}
	var killOnAccept string
	hookKilled := make(chan string, 1)
	rs.SetAcceptHook(func(m smtptest.Message) {
		h, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Errorf("accepted message does not parse: %v", err)
			return
		}
		term, _ := strconv.ParseInt(h.Header.Get(daemon.HeaderTerm), 10, 64)
		a := acceptedMsg{at: time.Now(), messageID: h.Header.Get("Message-Id"), node: h.Header.Get(daemon.HeaderNode), term: term}
		mu.Lock()
		accepted = append(accepted, a)
		var victim *clusterNode
		if killOnAccept != "" && killOnAccept == a.node {
			victim, killOnAccept = nodes[a.node], ""
		}
		mu.Unlock()
		if victim != nil {
			victim.cmd.Process.Signal(syscall.SIGKILL)
			<-victim.exited // the 250 is never read: no mark
			hookKilled <- victim.name
		}
	})
	snapshot := func() []acceptedMsg {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(accepted)
	}

	gen := map[int]int{}
	start := func(i int) *clusterNode {
		gen[i]++
		n := &clusterNode{name: fmt.Sprintf("n%d-%d", i, gen[i]), exited: make(chan struct{})}
		n.log = filepath.Join(dir, n.name+".log")
		logf, err := os.Create(n.log)
		if err != nil {
			t.Fatal(err)
		}
		n.cmd = exec.Command(bin, "--config", config, "serve")
		n.cmd.Env = append(os.Environ(), "DUBAN_CLUSTER_NODE="+n.name, "DUBAN_LOG_LEVEL=info", "DUBAN_ADMIN_SOCKET="+shortSocket(t, filepath.Join(dir, n.name)))
		n.cmd.Stdout, n.cmd.Stderr = logf, logf
		if err := n.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			n.cmd.Wait()
			logf.Close()
			close(n.exited)
		}()
		mu.Lock()
		nodes[n.name] = n
		mu.Unlock()
		return n
	}
	running := map[int]*clusterNode{}
	for i := range 3 {
		running[i] = start(i)
	}
	slot := func(name string) int {
		for i, n := range running {
			if n.name == name {
				return i
			}
		}
		return -1
	}
	defer func() {
		for _, n := range running {
			n.cmd.Process.Signal(syscall.SIGCONT)
			n.cmd.Process.Signal(syscall.SIGKILL)
			<-n.exited
		}
		if t.Failed() {
			for _, n := range nodes {
				b, _ := os.ReadFile(n.log)
				t.Logf("log of %s:\n%s", n.name, tail(string(b), 3000))
			}
		}
	}()

	// leader waits until a running node leads and has sent at least
	// min messages under its term; it returns the node and the term.
	leader := func(min int) (*clusterNode, int64) {
		t.Helper()
		for {
			if ctx.Err() != nil {
				t.Fatalf("no leader sending: %v", ctx.Err())
			}
			info, err := pgkv.ReadLease(ctx, pool)
			if err == nil && info.Held() && slot(info.Holder) >= 0 {
				sent := 0
				for _, a := range snapshot() {
					if a.node == info.Holder && a.term == info.Term {
						sent++
					}
				}
				if sent >= min {
					return running[slot(info.Holder)], info.Term
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// takeover waits until a term after old holds the lease and a message
	// was accepted under it; it returns both times since t0.
	takeover := func(old int64, t0 time.Time) (lease, send time.Duration) {
		t.Helper()
		for lease == 0 || send == 0 {
			if ctx.Err() != nil {
				t.Fatalf("no takeover after term %d: %v", old, ctx.Err())
			}
			if lease == 0 {
				if info, err := pgkv.ReadLease(ctx, pool); err == nil && info.Held() && info.Term > old {
					lease = time.Since(t0)
				}
			}
			if send == 0 {
				for _, a := range snapshot() {
					if a.term > old && a.at.After(t0) {
						send = a.at.Sub(t0)
						break
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		return lease, send
	}

	// Kills and pauses, in a seeded order.
	actions := []string{"kill", "kill", "kill", "kill-accepted", "kill-accepted", "kill-accepted", "stop", "stop"}
	rng.Shuffle(len(actions), func(i, j int) { actions[i], actions[j] = actions[j], actions[i] })
	var kills, pauses int
	var leaseTakeovers, sendTakeovers []time.Duration
	var killTakeovers, pauseTakeovers []time.Duration
	for _, act := range actions {
		n, term := leader(20 + rng.IntN(150))
		var t0 time.Time
		switch act {
		case "kill":
			time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
			t0 = time.Now()
			n.cmd.Process.Signal(syscall.SIGKILL)
			<-n.exited
			kills++
		case "kill-accepted":
			mu.Lock()
			killOnAccept = n.name
			mu.Unlock()
			select {
			case <-hookKilled:
				t0 = time.Now()
			case <-time.After(10 * time.Second):
				t.Fatalf("leader %s sent nothing for 10s", n.name)
			}
			kills++
		case "stop":
			t0 = time.Now()
			n.cmd.Process.Signal(syscall.SIGSTOP)
			pauses++
		}
		lt, st := takeover(term, t0)
		leaseTakeovers, sendTakeovers = append(leaseTakeovers, lt), append(sendTakeovers, st)
		if act == "stop" {
			pauseTakeovers = append(pauseTakeovers, lt)
		} else {
			killTakeovers = append(killTakeovers, lt)
		}
		t.Logf("%s %s (term %d) after %d messages: lease taken over in %v, sending again in %v",
			act, n.name, term, len(snapshot()), lt.Round(time.Millisecond), st.Round(time.Millisecond))
		if act == "stop" {
			time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
			n.cmd.Process.Signal(syscall.SIGCONT) // resumes as a deposed node
		} else {
			running[slot(n.name)] = start(slot(n.name))
		}
	}
	actionsDone := time.Now()

	// Wait until the outbox is empty.
	var rows []outboxEntry
	for {
		if ctx.Err() != nil {
			t.Fatalf("outbox not empty in time: %v", ctx.Err())
		}
		out, err := exec.CommandContext(ctx, bin, "--config", config, "outbox", "--format", "json").Output()
		if err != nil {
			t.Fatalf("outbox: %v", err)
		}
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("outbox output: %v\n%s", err, out)
		}
		if len(rows) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	drained := time.Now()
	for _, n := range running {
		n.cmd.Process.Signal(syscall.SIGTERM) // resigns
	}
	for _, n := range running {
		<-n.exited
	}
	waitIdle(t, rs)

	out, err := exec.CommandContext(ctx, bin, "--config", config, "outbox", "--all", "--format", "json").Output()
	if err != nil {
		t.Fatalf("outbox --all: %v", err)
	}
	var all []struct {
		outboxEntry
		ClaimTerm int64  `json:"claim_term"`
		ClaimedBy string `json:"claimed_by"`
	}
	if err := json.Unmarshal(out, &all); err != nil {
		t.Fatal(err)
	}
	msgs := snapshot()
	byID := map[string][]acceptedMsg{}
	nodesOfTerm := map[int64]map[string]bool{}
	for _, m := range msgs {
		byID[m.messageID] = append(byID[m.messageID], m)
		if m.node == "" || m.term == 0 {
			t.Errorf("message %s without node or term headers", m.messageID)
		}
		if nodesOfTerm[m.term] == nil {
			nodesOfTerm[m.term] = map[string]bool{}
		}
		nodesOfTerm[m.term][m.node] = true
	}
	lost, sent := 0, 0
	states := map[string]int{}
	known := map[string]bool{}
	for _, e := range all {
		states[e.State]++
		if e.State != "sent" {
			lost++
			t.Errorf("delivery %s ended %s (%s)", e.Key, e.State, e.LastError)
			continue
		}
		sent++
		known[e.MessageID] = true
		copies := byID[e.MessageID]
		if len(copies) == 0 {
			lost++
			t.Errorf("delivery %s is marked sent but the server never accepted %s", e.Key, e.MessageID)
			continue
		}
		// The mark was written under the claim's term, by the node that
		// sent the last copy under it.
		if !slices.ContainsFunc(copies, func(m acceptedMsg) bool { return m.node == e.ClaimedBy && m.term == e.ClaimTerm }) {
			t.Errorf("delivery %s marked under %s/%d, but its copies came from %v", e.Key, e.ClaimedBy, e.ClaimTerm, copies)
		}
	}
	repeats := 0
	for id, copies := range byID {
		if !known[id] {
			t.Errorf("accepted Message-ID %s that no sent delivery carries", id)
		}
		repeats += len(copies) - 1
	}
	twoNodes := 0
	terms := make([]int64, 0, len(nodesOfTerm))
	for term, ns := range nodesOfTerm {
		terms = append(terms, term)
		if len(ns) > 1 {
			twoNodes++
			t.Errorf("term %d: messages from %d nodes %v", term, len(ns), ns)
		}
	}
	slices.Sort(terms)
	if lost != 0 {
		t.Errorf("%d notices lost", lost)
	}
	if repeats > kills+pauses {
		t.Errorf("%d repeated messages from %d kills and %d pauses: at most one each", repeats, kills, pauses)
	}
	maxSend := slices.Max(sendTakeovers)
	if m, limit := slices.Max(killTakeovers), failoverTTL+failoverRenew+failoverSlack; m > limit {
		t.Errorf("a takeover after a kill took %v, more than TTL %v + renew %v + slack %v", m, failoverTTL, failoverRenew, failoverSlack)
	}
	if m := slices.Max(pauseTakeovers); m > failoverPauseLimit {
		t.Errorf("a takeover after a pause took %v, more than %v (the idle-in-transaction timeout + renew + slack)", m, failoverPauseLimit)
	}
	if sent < 1000 {
		t.Errorf("only %d deliveries: want thousands of notices coming due", sent)
	}
	t.Logf("%d deliveries %v, %d messages accepted, %d kills (%d between acceptance and mark) and %d pauses of a leader: "+
		"%d lost, %d repeats, %d terms with two nodes sending (terms %v); takeover of the lease max %v after a kill, %v after a pause (each %v), "+
		"first message of the new leader max %v; actions in %v, outbox empty %v later, whole test %v",
		len(all), states, len(msgs), kills, strings.Count(strings.Join(actions, " "), "kill-accepted"), pauses,
		lost, repeats, twoNodes, terms, slices.Max(killTakeovers).Round(time.Millisecond), slices.Max(pauseTakeovers).Round(time.Millisecond), roundAll(leaseTakeovers),
		maxSend.Round(time.Millisecond), actionsDone.Sub(started).Round(time.Millisecond),
		drained.Sub(actionsDone).Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

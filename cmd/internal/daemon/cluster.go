package daemon

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore/kv"
)

// Several nodes on one PostgreSQL database (SPEC §14). Every node serves
// the admin socket, the workspace, the API and the units' links; only
// the leader — the node holding the lease — runs the scheduler
// (recompute, tracking files, materialise, decide), delivery of mail,
// robots and reports, and the IMAP poll. Every write of those runs
// through the store fenced by the term the pass started under: a node
// deposed meanwhile (another took the lease over, under a higher term)
// gets kv.ErrFenced, keeps nothing, and stops the pass at once.
//
// Delivery is claim → send → mark: the claim (ClaimTerm, ClaimedBy on
// each delivery the message carries) and the sent mark are fenced
// writes, and the node checks that it still leads, under the same term,
// right before each message leaves. A leader that dies between the
// server's acceptance and the mark leaves the claim: the next leader,
// which leads only once that lease expired, sends the message again with
// the same Message-ID. Each message carries X-Duban-Node and
// X-Duban-Term, so that mail logs show who sent it under which term.
//
// Other nodes' writes (an action in the workspace on another node)
// cannot Wake the leader: the leader looks at the wake and queue indexes
// every cluster.renew (a read; a pass runs only if something is due), and
// a standby waits for the lease (Lease.Run reports each change, which
// wakes the loop), checking every cluster.renew too.

// Lease is this node's leader lease on a shared database: pgkv.Lease,
// adapted by package main.
type Lease interface {
	// Run keeps trying to acquire and renew the lease until ctx ends,
	// then resigns; changed is called on every change of leadership.
	Run(ctx context.Context, changed func())
	// Leading returns the fence to write under, and true only while this
	// node may act as the leader (inside its trust window).
	Leading() (kv.Fence, bool)
}

// errNotLeading is a pass's error on a node that does not lead (or no
// longer does, under the term the pass started with). It wraps
// kv.ErrFenced: the loop treats both alike, as a standby's normal state.
var errNotLeading = fmt.Errorf("not the leader: %w", kv.ErrFenced)

// Deposed reports whether err means this node does not, or no longer,
// lead: a standby's pass, or a write fenced out by a newer term.
func Deposed(err error) bool { return errors.Is(err, kv.ErrFenced) }

// leader is the state of leader mode (nil without a lease: one node).
type leader struct {
	lease Lease
	node  string
	renew time.Duration

	mu    sync.Mutex
	fence kv.Fence // the term the current pass runs under
	led   int64    // the term the scheduler's start (recompute, load) ran under
}

// Node is this node's name (cluster.node); "" without a lease.
func (d *Daemon) Node() string {
	if d.lead == nil {
		return ""
	}
	return d.lead.node
}

// Leading reports whether this node acts as the leader now, and under
// which term; on one node (no lease) it always does, with term 0.
func (d *Daemon) Leading() (kv.Fence, bool) {
	if d.lead == nil {
		return kv.Fence{}, true
	}
	return d.lead.lease.Leading()
}

// Clustered reports whether the daemon runs under a leader lease.
func (d *Daemon) Clustered() bool { return d.lead != nil }

// startPass checks, in leader mode, that this node leads and fixes the
// fence of the pass; it reports whether the scheduler's start (recompute,
// tracking files) must run first: at the first pass of a new term.
func (d *Daemon) startPass() (start bool, err error) {
	if d.lead == nil {
		return false, nil
	}
	f, ok := d.lead.lease.Leading()
	if !ok {
		return false, errNotLeading
	}
	d.lead.mu.Lock()
	defer d.lead.mu.Unlock()
	d.lead.fence = f
	return d.lead.led != f.Term, nil
}

// started records that the scheduler's start ran under the pass's term.
func (d *Daemon) started() {
	if d.lead == nil {
		return
	}
	d.lead.mu.Lock()
	d.lead.led = d.lead.fence.Term
	d.lead.mu.Unlock()
}

// restart makes the next pass run the scheduler's start again (SIGHUP).
func (d *Daemon) restart() {
	if d.lead == nil {
		return
	}
	d.lead.mu.Lock()
	d.lead.led = 0
	d.lead.mu.Unlock()
}

// passFence is the fence of the running pass.
func (d *Daemon) passFence() kv.Fence {
	d.lead.mu.Lock()
	defer d.lead.mu.Unlock()
	return d.lead.fence
}

// writer is the store the scheduler and the mailer write through: the
// daemon's store, fenced by the pass's term in leader mode.
func (d *Daemon) writer() tracker.Store {
	if d.lead == nil {
		return d.store
	}
	return d.store.Fenced(d.passFence())
}

// mayAct checks, right before a message leaves, that this node still
// leads under the pass's term.
func (d *Daemon) mayAct() error {
	if d.lead == nil {
		return nil
	}
	f, ok := d.lead.lease.Leading()
	if !ok || f != d.passFence() {
		return errNotLeading
	}
	return nil
}

// claim records, fenced, that this node sends the deliveries of group
// under the pass's term (leader mode only: one node needs no claim).
func (d *Daemon) claim(group []*tracker.Delivery) error {
	if d.lead == nil {
		return nil
	}
	f := d.passFence()
	if err := d.writer().Update(func(tx tracker.Tx) error {
		for _, g := range group {
			if err := updateQueued(tx, g.Key, func(dl *tracker.Delivery) error {
				if dl.ClaimTerm != 0 && dl.ClaimTerm < f.Term {
					d.logger.Info("resending a delivery claimed under an older term", "delivery", dl.Key,
						"claimed_by", dl.ClaimedBy, "claim_term", dl.ClaimTerm, "term", f.Term)
				}
				dl.ClaimTerm, dl.ClaimedBy = f.Term, d.lead.node
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("claim: %w", err)
	}
	return d.mayAct()
}

// Header names of the node and term a message was sent under.
const (
	HeaderNode = "X-Duban-Node"
	HeaderTerm = "X-Duban-Term"
)

// traceHeaders are the headers naming the node and term of the pass
// (nil on one node: its mail stays as it was).
func (d *Daemon) traceHeaders() map[string]string {
	if d.lead == nil {
		return nil
	}
	return map[string]string{HeaderNode: d.lead.node, HeaderTerm: strconv.FormatInt(d.passFence().Term, 10)}
}

// due reports, for a leader's periodic look, whether a pass has work:
// something in the wake or queue indexes (or a report) is due by now, or
// a new day began (materialise).
func (d *Daemon) due(now time.Time) (bool, time.Duration, error) {
	if d.Expander().Env.Today(now) != d.materialisedOn {
		return true, 0, nil
	}
	var next time.Time
	var ok bool
	err := d.store.View(func(tx tracker.Tx) error {
		var err error
		next, ok, err = d.nextWake(tx)
		return err
	})
	if err != nil {
		return true, 0, err
	}
	if !ok {
		return false, maxSleep, nil
	}
	return !next.After(now), next.Sub(now), nil
}

// waitLeading waits, for `serve --once` in leader mode, until this node
// leads, at most wait.
func (d *Daemon) waitLeading(ctx context.Context, wait time.Duration) error {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, ok := d.lead.lease.Leading(); ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("另一节点持有主节点租约，%s 内未能接任；请在主节点上运行，或稍后再试: %w", wait, errNotLeading)
		case <-d.wakeCh:
		case <-tick.C:
		}
	}
}

package pgkv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"duban/tracker/kvstore/pgtest"
)

// leaseTables returns the URL of an empty test database holding the
// tables of migration 1.
func leaseTables(t testing.TB) string {
	t.Helper()
	url := pgtest.URL(t)
	p := leasePool(t, url, nil)
	if _, err := p.Exec(context.Background(), migrations[1]); err != nil {
		t.Fatalf("migration 1: %v", err)
	}
	return url
}

// leasePool opens a pool on url, closed when t ends; with a gate, every
// connection is dialled through it.
func leasePool(t testing.TB, url string, g *leaseGate) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "lease_test"
	if g != nil {
		cfg.ConnConfig.DialFunc = g.dial
		cfg.ConnConfig.RuntimeParams["application_name"] = "gated"
	}
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// leaseGate cuts a node off the database: closed, it drops the node's
// connections and refuses new ones, as a network partition would.
type leaseGate struct {
	mu     sync.Mutex
	closed bool
	conns  []net.Conn
}

func (g *leaseGate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, errors.New("gate closed")
	}
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		g.conns = append(g.conns, c)
	}
	return c, err
}

func (g *leaseGate) set(closed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = closed
	if closed {
		for _, c := range g.conns {
			c.Close()
		}
		g.conns = nil
	}
}

// leaseClock is a local clock that moves only when told.
type leaseClock struct {
	mu sync.Mutex
	t  time.Time
}

func newLeaseClock() *leaseClock { return &leaseClock{t: time.Unix(1_000_000, 0)} }

func (c *leaseClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *leaseClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func leaseCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustAcquire(t testing.TB, l *Lease) LeaseState {
	t.Helper()
	s, err := l.Acquire(leaseCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readLease(t testing.TB, p *pgxpool.Pool) LeaseInfo {
	t.Helper()
	i, err := ReadLease(leaseCtx(t, 10*time.Second), p)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func expireLease(t testing.TB, p *pgxpool.Pool) {
	t.Helper()
	if _, err := p.Exec(leaseCtx(t, 10*time.Second), `UPDATE duban_lease SET expires_at = now() - interval '1 second' WHERE name = 'leader'`); err != nil {
		t.Fatal(err)
	}
}

func TestLeaseOneLeadsAStandbyCannotTakeAValidLease(t *testing.T) {
	p := leasePool(t, leaseTables(t), nil)
	if i := readLease(t, p); i.Held() || i.Holder != "" || i.Term != 0 {
		t.Fatalf("fresh lease: %+v", i)
	}
	clk := newLeaseClock()
	o := LeaseOptions{Now: clk.Now}
	a, b := NewLease(p, "a", o), NewLease(p, "b", o)

	s := mustAcquire(t, a)
	if !s.Leading || s.Term != 1 || s.Holder != "a" {
		t.Fatalf("a after acquire: %+v", s)
	}
	if want := clk.Now().Add(DefaultLeaseTTL - DefaultLeaseRenew); !s.Until.Equal(want) {
		t.Fatalf("trust window ends %v, want send time + TTL − margin = %v", s.Until, want)
	}
	if f, ok := a.Leading(); !ok || f.Holder != "a" || f.Term != 1 {
		t.Fatalf("a.Leading() = %+v, %v", f, ok)
	}
	i := readLease(t, p)
	if i.Holder != "a" || i.Term != 1 || !i.Held() {
		t.Fatalf("lease row: %+v", i)
	}
	if left := i.ExpiresAt.Sub(i.DBNow); left <= DefaultLeaseTTL-2*time.Second || left > DefaultLeaseTTL {
		t.Fatalf("lease expires in %v by the database's clock, want about %v", left, DefaultLeaseTTL)
	}

	for range 3 {
		if s := mustAcquire(t, b); s.Leading || s.Term != 0 {
			t.Fatalf("standby b took a valid lease: %+v", s)
		}
	}
	if _, ok := b.Leading(); ok {
		t.Fatal("b leads while a holds the lease")
	}

	clk.Advance(time.Second)
	s = mustAcquire(t, a)
	if !s.Leading || s.Term != 1 {
		t.Fatalf("renewal changed the term: %+v", s)
	}
	if want := clk.Now().Add(DefaultLeaseTTL - DefaultLeaseRenew); !s.Until.Equal(want) {
		t.Fatalf("renewal: window ends %v, want %v", s.Until, want)
	}
	if i2 := readLease(t, p); !i2.ExpiresAt.After(i.ExpiresAt) || i2.Term != 1 {
		t.Fatalf("renewal did not extend the lease: %+v then %+v", i, i2)
	}
}

func TestLeaseStandbyTakesAnExpiredLeaseWithTheNextTerm(t *testing.T) {
	p := leasePool(t, leaseTables(t), nil)
	clk := newLeaseClock()
	o := LeaseOptions{Now: clk.Now}
	a, b := NewLease(p, "a", o), NewLease(p, "b", o)
	mustAcquire(t, a)

	expireLease(t, p)
	// a's trust window is still open by its own clock; the database says
	// the lease expired (a was paused, or its clock runs slow).
	s := mustAcquire(t, b)
	if !s.Leading || s.Term != 2 {
		t.Fatalf("b after a's lease expired: %+v, want leading under term 2", s)
	}
	if i := readLease(t, p); i.Holder != "b" || i.Term != 2 {
		t.Fatalf("lease row: %+v", i)
	}
	s = mustAcquire(t, a)
	if s.Leading || s.Term != 1 {
		t.Fatalf("a's renewal after b's takeover: %+v, want not leading", s)
	}
	if _, ok := a.Leading(); ok {
		t.Fatal("a still leads after its renewal found b under a newer term")
	}
	if i := readLease(t, p); i.Holder != "b" || i.Term != 2 {
		t.Fatalf("a's failed renewal changed the row: %+v", i)
	}
}

func TestLeaseExpiredOwnLeaseIsRetakenUnderANewTerm(t *testing.T) {
	p := leasePool(t, leaseTables(t), nil)
	a := NewLease(p, "a", LeaseOptions{})
	mustAcquire(t, a)
	expireLease(t, p)
	// Nobody took over, but another node could have acted as leader
	// under term 1 in between by its rules: the term moves on.
	if s := mustAcquire(t, a); !s.Leading || s.Term != 2 {
		t.Fatalf("a re-acquiring its expired lease: %+v, want term 2", s)
	}
}

func TestLeaseSameNameInAnotherProcessWaitsForExpiry(t *testing.T) {
	p := leasePool(t, leaseTables(t), nil)
	a1, a2 := NewLease(p, "a", LeaseOptions{}), NewLease(p, "a", LeaseOptions{})
	mustAcquire(t, a1)
	if s := mustAcquire(t, a2); s.Leading {
		t.Fatalf("a second process named a took a's valid lease: %+v", s)
	}
	expireLease(t, p)
	if s := mustAcquire(t, a2); !s.Leading || s.Term != 2 {
		t.Fatalf("second a after expiry: %+v", s)
	}
	if s := mustAcquire(t, a1); s.Leading {
		t.Fatalf("first a renewed over the second: %+v", s)
	}
}

func TestLeaseResignHandsOverAtOnce(t *testing.T) {
	p := leasePool(t, leaseTables(t), nil)
	a, b := NewLease(p, "a", LeaseOptions{}), NewLease(p, "b", LeaseOptions{})
	if err := a.Resign(leaseCtx(t, 10*time.Second)); err != nil {
		t.Fatalf("resign without ever leading: %v", err)
	}
	mustAcquire(t, a)
	if err := a.Resign(leaseCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Leading(); ok {
		t.Fatal("a leads after resigning")
	}
	i := readLease(t, p)
	if i.Held() || i.Holder != "" || i.Term != 1 || !i.ExpiresAt.Before(i.DBNow) {
		t.Fatalf("lease row after resign: %+v", i)
	}
	if s := mustAcquire(t, b); !s.Leading || s.Term != 2 {
		t.Fatalf("b right after a resigned: %+v", s)
	}
	// A late resign of a must not free b's lease.
	if err := a.Resign(leaseCtx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if i := readLease(t, p); i.Holder != "b" || i.Term != 2 || !i.Held() {
		t.Fatalf("a's second resign touched b's lease: %+v", i)
	}
}

// TestLeaseTermOnlyGrows runs random acquires, renewals, resigns and
// expiries by three nodes and checks after every step: the term never
// decreases, one holder per term, at most one node leading, and it
// holds the row's holder and term.
func TestLeaseTermOnlyGrows(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 15} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { leaseWalk(t, seed) })
	}
}

func leaseWalk(t *testing.T, seed uint64) {
	p := leasePool(t, leaseTables(t), nil)
	names := []string{"n1", "n2", "n3"}
	// One local clock for the three: an expiry by the database's clock
	// means a TTL has passed for every node.
	clk := newLeaseClock()
	var nodes []*Lease
	for _, n := range names {
		nodes = append(nodes, NewLease(p, n, LeaseOptions{Now: clk.Now}))
	}
	r := rand.New(rand.NewPCG(seed, 15))
	holderOf := map[int64]string{}
	nodeTerm := make([]int64, len(nodes))
	var lastTerm int64
	for step := range 50 {
		k := r.IntN(len(nodes))
		var what string
		switch x := r.IntN(10); {
		case x < 6:
			what = "acquire"
			mustAcquire(t, nodes[k])
		case x < 8:
			what = "resign"
			if err := nodes[k].Resign(leaseCtx(t, 10*time.Second)); err != nil {
				t.Fatal(err)
			}
		default:
			what = "expire"
			clk.Advance(DefaultLeaseTTL)
			expireLease(t, p)
		}
		clk.Advance(time.Duration(r.IntN(2000)) * time.Millisecond)
		i := readLease(t, p)
		if i.Term < lastTerm {
			t.Fatalf("step %d (%s %s): term went from %d to %d", step, what, names[k], lastTerm, i.Term)
		}
		lastTerm = i.Term
		if i.Holder != "" {
			if h, ok := holderOf[i.Term]; ok && h != i.Holder {
				t.Fatalf("step %d: term %d held by %s and %s", step, i.Term, h, i.Holder)
			}
			holderOf[i.Term] = i.Holder
		}
		leaders := 0
		for j, n := range nodes {
			s := n.State()
			if s.Term < nodeTerm[j] {
				t.Fatalf("step %d: %s's term went from %d to %d", step, names[j], nodeTerm[j], s.Term)
			}
			nodeTerm[j] = s.Term
			if !s.Leading {
				continue
			}
			leaders++
			if i.Holder != names[j] || i.Term != s.Term {
				t.Fatalf("step %d (%s %s): %s leads under term %d, row %+v", step, what, names[k], names[j], s.Term, i)
			}
		}
		if leaders > 1 {
			t.Fatalf("step %d: %d leaders", step, leaders)
		}
	}
	if lastTerm < 3 {
		t.Fatalf("only %d terms in 50 steps: the walk did not exercise takeovers", lastTerm)
	}
}

// lockLeaseRow locks the lease row in a transaction of p until the
// returned function commits it.
func lockLeaseRow(t *testing.T, p *pgxpool.Pool) (release func()) {
	t.Helper()
	ctx := leaseCtx(t, 30*time.Second)
	tx, err := p.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(ctx, `SELECT holder FROM duban_lease WHERE name = 'leader' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// waitLockWaiter waits until a backend of the database waits on a lock.
func waitLockWaiter(t *testing.T, p *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		err := p.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the renewal never waited on the lease row")
}

func TestLeaseHungRenewalDoesNotExtendTheTrustWindow(t *testing.T) {
	url := leaseTables(t)
	p, other := leasePool(t, url, nil), leasePool(t, url, nil)
	clk := newLeaseClock()
	a := NewLease(p, "a", LeaseOptions{Now: clk.Now})
	first := mustAcquire(t, a)

	release := lockLeaseRow(t, other)
	clk.Advance(4 * time.Second)
	done := make(chan LeaseState, 1)
	go func() {
		s, err := a.Acquire(leaseCtx(t, 30*time.Second))
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	waitLockWaiter(t, other)
	if _, ok := a.Leading(); !ok {
		t.Fatal("not leading inside the window")
	}
	clk.Advance(first.Until.Sub(clk.Now()) - time.Millisecond)
	if _, ok := a.Leading(); !ok {
		t.Fatal("not leading 1 ms before the window ends")
	}
	clk.Advance(time.Millisecond)
	if _, ok := a.Leading(); ok {
		t.Fatal("still leading at the end of the window while the renewal hangs")
	}
	clk.Advance(5 * time.Second) // the renewal comes back even later
	release()
	s := <-done
	if s.Leading {
		t.Fatalf("a renewal sent 4 s into the window and answered after it ended extended leadership: %+v", s)
	}
	if s.Term != 1 {
		t.Fatalf("renewal changed the term: %+v", s)
	}
	if want := first.Until.Add(4 * time.Second); !s.Until.Equal(want) {
		t.Fatalf("window after the late renewal ends %v, want its send time + TTL − margin = %v", s.Until, want)
	}
}

// runLease runs l until the test ends, recording every change.
type runLease struct {
	l       *Lease
	cancel  context.CancelFunc
	done    chan struct{}
	changes chan LeaseState
}

func startRun(t *testing.T, l *Lease) *runLease {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runLease{l: l, cancel: cancel, done: make(chan struct{}), changes: make(chan LeaseState, 100)}
	go func() {
		defer close(r.done)
		l.Run(ctx, func(s LeaseState) { r.changes <- s })
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *runLease) stop() {
	r.cancel()
	<-r.done
}

// next waits for r's next change.
func (r *runLease) next(t *testing.T, within time.Duration) LeaseState {
	t.Helper()
	select {
	case s := <-r.changes:
		return s
	case <-time.After(within):
		t.Fatalf("%s: no change within %v (state %+v)", r.l.holder, within, r.l.State())
		return LeaseState{}
	}
}

func (r *runLease) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case s := <-r.changes:
		t.Fatalf("%s: unexpected change %+v", r.l.holder, s)
	case <-time.After(d):
	}
}

// startGatedLeader runs node a on a gated pool of url and waits until it
// leads under term 1.
func startGatedLeader(t *testing.T, url string) (*leaseGate, *runLease) {
	t.Helper()
	g := &leaseGate{}
	a := startRun(t, NewLease(leasePool(t, url, g), "a", fastLease))
	if s := a.next(t, 5*time.Second); !s.Leading || s.Term != 1 {
		t.Fatalf("a: %+v", s)
	}
	return g, a
}

// killGated terminates the backends of the gated pools of admin's
// database and returns how many there were.
func killGated(t *testing.T, admin *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := admin.QueryRow(leaseCtx(t, 10*time.Second), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = 'gated'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var fastLease = LeaseOptions{TTL: 2 * time.Second, Renew: 200 * time.Millisecond, Margin: 400 * time.Millisecond}

func TestLeaseRunCleanStopHandsOverAtOnce(t *testing.T) {
	p := leasePool(t, leaseTables(t), nil)
	a := startRun(t, NewLease(p, "a", fastLease))
	if s := a.next(t, 5*time.Second); !s.Leading || s.Term != 1 {
		t.Fatalf("a: %+v", s)
	}
	b := startRun(t, NewLease(p, "b", fastLease))
	a.quiet(t, 3*fastLease.TTL/2) // a renews past its TTL; b stays standby
	if _, ok := b.l.Leading(); ok {
		t.Fatal("b leads while a renews")
	}
	if i := readLease(t, p); i.Holder != "a" || i.Term != 1 {
		t.Fatalf("after renewals past the TTL: %+v", i)
	}

	start := time.Now()
	a.stop()
	if s := a.next(t, time.Second); s.Leading {
		t.Fatalf("a's last change: %+v", s)
	}
	s := b.next(t, 5*time.Second)
	took := time.Since(start)
	if !s.Leading || s.Term != 2 {
		t.Fatalf("b: %+v", s)
	}
	t.Logf("handover after a clean stop: %v", took)
	if took > fastLease.TTL/2 {
		t.Fatalf("handover took %v: b waited for the lease to expire instead of seeing the resign", took)
	}
}

func TestLeaseRunReportsLossWhenARenewalHangs(t *testing.T) {
	url := leaseTables(t)
	p, other := leasePool(t, url, nil), leasePool(t, url, nil)
	a := startRun(t, NewLease(p, "a", fastLease))
	if s := a.next(t, 5*time.Second); !s.Leading {
		t.Fatalf("a: %+v", s)
	}
	release := lockLeaseRow(t, other)
	locked := time.Now()
	s := a.next(t, fastLease.TTL)
	if s.Leading {
		t.Fatalf("a: %+v", s)
	}
	took := time.Since(locked)
	t.Logf("loss reported %v after the row was locked (window %v)", took, fastLease.TTL-fastLease.Margin)
	if _, ok := a.l.Leading(); ok {
		t.Fatal("Leading after the loss was reported")
	}
	if took > fastLease.TTL-fastLease.Margin+500*time.Millisecond {
		t.Fatalf("loss reported after %v, later than the window allows", took)
	}
	release()
	if s := a.next(t, 5*time.Second); !s.Leading {
		t.Fatalf("a after the lock was released: %+v", s)
	}
}

func TestLeaseRunSurvivesAKilledConnection(t *testing.T) {
	url := leaseTables(t)
	admin := leasePool(t, url, nil)
	_, a := startGatedLeader(t, url)
	for range 3 {
		if killGated(t, admin) == 0 {
			t.Fatal("no connection of a to terminate")
		}
		a.quiet(t, 3*fastLease.Renew)
	}
	if s := a.l.State(); !s.Leading || s.Term != 1 {
		t.Fatalf("a after its connections were killed: %+v", s)
	}
}

// TestLeaseRunCutOffLeaderStopsBeforeTheStandbyStarts: a's connection is
// killed and it cannot reconnect. a must stop leading before b, which
// waits for the lease to expire by the database's clock, starts; and a,
// reconnected, must not lead again while b does.
func TestLeaseRunCutOffLeaderStopsBeforeTheStandbyStarts(t *testing.T) {
	url := leaseTables(t)
	pb := leasePool(t, url, nil)
	g, a := startGatedLeader(t, url)
	b := startRun(t, NewLease(pb, "b", fastLease))

	g.set(true)
	cut := time.Now()
	killGated(t, pb)
	la := a.next(t, fastLease.TTL)
	lost := time.Since(cut)
	if la.Leading {
		t.Fatalf("a: %+v", la)
	}
	gb := b.next(t, 2*fastLease.TTL)
	gained := time.Since(cut)
	if !gb.Leading || gb.Term != 2 {
		t.Fatalf("b: %+v", gb)
	}
	t.Logf("cut off at 0: a stopped leading at %v, b took over at %v (TTL %v)", lost, gained, fastLease.TTL)
	if lost > fastLease.TTL-fastLease.Margin+500*time.Millisecond {
		t.Fatalf("a stopped after %v, later than its window", lost)
	}
	// The safety property: a's trust window ended before b even sent the
	// acquire that won (both windows are on this machine's clock).
	bSent := gb.Until.Add(-(fastLease.TTL - fastLease.Margin))
	if !la.Until.Before(bSent) {
		t.Fatalf("a trusted its lease until %v, b acquired at %v", la.Until, bSent)
	}
	t.Logf("gap between a's window end and b's acquire: %v", bSent.Sub(la.Until))
	if _, ok := a.l.Leading(); ok {
		t.Fatal("a leads while b does")
	}

	g.set(false)
	a.quiet(t, 5*fastLease.Renew)
	if i := readLease(t, pb); i.Holder != "b" || i.Term != 2 {
		t.Fatalf("after a reconnected: %+v", i)
	}
	b.stop()
	if s := a.next(t, 5*time.Second); !s.Leading || s.Term != 3 {
		t.Fatalf("a after b stopped: %+v", s)
	}
}

func TestLeaseRunReportsATermChange(t *testing.T) {
	p := leasePool(t, leaseTables(t), nil)
	a := startRun(t, NewLease(p, "a", fastLease))
	if s := a.next(t, 5*time.Second); !s.Leading || s.Term != 1 {
		t.Fatalf("a: %+v", s)
	}
	// The row expires by the database's clock while a still trusts its
	// window (a slow local clock): a's next renewal takes term 2.
	expireLease(t, p)
	if s := a.next(t, 5*time.Second); !s.Leading || s.Term != 2 {
		t.Fatalf("a after its lease expired: %+v, want leading under term 2", s)
	}
}

func BenchmarkLeaseRenew(b *testing.B) {
	p := leasePool(b, leaseTables(b), nil)
	l := NewLease(p, "a", LeaseOptions{})
	mustAcquire(b, l)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if s, err := l.Acquire(ctx); err != nil || !s.Leading {
			b.Fatal(s, err)
		}
	}
}

func BenchmarkLeaseStandbyPoll(b *testing.B) {
	p := leasePool(b, leaseTables(b), nil)
	mustAcquire(b, NewLease(p, "a", LeaseOptions{}))
	l := NewLease(p, "b", LeaseOptions{})
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if s, err := l.Acquire(ctx); err != nil || s.Leading {
			b.Fatal(s, err)
		}
	}
}

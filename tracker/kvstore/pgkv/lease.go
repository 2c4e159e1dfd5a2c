package pgkv

// The leader lease (SPEC §14), after riverqueue/river's
// internal/leadership: one row, timed by the database's clock, with a
// term that only grows; a local trust window shorter than the lease so
// that a node that cannot renew stops acting before another can take
// over; resign scoped to the term. No advisory locks: they leak through
// connection pools and vanish on a database failover.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"duban/tracker/kvstore/kv"
)

// Lease defaults (SPEC §14).
const (
	DefaultLeaseTTL   = 15 * time.Second
	DefaultLeaseRenew = 5 * time.Second
	// leaseResignTimeout bounds the resign Run sends when its context ends.
	leaseResignTimeout = 3 * time.Second
)

// LeaseOptions tunes a Lease; zero fields take the defaults.
type LeaseOptions struct {
	// TTL is how long an acquire or renewal holds the lease, by the
	// database's clock (default 15 s).
	TTL time.Duration
	// Renew is how often the leader renews (default 5 s).
	Renew time.Duration
	// Poll is how often a standby tries to acquire (default the smaller
	// of Renew and 1 s, so that a clean resign hands over within Poll:
	// a failed try is a cheap UPDATE that matches no row).
	Poll time.Duration
	// Margin is how much earlier than the lease the local trust window
	// ends: a renewal sent at local time t and confirmed is trusted until
	// t + TTL − Margin. At least Renew (default Renew). It covers the
	// rate difference of the two clocks and the time between noticing
	// the window's end and stopping.
	Margin time.Duration
	// Now reads the local monotonic clock (default time.Now); tests
	// inject a fake one.
	Now func() time.Time
	// Logger receives gains, losses and failed renewals (default: none).
	Logger *slog.Logger
}

// LeaseState is what a Lease knows about its own leadership.
type LeaseState struct {
	Holder  string    // this node
	Leading bool      // inside the local trust window
	Term    int64     // the term held (the last held when not leading)
	Until   time.Time // end of the local trust window (local clock)
}

// Fence is the fence of the term in s.
func (s LeaseState) Fence() kv.Fence { return kv.Fence{Holder: s.Holder, Term: s.Term} }

// Lease elects one leader among the nodes sharing a database. Its
// methods are safe for concurrent use.
type Lease struct {
	pool   *pgxpool.Pool
	holder string
	o      LeaseOptions

	op sync.Mutex // serialises Acquire and Resign
	mu sync.Mutex // guards the fields below
	// term is the last term this node held (0: none); held says the
	// lease was confirmed ours under term and not since lost or resigned.
	term  int64
	held  bool
	until time.Time
	gen   uint64 // bumped by Resign, so an acquire in flight does not resurrect leadership
}

// NewLease returns the lease of node holder on pool (the tables of
// migration 1). It panics on an empty holder or on options where the
// trust window could not outlast two renewals (TTL − Margin < 2·Renew):
// configuration validation rejects those first.
func NewLease(pool *pgxpool.Pool, holder string, o LeaseOptions) *Lease {
	if holder == "" {
		panic("pgkv.NewLease: empty holder")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultLeaseTTL
	}
	if o.Renew <= 0 {
		o.Renew = DefaultLeaseRenew
	}
	if o.Poll <= 0 {
		o.Poll = min(o.Renew, time.Second)
	}
	if o.Margin < o.Renew {
		o.Margin = o.Renew
	}
	if o.TTL-o.Margin < 2*o.Renew {
		panic(fmt.Sprintf("pgkv.NewLease: ttl %v leaves no room for renewals every %v with margin %v", o.TTL, o.Renew, o.Margin))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Lease{pool: pool, holder: holder, o: o}
}

// leaseAcquireSQL acquires or renews the lease in one statement: it matches
// the row when it is free (an empty holder), expired by the database's
// clock, or ours under the term we hold ($3). The term stays on renewal
// of an unexpired lease and grows by one on every other acquire (another
// holder, a resigned or an expired lease, ours from another process of
// the same name). now() is the statement's start: a renewal that waited
// on a lock gets an expiry no later than one sent then.
const leaseAcquireSQL = `UPDATE duban_lease
SET term = CASE WHEN holder = $1 AND term = $3 AND expires_at > now() THEN term ELSE term + 1 END,
	holder = $1,
	expires_at = now() + $2::double precision * interval '1 millisecond'
WHERE name = 'leader' AND (holder = '' OR expires_at <= now() OR (holder = $1 AND term = $3))
RETURNING term`

// leaseResignSQL frees the lease if it is still ours under our term.
const leaseResignSQL = `UPDATE duban_lease SET holder = '', expires_at = '1970-01-01 00:00:00+00'
WHERE name = 'leader' AND holder = $1 AND term = $2`

// Acquire makes one attempt to acquire or renew the lease and returns the
// state after it. A lease held by another node is not an error (the state
// says not leading); an error (the database unreachable, ctx ended)
// leaves the trust window as it was, so leadership lapses at its end.
func (l *Lease) Acquire(ctx context.Context) (LeaseState, error) {
	l.op.Lock()
	defer l.op.Unlock()
	l.mu.Lock()
	gen, known := l.gen, l.term
	l.mu.Unlock()

	sent := l.o.Now()
	var term int64
	err := l.pool.QueryRow(ctx, leaseAcquireSQL, l.holder, float64(l.o.TTL.Milliseconds()), known).Scan(&term)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		l.held = false
	case err != nil:
		return l.stateLocked(), fmt.Errorf("acquire leader lease: %w", err)
	default:
		l.term = term
		// A Resign that began meanwhile wins: it frees the row under the
		// term recorded here.
		l.held = gen == l.gen
		l.until = sent.Add(l.o.TTL - l.o.Margin)
	}
	return l.stateLocked(), nil
}

// Resign gives the lease up: this node stops leading at once, and the
// row is freed (an empty holder, expires_at in the past) if it is still
// ours under our term, so that a standby takes over at its next poll. A
// Run still going would acquire again: to stop, end Run's context (Run
// resigns itself).
func (l *Lease) Resign(ctx context.Context) error {
	l.mu.Lock()
	l.gen++
	l.held = false
	l.mu.Unlock()

	l.op.Lock()
	defer l.op.Unlock()
	l.mu.Lock()
	term := l.term
	l.mu.Unlock()
	if term == 0 {
		return nil
	}
	if _, err := l.pool.Exec(ctx, leaseResignSQL, l.holder, term); err != nil {
		return fmt.Errorf("resign leader lease: %w", err)
	}
	return nil
}

// Leading reports whether this node leads now, inside its trust window,
// and the fence its writes must carry.
func (l *Lease) Leading() (kv.Fence, bool) {
	s := l.State()
	return s.Fence(), s.Leading
}

// State is the lease's state now.
func (l *Lease) State() LeaseState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stateLocked()
}

func (l *Lease) stateLocked() LeaseState {
	return LeaseState{
		Holder:  l.holder,
		Leading: l.held && l.o.Now().Before(l.until),
		Term:    l.term,
		Until:   l.until,
	}
}

// Run keeps the lease until ctx ends: as leader it renews every Renew
// (after a failed renewal, every Renew/4 until the window ends); as a
// standby it tries to acquire every Poll. onChange (may be nil) is called
// from Run's goroutine on every gain, loss (including the trust window
// running out while a renewal hangs) and change of term. When ctx ends
// Run resigns, with a timeout of its own, reports the loss and returns.
func (l *Lease) Run(ctx context.Context, onChange func(LeaseState)) {
	var last LeaseState
	resigned := false
	report := func() {
		s := l.State()
		if s.Leading == last.Leading && (!s.Leading || s.Term == last.Term) {
			return
		}
		switch {
		case s.Leading:
			l.o.Logger.Info("leader lease gained", "node", l.holder, "term", s.Term)
		case resigned:
			l.o.Logger.Info("leader lease resigned", "node", l.holder, "term", last.Term)
		default:
			l.o.Logger.Warn("leader lease lost", "node", l.holder, "term", last.Term)
		}
		last = s
		if onChange != nil {
			onChange(s)
		}
	}
	for ctx.Err() == nil {
		wait := l.o.Poll
		actx, cancel := context.WithTimeout(ctx, l.attemptTimeout())
		s, err := l.Acquire(actx)
		cancel()
		report()
		if s.Leading {
			wait = l.o.Renew
			if err != nil {
				l.o.Logger.Warn("leader lease renewal failed", "node", l.holder, "term", s.Term, "err", err)
				wait = l.o.Renew / 4
			}
			// Wake at the window's end to report the loss on time.
			if w := s.Until.Sub(l.o.Now()); w < wait {
				wait = max(w, 0)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		report()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseResignTimeout)
	err := l.Resign(rctx)
	cancel()
	if err != nil {
		l.o.Logger.Warn("leader lease resign failed", "node", l.holder, "err", err)
	}
	resigned = err == nil
	report()
}

// attemptTimeout bounds one acquire or renewal: while leading, until the
// trust window ends (a later answer could not extend it much), at least
// a Poll; otherwise a Renew.
func (l *Lease) attemptTimeout() time.Duration {
	s := l.State()
	if !s.Leading {
		return l.o.Renew
	}
	return max(s.Until.Sub(l.o.Now()), l.o.Poll)
}

// LeaseInfo is the lease row as the database sees it, for status.
type LeaseInfo struct {
	Holder    string    // empty: nobody holds the lease
	Term      int64     // the last term granted
	ExpiresAt time.Time // by the database's clock
	DBNow     time.Time // the database's now() when read
}

// Held reports whether someone holds the lease at DBNow.
func (i LeaseInfo) Held() bool { return i.Holder != "" && i.ExpiresAt.After(i.DBNow) }

// ReadLease reads the lease row.
func ReadLease(ctx context.Context, pool *pgxpool.Pool) (LeaseInfo, error) {
	var i LeaseInfo
	err := pool.QueryRow(ctx, `SELECT holder, term, expires_at, now() FROM duban_lease WHERE name = 'leader'`).
		Scan(&i.Holder, &i.Term, &i.ExpiresAt, &i.DBNow)
	if err != nil {
		return LeaseInfo{}, fmt.Errorf("read leader lease: %w", err)
	}
	return i, nil
}

package web

import (
	"sync"
	"time"
)

// Login throttling (SPEC §10): more than AccountLimit failed logins for
// one account within Window are answered 429 until the window has
// passed; the limit per address is looser (an office shares one NAT
// address).
const (
	Window       = 15 * time.Minute
	AccountLimit = 5
	AddressLimit = 20
)

// Throttle counts failed logins per account and per address. It is safe
// for concurrent use; it lives in memory (a restart forgets it).
type Throttle struct {
	mu   sync.Mutex
	fail map[string][]time.Time // key: "u:" + account or "a:" + address
	// blocked[key] is when a blocked key may try again.
	blocked map[string]time.Time
}

// NewThrottle returns an empty throttle.
func NewThrottle() *Throttle {
	return &Throttle{fail: map[string][]time.Time{}, blocked: map[string]time.Time{}}
}

// Blocked returns until when account or address is blocked at now, and
// whether it is.
func (t *Throttle) Blocked(acct, addr string, now time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var until time.Time
	for _, k := range []string{"u:" + acct, "a:" + addr} {
		if u, ok := t.blocked[k]; ok {
			if now.Before(u) {
				until = maxTime(until, u)
			} else {
				delete(t.blocked, k)
				delete(t.fail, k)
			}
		}
	}
	return until, !until.IsZero()
}

// Fail records a failed login at now. A key that reaches its limit
// within Window is blocked until Window after this failure.
func (t *Throttle) Fail(acct, addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []struct {
		key   string
		limit int
	}{{"u:" + acct, AccountLimit}, {"a:" + addr, AddressLimit}} {
		recent := t.fail[k.key][:0]
		for _, f := range t.fail[k.key] {
			if now.Sub(f) < Window {
				recent = append(recent, f)
			}
		}
		recent = append(recent, now)
		t.fail[k.key] = recent
		if len(recent) >= k.limit {
			t.blocked[k.key] = now.Add(Window)
		}
	}
	if len(t.fail) > 100_000 { // bound memory under a spray of names
		for k, fs := range t.fail {
			if len(fs) > 0 && now.Sub(fs[len(fs)-1]) >= Window {
				delete(t.fail, k)
			}
		}
	}
}

// Succeed forgets the account's failures (not the address's).
func (t *Throttle) Succeed(acct string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fail, "u:"+acct)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

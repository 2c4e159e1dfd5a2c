package kvstore

import (
	"fmt"

	"duban/tracker"
)

// Workspace accounts, sessions and API tokens (SPEC §10), in the buckets
// users (by name), sessions (by the SHA-256 of the cookie token) and
// tokens (by the SHA-256 of the API token). *txn implements
// tracker.AccountTx.

var _ tracker.AccountTx = (*txn)(nil)

// Account returns the account name, or an error wrapping tracker.ErrNotFound.
func (t *txn) Account(name string) (*tracker.Account, error) {
	return getJSON[tracker.Account](t, bUsers, "account", name)
}

// PutAccount stores a under a.Name.
func (t *txn) PutAccount(a *tracker.Account) error {
	return putJSON(t, bUsers, "account", a.Name, a)
}

// DeleteAccount removes the account name, its sessions and its tokens.
func (t *txn) DeleteAccount(name string) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("delete account %q: %w", name, err)
	}
	if _, err := t.Account(name); err != nil {
		return err
	}
	var sessions, tokens []string
	if err := t.Sessions(func(s *tracker.Session) error {
		if s.Account == name {
			sessions = append(sessions, s.ID)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := t.Tokens(func(k *tracker.Token) error {
		if k.Account == name {
			tokens = append(tokens, k.Hash)
		}
		return nil
	}); err != nil {
		return err
	}
	for _, id := range sessions {
		if err := t.DeleteSession(id); err != nil {
			return err
		}
	}
	for _, h := range tokens {
		if err := t.DeleteToken(h); err != nil {
			return err
		}
	}
	return t.delete(bUsers, "account", name)
}

// Accounts calls fn for every account in name order.
func (t *txn) Accounts(fn func(*tracker.Account) error) error {
	return eachJSON(t, bUsers, "account", fn)
}

// Session returns the session id, or an error wrapping tracker.ErrNotFound.
func (t *txn) Session(id string) (*tracker.Session, error) {
	return getJSON[tracker.Session](t, bSessions, "session", id)
}

// PutSession stores s under s.ID.
func (t *txn) PutSession(s *tracker.Session) error {
	return putJSON(t, bSessions, "session", s.ID, s)
}

// DeleteSession removes the session id (nothing if absent).
func (t *txn) DeleteSession(id string) error { return t.delete(bSessions, "session", id) }

// Sessions calls fn for every session.
func (t *txn) Sessions(fn func(*tracker.Session) error) error {
	return eachJSON(t, bSessions, "session", fn)
}

// Token returns the token with hash, or an error wrapping tracker.ErrNotFound.
func (t *txn) Token(hash string) (*tracker.Token, error) {
	return getJSON[tracker.Token](t, bTokens, "token", hash)
}

// PutToken stores k under k.Hash.
func (t *txn) PutToken(k *tracker.Token) error {
	return putJSON(t, bTokens, "token", k.Hash, k)
}

// DeleteToken removes the token with hash (nothing if absent).
func (t *txn) DeleteToken(hash string) error { return t.delete(bTokens, "token", hash) }

// Tokens calls fn for every token.
func (t *txn) Tokens(fn func(*tracker.Token) error) error {
	return eachJSON(t, bTokens, "token", fn)
}

// delete removes key id from bucket bi if present.
func (t *txn) delete(bi int, kind, id string) error {
	if err := t.checkWritable(); err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, id, err)
	}
	if id == "" || t.get(bi, []byte(id)) == nil {
		return nil
	}
	if err := t.del(bi, []byte(id)); err != nil {
		return fmt.Errorf("delete %s %q: %w", kind, id, err)
	}
	return nil
}

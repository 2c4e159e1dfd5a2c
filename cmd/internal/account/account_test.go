package account_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"duban/cmd/internal/account"
	"duban/tracker"
	"duban/tracker/kvstore"
)

func openStore(t *testing.T) *kvstore.Store {
	t.Helper()
	st, err := kvstore.Open(filepath.Join(t.TempDir(), "duban.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestPasswordHash(t *testing.T) {
	h, err := account.HashPassword("正确的密码123")
	if err != nil {
		t.Fatal(err)
	}
	if !account.CheckPassword(h, "正确的密码123") || account.CheckPassword(h, "正确的密码124") {
		t.Error("CheckPassword does not tell the right password from a wrong one")
	}
	h2, _ := account.HashPassword("正确的密码123")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	if account.CheckPassword("plain", "plain") {
		t.Error("a malformed hash matched")
	}
}

// TestSessions: login starts a session stored by hash; it expires after
// SessionTTL and ends at logout; a new password ends every session.
func TestSessions(t *testing.T) {
	st := openStore(t)
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	var secret string
	err := st.Update(func(tx tracker.Tx) error {
		if _, err := account.Add(tx, account.Spec{Name: "zhang", Role: tracker.RoleOffice, Password: "short"}, now); !errors.Is(err, tracker.ErrInvalid) {
			t.Errorf("short password: %v, want ErrInvalid", err)
		}
		if _, err := account.Add(tx, account.Spec{Name: "zhang", Role: tracker.RoleOffice, Password: "password-1"}, now); err != nil {
			return err
		}
		if _, _, err := account.Login(tx, "zhang", "wrong-password", now); err != account.ErrBadLogin {
			t.Errorf("wrong password: %v", err)
		}
		if _, _, err := account.Login(tx, "nobody", "password-1", now); err != account.ErrBadLogin {
			t.Errorf("unknown account: %v", err)
		}
		var err error
		secret, _, err = account.Login(tx, "zhang", "password-1", now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.View(func(tx tracker.Tx) error {
		at, _ := tracker.Accounts(tx)
		if _, err := at.Session(secret); err == nil {
			t.Error("the session is stored under its secret, want its hash")
		}
		if a, _, err := account.BySession(tx, secret, now.Add(account.SessionTTL-time.Second)); err != nil || a.Name != "zhang" {
			t.Errorf("BySession before expiry = %v, %v", a, err)
		}
		if _, _, err := account.BySession(tx, secret, now.Add(account.SessionTTL)); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("BySession at expiry: %v, want ErrNotFound", err)
		}
		return nil
	})
	_ = st.Update(func(tx tracker.Tx) error {
		if err := account.Logout(tx, secret); err != nil {
			t.Fatal(err)
		}
		if _, _, err := account.BySession(tx, secret, now); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("BySession after logout: %v", err)
		}
		s2, _, _ := account.Login(tx, "zhang", "password-1", now)
		if err := account.SetPassword(tx, "zhang", "password-2"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := account.BySession(tx, s2, now); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("session survived a new password: %v", err)
		}
		return nil
	})
}

// TestEnsureAdmin creates admin once, on an empty store only.
func TestEnsureAdmin(t *testing.T) {
	st := openStore(t)
	now := time.Now()
	var pw1, pw2 string
	_ = st.Update(func(tx tracker.Tx) (err error) {
		if pw1, err = account.EnsureAdmin(tx, now); err != nil {
			t.Fatal(err)
		}
		pw2, err = account.EnsureAdmin(tx, now)
		return err
	})
	if pw1 == "" || pw2 != "" {
		t.Fatalf("EnsureAdmin = %q then %q; want a password, then none", pw1, pw2)
	}
	_ = st.Update(func(tx tracker.Tx) error {
		if _, a, err := account.Login(tx, "admin", pw1, now); err != nil || a.Role != tracker.RoleAdmin {
			t.Errorf("admin login: %v %v", a, err)
		}
		return nil
	})
}

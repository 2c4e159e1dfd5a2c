package unitlink_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"duban/cmd/internal/unitlink"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// TestTokenAndExpiry: a token verifies under its secret only, names its
// instances, works while one of them is open and at most a year after it
// was issued, and 30 days after the last closed.
func TestTokenAndExpiry(t *testing.T) {
	st, err := kvstore.Open(filepath.Join(t.TempDir(), "d.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	issued := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	closed := issued.Add(48 * time.Hour)
	if err := st.Update(func(tx tracker.Tx) error {
		if err := tx.PutInstance(&tracker.Instance{ID: "a", Item: "i", Status: tracker.StatusOpen}); err != nil {
			return err
		}
		return tx.PutInstance(&tracker.Instance{ID: "b", Item: "i", Status: tracker.StatusDone, DoneAt: closed, UpdatedAt: closed})
	}); err != nil {
		t.Fatal(err)
	}
	secret, err := unitlink.Secret(st)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := unitlink.Secret(st)
	if string(again) != string(secret) || len(secret) != 32 {
		t.Fatal("Secret is not stable")
	}
	s := unitlink.Sign(secret, unitlink.Token{To: " Wang@Example.gov.cn", Instances: []string{"a", "b"}, Issued: issued.Unix()})
	tok, err := unitlink.Verify(secret, s)
	if err != nil || tok.To != "wang@example.gov.cn" || !tok.Names("b") || tok.Names("c") {
		t.Fatalf("Verify: %+v %v", tok, err)
	}
	if _, err := unitlink.Verify([]byte("another secret"), s); !errors.Is(err, unitlink.ErrBadToken) {
		t.Errorf("another secret: %v", err)
	}
	check := func(tk unitlink.Token, at time.Time) error {
		var err error
		st.View(func(tx tracker.Tx) error { err = unitlink.Check(tx, tk, at); return nil })
		return err
	}
	if err := check(tok, issued.AddDate(0, 6, 0)); err != nil {
		t.Errorf("open instance, half a year: %v", err)
	}
	if err := check(tok, issued.Add(unitlink.Horizon+time.Hour)); !errors.Is(err, unitlink.ErrExpired) {
		t.Errorf("past the horizon: %v", err)
	}
	onlyB := unitlink.Token{To: tok.To, Instances: []string{"b"}, Issued: issued.Unix()}
	if err := check(onlyB, closed.Add(29*24*time.Hour)); err != nil {
		t.Errorf("29 days after closing: %v", err)
	}
	if err := check(onlyB, closed.Add(31*24*time.Hour)); !errors.Is(err, unitlink.ErrExpired) {
		t.Errorf("31 days after closing: %v", err)
	}
}

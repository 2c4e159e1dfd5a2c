package kvstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// Ensure that the queue index follows the state and NextAttempt of the
// deliveries: QueuedBefore and FirstQueued see only queued ones, in
// NextAttempt order, and a delivery sent inside a QueuedBefore scan
// leaves the index.
func TestOutbox(t *testing.T) { eachEngine(t, testOutbox) }

func testOutbox(t *testing.T, s *kvstore.Store) {
	queued := func(key string, at time.Time) *tracker.Delivery {
		return &tracker.Delivery{Key: key, Instance: "i", To: key + "@example.cn", State: tracker.DeliveryQueued, QueuedAt: t0, NextAttempt: at}
	}
	mustUpdate(t, s, func(tx tracker.Tx) error {
		return errors.Join(
			tx.PutDelivery(queued("c", t0.Add(3*time.Hour))),
			tx.PutDelivery(queued("a", t0.Add(1*time.Hour))),
			tx.PutDelivery(queued("b", t0.Add(2*time.Hour))),
			tx.PutDelivery(&tracker.Delivery{Key: "d", State: tracker.DeliverySent, SentAt: t0}),
		)
	})
	keys := func(tx tracker.Tx, before time.Time) []string {
		var ks []string
		if err := tx.QueuedBefore(before, func(d *tracker.Delivery) error { ks = append(ks, d.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		return ks
	}
	mustView(t, s, func(tx tracker.Tx) error {
		if got := keys(tx, t0.Add(2*time.Hour)); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("QueuedBefore(+2h) = %v, want [a b]", got)
		}
		if first, ok, err := tx.FirstQueued(); err != nil || !ok || !first.Equal(t0.Add(time.Hour)) {
			t.Errorf("FirstQueued = %v, %v, %v; want %v", first, ok, err, t0.Add(time.Hour))
		}
		return nil
	})
	// send a and b during the scan, move c earlier
	mustUpdate(t, s, func(tx tracker.Tx) error {
		err := tx.QueuedBefore(t0.Add(10*time.Hour), func(d *tracker.Delivery) error {
			if d.Key == "c" {
				return nil
			}
			d.State, d.SentAt = tracker.DeliverySent, t0
			return tx.PutDelivery(d)
		})
		if err != nil {
			return err
		}
		return tx.PutDelivery(queued("c", t0.Add(30*time.Minute)))
	})
	mustView(t, s, func(tx tracker.Tx) error {
		if got := keys(tx, t0.Add(10*time.Hour)); !slices.Equal(got, []string{"c"}) {
			t.Errorf("QueuedBefore after sending = %v, want [c]", got)
		}
		if first, ok, err := tx.FirstQueued(); err != nil || !ok || !first.Equal(t0.Add(30*time.Minute)) {
			t.Errorf("FirstQueued = %v, %v, %v; want %v", first, ok, err, t0.Add(30*time.Minute))
		}
		var all []string
		if err := tx.Deliveries(func(d *tracker.Delivery) error { all = append(all, d.Key+":"+string(d.State)); return nil }); err != nil {
			t.Fatal(err)
		}
		if want := []string{"a:sent", "b:sent", "c:queued", "d:sent"}; !slices.Equal(all, want) {
			t.Errorf("Deliveries = %v, want %v", all, want)
		}
		return nil
	})
}

// Ensure that accounts, sessions and tokens round-trip, and that
// DeleteAccount removes the account's sessions and tokens only.
func TestAccounts(t *testing.T) { eachEngine(t, testAccounts) }

func testAccounts(t *testing.T, s *kvstore.Store) {
	mustUpdate(t, s, func(tx tracker.Tx) error {
		a, err := tracker.Accounts(tx)
		if err != nil {
			return err
		}
		return errors.Join(
			a.PutAccount(&tracker.Account{Name: "wang", Role: tracker.RoleOffice, Created: t0}),
			a.PutAccount(&tracker.Account{Name: "li", Role: tracker.RoleOffice, Created: t0}),
			a.PutSession(&tracker.Session{ID: "s1", Account: "wang", Created: t0, Expires: t0.Add(time.Hour)}),
			a.PutSession(&tracker.Session{ID: "s2", Account: "li", Created: t0, Expires: t0.Add(time.Hour)}),
			a.PutToken(&tracker.Token{Hash: "h1", Account: "wang", Created: t0}),
			a.PutToken(&tracker.Token{Hash: "h2", Account: "li", Created: t0}),
		)
	})
	mustUpdate(t, s, func(tx tracker.Tx) error {
		a, _ := tracker.Accounts(tx)
		return a.DeleteAccount("wang")
	})
	mustView(t, s, func(tx tracker.Tx) error {
		a, _ := tracker.Accounts(tx)
		if _, err := a.Account("wang"); !errors.Is(err, tracker.ErrNotFound) {
			t.Errorf("deleted account: err = %v, want ErrNotFound", err)
		}
		if acc, err := a.Account("li"); err != nil || acc.Role != tracker.RoleOffice {
			t.Errorf("Account(li) = %+v, %v", acc, err)
		}
		var left []string
		_ = a.Sessions(func(se *tracker.Session) error { left = append(left, se.ID); return nil })
		_ = a.Tokens(func(k *tracker.Token) error { left = append(left, k.Hash); return nil })
		if !slices.Equal(left, []string{"s2", "h2"}) {
			t.Errorf("sessions and tokens left = %v, want [s2 h2]", left)
		}
		return nil
	})
}

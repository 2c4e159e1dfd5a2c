package tracker_test

import (
	"slices"
	"testing"

	"duban/tracker"
)

// The roles group and office_group resolve to the unit's and the office's
// robots (robot:<name>, SPEC §13), beside the mail addresses; a unit
// without a robot adds none.
func TestRecipientsGroupRolesResolveToRobots(t *testing.T) {
	_, st := actFixture(t, tracker.Item{ID: "i", Title: "t", Unit: "a", Due: "3d", Policy: "capped"})
	if err := st.Update(func(tx tracker.Tx) error {
		u, err := tx.Unit("a")
		if err != nil {
			return err
		}
		u.Robot = "a-group"
		if err := tx.PutUnit(u); err != nil {
			return err
		}
		return tx.PutOffice(tracker.Office{Name: "督查室", Email: "ducha@example.gov.cn", Robot: "ducha-group"})
	}); err != nil {
		t.Fatal(err)
	}
	st.View(func(tx tracker.Tx) error {
		in, err := tx.Instance("i")
		if err != nil {
			t.Fatal(err)
		}
		got, err := tracker.Recipients(tx, in, nil, []string{"unit", "group", "office", "office_group", "group"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a@example.gov.cn", "robot:a-group", "ducha@example.gov.cn", "robot:ducha-group"}; !slices.Equal(got, want) {
			t.Errorf("recipients %v, want %v", got, want)
		}
		if name, ok := tracker.RobotRecipient(got[1]); !ok || name != "a-group" {
			t.Errorf("RobotRecipient(%q) = %q, %v", got[1], name, ok)
		}
		return nil
	})
}

package tracker

import "time"

// RowOf returns the list row of one instance as of now, as List gives it
// (the workspace's board reads the instances itself and builds rows only
// for the page it shows).
func (x *Expander) RowOf(tx Tx, in *Instance, now time.Time) (Row, error) {
	return x.row(tx, in, now, map[string]*Item{}, map[string]*Unit{})
}

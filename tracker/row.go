package tracker

import "time"

// RowOf returns the list row of one instance as of now, as List gives it
// (the workspace's board reads the due index itself and builds rows only
// for the page it shows). It reads in's item and unit.
func (x *Expander) RowOf(tx Tx, in *Instance, now time.Time) (Row, error) {
	it, err := cachedItem(tx, in, map[string]*Item{})
	if err != nil {
		return Row{}, err
	}
	return x.row(tx, in, it.Title, it.Doc, now, map[string]*Unit{})
}

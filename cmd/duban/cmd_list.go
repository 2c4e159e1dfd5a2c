package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/ops"
	"duban/tracker"
)

func (a *app) listCommand() *cobra.Command {
	var f struct {
		overdue   bool
		dueWithin string
		status    string
		unit      string
		item      string
		format    string
	}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "list instances (default: those still to be handled)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(f.format, "table", "json", "csv"); err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			now, err := a.now()
			if err != nil {
				return err
			}
			q := ops.ListQuery{Overdue: f.overdue, DueWithin: f.dueWithin, Status: f.status, Unit: f.unit, Item: f.item}
			filter, err := q.Filter(a.x, now)
			if err != nil {
				return err
			}
			var rw *rowWriter
			var stat *status
			err = st.View(func(tx tracker.Tx) error {
				// --unit and --item name what exists (a unit also by its
				// name): else exit 2 with a suggestion, before any output.
				if err := filter.Resolve(tx); err != nil {
					return err
				}
				var err error
				if stat, err = loadStatus(tx); err != nil {
					return err
				}
				rw = ops.ListWriter(a.stdout, f.format)
				return ops.WriteList(tx, a.x, filter, now, rw, nil)
			})
			if err != nil {
				return err
			}
			if err := rw.Close(); err != nil {
				return err
			}
			if f.format == "table" {
				fmt.Fprintln(a.stderr, stat.summary(a.cfg.Location))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.overdue, "overdue", false, "only instances overdue at --at")
	fl.StringVar(&f.dueWithin, "due-within", "", "only instances due within this many days/working days (e.g. 3wd, 7d)")
	fl.StringVar(&f.status, "status", "", "状态，逗号分隔：待分办|办理中|待审核|已办结|已退回|已撤销（或 pending|open|review|done|returned|withdrawn），all 为全部（默认：待分办、办理中、已退回）")
	fl.StringVar(&f.unit, "unit", "", "only this unit's instances (its id or its name)")
	fl.StringVar(&f.item, "item", "", "only this item's instances (its id)")
	fl.StringVar(&f.format, "format", "table", "table|json|csv")
	a.addAt(cmd)
	return cmd
}

// dueWithin turns "3wd" / "7d" into the instant that bounds "due within".
func dueWithin(x *tracker.Expander, s string, now time.Time) (time.Time, error) {
	return ops.DueWithin(x, s, now)
}

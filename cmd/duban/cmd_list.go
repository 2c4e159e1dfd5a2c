package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

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
			filter := tracker.Filter{Overdue: f.overdue, Unit: f.unit, Item: f.item}
			if filter.Statuses, err = parseStatuses(f.status); err != nil {
				return err
			}
			if f.dueWithin != "" {
				bound, err := dueWithin(a.x, f.dueWithin, now)
				if err != nil {
					return err
				}
				filter.DueBefore = bound
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
				rw = newRowWriter(a.stdout, f.format, listHeader)
				return a.x.List(tx, filter, now, func(r tracker.Row) error {
					return rw.Row(&r, listCells(r))
				})
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

// dueWithin turns "3wd" / "7d" into the instant that bounds "due within":
// the end of the N-th (working) day after today.
func dueWithin(x *tracker.Expander, s string, now time.Time) (time.Time, error) {
	r, err := tracker.ParseRule(s)
	if err != nil || (r.Kind != tracker.RuleDays && r.Kind != tracker.RuleWorkdays) {
		return time.Time{}, fmt.Errorf("%w: --due-within %q: use Nd or Nwd (e.g. 3wd)", errBadUsage, s)
	}
	today := x.Env.Today(now)
	last := today.AddDays(r.N)
	if r.Kind == tracker.RuleWorkdays {
		last = x.Env.Cal.AddWorkdays(today, r.N)
	}
	return x.Env.EndOf(last).Add(time.Second), nil
}

// listHeader heads the table and CSV columns of `list` (JSON keeps the
// SPEC §8 field names).
var listHeader = []string{"编号", "单位", "事项", "状态", "办理时限", "最迟时限", "逾期"}

func listCells(r tracker.Row) []string {
	unit := r.UnitName
	if unit == "" {
		unit = r.Unit
	}
	if r.Co {
		unit += tracker.CoMark
	}
	status := r.Status.Label()
	if r.Extended {
		status += "，已延期"
	}
	overdue := ""
	if r.Overdue {
		overdue = strconv.Itoa(r.OverdueWorkdays) + "个工作日"
	}
	return []string{r.ID, unit, r.Title, status, deadlineCell(r.Human, r.DueProvisional),
		deadlineCell(r.HumanLimit, r.LimitProvisional), overdue}
}

// Package ops holds the operations that the CLI (package main) and the
// workspace (cmd/internal/web) share, so that each has one code path:
// the rows of `list`, the view of `show`, and the recorded actions (done,
// progress, extend, assign, return, withdraw). `GET /api/v1/instances`
// writes exactly what `list --format json` writes because both call
// WriteList.
package ops

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"duban/cmd/internal/report"
	"duban/tracker"
)

// ErrBadUsage marks a bad flag or parameter value (exit status 2, HTTP 400).
var ErrBadUsage = errors.New("bad usage")

// ListQuery is what `list` filters by: its flags, as strings and bools.
type ListQuery struct {
	Overdue   bool
	DueWithin string // Nd or Nwd
	Status    string // comma-separated statuses, "all", or "" for the active ones
	Unit      string // id or name
	Item      string
}

// Filter turns q into a tracker.Filter as of now (the unit and item are
// resolved by WriteList, inside its transaction).
func (q ListQuery) Filter(x *tracker.Expander, now time.Time) (tracker.Filter, error) {
	f := tracker.Filter{Overdue: q.Overdue, Unit: q.Unit, Item: q.Item}
	var err error
	if f.Statuses, err = ParseStatuses(q.Status); err != nil {
		return f, err
	}
	if q.DueWithin != "" {
		if f.DueBefore, err = DueWithin(x, q.DueWithin, now); err != nil {
			return f, err
		}
	}
	return f, nil
}

// ListWriter starts a row writer for `list`'s columns in format (table,
// csv or json) on w.
func ListWriter(w io.Writer, format string) *report.RowWriter {
	return report.NewRowWriter(w, format, ListHeader)
}

// WriteList resolves f's unit and item (an unknown one is a
// tracker.ErrNotFound with a suggestion, before any row) and writes the
// rows of f as of now to rw, those for which keep is true (keep nil: all).
// The caller closes rw.
func WriteList(tx tracker.Tx, x *tracker.Expander, f tracker.Filter, now time.Time, rw *report.RowWriter, keep func(tracker.Row) bool) error {
	if err := f.Resolve(tx); err != nil {
		return err
	}
	return x.List(tx, f, now, func(r tracker.Row) error {
		if keep != nil && !keep(r) {
			return nil
		}
		return rw.Row(&r, ListCells(r))
	})
}

// DueWithin turns "3wd" / "7d" into the instant that bounds "due within":
// the end of the N-th (working) day after today.
func DueWithin(x *tracker.Expander, s string, now time.Time) (time.Time, error) {
	r, err := tracker.ParseRule(s)
	if err != nil || (r.Kind != tracker.RuleDays && r.Kind != tracker.RuleWorkdays) {
		return time.Time{}, fmt.Errorf("%w: --due-within %q: use Nd or Nwd (e.g. 3wd)", ErrBadUsage, s)
	}
	today := x.Env.Today(now)
	last := today.AddDays(r.N)
	if r.Kind == tracker.RuleWorkdays {
		last = x.Env.Cal.AddWorkdays(today, r.N)
	}
	return x.Env.EndOf(last).Add(time.Second), nil
}

// ParseStatuses reads a --status value: comma-separated statuses by their
// English or Chinese names (open, 办理中 …), or "all" (every status). An
// empty value gives nil.
func ParseStatuses(s string) ([]tracker.Status, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "all", "全部":
		return slices.Clone(tracker.Statuses), nil
	}
	var out []tracker.Status
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '、' }) {
		st, ok := tracker.ParseStatus(v)
		if !ok {
			return nil, fmt.Errorf("%w: --status %q 不是状态；可用 %s，或 all（全部）", ErrBadUsage, QuoteShort(v), tracker.StatusHelp)
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --status %q 不是状态；可用 %s，或 all（全部）", ErrBadUsage, QuoteShort(s), tracker.StatusHelp)
	}
	return out, nil
}

// QuoteShort returns s cut to about 80 characters for an error message.
func QuoteShort(s string) string {
	const limit = 80
	if r := []rune(s); len(r) > limit {
		return string(r[:limit]) + "…"
	}
	return s
}

// ListHeader heads the table and CSV columns of `list` (JSON keeps the
// SPEC §8 field names).
var ListHeader = []string{"编号", "单位", "事项", "状态", "办理时限", "最迟时限", "逾期"}

// ListCells are the table and CSV cells of a row.
func ListCells(r tracker.Row) []string {
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
	return []string{r.ID, unit, r.Title, status, report.DeadlineCell(r.Human, r.DueProvisional),
		report.DeadlineCell(r.HumanLimit, r.LimitProvisional), overdue}
}

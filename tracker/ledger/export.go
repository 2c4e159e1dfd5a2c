package ledger

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"duban/tracker"
)

// Stamp is a time value of the ledger: a civil date, or a date and a
// time of day (to the minute) in the configured zone.
type Stamp struct {
	Date  tracker.Date
	Clock tracker.TimeOfDay
	Timed bool // false: the date alone
}

// IsZero reports whether s is empty.
func (s Stamp) IsZero() bool { return s.Date.IsZero() }

// String formats s as "2026-09-28" or "2026-09-24 12:00" ("" if empty).
func (s Stamp) String() string {
	switch {
	case s.IsZero():
		return ""
	case s.Timed:
		return s.Date.String() + " " + s.Clock.String()
	}
	return s.Date.String()
}

// In returns the instant s names in loc (a date alone: its midnight).
func (s Stamp) In(loc *time.Location) time.Time { return s.Date.At(s.Clock, loc) }

// wall returns s as a UTC time carrying its wall clock, which is how
// spreadsheet cells hold times (they have no zone).
func (s Stamp) wall() time.Time {
	return time.Date(s.Date.Year, s.Date.Month, s.Date.Day, 0, int(s.Clock), 0, 0, time.UTC)
}

// InstantStamp returns the date and time (to the minute) of t in loc.
func InstantStamp(t time.Time, loc *time.Location) Stamp {
	if t.IsZero() {
		return Stamp{}
	}
	t = t.In(loc)
	return Stamp{Date: tracker.DateOf(t), Clock: tracker.ClockOf(t), Timed: true}
}

// DeadlineStamp returns how the ledger shows a deadline: its last day for
// a day deadline, the due instant for a timed one.
func DeadlineStamp(dl *tracker.Deadline, loc *time.Location) Stamp {
	if dl == nil || dl.Due.IsZero() {
		return Stamp{}
	}
	if dl.Timed {
		return InstantStamp(dl.Due, loc)
	}
	return Stamp{Date: dl.LastDay}
}

// Record is one ledger row.
type Record struct {
	ID           string
	UnitName     string
	Unit         string
	Title        string
	Doc          string
	Requirements string
	Start        Stamp
	Due          Stamp
	Limit        Stamp
	// Original is the deadline before the first extension (empty when
	// never extended); Extensions counts the extensions.
	Original   Stamp
	Extensions int
	Status     tracker.Status
	DoneAt     Stamp
	Note       string
	// OverdueWorkdays is how many working days the instance is overdue
	// as of the export, or was late when it was done (0 if neither).
	OverdueWorkdays int
	// DueProvisional, LimitProvisional and OriginalProvisional say which
	// dates were computed on the provisional calendar (SPEC §3).
	DueProvisional, LimitProvisional, OriginalProvisional bool
	// Attachments counts the files received for the instance.
	Attachments int
}

// provisional reports whether the date in column c is provisional.
func (r *Record) provisional(c Column) bool {
	switch c {
	case ColDue:
		return r.DueProvisional
	case ColLimit:
		return r.LimitProvisional
	case ColOriginal:
		return r.OriginalProvisional
	}
	return false
}

// extendedText is the 延期 cell: "已延期1次", or "" when never extended.
func (r *Record) extendedText() string {
	if r.Extensions <= 0 {
		return ""
	}
	return fmt.Sprintf("已延期%d次", r.Extensions)
}

// provisionalText is the 暂定 cell: the headers of the provisional dates,
// e.g. "办理时限、最迟时限", or "".
func (r *Record) provisionalText() string {
	var cols []string
	for _, c := range []Column{ColDue, ColLimit, ColOriginal} {
		if r.provisional(c) {
			cols = append(cols, Headers[c])
		}
	}
	return strings.Join(cols, "、")
}

// cells returns the row as text, in column order (CSV).
func (r *Record) cells() []string {
	out := make([]string, NumColumns)
	out[ColID], out[ColUnitName], out[ColUnit] = r.ID, r.UnitName, r.Unit
	out[ColTitle], out[ColDoc], out[ColRequirements] = r.Title, r.Doc, r.Requirements
	out[ColStart], out[ColDue], out[ColLimit] = r.Start.String(), r.Due.String(), r.Limit.String()
	out[ColOriginal], out[ColExtended] = r.Original.String(), r.extendedText()
	out[ColStatus], out[ColDoneAt], out[ColNote] = StatusName(r.Status), r.DoneAt.String(), r.Note
	if r.OverdueWorkdays > 0 {
		out[ColOverdue] = fmt.Sprint(r.OverdueWorkdays)
	}
	out[ColProvisional] = r.provisionalText()
	if r.Attachments > 0 {
		out[ColAttachments] = fmt.Sprint(r.Attachments)
	}
	return out
}

// Filter selects the instances of a ledger.
type Filter struct {
	Statuses []tracker.Status // nil: every status
	Unit     string           // "": every unit
}

func (f Filter) match(in *tracker.Instance) bool {
	if f.Statuses != nil && !slices.Contains(f.Statuses, in.Status) {
		return false
	}
	return f.Unit == "" || in.Unit == f.Unit
}

// itemCacheSize bounds the items Walk keeps decoded; instances come in id
// order, so an item's instances mostly come together.
const itemCacheSize = 1024

// Walk calls fn, in instance id order, for each instance matching f with
// its item and its unit (nil if it has none or the unit is unknown). It
// holds a bounded number of items and all units in memory, whatever the
// number of instances.
func Walk(tx tracker.Tx, f Filter, fn func(in *tracker.Instance, it *tracker.Item, u *tracker.Unit) error) error {
	units := make(map[string]*tracker.Unit)
	if err := tx.Units(func(u *tracker.Unit) error {
		units[u.ID] = u
		return nil
	}); err != nil {
		return err
	}
	items := make(map[string]*tracker.Item)
	visit := func(in *tracker.Instance) error {
		if !f.match(in) {
			return nil
		}
		it, ok := items[in.Item]
		if !ok {
			var err error
			if it, err = tx.Item(in.Item); err != nil {
				return fmt.Errorf("instance %s: %w", in.ID, err)
			}
			if len(items) >= itemCacheSize {
				clear(items)
			}
			items[in.Item] = it
		}
		return fn(in, it, units[in.Unit])
	}
	if f.Statuses != nil && !slices.ContainsFunc(f.Statuses, func(s tracker.Status) bool { return !s.Listed() }) {
		// Only active instances: the due index names exactly those.
		var ids []string
		if err := tx.DueBefore(time.Time{}, func(in *tracker.Instance) error {
			if f.match(in) {
				ids = append(ids, in.ID)
			}
			return nil
		}); err != nil {
			return err
		}
		slices.Sort(ids)
		for _, id := range ids {
			in, err := tx.Instance(id)
			if err != nil {
				return err
			}
			if err := visit(in); err != nil {
				return err
			}
		}
		return nil
	}
	return tx.Instances(visit)
}

// RecordOf builds the ledger row of in as of now.
func RecordOf(x *tracker.Expander, in *tracker.Instance, it *tracker.Item, u *tracker.Unit, now time.Time) Record {
	loc := x.Env.Loc
	r := Record{
		ID: in.ID, Unit: in.Unit, Title: it.Title, Doc: it.Doc, Requirements: it.Requirements,
		Start: InstantStamp(in.Start, loc), Due: DeadlineStamp(&in.Deadline, loc), Limit: DeadlineStamp(in.Limit, loc),
		Status: in.Status, DoneAt: InstantStamp(in.DoneAt, loc), Note: in.Note,
		Extensions: in.Extensions, DueProvisional: in.Deadline.Provisional, Attachments: in.Attachments,
	}
	if u != nil {
		r.UnitName = u.Name
	}
	if in.Limit != nil {
		r.LimitProvisional = in.Limit.Provisional
	}
	if in.Extensions > 0 && in.Original != nil {
		r.Original, r.OriginalProvisional = DeadlineStamp(in.Original, loc), in.Original.Provisional
	}
	switch {
	case in.Overdue(now):
		r.OverdueWorkdays = x.OverdueWorkdays(in.Deadline, now)
	case in.Status == tracker.StatusDone && !in.DoneAt.IsZero() && !in.DoneAt.Before(in.Deadline.Due):
		// Done late: counted like the bulletin, at least one working day.
		r.OverdueWorkdays = x.OverdueWorkdays(in.Deadline, in.DoneAt)
	}
	return r
}

// RowWriter receives ledger rows.
type RowWriter interface {
	Write(r *Record) error
}

// Export writes the ledger rows matching f, as of now, to w, and returns
// how many it wrote.
func Export(tx tracker.Tx, x *tracker.Expander, f Filter, now time.Time, w RowWriter) (int, error) {
	n := 0
	err := Walk(tx, f, func(in *tracker.Instance, it *tracker.Item, u *tracker.Unit) error {
		r := RecordOf(x, in, it, u, now)
		n++
		return w.Write(&r)
	})
	return n, err
}

// ErrClosed is returned by writers used after they finished.
var ErrClosed = errors.New("ledger writer is closed")

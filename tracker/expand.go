package tracker

import (
	"fmt"
	"strings"
	"time"
)

// Schedule yields the scheduled firings of a recurring item (implemented
// by tracker/recur).
type Schedule interface {
	// Next returns the first firing strictly after t, or the zero time.
	Next(t time.Time) time.Time
	// Timed reports whether firings carry a time of day; untimed firings
	// name a day and the period is due at the end of it.
	Timed() bool
}

// ScheduleParser parses an `every:` value in a zone.
type ScheduleParser func(spec string, loc *time.Location) (Schedule, error)

// Expander turns items into their instances (SPEC §4, §5).
type Expander struct {
	Env     Env
	Every   ScheduleParser
	Horizon int // days ahead that recurring instances are materialised
	// SheetPrefix starts the numbers of the sheets policy steps issue
	// (config sheets.prefix; empty: DefaultSheetPrefix).
	SheetPrefix string
}

// ParseStart returns the start instant of an item: its `start` field, or
// when the item was first tracked.
func (x *Expander) ParseStart(it *Item) (time.Time, error) {
	if it.Start == "" {
		return it.TrackedAt.In(x.Env.Loc), nil
	}
	datePart, timePart, hasTime := strings.Cut(strings.TrimSpace(it.Start), " ")
	d, err := ParseDate(datePart)
	if err != nil {
		return time.Time{}, fmt.Errorf("start: %w", err)
	}
	var tod TimeOfDay
	if hasTime {
		if tod, err = ParseTimeOfDay(strings.TrimSpace(timePart)); err != nil {
			return time.Time{}, fmt.Errorf("start: %w", err)
		}
	}
	return d.At(tod, x.Env.Loc), nil
}

// Expand returns the instances item implies as of now, with fresh state
// (status pending or open, no history). Recurring items yield the periods
// from `from` up to `until` and no further than now + Horizon days.
func (x *Expander) Expand(it *Item, now time.Time) ([]Instance, error) {
	if it.Recurring() {
		return x.expandRecurring(it, now)
	}
	return x.expandOnce(it)
}

func (x *Expander) expandOnce(it *Item) ([]Instance, error) {
	start, err := x.ParseStart(it)
	if err != nil {
		return nil, err
	}
	rule, err := ParseRule(it.Due)
	if err != nil {
		return nil, fmt.Errorf("due: %w", err)
	}
	dl := rule.Deadline(start, x.Env, it.Roll)
	var limit *Deadline
	if it.Limit != "" {
		lr, err := ParseRule(it.Limit)
		if err != nil {
			return nil, fmt.Errorf("limit: %w", err)
		}
		l := lr.Deadline(start, x.Env, it.Roll)
		limit = &l
	}
	leads := it.LeadUnits()
	base := Instance{Item: it.ID, Start: start.UTC(), Deadline: dl, Limit: limit}
	var out []Instance
	if len(leads) == 0 {
		in := base
		in.ID, in.Status = it.ID, StatusPending
		out = append(out, in)
	}
	for _, u := range leads {
		in := base
		in.ID, in.Unit, in.Status, in.AssignedAt = it.ID, u, StatusOpen, it.TrackedAt
		if len(leads) > 1 {
			in.ID = it.ID + "/" + u
		}
		out = append(out, in)
	}
	if len(it.CoUnits) > 0 {
		co := dl
		if it.CoDue != "" {
			off, err := ParseOffset(it.CoDue)
			if err != nil {
				return nil, fmt.Errorf("co_due: %w", err)
			}
			co = CoDeadline(dl, off, x.Env)
		}
		for _, u := range it.CoUnits {
			in := base
			in.ID, in.Unit, in.Co, in.Status, in.Deadline = it.ID+"/"+u, u, true, StatusOpen, co
			in.AssignedAt = it.TrackedAt
			out = append(out, in)
		}
	}
	return out, nil
}

// Periods calls fn for each period of a recurring item from its first
// period up to and including last (a civil date), in order, with the
// period's scheduled firing day, its deadline and the start of the period
// (the previous period's deadline, or `from` for the first). Periods
// dropped by `roll: skip` are not reported.
func (x *Expander) Periods(it *Item, last Date, fn func(day Date, dl Deadline, start time.Time) error) error {
	sched, err := x.Every(it.Every, x.Env.Loc)
	if err != nil {
		return fmt.Errorf("every: %w", err)
	}
	from := DateOf(it.TrackedAt.In(x.Env.Loc))
	if it.From != "" {
		if from, err = ParseDate(it.From); err != nil {
			return fmt.Errorf("from: %w", err)
		}
	}
	if it.Until != "" {
		until, err := ParseDate(it.Until)
		if err != nil {
			return fmt.Errorf("until: %w", err)
		}
		if until.Before(last) {
			last = until
		}
	}
	prevStart := from.At(0, x.Env.Loc)
	t := sched.Next(prevStart.Add(-time.Nanosecond))
	for n := 0; !t.IsZero() && n < 100000; n++ {
		t = t.In(x.Env.Loc)
		day := DateOf(t)
		if day.After(last) {
			return nil
		}
		dl, keep := x.periodDeadline(it, sched, t)
		if keep {
			if err := fn(day, dl, prevStart); err != nil {
				return err
			}
			prevStart = dl.Due
		}
		t = sched.Next(t)
	}
	return nil
}

// periodDeadline computes one period's deadline from its scheduled
// firing t, applying roll; keep is false when roll: skip drops it.
func (x *Expander) periodDeadline(it *Item, sched Schedule, t time.Time) (Deadline, bool) {
	day := DateOf(t)
	when := day
	why := "scheduled " + day.String()
	if !x.Env.Cal.IsWorkday(day) {
		switch it.Roll {
		case RollSkip:
			return Deadline{}, false
		case RollNone:
			why += ", not a working day, kept (roll: none)"
		default:
			when = x.Env.Cal.NextWorkday(day)
			why += fmt.Sprintf(", not a working day, rolled to %s", when)
		}
	}
	prov := x.Env.Cal.Provisional(day, when)
	if sched.Timed() {
		at := when.At(ClockOf(t), x.Env.Loc)
		return Deadline{LastDay: when, Due: at, Timed: true, Provisional: prov, Rule: "every " + it.Every, Why: why}, true
	}
	return x.Env.dayDeadline(when, "every "+it.Every, why, prov), true
}

func (x *Expander) expandRecurring(it *Item, now time.Time) ([]Instance, error) {
	last := x.Env.Today(now).AddDays(x.Horizon)
	var out []Instance
	first := make(map[string]bool)
	err := x.Periods(it, last, func(day Date, dl Deadline, start time.Time) error {
		for _, u := range it.LeadUnits() {
			in := Instance{
				ID: it.ID + "/" + day.String() + "/" + u, Item: it.ID, Unit: u, Period: day.String(),
				Status: StatusOpen, Start: start.UTC(), Deadline: dl,
			}
			if !first[u] {
				// A recurring item is announced once per unit, with its first period.
				first[u] = true
				in.AssignedAt = it.TrackedAt
			}
			out = append(out, in)
		}
		return nil
	})
	return out, err
}

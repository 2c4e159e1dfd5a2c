package calnotice

import (
	"fmt"
	"slices"
	"strings"

	"duban/tracker"
)

// Days returns the arrangement of a notice that is not amending, in the
// holiday-cn shape, sorted by date. A day two items name keeps the first
// item's name.
func (n *Notice) Days() []tracker.HolidayDay {
	seen := map[tracker.Date]bool{}
	var out []tracker.HolidayDay
	for _, it := range n.Items {
		it.each(func(d tracker.Date, off bool) {
			if !seen[d] {
				seen[d] = true
				out = append(out, tracker.HolidayDay{Name: it.Name, Date: d.String(), IsOffDay: off})
			}
		})
	}
	sortDays(out)
	return out
}

// each calls fn for the item's days off, then its working days.
func (it *Item) each(fn func(d tracker.Date, off bool)) {
	for _, d := range it.Off {
		fn(d, true)
	}
	for _, d := range it.Work {
		fn(d, false)
	}
}

// Apply returns the year's arrangement once the notice is applied to
// base, the days in effect before it: a national notice replaces base; a
// regional one adds its days; an amending one extends a festival's block
// (the make-up working days inside the extension become days off) and
// adds its own days.
func (n *Notice) Apply(base []tracker.HolidayDay) ([]tracker.HolidayDay, error) {
	if !n.Amending && !n.Regional {
		return n.Days(), nil
	}
	byDate := map[string]tracker.HolidayDay{}
	for _, d := range base {
		byDate[d.Date] = d
	}
	for _, it := range n.Items {
		if !it.Replace {
			continue
		}
		for date, d := range byDate {
			if strings.Contains(d.Name, it.Name) {
				delete(byDate, date)
			}
		}
	}
	for _, it := range n.Items {
		if it.ExtendTo.IsZero() {
			continue
		}
		var last tracker.Date
		name := it.Name
		for _, d := range base {
			dt, err := tracker.ParseDate(d.Date)
			if err == nil && d.IsOffDay && strings.Contains(d.Name, it.Name) && dt.Before(it.ExtendTo) && dt.After(last) {
				last, name = dt, d.Name
			}
		}
		if last.IsZero() {
			return nil, &Error{[]Refusal{{Line: it.Line, Reason: fmt.Sprintf("要延长%s假期，但%d年的安排里没有%s的放假日：请先载入当年的通知", it.Name, n.Year, it.Name)}}}
		}
		for d := last.AddDays(1); !d.After(it.ExtendTo); d = d.AddDays(1) {
			byDate[d.String()] = tracker.HolidayDay{Name: name, Date: d.String(), IsOffDay: true}
		}
	}
	for _, it := range n.Items {
		it.each(func(d tracker.Date, off bool) {
			name := it.Name
			if prev, ok := byDate[d.String()]; ok && n.Amending && strings.Contains(prev.Name, it.Name) {
				name = prev.Name
			}
			byDate[d.String()] = tracker.HolidayDay{Name: name, Date: d.String(), IsOffDay: off}
		})
	}
	out := make([]tracker.HolidayDay, 0, len(byDate))
	for _, d := range byDate {
		out = append(out, d)
	}
	sortDays(out)
	return out, nil
}

func sortDays(ds []tracker.HolidayDay) {
	slices.SortFunc(ds, func(a, b tracker.HolidayDay) int { return strings.Compare(a.Date, b.Date) })
}

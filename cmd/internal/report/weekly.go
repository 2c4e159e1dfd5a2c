package report

import (
	"cmp"
	"fmt"
	htmltemplate "html/template"
	"io"
	"slices"
	"strings"
	"text/template"
	"time"

	"duban/tracker"
)

// Weekly is the weekly summary (每周综合报告) to the office: what came
// in, what is due this week, what is overdue.
type Weekly struct {
	Office, Subject, Period, Week string
	Monday, Sunday                tracker.Date
	Since, Generated              time.Time
	Tracked                       []WeeklyItem
	DueThisWeek, Overdue          []WeeklyRow
	CalendarWarnings              []string // calwarn.go
}

// WeeklyItem is an item tracked since the previous week's Monday.
type WeeklyItem struct {
	ID, Title, Doc, Requirements, Units, Deadline string
}

// WeeklyRow is an open instance due this week or overdue.
type WeeklyRow struct {
	ID, Unit, Title, Doc, Deadline string
	OverdueDays                    int
	Extended                       bool
}

var (
	weeklyText = template.Must(template.New("weekly.txt.tmpl").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).
			ParseFS(templates, "templates/weekly.txt.tmpl"))
	weeklyHTML = htmltemplate.Must(htmltemplate.New("weekly.html.tmpl").ParseFS(templates, "templates/weekly.html.tmpl"))
)

// WeekMonday returns the Monday of d's week.
func WeekMonday(d tracker.Date) tracker.Date { return d.AddDays(-((int(d.Weekday()) + 6) % 7)) }

// ISOWeek names the week starting monday, e.g. "2026-W41".
func ISOWeek(monday tracker.Date) string {
	y, w := time.Date(monday.Year, monday.Month, monday.Day, 12, 0, 0, 0, time.UTC).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// ParseISOWeek returns the Monday of week ("2026-W41").
func ParseISOWeek(week string) (tracker.Date, error) {
	var y, w int
	if _, err := fmt.Sscanf(week, "%d-W%d", &y, &w); err != nil {
		return tracker.Date{}, err
	}
	// ISO week 1 holds 4 January.
	jan4 := tracker.Date{Year: y, Month: time.January, Day: 4}
	return WeekMonday(jan4).AddDays(7 * (w - 1)), nil
}

// LoadWeekly collects the summary of the week starting monday as of now:
// items first tracked since the previous Monday, open instances whose
// last day is in the week and not yet passed, and every overdue one.
func LoadWeekly(tx tracker.Tx, x *tracker.Expander, monday tracker.Date, now time.Time) (*Weekly, error) {
	env := x.Env
	sunday := monday.AddDays(6)
	office, err := tx.Office()
	if err != nil {
		return nil, err
	}
	y, w := time.Date(monday.Year, monday.Month, monday.Day, 12, 0, 0, 0, time.UTC).ISOWeek()
	s := &Weekly{Office: cmp.Or(office.Name, "督查室"), Week: ISOWeek(monday), Monday: monday, Sunday: sunday,
		Since: monday.AddDays(-7).At(0, env.Loc), Generated: now.In(env.Loc),
		Period: fmt.Sprintf("%d年%d月%d日至%d月%d日", monday.Year, monday.Month, monday.Day, sunday.Month, sunday.Day)}
	s.Subject = fmt.Sprintf("督办工作周报：%d年第%d周（%d月%d日至%d月%d日）", y, w, monday.Month, monday.Day, sunday.Month, sunday.Day)
	s.CalendarWarnings = calendarWarnings(env.Cal, env.Today(now))

	unitNames := make(map[string]string)
	if err := tx.Units(func(u *tracker.Unit) error {
		unitNames[u.ID] = u.Name
		return nil
	}); err != nil {
		return nil, err
	}
	name := func(id string) string {
		if id == "" {
			return "待分配"
		}
		return cmp.Or(unitNames[id], id)
	}
	var items []*tracker.Item
	if err := tx.Items(func(it *tracker.Item) error {
		if !it.TrackedAt.Before(s.Since) && it.TrackedAt.Before(now) {
			items = append(items, it)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	slices.SortStableFunc(items, func(a, b *tracker.Item) int { return a.TrackedAt.Compare(b.TrackedAt) })
	for _, it := range items {
		wi := WeeklyItem{ID: it.ID, Title: it.Title, Doc: it.Doc, Requirements: it.Requirements}
		var units []string
		for _, u := range it.LeadUnits() {
			units = append(units, name(u))
		}
		for _, u := range it.CoUnits {
			units = append(units, name(u)+tracker.CoMark)
		}
		wi.Units = cmp.Or(strings.Join(units, "、"), "待分配")
		if it.Recurring() {
			wi.Deadline = HumanEvery(it.Every)
		} else if err := tx.InstancesOf(it.ID, func(in *tracker.Instance) error {
			if in.Co {
				return nil
			}
			wi.Deadline = DeadlineCell(in.Deadline.Human(env), in.Deadline.Provisional)
			if in.Limit != nil {
				wi.Deadline += "（最迟 " + DeadlineCell(in.Limit.Human(env), in.Limit.Provisional) + "）"
			}
			return tracker.ErrStop
		}); err != nil {
			return nil, err
		}
		s.Tracked = append(s.Tracked, wi)
	}

	bound := env.EndOf(sunday).Add(time.Second)
	err = x.List(tx, tracker.Filter{DueBefore: bound}, now, func(r tracker.Row) error {
		unit := name(r.Unit)
		if r.Co {
			unit += tracker.CoMark
		}
		row := WeeklyRow{ID: r.ID, Unit: unit, Title: r.Title, Doc: r.Doc, Deadline: DeadlineCell(r.Human, r.DueProvisional),
			OverdueDays: r.OverdueWorkdays,
			Extended:    r.Extended}
		switch {
		case r.Overdue:
			s.Overdue = append(s.Overdue, row)
		case !r.LastDay.Before(monday):
			s.DueThisWeek = append(s.DueThisWeek, row)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// WriteText writes the summary as the plain-text body of its mail.
func (s *Weekly) WriteText(w io.Writer) error { return weeklyText.Execute(w, s) }

// WriteHTML writes the summary as the HTML body of its mail.
func (s *Weekly) WriteHTML(w io.Writer) error { return weeklyHTML.Execute(w, s) }

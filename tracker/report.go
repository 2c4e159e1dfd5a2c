package tracker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Month is a calendar month.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth parses "YYYY-MM".
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", strings.TrimSpace(s))
	if err != nil {
		return Month{}, fmt.Errorf("%q is not a month (want YYYY-MM, e.g. 2026-10)", s)
	}
	return Month{t.Year(), t.Month()}, nil
}

// MonthOf returns the month of d.
func MonthOf(d Date) Month { return Month{d.Year, d.Month} }

// String formats m as YYYY-MM.
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Chinese formats m as "2026年10月".
func (m Month) Chinese() string { return fmt.Sprintf("%d年%d月", m.Year, int(m.Month)) }

// First returns the first day of m.
func (m Month) First() Date { return Date{m.Year, m.Month, 1} }

// Last returns the last day of m.
func (m Month) Last() Date { return Date{m.Year, m.Month, DaysIn(m.Year, m.Month)} }

// Add returns the month n months after m (n may be negative).
func (m Month) Add(n int) Month {
	t := time.Date(m.Year, m.Month+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	return Month{t.Year(), t.Month()}
}

// MarshalJSON encodes m as "YYYY-MM".
func (m Month) MarshalJSON() ([]byte, error) { return []byte(`"` + m.String() + `"`), nil }

// UnmarshalJSON decodes "YYYY-MM".
func (m *Month) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("month: %w", err)
	}
	v, err := ParseMonth(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Report is the monthly bulletin (通报) of one month: per-unit figures and
// the list of instances handled late or still overdue. ReportDefinitions
// says what each figure means.
type Report struct {
	Month Month `json:"month"`
	From  Date  `json:"from"` // first day of the month
	To    Date  `json:"to"`   // last day of the month
	// Cutoff is the instant the figures describe: the end of the month
	// (00:00 of the next month's first day), or the report's now when the
	// month has not ended (Complete false).
	Cutoff    time.Time `json:"cutoff"`
	Complete  bool      `json:"complete"`
	Unit      string    `json:"unit,omitempty"` // only this unit's instances were counted
	Generated time.Time `json:"generated"`

	// Units has one row per stored unit (or only the requested unit), in
	// the order the units were defined (UnitOrder), with nothing due too;
	// then instances still waiting for a unit, counted under unit "", and
	// units no longer stored but named by instances.
	Units []UnitStats `json:"units"`
	Total UnitStats   `json:"total"`
	// Entries is the 通报 list: every instance done late or overdue at
	// the cutoff, by unit (in Units order), then deadline, then id.
	Entries []ReportEntry `json:"entries"`

	// Praise and Criticism are the units praised (表扬) and criticised
	// (批评), each with its reason (SPEC §15); Judge fills them.
	Praise    []Mention `json:"praise"`
	Criticism []Mention `json:"criticism"`

	// counted is every instance counted, for Judge and the scores.
	counted []countedInstance
}

// UnitStats are one unit's figures for the month.
type UnitStats struct {
	Unit      string `json:"unit"`
	UnitName  string `json:"unit_name"`
	Due       int    `json:"due"`         // instances whose counted deadline falls in the month
	OnTime    int    `json:"on_time"`     // done before the deadline (and before the cutoff)
	Late      int    `json:"late"`        // done before the cutoff, after the deadline
	Overdue   int    `json:"overdue"`     // not done at the cutoff, deadline passed
	NotYetDue int    `json:"not_yet_due"` // not done, deadline after the cutoff (a month not over)
	Extended  int    `json:"extended"`    // instances with an approved extension
	// OnTimeRate is OnTime ÷ (Due − NotYetDue), a fraction; nil when that
	// is 0 (nothing came due).
	OnTimeRate *float64 `json:"on_time_rate"`
	// AvgLateWorkdays and MaxLateWorkdays are over the late and overdue
	// instances (0 when there are none).
	AvgLateWorkdays float64 `json:"avg_late_workdays"`
	MaxLateWorkdays int     `json:"max_late_workdays"`
	// Sheets counts the 督办事项通知单 issued to the unit in the month
	// (withdrawn ones not counted); Score is the month's 考核 score
	// (SPEC §15), nil when no scoring was applied.
	Sheets int      `json:"sheets"`
	Score  *float64 `json:"score,omitempty"`

	lateSum int
}

// Entry kinds.
const (
	EntryLate    = "late"    // done late
	EntryOverdue = "overdue" // still not done at the cutoff
)

// ReportEntry is one line of the 通报 list.
type ReportEntry struct {
	ID       string `json:"id"`
	Item     string `json:"item"`
	Unit     string `json:"unit"`
	UnitName string `json:"unit_name"`
	Co       bool   `json:"co,omitempty"`
	Title    string `json:"title"`
	Doc      string `json:"doc,omitempty"`
	Kind     string `json:"kind"` // late | overdue
	Status   Status `json:"status"`
	// Deadline is the deadline counted; Due its first overdue instant.
	Deadline Deadline  `json:"-"`
	Due      time.Time `json:"due"`
	LastDay  Date      `json:"last_day"`
	// CurrentDue is the deadline in force now when it differs from the one
	// counted (an extension recorded after the deadline had passed).
	CurrentDue   *time.Time `json:"current_due,omitempty"`
	DoneAt       *time.Time `json:"done_at,omitempty"`
	WorkdaysLate int        `json:"workdays_late"`
	Extended     bool       `json:"extended"`
	// ExtendedLate says an extension was recorded after the deadline then
	// in force had passed: the instance counts against that deadline.
	ExtendedLate bool `json:"extended_late,omitempty"`
}

// Definition is one term of the report, for footers and the README.
type Definition struct {
	Term string `json:"term"`
	Text string `json:"text"`
}

// ReportDefinitions says what every figure of the monthly report means,
// stating the office's own day end (env.DayEnd) rather than a setting's name.
func ReportDefinitions(env Env) []Definition {
	dayEnd := "按日计算的期限至最后一日24时届满"
	if env.DayEnd != 24*60 {
		dayEnd = "按日计算的期限至最后一日下班时刻届满（本办设为" + env.DayEnd.String() + "）"
	}
	return []Definition{
		{"应办", "期限最后一日在本月内的督办事项（周期事项每期、每个承办或协办单位各计一件）；已撤销的不计，已退回或待分配的按未办结计。经批准延期的按延期后的期限计，但延期登记时原期限已过的，仍按延期前的期限计。"},
		{"按时办结", "在月末前办结，且办结时间早于期限届满时刻（" + dayEnd + "；定时期限至规定时刻届满）。"},
		{"逾期办结", "在月末前办结，但办结时间在期限届满之后。"},
		{"逾期未办结", "至月末（当月尚未结束时为统计时刻）仍未办结，且期限已经届满；月末后才办结的也计入此项。"},
		{"未到期", "当月尚未结束时，期限尚未届满且未办结的事项；月度通报中为零。"},
		{"延期", "经督查室批准延期的事项；延期登记时原期限已过的（事后延期），按原期限计为逾期。"},
		{"按时办结率", "按时办结数 ÷（应办数 − 未到期数）；没有到期事项的记为“—”。"},
		{"逾期工作日", "期限最后一日之后至办结之日（未办结的至月末或统计日）的工作日数，按法定节假日和调休安排计算，不足一个工作日的按一个计；平均和最长逾期按逾期办结和逾期未办结的事项计算。"},
		{"暂定", "所涉年份的国务院节假日安排尚未公布时，期限按法定节假日推算并标注“暂定”，安排公布后可能调整。"},
	}
}

// UnitOrder orders units the way the office defined them: by the file
// and then the line of their definition (Source, "units.yaml:12"), units
// without one last, by id.
func UnitOrder(a, b *Unit) int {
	fa, la, oka := splitSource(a.Source)
	fb, lb, okb := splitSource(b.Source)
	switch {
	case oka && !okb:
		return -1
	case !oka && okb:
		return 1
	case oka && okb:
		if c := cmp.Or(cmp.Compare(fa, fb), cmp.Compare(la, lb)); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.ID, b.ID)
}

// splitSource splits "file:line".
func splitSource(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return "", 0, false
	}
	return s[:i], n, true
}

// UnassignedName names the row of instances still waiting for a unit.
const UnassignedName = "（待分配）"

// MonthlyReport computes the report of month m as of now: per unit (only
// unit when it is not empty), the instances whose counted deadline falls
// in the month, how they were handled by the end of the month (or by now
// in a month not over) and how late, and the 通报 list. It reads every
// instance once (finished instances are in no index) and the history of
// extended ones only.
func MonthlyReport(tx Tx, env Env, m Month, unit string, now time.Time) (*Report, error) {
	first, last := m.First(), m.Last()
	cutoff := m.Add(1).First().At(0, env.Loc)
	complete := !now.Before(cutoff)
	cutoffDay := last
	if !complete {
		cutoff = now
		cutoffDay = env.Today(now)
	}
	rep := &Report{Month: m, From: first, To: last, Cutoff: cutoff.In(env.Loc), Complete: complete, Unit: unit,
		Generated: now.In(env.Loc)}

	names := make(map[string]string)
	var defined []*Unit
	if err := tx.Units(func(u *Unit) error {
		names[u.ID] = u.Name
		defined = append(defined, u)
		return nil
	}); err != nil {
		return nil, err
	}
	slices.SortStableFunc(defined, UnitOrder)
	order := make([]string, 0, len(defined)+1)
	for _, u := range defined {
		order = append(order, u.ID)
	}
	if unit != "" {
		if _, ok := names[unit]; !ok {
			return nil, fmt.Errorf("report: %w: unknown unit %q", ErrInvalid, unit)
		}
	}
	names[""] = UnassignedName
	order = append(order, "")

	stats := make(map[string]*UnitStats)
	items := make(map[string]*Item)
	// count classifies one instance against its counted deadline dl;
	// extLate says an extension came after that deadline had passed.
	count := func(in *Instance, dl *Deadline, extLate bool) error {
		s := stats[in.Unit]
		if s == nil {
			s = &UnitStats{Unit: in.Unit, UnitName: cmp.Or(names[in.Unit], in.Unit)}
			stats[in.Unit] = s
		}
		s.Due++
		if in.Extensions > 0 {
			s.Extended++
		}
		doneAt := in.DoneAt
		if in.Status == StatusDone && doneAt.IsZero() {
			doneAt = in.UpdatedAt
		}
		kind, lateDays := "", 0
		c := countedInstance{in: in, dl: *dl, doneAt: doneAt}
		defer func() { c.kind, c.lateDays = kind, lateDays; rep.counted = append(rep.counted, c) }()
		switch {
		case in.Status == StatusDone && doneAt.Before(cutoff):
			if doneAt.Before(dl.Due) {
				s.OnTime++
				kind = "on_time"
				return nil
			}
			kind = EntryLate
			lateDays = max(env.Cal.WorkdaysBetween(dl.LastDay, env.Today(doneAt)), 1)
			s.Late++
		case cutoff.Before(dl.Due):
			s.NotYetDue++
			kind = "not_yet_due"
			return nil
		default:
			kind = EntryOverdue
			lateDays = max(env.Cal.WorkdaysBetween(dl.LastDay, cutoffDay), 1)
			s.Overdue++
		}
		s.lateSum += lateDays
		s.MaxLateWorkdays = max(s.MaxLateWorkdays, lateDays)

		it, ok := items[in.Item]
		if !ok {
			var err error
			if it, err = tx.Item(in.Item); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			items[in.Item] = it
		}
		e := ReportEntry{ID: in.ID, Item: in.Item, Unit: in.Unit, UnitName: s.UnitName, Co: in.Co, Title: in.Item,
			Kind: kind, Status: in.Status, Deadline: *dl, Due: dl.Due.In(env.Loc), LastDay: dl.LastDay,
			WorkdaysLate: lateDays, Extended: in.Extensions > 0, ExtendedLate: extLate}
		if it != nil {
			e.Title, e.Doc = it.Title, it.Doc
		}
		if !in.Deadline.Due.Equal(dl.Due) {
			t := in.Deadline.Due.In(env.Loc)
			e.CurrentDue = &t
		}
		if in.Status == StatusDone {
			t := doneAt.In(env.Loc)
			e.DoneAt = &t
		}
		rep.Entries = append(rep.Entries, e)
		return nil
	}

	// Counted deadlines: the current one, unless an extension came after
	// the deadline had passed. Deadlines only move later, so an instance
	// whose original deadline is after the month, or whose current one is
	// before it, cannot be counted in it: its history is not read.
	var extended []*Instance
	inMonth := func(d Date) bool { return !d.Before(first) && !d.After(last) }
	err := tx.Instances(func(in *Instance) error {
		if in.Status == StatusWithdrawn || (unit != "" && in.Unit != unit) {
			return nil
		}
		if in.Extensions == 0 || in.Original == nil {
			if inMonth(in.Deadline.LastDay) {
				return count(in, &in.Deadline, false)
			}
			return nil
		}
		if in.Original.LastDay.After(last) || in.Deadline.LastDay.Before(first) {
			return nil
		}
		extended = append(extended, in)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, in := range extended {
		evs, err := tx.Events(in.ID)
		if err != nil {
			return nil, err
		}
		dl, late := countedDeadline(in, evs, env)
		if inMonth(dl.LastDay) {
			if err := count(in, &dl, late); err != nil {
				return nil, err
			}
		}
	}
	// Every unit has its row, with nothing due too.
	for _, u := range defined {
		if (unit == "" || u.ID == unit) && stats[u.ID] == nil {
			stats[u.ID] = &UnitStats{Unit: u.ID, UnitName: u.Name}
		}
	}

	// Units no longer stored but still named by instances go last.
	var gone []string
	for id := range stats {
		if _, ok := names[id]; !ok {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	order = append(order, gone...)
	rank := make(map[string]int, len(order))
	rep.Total = UnitStats{UnitName: "合计"}
	for i, id := range order {
		rank[id] = i
		s := stats[id]
		if s == nil {
			continue
		}
		s.finish()
		rep.Units = append(rep.Units, *s)
		t := &rep.Total
		t.Due += s.Due
		t.OnTime += s.OnTime
		t.Late += s.Late
		t.Overdue += s.Overdue
		t.NotYetDue += s.NotYetDue
		t.Extended += s.Extended
		t.lateSum += s.lateSum
		t.MaxLateWorkdays = max(t.MaxLateWorkdays, s.MaxLateWorkdays)
	}
	rep.Total.finish()
	// Sort small keys, then place the entries.
	type key struct {
		rank int
		due  int64
		id   string
		i    int
	}
	keys := make([]key, len(rep.Entries))
	for i := range rep.Entries {
		e := &rep.Entries[i]
		keys[i] = key{rank[e.Unit], e.Due.Unix(), e.ID, i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.due, b.due), cmp.Compare(a.id, b.id))
	})
	sorted := make([]ReportEntry, len(keys))
	for i, k := range keys {
		sorted[i] = rep.Entries[k.i]
	}
	rep.Entries = sorted
	return rep, nil
}

// finish computes the rate and the average lateness from the counts.
func (s *UnitStats) finish() {
	if n := s.Due - s.NotYetDue; n > 0 {
		r := float64(s.OnTime) / float64(n)
		s.OnTimeRate = &r
	}
	if n := s.Late + s.Overdue; n > 0 {
		s.AvgLateWorkdays = float64(s.lateSum) / float64(n)
	}
}

// countedDeadline returns the deadline an extended instance is counted
// against, and whether an extension came too late: the deadline in force
// when the first extension was recorded after that deadline had passed,
// else the current deadline.
func countedDeadline(in *Instance, evs []Event, env Env) (Deadline, bool) {
	for _, e := range evs {
		if e.Action != "extend" {
			continue
		}
		from, err := time.Parse(time.RFC3339, e.From)
		if err != nil {
			continue
		}
		if e.Recorded().Before(from) {
			continue // recorded in time (the recording time: --at cannot backdate it)
		}
		if in.Original != nil && from.Equal(in.Original.Due) {
			return *in.Original, true
		}
		// A deadline set by an earlier extension: rebuild it from its
		// instant, a day deadline when it ends at day_end.
		return deadlineAt(from, env), true
	}
	return in.Deadline, false
}

// deadlineAt rebuilds a deadline from its due instant: a day deadline
// when the instant is a day's end (day_end), a timed one otherwise.
func deadlineAt(due time.Time, env Env) Deadline {
	local := due.In(env.Loc)
	day := DateOf(local)
	if env.DayEnd == 24*60 && ClockOf(local) == 0 {
		return Deadline{LastDay: day.AddDays(-1), Due: due}
	}
	if ClockOf(local) == env.DayEnd {
		return Deadline{LastDay: day, Due: due}
	}
	return Deadline{LastDay: day, Due: due, Timed: true}
}

// Package calendar is the working calendar's import and display (工作日历,
// SPEC §12) shared by `duban calendar` and the workspace's 工作日历 page:
// reading a State Council notice, previewing what it moves against the
// store, storing it, and a year's days for a grid.
package calendar

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"duban/tracker"
	"duban/tracker/calnotice"
)

// Import is one notice to preview or apply.
type Import struct {
	Data     []byte // the notice as pasted (UTF-8 or GB18030)
	Year     int    // the notice's year when the text has no title; 0: from the title
	Regional bool   // a province's notice
	Replace  bool   // replace the year's national notice already imported
	Actor    string // who imports it
	At       time.Time
}

// Preview is what importing a notice changes.
type Preview struct {
	Plan        *calnotice.Plan
	Cal         *tracker.Calendar // the calendar with the notice; nil when Plan.Same
	Moves       []Move
	Resolved    []string // instances whose deadlines stop being provisional
	Corrections int      // 更正 the recompute will mail
}

// Move is one open instance's deadline or limit that moves: the due
// instants for JSON, their display form (with 暂定) for people.
type Move struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Field    string    `json:"field"` // deadline or limit
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	FromText string    `json:"-"`
	ToText   string    `json:"-"`
}

// FieldLabel is 办理时限 or 最迟时限.
func (m Move) FieldLabel() string {
	if m.Field == "limit" {
		return "最迟时限"
	}
	return "办理时限"
}

// errPreview rolls back the recompute a preview runs.
var errPreview = errors.New("preview")

// Parse reads the notice of in; a refusal is a *calnotice.Error (each
// refusal quoting its line).
func Parse(in Import, today tracker.Date) (*calnotice.Notice, string, error) {
	n, err := calnotice.Parse(in.Data, calnotice.Options{Year: in.Year, Regional: in.Regional, Today: today})
	if err != nil {
		return nil, "", err
	}
	text, _ := calnotice.Decode(in.Data) // Parse decoded it already
	return n, text, nil
}

// prepare reads the stored notices and puts n among them.
func prepare(tx tracker.Tx, n *calnotice.Notice, text string, lower *tracker.Calendar, in Import) (*calnotice.Plan, error) {
	recs, err := calnotice.Load(tx)
	if err != nil {
		return nil, err
	}
	return calnotice.Prepare(n, in.Data, text, lower, recs, in.Replace, in.Actor, in.At)
}

// Run previews in against st: x is the engine in use (its calendar the one
// in effect), lower the calendar without imported notices (embedded and
// calendar.files), loc the configured zone, now the instant the
// deadlines are judged at. Nothing is stored: the recompute is rolled
// back.
func Run(st tracker.Store, x *tracker.Expander, lower *tracker.Calendar, loc *time.Location, in Import, now time.Time) (*Preview, error) {
	n, text, err := Parse(in, x.Env.Today(now))
	if err != nil {
		return nil, err
	}
	pv := &Preview{}
	err = st.Update(func(tx tracker.Tx) error {
		plan, err := prepare(tx, n, text, lower, in)
		if err != nil {
			return err
		}
		pv.Plan = plan
		if plan.Same {
			return errPreview
		}
		cal, err := calnotice.Layer(lower, plan.Records, loc)
		if err != nil {
			return err
		}
		pv.Cal = cal
		if err := previewMoves(tx, WithCalendar(x, cal), now, pv); err != nil {
			return err
		}
		return errPreview // a preview: roll the recompute back
	})
	if !errors.Is(err, errPreview) {
		return nil, err
	}
	return pv, nil
}

// Apply stores in (read again inside the transaction, so that a notice
// imported meanwhile is taken into account) and returns the calendar now
// in effect: lower with every stored notice on top. The caller hands it to
// the running daemon (daemon.SetCalendar), which recomputes and mails the
// 更正.
func Apply(st tracker.Store, x *tracker.Expander, lower *tracker.Calendar, loc *time.Location, in Import, now time.Time) (*tracker.Calendar, error) {
	n, text, err := Parse(in, x.Env.Today(now))
	if err != nil {
		return nil, err
	}
	if err := st.Update(func(tx tracker.Tx) error {
		plan, err := prepare(tx, n, text, lower, in)
		if err != nil {
			return err
		}
		return calnotice.Save(tx, plan.Records)
	}); err != nil {
		return nil, fmt.Errorf("store the notice: %w", err)
	}
	return calnotice.FromStore(st, lower, loc)
}

// previewMoves recomputes the open deadlines with x inside tx and records
// what moved; the caller rolls tx back.
func previewMoves(tx tracker.Tx, x *tracker.Expander, now time.Time, pv *Preview) error {
	before := map[string]tracker.Instance{}
	if err := tx.DueBefore(time.Time{}, func(in *tracker.Instance) error {
		before[in.ID] = *in
		return nil
	}); err != nil {
		return err
	}
	res, err := x.Recompute(tx, now, "duban calendar import (preview)")
	if err != nil {
		return err
	}
	pv.Corrections = res.Corrections
	titles := map[string]string{}
	title := func(item string) string {
		if t, ok := titles[item]; ok {
			return t
		}
		if it, err := tx.Item(item); err == nil {
			titles[item] = it.Title
		}
		return titles[item]
	}
	move := func(id, item, field string, from, to tracker.Deadline) Move {
		show := func(dl tracker.Deadline) string {
			s := dl.Human(x.Env)
			if dl.Provisional {
				s += tracker.ProvisionalMark
			}
			return s
		}
		return Move{ID: id, Title: title(item), Field: field, From: from.Due.In(x.Env.Loc), To: to.Due.In(x.Env.Loc),
			FromText: show(from), ToText: show(to)}
	}
	return tx.DueBefore(time.Time{}, func(in *tracker.Instance) error {
		old, ok := before[in.ID]
		if !ok {
			return nil
		}
		if !old.Deadline.Due.Equal(in.Deadline.Due) {
			pv.Moves = append(pv.Moves, move(in.ID, in.Item, "deadline", old.Deadline, in.Deadline))
		}
		if old.Limit != nil && in.Limit != nil && !old.Limit.Due.Equal(in.Limit.Due) {
			pv.Moves = append(pv.Moves, move(in.ID, in.Item, "limit", *old.Limit, *in.Limit))
		}
		wasProv := old.Deadline.Provisional || (old.Limit != nil && old.Limit.Provisional)
		isProv := in.Deadline.Provisional || (in.Limit != nil && in.Limit.Provisional)
		if wasProv && !isProv {
			pv.Resolved = append(pv.Resolved, in.ID)
		}
		return nil
	})
}

// WithCalendar returns a copy of x computing on cal.
func WithCalendar(x *tracker.Expander, cal *tracker.Calendar) *tracker.Expander {
	nx := *x
	nx.Env.Cal = cal
	return &nx
}

// KindText is the notice's kind for people.
func KindText(n *calnotice.Notice) string {
	return map[string]string{calnotice.KindNational: "全国", calnotice.KindAmending: "补充通知，在当年安排之上",
		calnotice.KindRegional: "地方通知，加在全国安排之上"}[n.Kind()]
}

// ShortSum is the first 12 hex digits of the SHA-256 the plan stored for
// its notice's year.
func ShortSum(p *calnotice.Plan) string {
	for _, r := range p.Records {
		if r.Year == p.Notice.Year {
			return r.SHA256[:12]
		}
	}
	return ""
}

// Source says where a year's days come from (SPEC §12): 内置, 文件 …,
// 通知（…）or 暂定.
func Source(cal *tracker.Calendar, year int) string {
	o := cal.Origin(year)
	switch {
	case o == "":
		return "暂定：按《全国年节及纪念日放假办法》推算"
	case strings.HasPrefix(o, "embedded:"):
		return "内置"
	case strings.HasPrefix(o, calnotice.OriginPrefix):
		return o
	}
	return "文件 " + o
}

// DaysInEffect lists the dates of year that are holidays or make-up
// working days, with their names (provisional names in a year without an
// arrangement).
func DaysInEffect(cal *tracker.Calendar, year int) []tracker.HolidayDay {
	out := []tracker.HolidayDay{}
	for d := (tracker.Date{Year: year, Month: time.January, Day: 1}); d.Year == year; d = d.AddDays(1) {
		if name := cal.HolidayName(d); name != "" {
			out = append(out, tracker.HolidayDay{Name: name, Date: d.String(), IsOffDay: !cal.IsWorkday(d)})
		}
	}
	return out
}

// Weekdays are the Chinese weekday names, Sunday first.
var Weekdays = [...]string{"日", "一", "二", "三", "四", "五", "六"}

// Mark is 休 for a day off that is not an ordinary weekend day, 班 for a
// weekend working day, "" otherwise.
func Mark(cal *tracker.Calendar, d tracker.Date) string {
	weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
	work := cal.IsWorkday(d)
	switch {
	case work && weekend:
		return "班"
	case !work && (!weekend || cal.HolidayName(d) != ""):
		return "休"
	}
	return ""
}

// Diff lists the dates of year (and the December before) whose
// working-day status differs between cur and next, e.g. "2月11日（周四）休".
func Diff(cur, next *tracker.Calendar, year int) []string {
	var out []string
	for d := (tracker.Date{Year: year - 1, Month: time.December, Day: 1}); d.Year <= year; d = d.AddDays(1) {
		if w := next.IsWorkday(d); w != cur.IsWorkday(d) {
			mark := "休"
			if w {
				mark = "班"
			}
			day := fmt.Sprintf("%d月%d日（周%s）%s", d.Month, d.Day, Weekdays[d.Weekday()], mark)
			if d.Year != year {
				day = fmt.Sprintf("%d年", d.Year) + day
			}
			out = append(out, day)
		}
	}
	return out
}

// Block is a festival's days off (First to End, N days) and its make-up
// working days.
type Block struct {
	Name       string
	First, End tracker.Date
	N          int
	Work       []string // 10月11日（周日）
}

// Span is "2026年10月1日至2026年10月8日 共8天", "" without days off.
func (b Block) Span() string {
	switch {
	case b.N == 0:
		return ""
	case b.First == b.End:
		return fmt.Sprintf("%s 共%d天", cnDate(b.First), b.N)
	}
	return fmt.Sprintf("%s至%s 共%d天", cnDate(b.First), cnDate(b.End), b.N)
}

// Blocks groups days by festival, in the order they first appear.
func Blocks(days []tracker.HolidayDay) []Block {
	var order []string
	blocks := map[string]*Block{}
	for _, day := range days {
		d, err := tracker.ParseDate(day.Date)
		if err != nil {
			continue
		}
		b := blocks[day.Name]
		if b == nil {
			b = &Block{Name: day.Name}
			blocks[day.Name] = b
			order = append(order, day.Name)
		}
		if !day.IsOffDay {
			b.Work = append(b.Work, fmt.Sprintf("%d月%d日（周%s）", d.Month, d.Day, Weekdays[d.Weekday()]))
			continue
		}
		if b.First.IsZero() || d.Before(b.First) {
			b.First = d
		}
		if d.After(b.End) {
			b.End = d
		}
		b.N++
	}
	out := make([]Block, 0, len(order))
	for _, name := range order {
		out = append(out, *blocks[name])
	}
	return out
}

func cnDate(d tracker.Date) string { return fmt.Sprintf("%d年%d月%d日", d.Year, d.Month, d.Day) }

// Month is one month of a year's grid: weeks Monday first, a zero Day
// padding the first and last week.
type Month struct {
	Title string
	Weeks [][7]Day
}

// Day is one cell of the grid.
type Day struct {
	Day  int
	Mark string // 休, 班 or ""
	Name string // the festival, if any
}

// Grid is the year's twelve months.
func Grid(cal *tracker.Calendar, year int) []Month {
	out := make([]Month, 0, 12)
	for m := time.January; m <= time.December; m++ {
		mo := Month{Title: fmt.Sprintf("%d月", m)}
		var week [7]Day
		for d := (tracker.Date{Year: year, Month: m, Day: 1}); d.Month == m && d.Year == year; d = d.AddDays(1) {
			i := (int(d.Weekday()) + 6) % 7
			week[i] = Day{Day: d.Day, Mark: Mark(cal, d), Name: cal.HolidayName(d)}
			if i == 6 {
				mo.Weeks = append(mo.Weeks, week)
				week = [7]Day{}
			}
		}
		if week != ([7]Day{}) {
			mo.Weeks = append(mo.Weeks, week)
		}
		out = append(out, mo)
	}
	return out
}

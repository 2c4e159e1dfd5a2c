package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/spf13/cobra"

	"duban/cmd/internal/config"
	"duban/tracker"
	"duban/tracker/calnotice"
)

// calendarCommand is `duban calendar`: the working calendar from the State
// Council notice (SPEC §12).
func (a *app) calendarCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "calendar",
		Short: "the working calendar (工作日历): load the State Council holiday notice, show or export a year",
		Args:  cobra.NoArgs,
	}
	for _, c := range []*cobra.Command{a.calendarImportCommand(), a.calendarShowCommand(), a.calendarExportCommand()} {
		c.Args = wrapArgs(c.Args)
		cmd.AddCommand(c)
	}
	return cmd
}

func (a *app) calendarImportCommand() *cobra.Command {
	var (
		year                     int
		apply, replace, regional bool
		format, inline           string
	)
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "read the State Council holiday notice (部分节假日安排的通知) and preview what it moves; --apply loads it",
		Long: `Read the State Council General Office's holiday notice as published (copied
from the web page or the document; UTF-8 or GB18030; full-width or ASCII
punctuation; "-" reads standard input) and preview it: the year as a month
grid, each festival's block, and every open instance whose deadline moves,
the deadlines that stop being provisional and the corrections (更正) that
will be mailed. Nothing changes without --apply. A year that already has an
imported notice needs --replace; a notice that extends or amends an
earlier one of its year (延长…假期) applies on top of it; a province's
notice needs --regional and adds its days.`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.loadConfig(); err != nil {
				return err
			}
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			data, err := a.readNotice(cmd, args, inline)
			if err != nil {
				return err
			}
			now, err := a.now()
			if err != nil {
				return err
			}
			n, err := calnotice.Parse(data, calnotice.Options{Year: year, Regional: regional, Today: a.x.Env.Today(now)})
			if err != nil {
				return err
			}
			text, _ := calnotice.Decode(data) // Parse decoded it already
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			lowerX, err := a.cfg.Expander() // embedded and calendar.files, without the notices
			if err != nil {
				return fmt.Errorf("%w: %w", errBadConfig, err)
			}
			lower := lowerX.Env.Cal
			at := a.wallClock()
			// prepare reads the stored notices and puts this one among them.
			prepare := func(tx tracker.Tx) (*calnotice.Plan, error) {
				recs, err := calnotice.Load(tx)
				if err != nil {
					return nil, err
				}
				return calnotice.Prepare(n, data, text, lower, recs, replace, a.actor, at)
			}
			var pv calendarPreview
			err = st.Update(func(tx tracker.Tx) error {
				plan, err := prepare(tx)
				if err != nil {
					return err
				}
				pv.plan = plan
				if plan.Same {
					return errPreview
				}
				cal, err := calnotice.Layer(lower, plan.Records, a.cfg.Location)
				if err != nil {
					return err
				}
				pv.cal = cal
				if err := previewMoves(tx, withCalendar(a.x, cal), now, &pv); err != nil {
					return err
				}
				return errPreview // a preview: roll the recompute back
			})
			if !errors.Is(err, errPreview) {
				return err
			}
			applied := false
			if apply && !pv.plan.Same {
				if err := st.Update(func(tx tracker.Tx) error {
					plan, err := prepare(tx)
					if err != nil {
						return err
					}
					return calnotice.Save(tx, plan.Records)
				}); err != nil {
					return fmt.Errorf("store the notice: %w", err)
				}
				applied = true
				if a.running != nil {
					// The command runs inside the daemon: it takes the new
					// calendar and recomputes like after any calendar change.
					cal, err := calnotice.FromStore(st, lower, a.cfg.Location)
					if err != nil {
						return err
					}
					if err := a.running.SetCalendar(cal); err != nil {
						return err
					}
				}
			}
			if format == "json" {
				return a.writeImportJSON(&pv, applied)
			}
			a.writeImportTable(&pv, applied, apply)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&year, "year", 0, "the notice's year, when the text has no title")
	f.BoolVar(&apply, "apply", false, "store the arrangement; the daemon recomputes the deadlines and mails corrections")
	f.BoolVar(&replace, "replace", false, "replace the notice already imported for the year")
	f.BoolVar(&regional, "regional", false, "a province's notice: add its days to the national arrangement")
	f.StringVar(&format, "format", "table", "output: table|json")
	f.StringVar(&inline, "notice-base64", "", "the notice itself (used when the command is forwarded to the daemon)")
	f.MarkHidden("notice-base64")
	a.addAt(cmd)
	return cmd
}

// readNotice reads the notice from FILE, standard input or the inline
// copy a forwarded command carries. The command line forwarded to a
// running daemon then carries the text itself: the daemon cannot read
// this process's standard input, nor perhaps the file.
func (a *app) readNotice(cmd *cobra.Command, args []string, inline string) ([]byte, error) {
	var data []byte
	var err error
	switch {
	case inline != "":
		if data, err = base64.StdEncoding.DecodeString(inline); err != nil {
			return nil, fmt.Errorf("%w: --notice-base64: %w", errBadUsage, err)
		}
		return data, nil
	case len(args) == 0:
		return nil, fmt.Errorf("%w: calendar import: name the notice file, or - for standard input", errBadUsage)
	case args[0] == "-":
		data, err = io.ReadAll(io.LimitReader(cmd.InOrStdin(), calnotice.MaxSize+1))
	default:
		data, err = os.ReadFile(a.abs(args[0]))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadUsage, err)
	}
	// Forward the text, not the name.
	for i, s := range a.args {
		if s == args[0] && i > 0 {
			fwd := slices.Clone(a.args[:i])
			fwd = append(fwd, "--notice-base64="+base64.StdEncoding.EncodeToString(data))
			a.args = append(fwd, a.args[i+1:]...)
			break
		}
	}
	return data, nil
}

// errPreview rolls back the recompute a preview runs.
var errPreview = errors.New("preview")

// calendarPreview is what importing a notice changes.
type calendarPreview struct {
	plan        *calnotice.Plan
	cal         *tracker.Calendar // the calendar with the notice
	moves       []calendarMove
	resolved    []string // instances whose deadline stops being provisional
	corrections int
}

// calendarMove is one open instance's deadline or limit that moves: the
// due instants (RFC 3339) for JSON, the table form for the terminal.
type calendarMove struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Field    string    `json:"field"` // deadline or limit
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	fromText string
	toText   string
}

// previewMoves recomputes the open deadlines with x inside tx and records
// what moved; the caller rolls tx back.
func previewMoves(tx tracker.Tx, x *tracker.Expander, now time.Time, pv *calendarPreview) error {
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
	pv.corrections = res.Corrections
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
	move := func(id, item, field string, from, to tracker.Deadline) calendarMove {
		show := func(dl tracker.Deadline) string {
			s := dl.Human(x.Env)
			if dl.Provisional {
				s += tracker.ProvisionalMark
			}
			return s
		}
		return calendarMove{ID: id, Title: title(item), Field: field, From: from.Due.In(x.Env.Loc), To: to.Due.In(x.Env.Loc),
			fromText: show(from), toText: show(to)}
	}
	return tx.DueBefore(time.Time{}, func(in *tracker.Instance) error {
		old, ok := before[in.ID]
		if !ok {
			return nil
		}
		if !old.Deadline.Due.Equal(in.Deadline.Due) {
			pv.moves = append(pv.moves, move(in.ID, in.Item, "deadline", old.Deadline, in.Deadline))
		}
		if old.Limit != nil && in.Limit != nil && !old.Limit.Due.Equal(in.Limit.Due) {
			pv.moves = append(pv.moves, move(in.ID, in.Item, "limit", *old.Limit, *in.Limit))
		}
		wasProv := old.Deadline.Provisional || (old.Limit != nil && old.Limit.Provisional)
		isProv := in.Deadline.Provisional || (in.Limit != nil && in.Limit.Provisional)
		if wasProv && !isProv {
			pv.resolved = append(pv.resolved, in.ID)
		}
		return nil
	})
}

func (a *app) writeImportTable(pv *calendarPreview, applied, apply bool) {
	w := a.stdout
	n := pv.plan.Notice
	kind := map[string]string{calnotice.KindNational: "全国", calnotice.KindAmending: "补充通知，在当年安排之上", calnotice.KindRegional: "地方通知，加在全国安排之上"}[n.Kind()]
	title := n.Title
	if title == "" {
		title = fmt.Sprintf("%d年节假日安排", n.Year)
	}
	fmt.Fprintf(w, "%s（%d年，%s）\n", title, n.Year, kind)
	for _, warn := range n.Warnings {
		fmt.Fprintf(w, "注意：%s\n", warn)
	}
	if pv.plan.Same {
		fmt.Fprintf(w, "这份通知已经载入（sha256 %s），没有任何改动。\n", shortSum(pv.plan))
		return
	}
	if r := pv.plan.Replaced; r != nil {
		fmt.Fprintf(w, "取代 %s 由 %s 载入的%d年通知。\n", r.At.In(a.cfg.Location).Format("2006-01-02 15:04"), r.By, r.Year)
	}
	fmt.Fprintln(w)
	writeYearGrid(w, pv.cal, n.Year)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "放假安排：")
	writeBlocks(w, pv.plan.After)
	cur := "现在使用的日历"
	if !a.x.Env.Cal.Known(n.Year) {
		cur = "现在使用的暂定日历"
	}
	if diff := dayDiff(a.x.Env.Cal, pv.cal, n.Year); len(diff) > 0 {
		fmt.Fprintf(w, "与%s相比，%d天改变：%s\n", cur, len(diff), strings.Join(diff, "、"))
	} else {
		fmt.Fprintf(w, "与%s相比，工作日没有改变。\n", cur)
	}
	fmt.Fprintln(w)
	if len(pv.moves) == 0 {
		fmt.Fprintln(w, "在办事项的期限都不变。")
	} else {
		fmt.Fprintf(w, "期限改变的在办事项（%d项）：\n", len(pv.moves))
		rw := newRowWriter(w, "table", []string{"编号", "事项", "时限", "原来", "改为"})
		for _, m := range pv.moves {
			field := "办理时限"
			if m.Field == "limit" {
				field = "最迟时限"
			}
			rw.Row(nil, []string{m.ID, m.Title, field, m.fromText, "→ " + m.toText})
		}
		rw.Close()
	}
	fmt.Fprintf(w, "不再“暂定”的期限：%d项\n", len(pv.resolved))
	fmt.Fprintf(w, "将寄出的更正：%d封\n", pv.corrections)
	switch {
	case applied && a.running != nil:
		fmt.Fprintln(w, "\n已载入。守护进程已按新日历重新计算期限，更正随下一次发送寄出。")
	case applied:
		fmt.Fprintln(w, "\n已载入。没有正在运行的守护进程：它下次启动（或下一次 serve --once）时重新计算期限并寄出更正。")
	case !apply:
		fmt.Fprintln(w, "\n以上为预览，没有做任何改动。核对无误后加 --apply 载入。")
	}
}

func shortSum(p *calnotice.Plan) string {
	if len(p.Records) == 0 {
		return ""
	}
	for _, r := range p.Records {
		if r.Year == p.Notice.Year {
			return r.SHA256[:12]
		}
	}
	return ""
}

// importJSON is `calendar import --format json`: the holiday-cn shape of
// the year's arrangement plus what moves (SPEC §12).
type importJSON struct {
	Year                int                  `json:"year"`
	Papers              []string             `json:"papers"`
	Days                []tracker.HolidayDay `json:"days"`
	Moves               []calendarMove       `json:"moves"`
	NoLongerProvisional []string             `json:"no_longer_provisional"`
	Corrections         int                  `json:"corrections"`
	Warnings            []string             `json:"warnings"`
	Kind                string               `json:"kind"`
	Unchanged           bool                 `json:"unchanged,omitempty"`
	Applied             bool                 `json:"applied"`
}

func (a *app) writeImportJSON(pv *calendarPreview, applied bool) error {
	n := pv.plan.Notice
	out := importJSON{Year: n.Year, Papers: []string{}, Days: pv.plan.After, Moves: pv.moves, NoLongerProvisional: pv.resolved,
		Corrections: pv.corrections, Warnings: n.Warnings, Kind: n.Kind(), Unchanged: pv.plan.Same, Applied: applied}
	if n.Title != "" {
		out.Papers = []string{n.Title}
	}
	for _, s := range []*[]string{&out.NoLongerProvisional, &out.Warnings} {
		if *s == nil {
			*s = []string{}
		}
	}
	if out.Moves == nil {
		out.Moves = []calendarMove{}
	}
	if out.Days == nil {
		out.Days = []tracker.HolidayDay{}
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func (a *app) calendarShowCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show [YEAR]",
		Short: "a year's working calendar (default this year): month grid, festival blocks, source",
		Args:  cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			year, err := a.calendarYear(cmd, args)
			if err != nil {
				return err
			}
			cal := a.x.Env.Cal
			days := daysInEffect(cal, year)
			source := calendarSource(cal, year)
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Year        int                  `json:"year"`
					Source      string               `json:"source"`
					Provisional bool                 `json:"provisional"`
					Days        []tracker.HolidayDay `json:"days"`
				}{year, source, !cal.Known(year), days})
			}
			fmt.Fprintf(a.stdout, "%d年工作日历　来源：%s\n\n", year, source)
			writeYearGrid(a.stdout, cal, year)
			fmt.Fprintln(a.stdout)
			fmt.Fprintln(a.stdout, "放假安排：")
			writeBlocks(a.stdout, days)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output: table|json")
	return cmd
}

func (a *app) calendarExportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export YEAR",
		Short: "write the days off and make-up working days in effect for YEAR as holiday-cn JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			year, err := a.calendarYear(cmd, args)
			if err != nil {
				return err
			}
			cal := a.x.Env.Cal
			if !cal.Known(year) {
				return fmt.Errorf("%w: %d年的国务院办公厅通知尚未载入，只有暂定日历，不导出", errBadUsage, year)
			}
			papers := cal.Papers(year)
			if papers == nil {
				papers = []string{}
			}
			f := tracker.HolidayFile{Year: year, Papers: papers, Days: cal.YearDays(year)}
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(f)
		},
	}
	return cmd
}

// calendarYear reads the YEAR argument (default: this year) and opens the
// store, so that the calendar includes the imported notices.
func (a *app) calendarYear(cmd *cobra.Command, args []string) (int, error) {
	if err := a.loadConfig(); err != nil {
		return 0, err
	}
	if _, err := a.openStore(cmd.Context()); err != nil {
		return 0, err
	}
	if len(args) == 0 {
		return time.Now().In(a.cfg.Location).Year(), nil
	}
	var y int
	if _, err := fmt.Sscanf(args[0], "%d", &y); err != nil || y < 1949 || y > 2200 || fmt.Sprint(y) != args[0] {
		return 0, fmt.Errorf("%w: %q is not a year (YYYY)", errBadUsage, args[0])
	}
	return y, nil
}

// calendarSource says where a year's days come from (SPEC §12).
func calendarSource(cal *tracker.Calendar, year int) string {
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

// daysInEffect lists the dates of year that are holidays or make-up
// working days, with their names (provisional names in a year without an
// arrangement).
func daysInEffect(cal *tracker.Calendar, year int) []tracker.HolidayDay {
	out := []tracker.HolidayDay{}
	for d := (tracker.Date{Year: year, Month: time.January, Day: 1}); d.Year == year; d = d.AddDays(1) {
		if name := cal.HolidayName(d); name != "" {
			out = append(out, tracker.HolidayDay{Name: name, Date: d.String(), IsOffDay: !cal.IsWorkday(d)})
		}
	}
	return out
}

var cnWeekdays = [...]string{"日", "一", "二", "三", "四", "五", "六"}

// writeYearGrid writes year as twelve month grids, three abreast: 休 a day
// off that is not an ordinary weekend day, 班 a weekend working day.
func writeYearGrid(w io.Writer, cal *tracker.Calendar, year int) {
	const cell, gap = 4, "   "
	for row := 0; row < 4; row++ {
		var lines [8][]string
		for col := 0; col < 3; col++ {
			m := time.Month(row*3 + col + 1)
			title := fmt.Sprintf("%d月", m)
			pad := (7*cell - runewidth.StringWidth(title)) / 2
			lines[0] = append(lines[0], strings.Repeat(" ", pad)+title+strings.Repeat(" ", 7*cell-pad-runewidth.StringWidth(title)))
			var hdr strings.Builder
			for _, wd := range []int{1, 2, 3, 4, 5, 6, 0} {
				hdr.WriteString(" " + cnWeekdays[wd] + " ")
			}
			lines[1] = append(lines[1], hdr.String())
			first := tracker.Date{Year: year, Month: m, Day: 1}
			lead := (int(first.Weekday()) + 6) % 7 // Monday first
			var week strings.Builder
			week.WriteString(strings.Repeat(" ", lead*cell))
			li := 2
			for d := first; d.Month == m; d = d.AddDays(1) {
				week.WriteString(fmt.Sprintf("%2d%s", d.Day, dayMark(cal, d)))
				if d.Weekday() == time.Sunday {
					lines[li] = append(lines[li], week.String())
					li++
					week.Reset()
				}
			}
			if week.Len() > 0 {
				lines[li] = append(lines[li], week.String()+strings.Repeat(" ", 7*cell-runewidth.StringWidth(week.String())))
				li++
			}
			for ; li < len(lines); li++ {
				lines[li] = append(lines[li], strings.Repeat(" ", 7*cell))
			}
		}
		for _, l := range lines {
			if s := strings.TrimRight(strings.Join(l, gap), " "); s != "" {
				fmt.Fprintln(w, s)
			}
		}
	}
	fmt.Fprintln(w, "休：放假　班：调休上班")
}

// dayMark is 休, 班 or two spaces.
func dayMark(cal *tracker.Calendar, d tracker.Date) string {
	weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
	work := cal.IsWorkday(d)
	switch {
	case work && weekend:
		return "班"
	case !work && (!weekend || cal.HolidayName(d) != ""):
		return "休"
	}
	return "  "
}

// writeBlocks writes each festival's days off (first to last, how many)
// and its make-up working days.
func writeBlocks(w io.Writer, days []tracker.HolidayDay) {
	type block struct {
		name       string
		first, end tracker.Date
		n          int
		work       []string
	}
	var order []string
	blocks := map[string]*block{}
	for _, day := range days {
		d, err := tracker.ParseDate(day.Date)
		if err != nil {
			continue
		}
		b := blocks[day.Name]
		if b == nil {
			b = &block{name: day.Name}
			blocks[day.Name] = b
			order = append(order, day.Name)
		}
		if !day.IsOffDay {
			b.work = append(b.work, fmt.Sprintf("%d月%d日（周%s）", d.Month, d.Day, cnWeekdays[d.Weekday()]))
			continue
		}
		if b.first.IsZero() || d.Before(b.first) {
			b.first = d
		}
		if d.After(b.end) {
			b.end = d
		}
		b.n++
	}
	if len(order) == 0 {
		fmt.Fprintln(w, "  （无）")
		return
	}
	for _, name := range order {
		b := blocks[name]
		line := "  " + name + strings.Repeat(" ", max(0, 14-runewidth.StringWidth(name)))
		switch {
		case b.n == 0:
			line += strings.Repeat(" ", 24)
		case b.first == b.end:
			line += fmt.Sprintf("%-24s", fmt.Sprintf("%s 共%d天", cnDate(b.first), b.n))
		default:
			line += fmt.Sprintf("%s至%s 共%d天", cnDate(b.first), cnDate(b.end), b.n)
		}
		if len(b.work) > 0 {
			line += "　调休上班：" + strings.Join(b.work, "、")
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

func cnDate(d tracker.Date) string { return fmt.Sprintf("%d年%d月%d日", d.Year, d.Month, d.Day) }

// dayDiff lists the dates of year (and the December before) whose
// working-day status differs between cur and next, e.g. "2月11日（周四）休".
func dayDiff(cur, next *tracker.Calendar, year int) []string {
	var out []string
	for d := (tracker.Date{Year: year - 1, Month: time.December, Day: 1}); d.Year <= year; d = d.AddDays(1) {
		if w := next.IsWorkday(d); w != cur.IsWorkday(d) {
			mark := "休"
			if w {
				mark = "班"
			}
			day := fmt.Sprintf("%d月%d日（周%s）%s", d.Month, d.Day, cnWeekdays[d.Weekday()], mark)
			if d.Year != year {
				day = fmt.Sprintf("%d年", d.Year) + day
			}
			out = append(out, day)
		}
	}
	return out
}

// withCalendar returns a copy of x computing on cal.
func withCalendar(x *tracker.Expander, cal *tracker.Calendar) *tracker.Expander {
	nx := *x
	nx.Env.Cal = cal
	return &nx
}

// withStoredNotices returns x with the notices imported into st layered
// on its calendar (SPEC §12: embedded < calendar.files < imported
// notices). Every command that opens the store and the daemon, at start
// and on reload, build their calendar through it.
func withStoredNotices(st tracker.Store, cfg *config.Config, x *tracker.Expander) (*tracker.Expander, error) {
	cal, err := calnotice.FromStore(st, x.Env.Cal, cfg.Location)
	if err != nil {
		return nil, fmt.Errorf("imported calendar notices: %w", err)
	}
	return withCalendar(x, cal), nil
}

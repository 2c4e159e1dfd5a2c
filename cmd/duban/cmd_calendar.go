package main

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/spf13/cobra"

	"duban/cmd/internal/calendar"
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
			lowerX, err := a.cfg.Expander() // embedded and calendar.files, without the notices
			if err != nil {
				return fmt.Errorf("%w: %w", errBadConfig, err)
			}
			lower := lowerX.Env.Cal
			in := calendar.Import{Data: data, Year: year, Regional: regional, Replace: replace, Actor: a.actor, At: a.wallClock()}
			if _, _, err := calendar.Parse(in, a.x.Env.Today(now)); err != nil {
				return err // refused before the store is opened
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			pv, err := calendar.Run(st, a.x, lower, a.cfg.Location, in, now)
			if err != nil {
				return err
			}
			applied := false
			if apply && !pv.Plan.Same {
				cal, err := calendar.Apply(st, a.x, lower, a.cfg.Location, in, now)
				if err != nil {
					return err
				}
				applied = true
				if a.running != nil {
					// The command runs inside the daemon: it takes the new
					// calendar and recomputes like after any calendar change.
					if err := a.running.SetCalendar(cal); err != nil {
						return err
					}
				}
			}
			if format == "json" {
				return a.writeImportJSON(pv, applied)
			}
			a.writeImportTable(pv, applied, apply)
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

func (a *app) writeImportTable(pv *calendar.Preview, applied, apply bool) {
	w := a.stdout
	n := pv.Plan.Notice
	kind := calendar.KindText(n)
	title := n.Title
	if title == "" {
		title = fmt.Sprintf("%d年节假日安排", n.Year)
	}
	fmt.Fprintf(w, "%s（%d年，%s）\n", title, n.Year, kind)
	for _, warn := range n.Warnings {
		fmt.Fprintf(w, "注意：%s\n", warn)
	}
	if pv.Plan.Same {
		fmt.Fprintf(w, "这份通知已经载入（sha256 %s），没有任何改动。\n", calendar.ShortSum(pv.Plan))
		return
	}
	if r := pv.Plan.Replaced; r != nil {
		fmt.Fprintf(w, "取代 %s 由 %s 载入的%d年通知。\n", r.At.In(a.cfg.Location).Format("2006-01-02 15:04"), r.By, r.Year)
	}
	fmt.Fprintln(w)
	writeYearGrid(w, pv.Cal, n.Year)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "放假安排：")
	writeBlocks(w, pv.Plan.After)
	cur := "现在使用的日历"
	if !a.x.Env.Cal.Known(n.Year) {
		cur = "现在使用的暂定日历"
	}
	if diff := calendar.Diff(a.x.Env.Cal, pv.Cal, n.Year); len(diff) > 0 {
		fmt.Fprintf(w, "与%s相比，%d天改变：%s\n", cur, len(diff), strings.Join(diff, "、"))
	} else {
		fmt.Fprintf(w, "与%s相比，工作日没有改变。\n", cur)
	}
	fmt.Fprintln(w)
	if len(pv.Moves) == 0 {
		fmt.Fprintln(w, "在办事项的期限都不变。")
	} else {
		fmt.Fprintf(w, "期限改变的在办事项（%d项）：\n", len(pv.Moves))
		rw := newRowWriter(w, "table", []string{"编号", "事项", "时限", "原来", "改为"})
		for _, m := range pv.Moves {
			rw.Row(nil, []string{m.ID, m.Title, m.FieldLabel(), m.FromText, "→ " + m.ToText})
		}
		rw.Close()
	}
	fmt.Fprintf(w, "不再“暂定”的期限：%d项\n", len(pv.Resolved))
	fmt.Fprintf(w, "将寄出的更正：%d封\n", pv.Corrections)
	switch {
	case applied && a.running != nil:
		fmt.Fprintln(w, "\n已载入。守护进程已按新日历重新计算期限，更正随下一次发送寄出。")
	case applied:
		fmt.Fprintln(w, "\n已载入。没有正在运行的守护进程：它下次启动（或下一次 serve --once）时重新计算期限并寄出更正。")
	case !apply:
		fmt.Fprintln(w, "\n以上为预览，没有做任何改动。核对无误后加 --apply 载入。")
	}
}

// importJSON is `calendar import --format json`: the holiday-cn shape of
// the year's arrangement plus what moves (SPEC §12).
type importJSON struct {
	Year                int                  `json:"year"`
	Papers              []string             `json:"papers"`
	Days                []tracker.HolidayDay `json:"days"`
	Moves               []calendar.Move      `json:"moves"`
	NoLongerProvisional []string             `json:"no_longer_provisional"`
	Corrections         int                  `json:"corrections"`
	Warnings            []string             `json:"warnings"`
	Kind                string               `json:"kind"`
	Unchanged           bool                 `json:"unchanged,omitempty"`
	Applied             bool                 `json:"applied"`
}

func (a *app) writeImportJSON(pv *calendar.Preview, applied bool) error {
	n := pv.Plan.Notice
	out := importJSON{Year: n.Year, Papers: []string{}, Days: pv.Plan.After, Moves: pv.Moves, NoLongerProvisional: pv.Resolved,
		Corrections: pv.Corrections, Warnings: n.Warnings, Kind: n.Kind(), Unchanged: pv.Plan.Same, Applied: applied}
	if n.Title != "" {
		out.Papers = []string{n.Title}
	}
	for _, s := range []*[]string{&out.NoLongerProvisional, &out.Warnings} {
		if *s == nil {
			*s = []string{}
		}
	}
	if out.Moves == nil {
		out.Moves = []calendar.Move{}
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
			days := calendar.DaysInEffect(cal, year)
			source := calendar.Source(cal, year)
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
				hdr.WriteString(" " + calendar.Weekdays[wd] + " ")
			}
			lines[1] = append(lines[1], hdr.String())
			first := tracker.Date{Year: year, Month: m, Day: 1}
			lead := (int(first.Weekday()) + 6) % 7 // Monday first
			var week strings.Builder
			week.WriteString(strings.Repeat(" ", lead*cell))
			li := 2
			for d := first; d.Month == m; d = d.AddDays(1) {
				week.WriteString(fmt.Sprintf("%2d%s", d.Day, cmp.Or(calendar.Mark(cal, d), "  ")))
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

// writeBlocks writes each festival's days off (first to last, how many)
// and its make-up working days.
func writeBlocks(w io.Writer, days []tracker.HolidayDay) {
	blocks := calendar.Blocks(days)
	if len(blocks) == 0 {
		fmt.Fprintln(w, "  （无）")
		return
	}
	for _, b := range blocks {
		line := "  " + b.Name + strings.Repeat(" ", max(0, 14-runewidth.StringWidth(b.Name)))
		switch {
		case b.N == 0:
			line += strings.Repeat(" ", 24)
		case b.First == b.End:
			line += fmt.Sprintf("%-24s", b.Span())
		default:
			line += b.Span()
		}
		if len(b.Work) > 0 {
			line += "　调休上班：" + strings.Join(b.Work, "、")
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
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
	return calendar.WithCalendar(x, cal), nil
}

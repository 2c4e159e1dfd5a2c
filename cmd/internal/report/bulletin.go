package report

import (
	"cmp"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"duban/tracker"
)

//go:embed templates/report.html.tmpl templates/weekly.html.tmpl templates/weekly.txt.tmpl
var templates embed.FS

// Bulletin is the monthly bulletin (通报) of one month: the figures of
// tracker.MonthlyReport with what its renderings need.
type Bulletin struct {
	*tracker.Report
	Office string // the office's name, for titles
	env    tracker.Env
}

// LoadBulletin computes the bulletin of month m as of now, for one unit
// (its id or name) or, with unit "", for all: the figures, the 表扬 and
// 批评 (a unit needs praiseMin instances due to be praised) and each
// unit's sheets and 考核 score by the stored scoring standard.
func LoadBulletin(tx tracker.Tx, env tracker.Env, m tracker.Month, unit string, now time.Time, praiseMin int) (*Bulletin, error) {
	office, err := tx.Office()
	if err != nil {
		return nil, err
	}
	if unit != "" { // an id or a unit's name; unknown: exit 2 with a suggestion
		if unit, err = tracker.ResolveUnit(tx, unit); err != nil {
			return nil, err
		}
	}
	rep, err := tracker.MonthlyReport(tx, env, m, unit, now)
	if err != nil {
		return nil, err
	}
	if err := rep.Judge(tx, env, praiseMin); err != nil {
		return nil, err
	}
	sc, err := tracker.StoredScoring(tx)
	if err != nil {
		return nil, err
	}
	if err := rep.MonthScores(tx, env, sc); err != nil {
		return nil, err
	}
	return &Bulletin{Report: rep, Office: cmp.Or(office.Name, "督查室"), env: env}, nil
}

// Title is the bulletin's title, e.g. 2026年10月督办事项办理情况通报.
func (d *Bulletin) Title() string {
	t := d.Month.Chinese() + "督办事项办理情况通报"
	if d.Unit != "" && len(d.Units) == 1 {
		t = d.Month.Chinese() + d.Units[0].UnitName + "督办事项办理情况"
	}
	return t
}

// AttachmentName is the .xlsx file name in the bulletin mail.
func (d *Bulletin) AttachmentName() string { return d.Month.Chinese() + "督办通报.xlsx" }

// Scope says which moment the figures describe.
func (d *Bulletin) Scope() string {
	s := fmt.Sprintf("统计期间 %s 至 %s", d.From, d.To)
	if d.Complete {
		return s + "，按月末状态统计"
	}
	return s + "，本月尚未结束，按 " + d.Cutoff.Format("2006-01-02 15:04") + " 的状态统计"
}

func formatRate(r *float64) string {
	if r == nil {
		return "—"
	}
	return strconv.FormatFloat(*r*100, 'f', 1, 64) + "%"
}

func formatAvg(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

var statsHeader = []string{"单位", "应办", "按时办结", "逾期办结", "逾期未办结", "未到期", "延期", "按时办结率", "平均逾期（工作日）", "最长逾期（工作日）",
	"督办通知单", "考核得分"}

func statsCells(s *tracker.UnitStats) []string {
	return []string{s.UnitName, strconv.Itoa(s.Due), strconv.Itoa(s.OnTime), strconv.Itoa(s.Late), strconv.Itoa(s.Overdue),
		strconv.Itoa(s.NotYetDue), strconv.Itoa(s.Extended), formatRate(s.OnTimeRate), formatAvg(s.AvgLateWorkdays),
		strconv.Itoa(s.MaxLateWorkdays), strconv.Itoa(s.Sheets), FormatScore(s.Score)}
}

// FormatScore shows a score ("98.6"), or "—" when there is none.
func FormatScore(v *float64) string {
	if v == nil {
		return "—"
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

var mentionHeader = []string{"类别", "单位", "理由"}

// mentionRows are the 表扬 then 批评 lines: kind, unit, reason.
func (d *Bulletin) mentionRows() [][]string {
	var out [][]string
	for _, m := range d.Praise {
		out = append(out, []string{"表扬", m.UnitName, m.Reason})
	}
	for _, m := range d.Criticism {
		out = append(out, []string{"批评", m.UnitName, m.Reason})
	}
	return out
}

var entryHeader = []string{"单位", "事项", "文号", "编号", "期限", "办结时间", "逾期（工作日）", "情况", "延期"}

// entryUnit is the unit column of a list line: the name, marked for co-units.
func entryUnit(e *tracker.ReportEntry) string {
	if e.Co {
		return e.UnitName + tracker.CoMark
	}
	return e.UnitName
}

// entryDeadline is the counted deadline, marked 暂定 when provisional.
func (d *Bulletin) entryDeadline(e *tracker.ReportEntry) string {
	return DeadlineCell(e.Deadline.Human(d.env), e.Deadline.Provisional)
}

func entryDone(e *tracker.ReportEntry) string {
	if e.DoneAt == nil {
		return "未办结"
	}
	return e.DoneAt.Format("2006-01-02 15:04")
}

func (d *Bulletin) entryKind(e *tracker.ReportEntry) string {
	if e.Kind == tracker.EntryLate {
		return "逾期办结"
	}
	if e.DoneAt != nil {
		return "逾期未办结（月末后办结）"
	}
	if e.Status == tracker.StatusReturned {
		return "逾期未办结（已退回）"
	}
	return "逾期未办结"
}

func entryExtended(e *tracker.ReportEntry) string {
	switch {
	case e.ExtendedLate:
		return "事后延期"
	case e.Extended:
		return "已延期"
	}
	return ""
}

func (d *Bulletin) entryCells(e *tracker.ReportEntry) []string {
	return []string{entryUnit(e), e.Title, e.Doc, e.ID, d.entryDeadline(e), entryDone(e), strconv.Itoa(e.WorkdaysLate),
		d.entryKind(e), entryExtended(e)}
}

// WriteTable writes the report for a terminal: two tables aligned for
// Chinese text and the definitions.
func (d *Bulletin) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s\n%s · %s\n\n各单位办理情况\n", d.Title(), d.Office, d.Scope())
	rw := NewRowWriter(w, "table", statsHeader)
	for i := range d.Units {
		rw.Row(nil, statsCells(&d.Units[i]))
	}
	if len(d.Units) > 1 {
		rw.Row(nil, statsCells(&d.Total))
	}
	if err := rw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n表扬与批评\n")
	if rows := d.mentionRows(); len(rows) == 0 {
		fmt.Fprintln(w, "本月没有表扬或批评的单位。")
	} else {
		rw = NewRowWriter(w, "table", mentionHeader)
		for _, r := range rows {
			rw.Row(nil, r)
		}
		if err := rw.Close(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n通报名单（逾期办结、逾期未办结）\n")
	rw = NewRowWriter(w, "table", entryHeader)
	for i := range d.Entries {
		rw.Row(nil, d.entryCells(&d.Entries[i]))
	}
	if err := rw.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n"+definitionsText(d.env))
	return err
}

// definitionsText is the definitions as a plain-text footer.
func definitionsText(env tracker.Env) string {
	var b strings.Builder
	b.WriteString("统计口径\n")
	for _, def := range tracker.ReportDefinitions(env) {
		fmt.Fprintf(&b, "  %s：%s\n", def.Term, def.Text)
	}
	return b.String()
}

// WriteJSON writes the figures as indented JSON (tracker.Report's fields).
func (d *Bulletin) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d.Report)
}

// WriteCSV writes the unit table, an empty line, then the list.
func (d *Bulletin) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write(statsHeader)
	for i := range d.Units {
		cw.Write(statsCells(&d.Units[i]))
	}
	cw.Write(statsCells(&d.Total))
	cw.Write(nil)
	cw.Write(entryHeader)
	for i := range d.Entries {
		cw.Write(d.entryCells(&d.Entries[i]))
	}
	cw.Flush()
	return cw.Error()
}

// Sheet names of the xlsx report.
const (
	sheetStats       = "单位统计"
	sheetEntries     = "通报名单"
	sheetDefinitions = "统计口径"
	sheetMentions    = "表扬与批评"
)

// WriteXLSX writes the report as a workbook: 单位统计 and 通报名单 with a
// frozen header row, real dates and percentages, and 统计口径.
func (d *Bulletin) WriteXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheetStats); err != nil {
		return err
	}
	if _, err := f.NewSheet(sheetEntries); err != nil {
		return err
	}
	if _, err := f.NewSheet(sheetMentions); err != nil {
		return err
	}
	if _, err := f.NewSheet(sheetDefinitions); err != nil {
		return err
	}
	border := []excelize.Border{{Type: "left", Color: "D0D4DA", Style: 1}, {Type: "right", Color: "D0D4DA", Style: 1},
		{Type: "top", Color: "D0D4DA", Style: 1}, {Type: "bottom", Color: "D0D4DA", Style: 1}}
	style := func(s excelize.Style) int {
		s.Border = border
		if s.Alignment == nil {
			s.Alignment = &excelize.Alignment{Vertical: "center"}
		}
		id, err := f.NewStyle(&s)
		if err != nil {
			panic(err) // only for a malformed literal below
		}
		return id
	}
	dateFmt, timeFmt, pctFmt, avgFmt := "yyyy-mm-dd", "yyyy-mm-dd hh:mm", "0.0%", "0.0"
	// A provisional date stays a real date, shown with its mark.
	provDateFmt, provTimeFmt := dateFmt+`"`+tracker.ProvisionalMark+`"`, timeFmt+`"`+tracker.ProvisionalMark+`"`
	var (
		header = style(excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"E8ECF2"}},
			Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center", WrapText: true}})
		text      = style(excelize.Style{})
		wrap      = style(excelize.Style{Alignment: &excelize.Alignment{Vertical: "center", WrapText: true}})
		number    = style(excelize.Style{})
		date      = style(excelize.Style{CustomNumFmt: &dateFmt})
		datetime  = style(excelize.Style{CustomNumFmt: &timeFmt})
		provDate  = style(excelize.Style{CustomNumFmt: &provDateFmt})
		provTime  = style(excelize.Style{CustomNumFmt: &provTimeFmt})
		percent   = style(excelize.Style{CustomNumFmt: &pctFmt})
		avg       = style(excelize.Style{CustomNumFmt: &avgFmt})
		boldText  = style(excelize.Style{Font: &excelize.Font{Bold: true}})
		boldNum   = style(excelize.Style{Font: &excelize.Font{Bold: true}})
		boldPct   = style(excelize.Style{Font: &excelize.Font{Bold: true}, CustomNumFmt: &pctFmt})
		boldAvg   = style(excelize.Style{Font: &excelize.Font{Bold: true}, CustomNumFmt: &avgFmt})
		centerTxt = style(excelize.Style{Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"}})
	)

	// sheet writes rows of cells and sizes the columns to their text.
	type cell struct {
		v     any
		style int
		shown string // the text a reader sees, for the column width
	}
	sheet := func(name string, head []string, rows [][]cell, maxWidth float64) error {
		widths := make([]float64, len(head))
		for c, h := range head {
			ref, _ := excelize.CoordinatesToCellName(c+1, 1)
			if err := f.SetCellValue(name, ref, h); err != nil {
				return err
			}
			if err := f.SetCellStyle(name, ref, ref, header); err != nil {
				return err
			}
			widths[c] = displayWidth(h)
		}
		for r, row := range rows {
			for c, x := range row {
				ref, _ := excelize.CoordinatesToCellName(c+1, r+2)
				if x.v != nil {
					if err := f.SetCellValue(name, ref, x.v); err != nil {
						return err
					}
				}
				if err := f.SetCellStyle(name, ref, ref, x.style); err != nil {
					return err
				}
				widths[c] = max(widths[c], displayWidth(x.shown))
			}
		}
		for c, wd := range widths {
			col, _ := excelize.ColumnNumberToName(c + 1)
			if err := f.SetColWidth(name, col, col, min(wd+3, maxWidth)); err != nil {
				return err
			}
		}
		if err := f.SetRowHeight(name, 1, 22); err != nil {
			return err
		}
		return f.SetPanes(name, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
			Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}})
	}
	intCell := func(n, st int) cell { return cell{n, st, strconv.Itoa(n)} }
	statsRow := func(s *tracker.UnitStats, bold bool) []cell {
		t, n, p, a := text, number, percent, avg
		if bold {
			t, n, p, a = boldText, boldNum, boldPct, boldAvg
		}
		rate := cell{"—", t, "—"}
		if s.OnTimeRate != nil {
			rate = cell{*s.OnTimeRate, p, formatRate(s.OnTimeRate)}
		}
		score := cell{"—", t, "—"}
		if s.Score != nil {
			score = cell{*s.Score, n, FormatScore(s.Score)}
		}
		return []cell{{s.UnitName, t, s.UnitName}, intCell(s.Due, n), intCell(s.OnTime, n), intCell(s.Late, n),
			intCell(s.Overdue, n), intCell(s.NotYetDue, n), intCell(s.Extended, n), rate,
			{s.AvgLateWorkdays, a, formatAvg(s.AvgLateWorkdays)}, intCell(s.MaxLateWorkdays, n), intCell(s.Sheets, n), score}
	}
	var rows [][]cell
	for i := range d.Units {
		rows = append(rows, statsRow(&d.Units[i], false))
	}
	rows = append(rows, statsRow(&d.Total, true))
	if err := sheet(sheetStats, statsHeader, rows, 40); err != nil {
		return err
	}

	rows = rows[:0]
	for i := range d.Entries {
		e := &d.Entries[i]
		dStyle, tStyle := date, datetime
		if e.Deadline.Provisional {
			dStyle, tStyle = provDate, provTime
		}
		dl := cell{wallUTC(e.LastDay, 0), dStyle, DeadlineCell(e.LastDay.String(), e.Deadline.Provisional)}
		if e.Deadline.Timed {
			local := e.Due.In(d.env.Loc)
			dl = cell{wallUTC(tracker.DateOf(local), tracker.ClockOf(local)), tStyle,
				DeadlineCell(local.Format("2006-01-02 15:04"), e.Deadline.Provisional)}
		}
		done := cell{"未办结", centerTxt, "未办结"}
		if e.DoneAt != nil {
			local := e.DoneAt.In(d.env.Loc)
			done = cell{wallUTC(tracker.DateOf(local), tracker.ClockOf(local)), datetime, local.Format("2006-01-02 15:04")}
		}
		kind, ext := d.entryKind(e), entryExtended(e)
		rows = append(rows, []cell{{entryUnit(e), text, entryUnit(e)}, {e.Title, wrap, e.Title}, {e.Doc, text, e.Doc},
			{e.ID, text, e.ID}, dl, done, intCell(e.WorkdaysLate, number), {kind, text, kind}, {ext, centerTxt, ext}})
	}
	if err := sheet(sheetEntries, entryHeader, rows, 50); err != nil {
		return err
	}

	rows = rows[:0]
	for _, r := range d.mentionRows() {
		rows = append(rows, []cell{{r[0], centerTxt, r[0]}, {r[1], text, r[1]}, {r[2], wrap, r[2]}})
	}
	if err := sheet(sheetMentions, mentionHeader, rows, 80); err != nil {
		return err
	}

	rows = rows[:0]
	for _, def := range tracker.ReportDefinitions(d.env) {
		rows = append(rows, []cell{{def.Term, boldText, def.Term}, {def.Text, wrap, def.Text}})
	}
	if err := sheet(sheetDefinitions, []string{"术语", "含义"}, rows, 90); err != nil {
		return err
	}
	f.SetActiveSheet(0)
	if err := f.SetDocProps(&excelize.DocProperties{Title: d.Title(), Creator: "duban", Subject: d.Office,
		Created: d.Generated.UTC().Format(time.RFC3339), Modified: d.Generated.UTC().Format(time.RFC3339)}); err != nil {
		return err
	}
	return f.Write(w)
}

// wallUTC returns the civil date and time of day as a UTC instant: what
// excelize turns into a spreadsheet serial date without shifting zones.
func wallUTC(d tracker.Date, tod tracker.TimeOfDay) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, int(tod), 0, 0, time.UTC)
}

// displayWidth is the width of s in a spreadsheet column: wide (CJK and
// full-width) characters count two.
func displayWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		switch {
		case r >= 0x1100 && (r <= 0x115F || (r >= 0x2E80 && r <= 0xA4CF) || (r >= 0xAC00 && r <= 0xD7A3) ||
			(r >= 0xF900 && r <= 0xFAFF) || (r >= 0xFE30 && r <= 0xFE4F) || (r >= 0xFF00 && r <= 0xFF60) ||
			(r >= 0xFFE0 && r <= 0xFFE6) || r >= 0x20000):
			w += 2.1
		case r < utf8.RuneSelf:
			w++
		default:
			w += 1.2
		}
	}
	return w
}

// The HTML report.

var reportHTML = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"rate":  formatRate,
	"avg":   formatAvg,
	"score": FormatScore,
}).ParseFS(templates, "templates/report.html.tmpl"))

// htmlView is what report.html.tmpl renders.
type htmlView struct {
	*Bulletin
	Rows    []htmlStatsRow
	Total   htmlStatsRow
	Entries []htmlEntry
	Chart   htmlChart
	Defs    []tracker.Definition
}

type htmlStatsRow struct {
	*tracker.UnitStats
	Rate  string
	Class string // rate band: good, fair, poor, none
}

type htmlEntry struct {
	*tracker.ReportEntry
	UnitLabel, Deadline, Done, KindText, ExtText string
	Overdue                                      bool
}

// htmlChart is the per-unit on-time rate bar chart, as SVG geometry.
type htmlChart struct {
	Width, Height, LabelW, BarW, Top int
	Ticks                            []htmlTick
	Bars                             []htmlBar
}

type htmlTick struct {
	X     int
	Label string
}

type htmlBar struct {
	Label        string
	Y, W, TextY  int
	TextX        int
	Value, Color string
	Detail       string
}

func rateClass(r *float64) (class, color string) {
	switch {
	case r == nil:
		return "none", "#9aa1ab"
	case *r >= 0.9:
		return "good", "#2f9e44"
	case *r >= 0.6:
		return "fair", "#e8a317"
	}
	return "poor", "#d9480f"
}

func (d *Bulletin) htmlView() *htmlView {
	v := &htmlView{Bulletin: d, Defs: tracker.ReportDefinitions(d.env)}
	row := func(s *tracker.UnitStats) htmlStatsRow {
		class, _ := rateClass(s.OnTimeRate)
		return htmlStatsRow{UnitStats: s, Rate: formatRate(s.OnTimeRate), Class: class}
	}
	for i := range d.Units {
		v.Rows = append(v.Rows, row(&d.Units[i]))
	}
	v.Total = row(&d.Report.Total)
	for i := range d.Entries {
		e := &d.Entries[i]
		v.Entries = append(v.Entries, htmlEntry{ReportEntry: e, UnitLabel: entryUnit(e), Deadline: d.entryDeadline(e),
			Done: entryDone(e), KindText: d.entryKind(e), ExtText: entryExtended(e), Overdue: e.Kind == tracker.EntryOverdue})
	}
	const rowH, barH = 34, 20
	c := htmlChart{Width: 980, LabelW: 180, BarW: 560, Top: 28}
	for i := 0; i <= 4; i++ {
		c.Ticks = append(c.Ticks, htmlTick{X: c.LabelW + c.BarW*i/4, Label: strconv.Itoa(25*i) + "%"})
	}
	for i := range d.Units {
		s := &d.Units[i]
		_, color := rateClass(s.OnTimeRate)
		y := c.Top + i*rowH + (rowH-barH)/2
		b := htmlBar{Label: s.UnitName, Y: y, TextY: y + barH/2 + 5, Value: formatRate(s.OnTimeRate), Color: color,
			Detail: fmt.Sprintf("按时办结 %d / 到期 %d", s.OnTime, s.Due-s.NotYetDue)}
		if s.OnTimeRate != nil {
			b.W = int(*s.OnTimeRate*float64(c.BarW) + 0.5)
		}
		b.TextX = c.LabelW + b.W + 8
		v.Chart.Bars = append(v.Chart.Bars, b)
	}
	c.Bars = v.Chart.Bars
	c.Height = c.Top + max(len(d.Units), 1)*rowH + 12
	v.Chart = c
	return v
}

// WriteHTML writes the bulletin as one self-contained HTML page with a
// bar chart of the on-time rates: the body of the bulletin mail.
func (d *Bulletin) WriteHTML(w io.Writer) error {
	return reportHTML.Execute(w, d.htmlView())
}

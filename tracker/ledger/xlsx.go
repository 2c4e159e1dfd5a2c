package ledger

import (
	"encoding/csv"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/width"

	"duban/tracker"
)

// Number formats of the ledger's time cells.
const (
	dateFormat     = "yyyy-mm-dd"
	dateTimeFormat = "yyyy-mm-dd hh:mm"
)

// widthSample is how many rows are buffered to size the columns before
// the rows are streamed: the streaming writer needs widths first.
const widthSample = 1000

// Column widths, in characters of the default font (a CJK character is 2).
const (
	minWidth = 6
	maxWidth = 60
)

// XLSXWriter writes a ledger workbook with excelize's StreamWriter: rows
// go to a temporary file as they come, so memory stays bounded whatever
// the number of rows. The header row is frozen, time cells are real
// spreadsheet dates, and column widths fit the first rows' text.
type XLSXWriter struct {
	f       *excelize.File
	sw      *excelize.StreamWriter
	sample  []Record
	started bool
	row     int
	done    bool

	header, date, dateTime int // style ids
	provDate, provDateTime int // the same for provisional dates: shown with （暂定）
}

// NewXLSX starts a ledger workbook with one sheet, 台账.
func NewXLSX() (*XLSXWriter, error) {
	f := excelize.NewFile()
	w := &XLSXWriter{f: f}
	if err := w.init(); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func (w *XLSXWriter) init() error {
	f := w.f
	if err := f.SetSheetName(f.GetSheetName(0), SheetName); err != nil {
		return err
	}
	var err error
	if w.header, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Alignment: &excelize.Alignment{Horizontal: "center", Vertical: "center"},
	}); err != nil {
		return err
	}
	df, dtf := dateFormat, dateTimeFormat
	if w.date, err = f.NewStyle(&excelize.Style{CustomNumFmt: &df}); err != nil {
		return err
	}
	if w.dateTime, err = f.NewStyle(&excelize.Style{CustomNumFmt: &dtf}); err != nil {
		return err
	}
	// A provisional date stays a real date (it imports back as one), and
	// its number format shows the mark.
	pdf, pdtf := df+`"`+tracker.ProvisionalMark+`"`, dtf+`"`+tracker.ProvisionalMark+`"`
	if w.provDate, err = f.NewStyle(&excelize.Style{CustomNumFmt: &pdf}); err != nil {
		return err
	}
	if w.provDateTime, err = f.NewStyle(&excelize.Style{CustomNumFmt: &pdtf}); err != nil {
		return err
	}
	w.sw, err = f.NewStreamWriter(SheetName)
	return err
}

// Write adds one row.
func (w *XLSXWriter) Write(r *Record) error {
	if w.done {
		return ErrClosed
	}
	if !w.started {
		w.sample = append(w.sample, *r)
		if len(w.sample) < widthSample {
			return nil
		}
		return w.start()
	}
	return w.writeRow(r)
}

// start sizes the columns from the header and the sampled rows, freezes
// the header and writes it and the sample.
func (w *XLSXWriter) start() error {
	w.started = true
	var widths [NumColumns]int
	for c := range NumColumns {
		widths[c] = DisplayWidth(Headers[c])
	}
	for i := range w.sample {
		for c, s := range w.sample[i].cells() {
			widths[c] = max(widths[c], DisplayWidth(s))
		}
	}
	// Time cells show their number format, not their text length.
	for _, c := range []Column{ColStart, ColDue, ColLimit, ColOriginal, ColDoneAt} {
		widths[c] = max(widths[c], len("2006-01-02 15:04"))
	}
	for _, c := range []Column{ColDue, ColLimit, ColOriginal} {
		for i := range w.sample {
			if w.sample[i].provisional(c) {
				widths[c] = max(widths[c], len("2006-01-02 15:04")+DisplayWidth(tracker.ProvisionalMark))
				break
			}
		}
	}
	for c, wd := range widths {
		wd = min(max(wd+2, minWidth), maxWidth)
		if err := w.sw.SetColWidth(c+1, c+1, float64(wd)); err != nil {
			return err
		}
	}
	if err := w.sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
		Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}}}); err != nil {
		return err
	}
	head := make([]any, NumColumns)
	for c := range NumColumns {
		head[c] = excelize.Cell{StyleID: w.header, Value: Headers[c]}
	}
	w.row = 1
	if err := w.sw.SetRow("A1", head, excelize.RowOpts{StyleID: w.header}); err != nil {
		return err
	}
	for i := range w.sample {
		if err := w.writeRow(&w.sample[i]); err != nil {
			return err
		}
	}
	w.sample = nil
	return nil
}

func (w *XLSXWriter) writeRow(r *Record) error {
	w.row++
	vals := make([]any, NumColumns)
	text := func(c Column, s string) {
		if s != "" {
			vals[c] = s
		}
	}
	stamp := func(c Column, s Stamp) {
		if s.IsZero() {
			return
		}
		style := w.date
		switch prov := r.provisional(c); {
		case s.Timed && prov:
			style = w.provDateTime
		case s.Timed:
			style = w.dateTime
		case prov:
			style = w.provDate
		}
		vals[c] = excelize.Cell{StyleID: style, Value: s.wall()}
	}
	text(ColID, r.ID)
	text(ColUnitName, r.UnitName)
	text(ColUnit, r.Unit)
	text(ColTitle, r.Title)
	text(ColDoc, r.Doc)
	text(ColRequirements, r.Requirements)
	stamp(ColStart, r.Start)
	stamp(ColDue, r.Due)
	stamp(ColLimit, r.Limit)
	stamp(ColOriginal, r.Original)
	text(ColExtended, r.extendedText())
	text(ColStatus, StatusName(r.Status))
	stamp(ColDoneAt, r.DoneAt)
	text(ColNote, r.Note)
	if r.OverdueWorkdays > 0 {
		vals[ColOverdue] = r.OverdueWorkdays
	}
	text(ColProvisional, r.provisionalText())
	if r.Attachments > 0 {
		vals[ColAttachments] = r.Attachments
	}
	cell, err := excelize.CoordinatesToCellName(1, w.row)
	if err != nil {
		return err
	}
	return w.sw.SetRow(cell, vals)
}

// WriteTo finishes the workbook and writes it to out. The writer cannot
// be used afterwards; Close must still be called.
func (w *XLSXWriter) WriteTo(out io.Writer) (int64, error) {
	if w.done {
		return 0, ErrClosed
	}
	if !w.started {
		if err := w.start(); err != nil {
			return 0, err
		}
	}
	w.done = true
	if err := w.sw.Flush(); err != nil {
		return 0, err
	}
	cw := &countWriter{w: out}
	err := w.f.Write(cw)
	return cw.n, err
}

// Close releases the temporary files.
func (w *XLSXWriter) Close() error {
	w.done = true
	return w.f.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// DisplayWidth returns how many columns s takes in a fixed-width font:
// East Asian wide and fullwidth characters count 2, others 1. For text of
// several lines it is the width of the widest line.
func DisplayWidth(s string) int {
	widest, cur := 0, 0
	for _, r := range s {
		switch {
		case r == '\n':
			widest, cur = max(widest, cur), 0
		case r < utf8.RuneSelf:
			cur++
		default:
			switch width.LookupRune(r).Kind() {
			case width.EastAsianWide, width.EastAsianFullwidth:
				cur += 2
			default:
				cur++
			}
		}
	}
	return max(widest, cur)
}

// bom is the UTF-8 byte order mark: Excel needs it to read a CSV as UTF-8.
const bom = "\uFEFF"

// CSVWriter writes the ledger as CSV: a UTF-8 byte order mark (so that
// Excel shows Chinese correctly), the header line, one line per row,
// CRLF line endings, times as "2026-09-28" or "2026-09-24 12:00".
type CSVWriter struct {
	w *csv.Writer
}

// NewCSV writes the byte order mark and the header to w.
func NewCSV(w io.Writer) (*CSVWriter, error) {
	if _, err := io.WriteString(w, bom); err != nil {
		return nil, err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(Headers[:]); err != nil {
		return nil, err
	}
	return &CSVWriter{w: cw}, nil
}

// Write adds one row.
func (c *CSVWriter) Write(r *Record) error { return c.w.Write(r.cells()) }

// Close flushes the output.
func (c *CSVWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

// cleanText normalises a cell read back: CRLF and CR line breaks become
// LF and surrounding white space goes.
func cleanText(s string) string {
	if strings.ContainsRune(s, '\r') {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return strings.TrimSpace(s)
}

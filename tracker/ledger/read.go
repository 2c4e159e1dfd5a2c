package ledger

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"duban/tracker"
)

// Row is one data row of a ledger file, parsed.
type Row struct {
	File  string
	Sheet string // "" for CSV
	Num   int    // spreadsheet row, or the CSV line the row starts on

	// Has tells which columns the file has; a missing column leaves the
	// stored value as it is.
	Has [NumColumns]bool

	ID, UnitName, Unit, Title, Doc, Requirements, Note string
	Start, Due, Limit, DoneAt                          Stamp
	Status                                             tracker.Status // "" if the cell is empty

	bad   bool            // a cell did not parse (reported in Sheet.Problems)
	col   [NumColumns]int // 1-based file column of each column
	line  [NumColumns]int // CSV: the line of each field
	heads [NumColumns]string
}

// errAt returns an error naming column c of the row.
func (r *Row) errAt(c Column, format string, args ...any) *Error {
	e := &Error{File: r.File, Sheet: r.Sheet, Row: r.Num, Col: r.col[c], Header: r.heads[c], Msg: fmt.Sprintf(format, args...)}
	if r.Sheet == "" && r.line[c] > 0 {
		e.Row = r.line[c]
	}
	if e.Header == "" {
		e.Header = c.String()
	}
	return e
}

// Sheet is one ledger file, read and parsed.
type Sheet struct {
	File  string
	Sheet string // the worksheet read ("" for CSV)
	Rows  []*Row
	// Problems are the cells that did not parse; their rows are kept
	// (marked bad) so that Apply can check the others and report every
	// problem at once.
	Problems Errors
}

// Problems returns the problems of the sheets, or nil.
func Problems(sheets []*Sheet) error {
	var es Errors
	for _, sh := range sheets {
		es = append(es, sh.Problems...)
	}
	if len(es) == 0 {
		return nil
	}
	return es
}

// IsLedger reports whether a file name is a ledger spreadsheet (.xlsx or
// .csv) rather than a YAML tracking file.
func IsLedger(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".xlsx", ".csv":
		return true
	}
	return false
}

// Read parses a ledger file named name (.xlsx or .csv) with contents
// data; loc is the zone of its times. When the file cannot be used at all
// (not a workbook, malformed CSV, no header row, unknown or duplicate
// headers) it returns Errors; cells that do not parse are listed in the
// sheet's Problems.
func Read(name string, data []byte, loc *time.Location) (*Sheet, error) {
	var t *table
	var errs Errors
	if strings.ToLower(filepath.Ext(name)) == ".csv" {
		t, errs = readCSV(name, data)
	} else {
		t, errs = readXLSX(name, data)
	}
	if t == nil {
		return nil, errs
	}
	sh, herrs := t.parse(loc)
	if sh == nil {
		return nil, append(errs, herrs...)
	}
	sh.Problems = append(errs, sh.Problems...)
	return sh, nil
}

// table is a ledger file as text: the header and the data rows.
type table struct {
	file, sheet string
	date1904    bool
	headRow     int
	head        []string // header cells, trimmed
	rows        []rawRow
}

type rawRow struct {
	num   int
	text  []string // formatted cell text
	raw   []string // xlsx: the raw cell values (numbers unformatted)
	lines []int    // csv: the line of each field
}

// headerScan is how many leading rows may hold a title before the header.
const headerScan = 10

func readXLSX(name string, data []byte) (*table, Errors) {
	fail := func(msg string) (*table, Errors) {
		return nil, Errors{{File: name, Msg: msg}}
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		return fail("not a readable .xlsx workbook: " + err.Error())
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return fail("the workbook has no worksheet")
	}
	sheet := sheets[0]
	for _, s := range sheets {
		if s == SheetName {
			sheet = s
		}
	}
	t := &table{file: name, sheet: sheet}
	if props, err := f.GetWorkbookProps(); err == nil && props.Date1904 != nil {
		t.date1904 = *props.Date1904
	}
	text, err := f.Rows(sheet)
	if err != nil {
		return fail(err.Error())
	}
	defer text.Close()
	raw, err := f.Rows(sheet)
	if err != nil {
		return fail(err.Error())
	}
	defer raw.Close()
	var errs Errors
	for n := 1; text.Next(); n++ {
		raw.Next()
		cells, err := text.Columns()
		if err != nil {
			errs = append(errs, &Error{File: name, Sheet: sheet, Row: n, Msg: err.Error()})
			continue
		}
		rawCells, err := raw.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			errs = append(errs, &Error{File: name, Sheet: sheet, Row: n, Msg: err.Error()})
			continue
		}
		t.add(rawRow{num: n, text: cells, raw: rawCells})
	}
	if err := text.Error(); err != nil {
		errs = append(errs, &Error{File: name, Sheet: sheet, Msg: err.Error()})
	}
	return t, errs
}

func readCSV(name string, data []byte) (*table, Errors) {
	data = bytes.TrimPrefix(data, []byte(bom))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	t := &table{file: name}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, Errors{{File: name, Row: pe.Line, Col: 0, Msg: "malformed CSV: " + pe.Err.Error()}}
			}
			return nil, Errors{{File: name, Msg: err.Error()}}
		}
		rr := rawRow{text: rec, lines: make([]int, len(rec))}
		for i := range rec {
			rr.lines[i], _ = r.FieldPos(i)
		}
		if len(rec) > 0 {
			rr.num = rr.lines[0]
		}
		t.add(rr)
	}
	return t, nil
}

// add keeps a row: before the header, it looks for the header.
func (t *table) add(rr rawRow) {
	if t.head == nil {
		if len(t.rows) >= headerScan {
			return // no header near the top: parse reports it
		}
		for _, c := range rr.text {
			if cleanText(c) == Headers[ColID] {
				t.headRow = rr.num
				t.head = make([]string, len(rr.text))
				for i, h := range rr.text {
					t.head[i] = cleanText(h)
				}
				return
			}
		}
		t.rows = append(t.rows, rr) // counted to bound the search; skipped by parse
		return
	}
	blank := true
	for _, c := range rr.text {
		if strings.TrimSpace(c) != "" {
			blank = false
			break
		}
	}
	if !blank {
		t.rows = append(t.rows, rr)
	}
}

// where returns an error position for the header cell i (0-based).
func (t *table) headErr(i int, msg string) *Error {
	return &Error{File: t.file, Sheet: t.sheet, Row: t.headRow, Col: i + 1, Msg: msg}
}

func headerList() string { return strings.Join(Headers[:], ", ") }

// parse maps the header and parses every data row.
func (t *table) parse(loc *time.Location) (*Sheet, Errors) {
	var errs Errors
	if t.head == nil {
		return nil, Errors{{File: t.file, Sheet: t.sheet, Row: 1,
			Msg: fmt.Sprintf("no header row: one of the first %d rows must name the columns, among them %s (the ledger's columns are %s)",
				headerScan, Headers[ColID], headerList())}}
	}
	colOf := make([]Column, len(t.head)) // file column → ledger column, -1: none
	var at [NumColumns]int               // ledger column → 1-based file column
	for i, h := range t.head {
		colOf[i] = -1
		if h == "" {
			continue
		}
		c, ok := headerIndex(h)
		if !ok {
			errs = append(errs, t.headErr(i, fmt.Sprintf("unknown header %q; the ledger's columns are %s", h, headerList())))
			continue
		}
		if at[c] != 0 {
			errs = append(errs, t.headErr(i, fmt.Sprintf("duplicate header %q: already column %s", h, ColumnName(at[c]))))
			continue
		}
		at[c] = i + 1
		colOf[i] = c
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sh := &Sheet{File: t.file, Sheet: t.sheet}
	orphan := make(map[int]bool) // file columns without a header already reported
	for _, rr := range t.rows {
		if rr.num <= t.headRow {
			continue
		}
		row := &Row{File: t.file, Sheet: t.sheet, Num: rr.num}
		var cell [NumColumns]string
		var raw [NumColumns]string
		for c := range NumColumns {
			if at[c] != 0 {
				row.Has[c] = true
				row.col[c] = at[c]
				row.heads[c] = Headers[c]
			}
		}
		for i, v := range rr.text {
			var c Column = -1
			if i < len(colOf) {
				c = colOf[i]
			}
			if c < 0 {
				if strings.TrimSpace(v) != "" && !orphan[i] {
					orphan[i] = true
					line := rr.num
					if rr.lines != nil {
						line = rr.lines[i]
					}
					errs = append(errs, &Error{File: t.file, Sheet: t.sheet, Row: line, Col: i + 1,
						Msg: fmt.Sprintf("%q is in a column without a header; name the column (%s) or clear it", v, headerList())})
				}
				continue
			}
			cell[c] = v
			if i < len(rr.raw) {
				raw[c] = rr.raw[i]
			}
			if rr.lines != nil {
				row.line[c] = rr.lines[i]
			}
		}
		if ferrs := row.fill(cell, raw, t.date1904, loc); len(ferrs) > 0 {
			row.bad = true
			errs = append(errs, ferrs...)
		}
		sh.Rows = append(sh.Rows, row)
	}
	sh.Problems = errs
	return sh, nil
}

// fill parses the cells of a row into its fields.
func (r *Row) fill(cell, raw [NumColumns]string, date1904 bool, loc *time.Location) Errors {
	var errs Errors
	text := func(c Column, oneLine bool) string {
		s := cleanText(cell[c])
		if oneLine && strings.ContainsAny(s, "\n\t") {
			errs = append(errs, r.errAt(c, "%q must be on one line", s))
		}
		return s
	}
	r.ID = text(ColID, true)
	r.UnitName = text(ColUnitName, true)
	r.Unit = text(ColUnit, true)
	r.Title = text(ColTitle, true)
	r.Doc = text(ColDoc, true)
	r.Requirements = text(ColRequirements, false)
	r.Note = text(ColNote, false)
	if r.ID == "" {
		errs = append(errs, r.errAt(ColID, "every row needs an id (编号)"))
	}
	stamp := func(c Column, what string) Stamp {
		s, err := parseStamp(cell[c], raw[c], date1904, loc)
		if err != "" {
			errs = append(errs, r.errAt(c, "%q is not a %s; %s", cleanText(cell[c]), what, err))
		}
		return s
	}
	r.Start = stamp(ColStart, "date")
	r.Due = stamp(ColDue, "date")
	r.Limit = stamp(ColLimit, "date")
	r.DoneAt = stamp(ColDoneAt, "date")
	if s := cleanText(cell[ColStatus]); s != "" {
		st, ok := parseStatus(s)
		if !ok {
			errs = append(errs, r.errAt(ColStatus, "%q is not a status; %s", s, statusHelp))
		}
		r.Status = st
	}
	return errs
}

// stampLayouts are the text forms a time cell may take: duban's own, the
// common Chinese ones, and what excelize shows for Excel's built-in date
// formats.
var stampLayouts = []struct {
	layout string
	timed  bool
}{
	{"2006-01-02", false},
	{"2006-01-02 15:04", true},
	{"2006-01-02 15:04:05", true},
	{"2006-01-02T15:04", true},
	{"2006-01-02T15:04:05", true},
	{"2006-1-2", false},
	{"2006-1-2 15:04", true},
	{"2006/1/2", false},
	{"2006/1/2 15:04", true},
	{"2006/1/2 15:04:05", true},
	{"2006.1.2", false},
	{"2006年1月2日", false},
	{"2006年1月2日 15:04", true},
	{"2006年1月2日15:04", true},
	{"01-02-06", false},    // excelize's rendering of Excel format 14
	{"1/2/06 15:04", true}, // format 22
	{"1/2/06 15:04:05", true},
}

const stampHelp = "use 2026-09-30 or 2026-09-30 17:00"

// parseStamp reads a time cell: formatted text, and for xlsx the raw value
// (a serial date number when the cell is a real date). It returns a
// non-empty explanation when the cell is not a time.
func parseStamp(text, raw string, date1904 bool, loc *time.Location) (Stamp, string) {
	s := cleanText(text)
	if s == "" {
		return Stamp{}, ""
	}
	// A real spreadsheet date: a number shown through a date format.
	if r := strings.TrimSpace(raw); r != "" && r != s {
		if serial, err := strconv.ParseFloat(r, 64); err == nil {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				t, err := excelize.ExcelDateToTime(serial, date1904)
				if err != nil || math.IsNaN(serial) {
					return Stamp{}, stampHelp
				}
				t = t.Add(30 * time.Second).Truncate(time.Minute)
				timed := strings.Contains(s, ":")
				st := Stamp{Date: tracker.DateOf(t), Timed: timed}
				if timed {
					st.Clock = tracker.ClockOf(t)
				}
				return st, ""
			}
		}
	}
	if strings.HasSuffix(s, " 24:00") {
		return Stamp{}, "for the end of a day write the date alone (2026-09-30)"
	}
	for _, l := range stampLayouts {
		t, err := time.Parse(l.layout, s)
		if err != nil {
			continue
		}
		st := Stamp{Date: tracker.DateOf(t), Timed: l.timed}
		if l.timed {
			st.Clock = tracker.ClockOf(t)
		}
		return st, ""
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return InstantStamp(t, loc), ""
	}
	return Stamp{}, stampHelp
}

package ledger

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

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
	return ReadContext(context.Background(), name, data, loc)
}

// Limits on a ledger file, checked before it is parsed.
const (
	// MaxFileSize bounds a ledger file (.xlsx or .csv); duban's own
	// export of 1 000 000 instances is 45 MiB as .xlsx.
	MaxFileSize = 64 << 20
	// MaxUnzipped bounds the uncompressed size of all parts of an .xlsx
	// (excelize's UnzipSizeLimit): a zip bomb is refused before it is
	// inflated to memory or temporary files. duban's export writes about
	// 515 bytes of XML a row, so a ledger of a million rows still fits.
	MaxUnzipped = 512 << 20
	// maxXMLInMemory is excelize's UnzipXMLSizeLimit: a worksheet larger
	// than this is inflated to a temporary file instead of memory.
	maxXMLInMemory = 16 << 20
	// MaxRatio bounds how much a part of an .xlsx larger than ratioFloor
	// may expand. Worksheets expand about 10:1 (duban's ledger export of
	// 20 000 rows: 15:1, measured); a zip bomb, 500:1 and more.
	MaxRatio   = 100
	ratioFloor = 1 << 20
)

// ctxEvery is how many rows are read between checks of the context.
const ctxEvery = 256

// ReadContext is Read that stops, returning ctx's error, when ctx is
// cancelled (e.g. on SIGTERM) while a long file is read.
func ReadContext(ctx context.Context, name string, data []byte, loc *time.Location) (*Sheet, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("文件过大（%.1f MiB）：台账文件最大 %d MiB；请分成几个文件导入", float64(len(data))/(1<<20), MaxFileSize>>20)}}
	}
	var t *table
	var errs Errors
	if strings.ToLower(filepath.Ext(name)) == ".csv" {
		t, errs = readCSV(ctx, name, data)
	} else {
		t, errs = readXLSX(ctx, name, data)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: 读取中断：%w", name, err)
	}
	if t == nil {
		return nil, errs
	}
	sh, herrs := t.parse(ctx, loc)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%s: 读取中断：%w", name, err)
	}
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
	encoding    string // CSV: the encoding it was read in, when not UTF-8
}

type rawRow struct {
	num   int
	text  []string // formatted cell text
	raw   []string // xlsx: the raw cell values (numbers unformatted)
	lines []int    // csv: the line of each field
}

// headerScan is how many leading rows may hold a title before the header.
const headerScan = 10

// checkZip refuses an .xlsx whose parts expand beyond MaxUnzipped in all
// or beyond MaxRatio each, from the sizes in the zip's directory (which
// the zip reader enforces while inflating), before anything is inflated.
// It returns "" for a file that is not a zip: excelize judges it.
func checkZip(data []byte) string {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return ""
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > MaxUnzipped {
			return fmt.Sprintf("解压后超过 %d MiB（压缩炸弹？）：台账工作簿解压后最大 %d MiB；拒绝导入", MaxUnzipped>>20, MaxUnzipped>>20)
		}
		if f.UncompressedSize64 > ratioFloor && f.UncompressedSize64 > MaxRatio*max(f.CompressedSize64, 1) {
			return fmt.Sprintf("其中 %s 由 %.1f MiB 解压为 %.1f MiB（%d:1，压缩炸弹？）：正常表格不超过 %d:1；拒绝导入",
				tracker.QuoteValue(f.Name), float64(f.CompressedSize64)/(1<<20), float64(f.UncompressedSize64)/(1<<20),
				f.UncompressedSize64/max(f.CompressedSize64, 1), MaxRatio)
		}
	}
	return ""
}

func readXLSX(ctx context.Context, name string, data []byte) (*table, Errors) {
	fail := func(msg string) (*table, Errors) {
		return nil, Errors{{File: name, Msg: msg}}
	}
	if msg := checkZip(data); msg != "" {
		return fail(msg)
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: MaxUnzipped, UnzipXMLSizeLimit: maxXMLInMemory})
	if err != nil {
		if strings.Contains(err.Error(), "unzip size exceeds") {
			return fail(fmt.Sprintf("解压后超过 %d MiB（压缩炸弹？）：台账工作簿解压后最大 %d MiB；拒绝导入", MaxUnzipped>>20, MaxUnzipped>>20))
		}
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
		if n%ctxEvery == 0 && ctx.Err() != nil {
			return nil, nil
		}
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

// readCSV reads a CSV ledger in UTF-8 (with or without a byte order
// mark) or, when it is not valid UTF-8, in GB18030 (a superset of GBK,
// what Chinese Excel writes for "CSV"), provided the header is found that
// way; otherwise it is read as UTF-8 and its cells with invalid bytes are
// reported one by one.
func readCSV(ctx context.Context, name string, data []byte) (*table, Errors) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil, Errors{{File: name, Msg: "文件是UTF-16编码（Excel的“Unicode文本”）：请另存为“CSV UTF-8（逗号分隔）”或 .xlsx"}}
	}
	data = bytes.TrimPrefix(data, []byte(bom))
	if utf8.Valid(data) {
		return readCSVText(ctx, name, data, "")
	}
	if dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data); err == nil && !bytes.ContainsRune(dec, utf8.RuneError) {
		if t, errs := readCSVText(ctx, name, dec, "GB18030"); t == nil || t.head != nil {
			return t, errs
		}
	}
	t, errs := readCSVText(ctx, name, data, "")
	if t != nil && t.head == nil {
		t.encoding = "unknown"
	}
	return t, errs
}

// readCSVText reads CSV text; enc is the encoding it was decoded from.
func readCSVText(ctx context.Context, name string, data []byte, enc string) (*table, Errors) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	t := &table{file: name, encoding: enc}
	for n := 1; ; n++ {
		if n%ctxEvery == 0 && ctx.Err() != nil {
			return nil, nil
		}
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
func (t *table) parse(ctx context.Context, loc *time.Location) (*Sheet, Errors) {
	var errs Errors
	if t.head == nil {
		msg := fmt.Sprintf("no header row: one of the first %d rows must name the columns, among them %s (the ledger's columns are %s)",
			headerScan, Headers[ColID], headerList())
		if t.encoding == "unknown" {
			msg = "文件编码无法识别：既不是UTF-8，也不是GB18030/GBK，找不到表头；请另存为“CSV UTF-8（逗号分隔）”或 .xlsx（" + msg + "）"
		}
		return nil, Errors{{File: t.file, Sheet: t.sheet, Row: 1, Msg: msg}}
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
			errs = append(errs, t.headErr(i, fmt.Sprintf("unknown header %s; the ledger's columns are %s", tracker.QuoteValue(h), headerList())))
			continue
		}
		if at[c] != 0 {
			errs = append(errs, t.headErr(i, fmt.Sprintf("duplicate header %s: already column %s", tracker.QuoteValue(h), ColumnName(at[c]))))
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
	for i, rr := range t.rows {
		if i%ctxEvery == 0 && ctx.Err() != nil {
			return nil, nil
		}
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
						Msg: fmt.Sprintf("%s is in a column without a header; name the column (%s) or clear it", tracker.QuoteValue(v), headerList())})
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
	// The tracking file's field rules (tracker.TextProblem) for every
	// cell: valid UTF-8, no control characters, the lengths of SPEC §7.
	var bad [NumColumns]bool
	for c := range NumColumns {
		limit, multiline := tracker.MaxTextLen, false
		switch c {
		case ColID, ColUnit:
			limit = tracker.MaxIDLen
		case ColRequirements, ColNote:
			limit, multiline = tracker.MaxLongTextLen, true
		}
		if msg := tracker.TextProblem(cleanText(cell[c]), limit, multiline); msg != "" {
			errs = append(errs, r.errAt(c, "%s", msg))
			bad[c] = true
		}
	}
	text := func(c Column) string {
		if bad[c] {
			return ""
		}
		return cleanText(cell[c])
	}
	r.ID = text(ColID)
	r.UnitName = text(ColUnitName)
	r.Unit = text(ColUnit)
	r.Title = text(ColTitle)
	r.Doc = text(ColDoc)
	r.Requirements = text(ColRequirements)
	r.Note = text(ColNote)
	if r.ID == "" && !bad[ColID] {
		errs = append(errs, r.errAt(ColID, "every row needs an id (编号)"))
	}
	stamp := func(c Column, what string) Stamp {
		if bad[c] {
			return Stamp{}
		}
		s, err := parseStamp(cell[c], raw[c], date1904, loc)
		if err != "" {
			v := cleanText(cell[c])
			errs = append(errs, r.errAt(c, "%s", tracker.WithFullWidthHint(fmt.Sprintf("%s is not a %s; %s", tracker.QuoteValue(v), what, err), v)))
		}
		return s
	}
	r.Start = stamp(ColStart, "date")
	r.Due = stamp(ColDue, "date")
	r.Limit = stamp(ColLimit, "date")
	r.DoneAt = stamp(ColDoneAt, "date")
	if s := text(ColStatus); s != "" {
		st, ok := parseStatus(s)
		if !ok {
			errs = append(errs, r.errAt(ColStatus, "%s is not a status; %s", tracker.QuoteValue(s), statusHelp))
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

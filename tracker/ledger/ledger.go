// Package ledger maps the supervision office's ledger (督办台账) to and
// from a spreadsheet: one row per instance, Chinese headers, in .xlsx
// (written with excelize's streaming writer) or UTF-8 .csv.
//
// # Columns
//
//	编号        instance id
//	承办单位    unit name (informational; 单位编号 wins)
//	单位编号    unit id
//	事项        item title
//	文号        document number
//	办理要求    requirements
//	开始时间    start (date and time, configured zone)
//	办理时限    deadline: the last day (a date) for day deadlines, date and
//	            time for timed deadlines
//	最迟时限    hard limit, the same way
//	原期限      the deadline before the first extension (export only)
//	延期        how often the deadline was extended, e.g. 已延期1次 (export only)
//	状态        待分办 / 办理中 / 待审核 / 已办结 / 已退回 / 已撤销
//	办结时间    completion time
//	最新进展    latest progress note
//	逾期工作日  working days overdue as of the export, or, for an instance
//	            done late, from its last day to the day it was done (export
//	            only: ignored on import)
//	暂定        which dates are provisional (computed before the year's
//	            holiday arrangement was published), e.g. 办理时限、最迟时限;
//	            in the xlsx those date cells also show （暂定） (export only)
//
// # Import: how rows map to the store
//
// A row whose 编号 has no "/" is a one-off item with a single unit (or no
// unit yet): the item and its instance share that id. Such a row creates
// the item when it does not exist, and otherwise updates what differs:
// title, document number, requirements, unit (a different unit is an
// assignment, recorded as an "assign" event), and the time nodes — when
// 开始时间, 办理时限 or 最迟时限 differ from the instance's, the item's
// start, due and limit are pinned to the fixed values of the row (a date
// or a date and time), so the row's deadline is what the instance gets.
//
// A row whose 编号 contains "/" is an instance of a recurring, multi-unit
// or co-unit item: it must exist already, and only its status, completion
// and progress can change from the ledger; its other cells must agree with
// the store (or be empty), since they belong to the item's tracking file
// (or to `duban extend` for deadlines).
//
// Status, completion and progress never move an instance backwards: a row
// may record progress (an audit "progress" event), completion (已办结 with
// 办结时间: a "done" event at that time), a return (已退回), a withdrawal
// (已撤销) or a reassignment of a returned instance (办理中); a finished
// instance stays finished, and a ledger that says otherwise is an error
// naming the cell. Events written from a ledger have the actor "ledger
// import".
//
// Importing is all or nothing: every row is checked first, every problem
// is reported with the file, the sheet, the row and the column (e.g.
// `ledger.xlsx: 台账!C7 (办理时限): "2026-13-01" is not a date`, or
// `ledger.csv:7: column C (办理时限): …` for CSV, where the number is the
// line), and nothing is written unless every row is good. Importing the
// ledger duban exported changes nothing.
package ledger

import (
	"strconv"
	"strings"

	"duban/tracker"
)

// Column indexes the ledger's columns, in export order.
type Column int

// The ledger's columns.
const (
	ColID Column = iota
	ColUnitName
	ColUnit
	ColTitle
	ColDoc
	ColRequirements
	ColStart
	ColDue
	ColLimit
	ColOriginal
	ColExtended
	ColStatus
	ColDoneAt
	ColNote
	ColOverdue
	ColProvisional
	ColAttachments // read-only: how many files the unit sent (SPEC §11)
	NumColumns
)

// Headers are the column headers, in export order.
var Headers = [NumColumns]string{
	ColID:           "编号",
	ColUnitName:     "承办单位",
	ColUnit:         "单位编号",
	ColTitle:        "事项",
	ColDoc:          "文号",
	ColRequirements: "办理要求",
	ColStart:        "开始时间",
	ColDue:          "办理时限",
	ColLimit:        "最迟时限",
	ColOriginal:     "原期限",
	ColExtended:     "延期",
	ColStatus:       "状态",
	ColDoneAt:       "办结时间",
	ColNote:         "最新进展",
	ColOverdue:      "逾期工作日",
	ColProvisional:  "暂定",
	ColAttachments:  "附件数",
}

// String returns the column's header.
func (c Column) String() string {
	if c >= 0 && c < NumColumns {
		return Headers[c]
	}
	return "column " + strconv.Itoa(int(c))
}

// headerIndex maps a header to its column.
func headerIndex(h string) (Column, bool) {
	for i, s := range Headers {
		if s == h {
			return Column(i), true
		}
	}
	return 0, false
}

// SheetName is the name of the worksheet duban writes and prefers to read.
const SheetName = "台账"

// Actor is recorded in the audit events an import writes.
const Actor = "ledger import"

// StatusName returns the Chinese name of s (待分办, 办理中, 已办结, 已退回, 已撤销).
func StatusName(s tracker.Status) string { return s.Label() }

// parseStatus reads a status cell: the Chinese name or the English status.
func parseStatus(s string) (tracker.Status, bool) { return tracker.ParseStatus(s) }

const statusHelp = "use 待分办, 办理中, 已办结, 已退回 or 已撤销"

// Error is one problem in a ledger file.
type Error struct {
	File  string
	Sheet string // xlsx only
	Row   int    // 1-based spreadsheet row (xlsx) or line (csv); 0 if unknown
	Col   int    // 1-based column; 0 for the whole row or file
	// Header is the column's header as the file wrote it (may be empty).
	Header string
	Msg    string
}

// ColumnName returns the spreadsheet column letters of a 1-based column.
func ColumnName(col int) string {
	var b []byte
	for col > 0 {
		col--
		b = append([]byte{byte('A' + col%26)}, b...)
		col /= 26
	}
	return string(b)
}

// Error formats e as `ledger.xlsx: 台账!C7 (办理时限): msg` or
// `ledger.csv:7: column C (办理时限): msg`.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	hdr := ""
	if e.Header != "" {
		hdr = " (" + e.Header + ")"
	}
	if e.Sheet != "" {
		b.WriteString(": ")
		b.WriteString(e.Sheet)
		switch {
		case e.Row > 0 && e.Col > 0:
			b.WriteString("!" + ColumnName(e.Col) + strconv.Itoa(e.Row) + hdr)
		case e.Row > 0:
			b.WriteString(" row " + strconv.Itoa(e.Row))
		}
	} else {
		if e.Row > 0 {
			b.WriteString(":" + strconv.Itoa(e.Row))
		}
		if e.Col > 0 {
			b.WriteString(": column " + ColumnName(e.Col) + hdr)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every ledger problem bad input (tracker.ErrInvalid).
func (e *Error) Unwrap() error { return tracker.ErrInvalid }

// Errors lists every problem of an import, by file, row and column.
type Errors []*Error

// Error joins the problems with newlines.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

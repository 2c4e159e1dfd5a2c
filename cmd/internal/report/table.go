package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"duban/tracker"
)

// RowWriter writes rows as an aligned table (CJK-width aware), CSV or a
// JSON array. JSON and CSV rows are written as they come, through a
// buffer (one write per row to a pipe or file cost a fifth of `list`'s
// time); tables are collected to align. Close flushes.
type RowWriter struct {
	format string
	buf    *bufio.Writer
	w      io.Writer // buf
	header []string

	n     int
	csv   *csv.Writer
	table [][]string
	err   error
	// scratch is reused by rows that encode themselves (AppendJSON).
	scratch []byte
}

// NewRowWriter starts writing rows under header to w in format: table,
// csv or json.
func NewRowWriter(w io.Writer, format string, header []string) *RowWriter {
	buf := bufio.NewWriterSize(w, 64<<10)
	rw := &RowWriter{format: format, buf: buf, w: buf, header: header}
	switch format {
	case "csv":
		rw.csv = csv.NewWriter(w)
		rw.err = rw.csv.Write(header)
	case "json":
		_, rw.err = io.WriteString(w, "[")
	}
	return rw
}

// Row adds one row: v for JSON, cells for table and CSV.
func (rw *RowWriter) Row(v any, cells []string) error {
	if rw.err != nil {
		return rw.err
	}
	switch rw.format {
	case "json":
		var b []byte
		var err error
		if a, ok := v.(interface{ AppendJSON([]byte) ([]byte, error) }); ok {
			b, err = a.AppendJSON(rw.scratch[:0]) // json.Marshal's bytes, faster
			rw.scratch = b
		} else {
			b, err = json.Marshal(v)
		}
		if err != nil {
			return err
		}
		sep := ",\n"
		if rw.n == 0 {
			sep = "\n"
		}
		if _, err := io.WriteString(rw.w, sep); err != nil {
			rw.err = err
			return err
		}
		_, rw.err = rw.w.Write(b)
	case "csv":
		rw.err = rw.csv.Write(cells)
	default:
		rw.table = append(rw.table, cells)
	}
	rw.n++
	return rw.err
}

// Close finishes and flushes the output.
func (rw *RowWriter) Close() error {
	if err := rw.finish(); err != nil {
		return err
	}
	return rw.buf.Flush()
}

func (rw *RowWriter) finish() error {
	if rw.err != nil {
		return rw.err
	}
	switch rw.format {
	case "json":
		end := "]\n"
		if rw.n > 0 {
			end = "\n]\n"
		}
		_, err := io.WriteString(rw.w, end)
		return err
	case "csv":
		rw.csv.Flush()
		return rw.csv.Error()
	}
	if rw.n == 0 {
		_, err := io.WriteString(rw.w, "(none)\n")
		return err
	}
	t := tablewriter.NewTable(rw.w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRendition(tw.Rendition{
			Borders: tw.BorderNone,
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.On},
			},
		}),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	t.Header(rw.header)
	if err := t.Bulk(rw.table); err != nil {
		return err
	}
	return t.Render()
}

// DeadlineCell is a deadline in a table: its time, then （暂定） when it
// was computed on the provisional calendar (SPEC §3).
func DeadlineCell(human string, provisional bool) string {
	if human != "" && provisional {
		return human + tracker.ProvisionalMark
	}
	return human
}

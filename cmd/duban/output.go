package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"duban/tracker"
)

// checkFormat rejects an unknown --format value.
func checkFormat(format string, allowed ...string) error {
	if !slices.Contains(allowed, format) {
		return fmt.Errorf("%w: --format %q: use %s", errBadUsage, format, strings.Join(allowed, "|"))
	}
	return nil
}

// rowWriter writes rows as an aligned table (CJK-width aware), CSV or a
// JSON array. JSON and CSV rows are written as they come, through a
// buffer (one write per row to a pipe or file cost a fifth of `list`'s
// time); tables are collected to align. Close flushes.
type rowWriter struct {
	format string
	buf    *bufio.Writer
	w      io.Writer // buf
	header []string

	n     int
	csv   *csv.Writer
	table [][]string
	err   error
}

func newRowWriter(w io.Writer, format string, header []string) *rowWriter {
	buf := bufio.NewWriterSize(w, 64<<10)
	rw := &rowWriter{format: format, buf: buf, w: buf, header: header}
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
func (rw *rowWriter) Row(v any, cells []string) error {
	if rw.err != nil {
		return rw.err
	}
	switch rw.format {
	case "json":
		b, err := json.Marshal(v)
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
func (rw *rowWriter) Close() error {
	if err := rw.finish(); err != nil {
		return err
	}
	return rw.buf.Flush()
}

func (rw *rowWriter) finish() error {
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

// parseStatuses reads a --status value: comma-separated statuses by their
// English or Chinese names (open, 办理中 …), or "all" (every status). An
// empty value gives nil.
func parseStatuses(s string) ([]tracker.Status, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "all", "全部":
		return slices.Clone(tracker.Statuses), nil
	}
	var out []tracker.Status
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '、' }) {
		st, ok := tracker.ParseStatus(v)
		if !ok {
			return nil, fmt.Errorf("%w: --status %q 不是状态；可用 %s，或 all（全部）", errBadUsage, quoteShort(v), tracker.StatusHelp)
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --status %q 不是状态；可用 %s，或 all（全部）", errBadUsage, quoteShort(s), tracker.StatusHelp)
	}
	return out, nil
}

// quoteShort returns s cut to about 80 characters for an error message.
func quoteShort(s string) string {
	const limit = 80
	if r := []rune(s); len(r) > limit {
		return string(r[:limit]) + "…"
	}
	return s
}

// deadlineCell is a deadline in a table: its time, then （暂定） when it
// was computed on the provisional calendar (SPEC §3).
func deadlineCell(human string, provisional bool) string {
	if human != "" && provisional {
		return human + tracker.ProvisionalMark
	}
	return human
}

// levelLabel is the Chinese name of a notice level, including the
// office's own mails; an unknown level is shown as it is.
func levelLabel(l tracker.Level) string {
	switch l {
	case levelBulletin:
		return "月度通报"
	case levelWeekly:
		return "工作周报"
	case levelReportFailure, levelFailure:
		return "投递失败报告"
	}
	return l.Label()
}

// deliveryStateLabel is the Chinese name of a delivery state.
func deliveryStateLabel(s tracker.DeliveryState) string {
	switch s {
	case tracker.DeliveryQueued:
		return "待发送"
	case tracker.DeliverySent:
		return "已发送"
	case tracker.DeliveryFailed:
		return "发送失败"
	case tracker.DeliverySkipped:
		return "未发送"
	case tracker.DeliverySuperseded:
		return "已被取代"
	}
	return string(s)
}

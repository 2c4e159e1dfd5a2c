package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"duban/cmd/internal/daemon"
	"duban/cmd/internal/ops"
	"duban/cmd/internal/report"
	"duban/tracker"
)

// The CLI's tables (cmd_list.go, cmd_outbox.go, cmd_plan.go) are written by
// the report package's RowWriter, like the bulletin's.
type rowWriter = report.RowWriter

func newRowWriter(w io.Writer, format string, header []string) *rowWriter {
	return report.NewRowWriter(w, format, header)
}

// deadlineCell is a deadline in a table, marked （暂定） when provisional.
func deadlineCell(human string, provisional bool) string {
	return report.DeadlineCell(human, provisional)
}

// checkFormat rejects an unknown --format value.
func checkFormat(format string, allowed ...string) error {
	if !slices.Contains(allowed, format) {
		return fmt.Errorf("%w: --format %q: use %s", errBadUsage, format, strings.Join(allowed, "|"))
	}
	return nil
}

// parseStatuses reads a --status value (see ops.ParseStatuses).
func parseStatuses(s string) ([]tracker.Status, error) { return ops.ParseStatuses(s) }

// quoteShort returns s cut to about 80 characters for an error message.
func quoteShort(s string) string { return ops.QuoteShort(s) }

// levelLabel is the Chinese name of a notice level, including the
// office's own mails; an unknown level is shown as it is.
func levelLabel(l tracker.Level) string {
	switch l {
	case daemon.LevelBulletin:
		return "月度通报"
	case daemon.LevelWeekly:
		return "工作周报"
	case daemon.LevelReportFailure, daemon.LevelFailure:
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

package notify

import (
	"fmt"
	"time"
)

// weekdays are the Chinese weekday names, indexed by time.Weekday.
var weekdays = [...]string{"星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"}

// FormatDeadline renders a deadline the way notices state it, in the
// location of t:
//
//   - a day deadline (timed false): the last day, then dayEnd, e.g.
//     "2026年9月28日(星期一)24时前" for dayEnd "24:00" (or ""), and
//     "2026年9月28日(星期一)17:30前" for "17:30";
//   - a timed deadline: the instant, e.g. "2026年9月24日(星期四)12:00前".
func FormatDeadline(lastDayOrInstant time.Time, timed bool, dayEnd string) string {
	t := lastDayOrInstant
	day := fmt.Sprintf("%d年%d月%d日(%s)", t.Year(), int(t.Month()), t.Day(), weekdays[t.Weekday()])
	switch {
	case timed:
		return day + t.Format("15:04") + "前"
	case dayEnd == "" || dayEnd == "24:00":
		return day + "24时前"
	default:
		return day + dayEnd + "前"
	}
}

// ProvisionalMark follows a date computed on the provisional calendar
// (a year whose holiday arrangement is not published yet, SPEC §3).
const ProvisionalMark = "（暂定）"

// MarkProvisional returns s followed by ProvisionalMark when provisional
// is set and s is not empty.
func MarkProvisional(s string, provisional bool) string {
	if provisional && s != "" {
		return s + ProvisionalMark
	}
	return s
}

// formatDate renders a date as "2026年9月29日".
func formatDate(t time.Time) string {
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}

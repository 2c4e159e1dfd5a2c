package report

import (
	"fmt"
	"time"

	"duban/tracker"
)

// calendarWarnings returns, in words for the office, what the daemon also
// logs once a day (cmd/internal/daemon): from 1 November, that next year's State
// Council arrangement is missing; at any time, that this year's is. The
// weekly summary to the office carries them (SPEC §3). Mail names no
// command (SPEC §6): the office pastes the notice on the workspace's
// 工作日历 page, or hands it to the administrator, who loads it with
// `duban calendar import` (README).
func calendarWarnings(cal *tracker.Calendar, today tracker.Date) []string {
	var out []string
	missing := func(y int, whose string) string {
		return fmt.Sprintf("《国务院办公厅关于%d年部分节假日安排的通知》尚未载入系统。%s的期限暂按《全国年节及纪念日放假办法》规定的法定节假日计算，"+
			"均标注“暂定”；调休上班和连休日以通知为准。通知发布后，请在督办工作台的“工作日历”页粘贴国务院办公厅通知全文（从中国政府网复制的文字即可），"+
			"或交系统管理员载入：载入前可先预览哪些期限会变，载入后相关期限重新计算，已通知的单位会收到更正。", y, whose)
	}
	if !cal.Known(today.Year) {
		out = append(out, missing(today.Year, fmt.Sprintf("%d年", today.Year)))
	}
	if today.Month >= time.November && !cal.Known(today.Year+1) {
		out = append(out, missing(today.Year+1, fmt.Sprintf("%d年", today.Year+1)))
	}
	return out
}

package report

import (
	"strconv"
	"strings"
)

var weekdayNames = map[string]string{
	"mon": "一", "tue": "二", "wed": "三", "thu": "四", "fri": "五", "sat": "六", "sun": "日",
	"monday": "一", "tuesday": "二", "wednesday": "三", "thursday": "四", "friday": "五", "saturday": "六", "sunday": "日",
}

// HumanEvery renders an `every:` value for a notice, e.g. "weekly thu
// 12:00" → "每周四12:00前", "monthly 5" → "每月5日前". Cron forms are shown
// as written.
func HumanEvery(spec string) string {
	f := strings.Fields(strings.ToLower(strings.TrimSpace(spec)))
	if len(f) < 2 {
		return spec
	}
	at := ""
	if len(f) == 3 {
		at = f[2]
	} else if len(f) > 3 {
		return spec
	}
	day := func(s string) (string, bool) {
		n, err := strconv.Atoi(s)
		return strconv.Itoa(n) + "日", err == nil
	}
	switch f[0] {
	case "weekly":
		if w, ok := weekdayNames[f[1]]; ok {
			return "每周" + w + at + "前"
		}
	case "monthly":
		if d, ok := day(f[1]); ok {
			return "每月" + d + at + "前"
		}
	case "quarterly":
		if d, ok := day(f[1]); ok {
			return "每季度首月" + d + at + "前"
		}
	case "half-yearly":
		if d, ok := day(f[1]); ok {
			return "每年1月、7月" + d + at + "前"
		}
	case "yearly":
		if m, d, ok := strings.Cut(f[1], "-"); ok {
			mi, err1 := strconv.Atoi(m)
			di, err2 := strconv.Atoi(d)
			if err1 == nil && err2 == nil {
				return "每年" + strconv.Itoa(mi) + "月" + strconv.Itoa(di) + "日" + at + "前"
			}
		}
	}
	return spec
}

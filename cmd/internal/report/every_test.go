package report

import "testing"

func TestHumanEvery(t *testing.T) {
	for in, want := range map[string]string{
		"weekly thu 12:00":    "每周四12:00前",
		"weekly Friday":       "每周五前",
		"monthly 5":           "每月5日前",
		"quarterly 10":        "每季度首月10日前",
		"half-yearly 10":      "每年1月、7月10日前",
		"yearly 12-31":        "每年12月31日前",
		"cron 0 12 * * THU":   "cron 0 12 * * THU",
		"0 0 10 1,7 *":        "0 0 10 1,7 *",
		"weekly someday 9:00": "weekly someday 9:00",
	} {
		if got := HumanEvery(in); got != want {
			t.Errorf("HumanEvery(%q) = %q, want %q", in, got, want)
		}
	}
}

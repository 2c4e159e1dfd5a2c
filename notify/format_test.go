package notify_test

import (
	"testing"
	"time"

	"duban/notify"
)

func TestFormatDeadline(t *testing.T) {
	tests := []struct {
		name   string
		t      time.Time
		timed  bool
		dayEnd string
		want   string
	}{
		{"day, 24:00", time.Date(2026, 9, 28, 0, 0, 0, 0, shanghai), false, "24:00", "2026年9月28日(星期一)24时前"},
		{"day, default end", time.Date(2026, 9, 28, 0, 0, 0, 0, shanghai), false, "", "2026年9月28日(星期一)24时前"},
		{"day, close of business", time.Date(2026, 9, 28, 0, 0, 0, 0, shanghai), false, "17:30", "2026年9月28日(星期一)17:30前"},
		{"day ignores clock", time.Date(2026, 9, 28, 23, 59, 0, 0, shanghai), false, "24:00", "2026年9月28日(星期一)24时前"},
		{"timed", time.Date(2026, 9, 24, 12, 0, 0, 0, shanghai), true, "24:00", "2026年9月24日(星期四)12:00前"},
		{"timed, minutes", time.Date(2026, 10, 9, 8, 5, 0, 0, shanghai), true, "", "2026年10月9日(星期五)08:05前"},
		{"sunday", time.Date(2026, 9, 27, 0, 0, 0, 0, shanghai), false, "24:00", "2026年9月27日(星期日)24时前"},
		{"saturday", time.Date(2026, 10, 10, 0, 0, 0, 0, shanghai), false, "24:00", "2026年10月10日(星期六)24时前"},
		{"tuesday and wednesday", time.Date(2026, 12, 29, 0, 0, 0, 0, shanghai), false, "24:00", "2026年12月29日(星期二)24时前"},
		{"wednesday", time.Date(2026, 12, 30, 0, 0, 0, 0, shanghai), false, "24:00", "2026年12月30日(星期三)24时前"},
		{"in the time's own zone", time.Date(2026, 9, 27, 16, 0, 0, 0, time.UTC).In(shanghai), true, "", "2026年9月28日(星期一)00:00前"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := notify.FormatDeadline(tt.t, tt.timed, tt.dayEnd); got != tt.want {
				t.Errorf("FormatDeadline(%v, %v, %q) = %q, want %q", tt.t, tt.timed, tt.dayEnd, got, tt.want)
			}
		})
	}
}

package tracker

import (
	"fmt"
	"time"
)

// Date is a civil date: a day in the configured time zone, with no time of
// day. Deadlines are computed on Dates, never by adding 24-hour durations.
// The zero Date is not a valid date; IsZero reports it.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the civil date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as YYYY-MM-DD.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	if d.Year < 0 || d.Year > 9999 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
	}
	// By hand: String runs for every date stored or printed, and
	// fmt.Sprintf was a tenth of an import's CPU time.
	y, m, day := d.Year, int(d.Month), d.Day
	b := [10]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-', byte('0' + day/10), byte('0' + day%10)}
	return string(b[:])
}

// AddDays returns d moved by n calendar days (n may be negative).
func (d Date) AddDays(n int) Date { return dateOfDayNumber(d.dayNumber() + n) }

// dayNumber returns the number of days from 1970-01-01 to d (negative
// before it), on the proleptic Gregorian calendar. d must be a valid date.
// It is Howard Hinnant's days_from_civil: integer arithmetic only, much
// cheaper than going through time.Date.
func (d Date) dayNumber() int {
	y, m := d.Year, int(d.Month)
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400 // [0, 399]
	mp := m - 3        // March is 0
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d.Day - 1        // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*146097 + doe - 719468
}

// dateOfDayNumber is the inverse of dayNumber (civil_from_days).
func dateOfDayNumber(z int) Date {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], March is 0
	day := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	return Date{y, time.Month(m), day}
}

// AddMonths returns the same day-of-month n months later, or the last day of
// that month when it has no such day (Civil Code Art. 202).
func (d Date) AddMonths(n int) Date {
	first := time.Date(d.Year, d.Month+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	last := DaysIn(first.Year(), first.Month())
	day := min(d.Day, last)
	return Date{first.Year(), first.Month(), day}
}

// DaysIn returns the number of days in month m of year y.
func DaysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	// 1970-01-01 was a Thursday.
	return time.Weekday(((d.dayNumber()+4)%7 + 7) % 7)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	default:
		return cmpInt(d.Day, e.Day)
	}
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// DaysUntil returns the number of calendar days from d to e (negative when e is before d).
func (d Date) DaysUntil(e Date) int { return e.dayNumber() - d.dayNumber() }

// At returns the instant at minutes-since-midnight tod on d in loc.
// tod may be 1440 (24:00), which is 00:00 of the next day.
func (d Date) At(tod TimeOfDay, loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, int(tod), 0, 0, loc)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TimeOfDay is a wall-clock time as minutes since midnight, 0..1440.
// 1440 is "24:00", the end of the day.
type TimeOfDay int

// ParseTimeOfDay parses HH:MM (00:00 to 24:00).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time of day (want HH:MM, e.g. 09:00 or 24:00)", s)
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day (want HH:MM, e.g. 09:00 or 24:00)", s)
	}
	return TimeOfDay(h*60 + m), nil
}

// String formats t as HH:MM.
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

// ClockOf returns the time of day of t in t's location.
func ClockOf(t time.Time) TimeOfDay { return TimeOfDay(t.Hour()*60 + t.Minute()) }

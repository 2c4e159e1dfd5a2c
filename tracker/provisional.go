package tracker

import (
	"sort"
	"sync"
	"time"
)

//go:generate go run gen_lunar.go

// The provisional calendar of a year without a State Council arrangement
// (SPEC §3): Monday to Friday, minus the days off that the
// 《全国年节及纪念日放假办法》 in force that year fixes whatever the State
// Council later arranges, minus the Art. 6 make-up days (a fixed day on a
// Saturday or Sunday is made up on the first working day after its holiday
// block). Bridging days and make-up working days (调休) cannot be known
// before the notice and are not guessed.
//
// The lunar dates (春节, 端午, 中秋) and the 清明 solar term come from
// github.com/6tail/lunar-go, precomputed into lunar_table.go by
// gen_lunar.go so that no process pays for the astronomy at start
// (~0.5 ms a year, 47 ms for the index's 101 years). Years outside the
// table get the solar-date holidays only.

// provisionalSuffix marks the name of every provisional holiday.
const provisionalSuffix = "（暂定）"

// provisionalFirstYear is the first year with a provisional calendar: the
// 1999 revision of the law is the oldest one modelled.
const provisionalFirstYear = 2000

// fixedDay is one day off fixed by the law, with its festival's name.
type fixedDay struct {
	date Date
	name string
}

// statutoryDays returns the days off fixed by the revision of the law in
// force in year y, in date order. Two festivals on the same date give one
// day (the law does not say how such a day is made up; the State Council
// decides).
//
//	1999 revision (2000–2007): 元旦; 春节 初一–初三; 劳动节 1–3 May; 国庆 1–3 Oct
//	2007 revision (2008–2013): 元旦; 春节 除夕–初二; 清明; 劳动节 1 May; 端午; 中秋; 国庆 1–3 Oct
//	2013 revision (2014–2024): as 2007, but 春节 初一–初三
//	2024 revision (2025–):     as 2013, but 春节 除夕–初三 and 劳动节 1–2 May
func statutoryDays(y int) []fixedDay {
	if y < provisionalFirstYear {
		return nil
	}
	var days []fixedDay
	add := func(name string, d Date, n int) {
		for i := range n {
			days = append(days, fixedDay{d.AddDays(i), name})
		}
	}
	add("元旦", Date{y, time.January, 1}, 1)
	switch {
	case y >= 2025:
		add("劳动节", Date{y, time.May, 1}, 2)
	case y >= 2008:
		add("劳动节", Date{y, time.May, 1}, 1)
	default:
		add("劳动节", Date{y, time.May, 1}, 3)
	}
	add("国庆节", Date{y, time.October, 1}, 3)
	if y <= lunarLastYear {
		row := lunarTable[y-lunarFirstYear]
		md := func(v uint16) Date { return Date{y, time.Month(v / 100), int(v % 100)} }
		newYear := md(row[0])
		switch {
		case y >= 2025:
			add("春节", newYear.AddDays(-1), 4)
		case y >= 2014:
			add("春节", newYear, 3)
		case y >= 2008:
			add("春节", newYear.AddDays(-1), 3)
		default:
			add("春节", newYear, 3)
		}
		if y >= 2008 {
			add("清明节", md(row[1]), 1)
			add("端午节", md(row[2]), 1)
			add("中秋节", md(row[3]), 1)
		}
	}
	sort.SliceStable(days, func(i, j int) bool { return days[i].date.Before(days[j].date) })
	return days
}

// provisionalOff returns the provisional days off of year y with their
// names: the fixed days and their Art. 6 make-up days. The result is shared
// and must not be modified.
func provisionalOff(y int) map[Date]string {
	if v, ok := provisionalCache.Load(y); ok {
		return v.(map[Date]string)
	}
	off := make(map[Date]string)
	var fixed []fixedDay // one per date
	for _, f := range statutoryDays(y) {
		if _, dup := off[f.date]; !dup {
			off[f.date] = f.name + provisionalSuffix
			fixed = append(fixed, f)
		}
	}
	// In date order, each fixed day on a weekend is made up on the first
	// day after it that is neither a weekend day nor already off, which is
	// the first working day after its holiday block.
	for _, f := range fixed {
		if !isWeekend(f.date) {
			continue
		}
		d := f.date.AddDays(1)
		for ; isWeekend(d) || off[d] != ""; d = d.AddDays(1) {
		}
		off[d] = f.name + "补假" + provisionalSuffix
	}
	v, _ := provisionalCache.LoadOrStore(y, off)
	return v.(map[Date]string)
}

// provisionalCache maps a year to its provisionalOff result.
var provisionalCache sync.Map

func isWeekend(d Date) bool {
	wd := d.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

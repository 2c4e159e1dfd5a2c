package tracker

import (
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"
)

// Calendar is the Chinese working calendar: Monday to Friday are working
// days, except for dates the State Council declares off (statutory holidays)
// or on (weekend make-up working days, 调休上班). A year without the State
// Council's arrangement follows the provisional calendar (provisional.go).
// It is immutable once built and safe for concurrent use.
type Calendar struct {
	overrides map[Date]override
	years     map[int][]string // notice year -> papers (source notices)
	origin    map[int]string   // notice year -> name of the file its days came from, last wins
	sources   []string         // files loaded, in order

	// An index over the day numbers [first, first+len(before)-1): before[i]
	// counts the working days in [first, first+i). It makes IsWorkday,
	// WorkdaysBetween and AddWorkdays O(1) or O(log n) inside the indexed
	// years; outside them the methods count day by day.
	first  int
	before []int32
}

// Years the index covers at least; holiday files widen it.
const indexFirstYear, indexLastYear = 2000, 2100

type override struct {
	off  bool
	name string
	year int // the notice year that set it
}

// HolidayFile is one year of State Council arrangements in the
// NateScarlet/holiday-cn JSON shape. Year is the year of the notice; Days
// may include dates of the neighbouring years.
type HolidayFile struct {
	Year   int          `json:"year"`
	Papers []string     `json:"papers"`
	Days   []HolidayDay `json:"days"`
}

// HolidayDay is one override: a date that is off (a holiday) or on (a
// make-up working day).
type HolidayDay struct {
	Name     string `json:"name"`
	Date     string `json:"date"`
	IsOffDay bool   `json:"isOffDay"`
}

//go:embed holidays/*.json
var embeddedHolidays embed.FS

// EmbeddedYears lists the notice years whose arrangements are built in.
func EmbeddedYears() []int {
	c, err := DefaultCalendar()
	if err != nil {
		return nil
	}
	return c.Years()
}

// DefaultCalendar returns the calendar built from the embedded State
// Council arrangements.
func DefaultCalendar() (*Calendar, error) {
	c := &Calendar{overrides: make(map[Date]override), years: make(map[int][]string), origin: make(map[int]string)}
	names, err := fs.Glob(embeddedHolidays, "holidays/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := embeddedHolidays.ReadFile(name)
		if err != nil {
			return nil, err
		}
		if err := c.add(NamedData{Name: "embedded:" + path.Base(name)}, data); err != nil {
			return nil, err
		}
	}
	c.buildIndex()
	return c, nil
}

// buildIndex fills first and before; it runs once the overrides are final.
func (c *Calendar) buildIndex() {
	lo, hi := indexFirstYear, indexLastYear
	for d := range c.overrides {
		lo, hi = min(lo, d.Year), max(hi, d.Year)
	}
	first := Date{lo, time.January, 1}.dayNumber()
	last := Date{hi, time.December, 31}.dayNumber()
	c.first, c.before = first, nil // IsWorkday below must not use the index yet
	before := make([]int32, last-first+2)
	// The provisional days off of the current year, by day number minus
	// the year's first: an array, since a second map lookup per day made
	// the build measurably slower.
	var provOff [366]bool
	year, jan1 := 0, 0
	for i := range last - first + 1 {
		z := first + i
		d := dateOfDayNumber(z)
		if d.Year != year {
			year, jan1, provOff = d.Year, z, [366]bool{}
			for p := range c.provisionalOf(year) {
				provOff[p.dayNumber()-jan1] = true
			}
		}
		before[i+1] = before[i]
		work := !provOff[z-jan1] && !isWeekend(d)
		if o, ok := c.overrides[d]; ok {
			work = !o.off
		}
		if work {
			before[i+1]++
		}
	}
	c.before = before
}

// indexed reports whether day number z is inside the index.
func (c *Calendar) indexed(z int) bool { return z >= c.first && z-c.first < len(c.before)-1 }

// WithFiles returns a copy of c with the holiday files added in order;
// later files override earlier ones. name is used in error messages.
func (c *Calendar) WithFiles(files []NamedData) (*Calendar, error) {
	n := &Calendar{overrides: make(map[Date]override, len(c.overrides)), years: make(map[int][]string, len(c.years)),
		origin: make(map[int]string, len(c.origin))}
	for k, v := range c.overrides {
		n.overrides[k] = v
	}
	for k, v := range c.years {
		n.years[k] = v
	}
	for k, v := range c.origin {
		n.origin[k] = v
	}
	n.sources = slices.Clone(c.sources)
	for _, f := range files {
		if err := n.add(f, f.Data); err != nil {
			return nil, err
		}
	}
	n.buildIndex()
	return n, nil
}

// NamedData is a file's name and content.
type NamedData struct {
	Name string
	Data []byte
	// Replace drops the days earlier files gave the same notice year
	// before this file's days are added: the file is the year's whole
	// arrangement (an imported notice), not a correction of some dates.
	Replace bool
}

// ReadHolidayFile decodes and validates one holiday-cn file.
func ReadHolidayFile(r io.Reader) (*HolidayFile, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var f HolidayFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a holiday-cn calendar file: %w", err)
	}
	if f.Year < 1949 || f.Year > 2200 {
		return nil, fmt.Errorf("year: %d is not a plausible year", f.Year)
	}
	seen := make(map[Date]bool, len(f.Days))
	for i, day := range f.Days {
		d, err := ParseDate(day.Date)
		if err != nil {
			return nil, fmt.Errorf("days[%d].date: %w", i, err)
		}
		if d.Year < f.Year-1 || d.Year > f.Year+1 {
			return nil, fmt.Errorf("days[%d].date: %s is outside the notice year %d ±1", i, d, f.Year)
		}
		if seen[d] {
			return nil, fmt.Errorf("days[%d].date: %s is listed twice", i, d)
		}
		seen[d] = true
	}
	return &f, nil
}

func (c *Calendar) add(nd NamedData, data []byte) error {
	name := nd.Name
	f, err := ReadHolidayFile(strings.NewReader(string(data)))
	if err != nil {
		return fmt.Errorf("calendar %s: %w", name, err)
	}
	if nd.Replace {
		for d, o := range c.overrides {
			if o.year == f.Year {
				delete(c.overrides, d)
			}
		}
	}
	for _, day := range f.Days {
		d, _ := ParseDate(day.Date)
		c.overrides[d] = override{off: day.IsOffDay, name: day.Name, year: f.Year}
	}
	// An empty placeholder file (holiday-cn ships one for a year whose
	// notice is not out yet) does not make the year known.
	if len(f.Days) > 0 {
		c.years[f.Year] = f.Papers
		c.origin[f.Year] = name
	}
	c.sources = append(c.sources, name)
	return nil
}

// Years returns the notice years the calendar knows, ascending.
func (c *Calendar) Years() []int {
	ys := make([]int, 0, len(c.years))
	for y := range c.years {
		ys = append(ys, y)
	}
	sort.Ints(ys)
	return ys
}

// Papers returns the source notices recorded for year.
func (c *Calendar) Papers(year int) []string { return c.years[year] }

// Origin names the file the days of notice year came from: the last one
// loaded ("embedded:2026.json", a calendar.files path, or what the caller
// named an imported notice); "" for a year without an arrangement.
func (c *Calendar) Origin(year int) string { return c.origin[year] }

// YearDays returns the overrides that notice year set and that are in
// effect (a later year's file may have overridden a date), in the
// holiday-cn shape, sorted by date.
func (c *Calendar) YearDays(year int) []HolidayDay {
	var out []HolidayDay
	for d, o := range c.overrides {
		if o.year == year {
			out = append(out, HolidayDay{Name: o.name, Date: d.String(), IsOffDay: o.off})
		}
	}
	slices.SortFunc(out, func(a, b HolidayDay) int { return strings.Compare(a.Date, b.Date) })
	return out
}

// Sources lists the files the calendar was built from, in load order.
func (c *Calendar) Sources() []string { return slices.Clone(c.sources) }

// Known reports whether the State Council arrangement for year is loaded.
// Dates in unknown years follow the provisional calendar (provisional.go:
// Monday–Friday minus the days off fixed by law) and any deadline that
// depends on them is provisional.
func (c *Calendar) Known(year int) bool {
	_, ok := c.years[year]
	return ok
}

// IsWorkday reports whether d is a working day.
func (c *Calendar) IsWorkday(d Date) bool {
	if z := d.dayNumber(); c.indexed(z) {
		i := z - c.first
		return c.before[i+1] != c.before[i]
	}
	return c.isWorkdaySlow(d)
}

// isWorkdaySlow is IsWorkday without the index: the State Council's
// override if any, else the provisional days off of a year without one,
// else Monday to Friday. buildIndex computes the same.
func (c *Calendar) isWorkdaySlow(d Date) bool {
	if o, ok := c.overrides[d]; ok {
		return !o.off
	}
	if c.provisionalOf(d.Year)[d] != "" {
		return false
	}
	return !isWeekend(d)
}

// provisionalOf returns the provisional days off of year, or nil when the
// State Council arrangement for year is known.
func (c *Calendar) provisionalOf(year int) map[Date]string {
	if c.Known(year) {
		return nil
	}
	return provisionalOff(year)
}

// HolidayName returns the name of the holiday or make-up day at d, if any.
// In a year without a State Council arrangement it is the provisional
// name, ending in （暂定）, of a day off fixed by law (e.g. 元旦（暂定）,
// 春节补假（暂定）).
func (c *Calendar) HolidayName(d Date) string {
	if o, ok := c.overrides[d]; ok {
		return o.name
	}
	return c.provisionalOf(d.Year)[d]
}

// NextWorkday returns d if it is a working day, else the first working day after d.
func (c *Calendar) NextWorkday(d Date) Date {
	for !c.IsWorkday(d) {
		d = d.AddDays(1)
	}
	return d
}

// PrevWorkday returns d if it is a working day, else the last working day before d.
func (c *Calendar) PrevWorkday(d Date) Date {
	for !c.IsWorkday(d) {
		d = d.AddDays(-1)
	}
	return d
}

// AddWorkdays returns the n-th working day after d (n > 0), the n-th working
// day before d (n < 0), or NextWorkday(d) (n == 0). d itself is never counted
// for n != 0.
func (c *Calendar) AddWorkdays(d Date, n int) Date {
	if n == 0 {
		return c.NextWorkday(d)
	}
	if z := d.dayNumber(); c.indexed(z) {
		// The answer is the day e with before[e+1] == target that is a
		// working day: the first index j with before[j] >= target, minus one.
		i := z - c.first
		target := int(c.before[i+1]) + n // n > 0: n working days after d
		if n < 0 {
			target = int(c.before[i]) + n + 1 // |n| working days before d
		}
		if j, _ := slices.BinarySearch(c.before, int32(target)); j >= 1 && j < len(c.before) {
			return dateOfDayNumber(c.first + j - 1)
		}
	}
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDays(step)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d
}

// WorkdaysBetween counts the working days in (a, b]: the days after a up to
// and including b. It is 0 when b is not after a.
func (c *Calendar) WorkdaysBetween(a, b Date) int {
	za, zb := a.dayNumber(), b.dayNumber()
	if zb <= za {
		return 0
	}
	if c.indexed(za) && c.indexed(zb) {
		return int(c.before[zb-c.first+1] - c.before[za-c.first+1])
	}
	n := 0
	for d := a.AddDays(1); !d.After(b); d = d.AddDays(1) {
		if c.IsWorkday(d) {
			n++
		}
	}
	return n
}

// Provisional reports whether any year from a to b (inclusive, in either
// order) lacks a State Council arrangement.
func (c *Calendar) Provisional(a, b Date) bool {
	lo, hi := a.Year, b.Year
	if lo > hi {
		lo, hi = hi, lo
	}
	for y := lo; y <= hi; y++ {
		if !c.Known(y) {
			return true
		}
	}
	return false
}

// Package recur parses the `every:` value of a recurring obligation (SPEC §5)
// and computes its scheduled firings in a fixed time zone.
//
// Two families of specs are accepted:
//
//   - friendly forms, computed here on civil dates: "weekly <mon..sun> [HH:MM]",
//     "monthly <day> [HH:MM]", "quarterly <day> [HH:MM]",
//     "half-yearly <day> [HH:MM]" and "yearly <MM-DD> [HH:MM]";
//   - cron forms, handled by github.com/robfig/cron/v3: "cron <5 fields>",
//     the bare 5 fields, optionally prefixed "CRON_TZ=<zone> " (or "TZ=<zone> "),
//     and the descriptors "@weekly", "@monthly", "@yearly" ("@annually").
//
// A schedule never depends on the location of the time given to Next: every
// firing is computed in the schedule's zone (the location given to Parse, or
// the CRON_TZ= zone of a cron spec) and returned in the location given to
// Parse.
//
// Scheduled firings are not rolled for holidays here; applying `roll:` is the
// caller's job.
package recur

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule yields the scheduled firings of a recurring obligation in a fixed
// zone. Implementations are immutable and safe for concurrent use.
type Schedule interface {
	// Next returns the first scheduled firing strictly after t, in the
	// schedule's zone (the location given to Parse), or the zero time if
	// there is none within 5 years. The result does not depend on t's
	// location.
	Next(t time.Time) time.Time
	// Timed reports whether firings carry a time of day. When false, a
	// firing names a day (returned as 00:00 of that day) and the period is
	// due at the end of that day.
	Timed() bool
	// String returns the canonical spec. Parsing it again in the same
	// location yields the same schedule.
	String() string
}

// ParseError reports a spec that is not a schedule. Its message names the
// spec and says what was expected, e.g.
//
//	"weekly thurs" is not a schedule: weekday must be mon..sun
type ParseError struct {
	Spec   string // the spec as given
	Reason string // what was expected
	Err    error  // underlying cause (zone lookup, cron parser), or nil
}

// Error implements error.
func (e *ParseError) Error() string {
	msg := fmt.Sprintf("%q is not a schedule: %s", e.Spec, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause, if any.
func (e *ParseError) Unwrap() error { return e.Err }

const forms = `want "weekly <mon..sun> [HH:MM]", "monthly <day> [HH:MM]", ` +
	`"quarterly <day> [HH:MM]", "half-yearly <day> [HH:MM]", "yearly <MM-DD> [HH:MM]", ` +
	`"@weekly", "@monthly", "@yearly" or a 5-field cron expression`

// Parse parses an `every:` value in loc. Accepted (SPEC §5):
//
//   - "cron <5 fields>", or the bare 5 fields, optionally prefixed
//     "CRON_TZ=<zone> " ("TZ=<zone> " too); without a prefix the fields are
//     read in loc. Firings are returned in loc either way. Cron specs are
//     always Timed.
//   - "@weekly", "@monthly", "@yearly" (also "@annually"): the cron
//     descriptors, Timed, firing at 00:00 (Sunday, the 1st, 1 January).
//     "@every", "@daily", "@hourly" and "@midnight" are rejected.
//   - "weekly <mon..sun> [HH:MM]" (also monday..sunday);
//   - "monthly <day> [HH:MM]", day 1..31: a month without that day uses its
//     last day (monthly 31 fires on 2026-02-28), never skipped;
//   - "quarterly <day> [HH:MM]": that day of January, April, July, October;
//   - "half-yearly <day> [HH:MM]": that day of January and July;
//   - "yearly <MM-DD> [HH:MM]": 02-29 fires on 02-28 in non-leap years.
//
// Keywords, weekday names and descriptors are case-insensitive. Without
// HH:MM a friendly form is untimed (firings at 00:00 of the day, the period
// due at the end of that day); with HH:MM (00:00..23:59, never 24:00) it
// fires at that wall-clock time. A cron spec that never fires is rejected.
// Errors are *ParseError; Parse never panics.
func Parse(spec string, loc *time.Location) (Schedule, error) {
	fail := func(reason string, err error) (Schedule, error) {
		return nil, &ParseError{Spec: spec, Reason: reason, Err: err}
	}
	if loc == nil {
		return fail("no time zone given", nil)
	}
	fields := strings.Fields(spec)
	if len(fields) == 0 {
		return fail("empty; "+forms, nil)
	}
	switch kw := strings.ToLower(fields[0]); kw {
	case "weekly", "monthly", "quarterly", "half-yearly", "yearly":
		f, reason := parseFriendly(kw, fields[1:], loc)
		if reason != "" {
			return fail(reason, nil)
		}
		return f, nil
	case "cron":
		return parseCron(spec, fields[1:], true, loc)
	default:
		return parseCron(spec, fields, false, loc)
	}
}

// ---- friendly forms ----

type kind int

const (
	weekly kind = iota
	monthly
	quarterly
	halfYearly
	yearly
)

var usage = [...]string{
	weekly:     `want "weekly <mon..sun> [HH:MM]"`,
	monthly:    `want "monthly <day> [HH:MM]"`,
	quarterly:  `want "quarterly <day> [HH:MM]"`,
	halfYearly: `want "half-yearly <day> [HH:MM]"`,
	yearly:     `want "yearly <MM-DD> [HH:MM]"`,
}

var keyword = [...]string{
	weekly:     "weekly",
	monthly:    "monthly",
	quarterly:  "quarterly",
	halfYearly: "half-yearly",
	yearly:     "yearly",
}

// step is the number of months between periods (weekly: unused).
var step = [...]int{monthly: 1, quarterly: 3, halfYearly: 6, yearly: 12}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// friendly is a schedule computed on civil dates: the n-th period's firing
// follows from the rule alone, so there is no drift.
type friendly struct {
	kind    kind
	weekday time.Weekday // weekly
	month   time.Month   // yearly
	day     int          // monthly, quarterly, half-yearly, yearly: 1..31
	timed   bool
	hour    int
	minute  int
	loc     *time.Location
}

func parseFriendly(kw string, args []string, loc *time.Location) (*friendly, string) {
	f := &friendly{loc: loc}
	switch kw {
	case "weekly":
		f.kind = weekly
	case "monthly":
		f.kind = monthly
	case "quarterly":
		f.kind = quarterly
	case "half-yearly":
		f.kind = halfYearly
	default:
		f.kind = yearly
	}
	if len(args) < 1 || len(args) > 2 {
		return nil, usage[f.kind]
	}
	switch f.kind {
	case weekly:
		wd, ok := weekdays[strings.ToLower(args[0])]
		if !ok {
			return nil, "weekday must be mon..sun"
		}
		f.weekday = wd
	case yearly:
		m, d, ok := parseMonthDay(args[0])
		if !ok {
			return nil, "date must be MM-DD"
		}
		if m < 1 || m > 12 {
			return nil, "month must be 01..12"
		}
		if d < 1 || d > daysIn(2000, m) { // 2000 is a leap year: 02-29 allowed
			return nil, fmt.Sprintf("%s has no day %d", m, d)
		}
		f.month, f.day = m, d
	default:
		d, ok := atoi(args[0], 2)
		if !ok || d < 1 || d > 31 {
			return nil, "day must be 1..31"
		}
		f.day = d
	}
	if len(args) == 2 {
		h, m, reason := parseClock(args[1])
		if reason != "" {
			return nil, reason
		}
		f.timed, f.hour, f.minute = true, h, m
	}
	return f, ""
}

// parseClock parses HH:MM, 00:00..23:59.
func parseClock(s string) (h, m int, reason string) {
	if s == "24:00" {
		return 0, 0, "24:00 is not allowed in every: (leave the time out for a period due at the end of the day)"
	}
	const bad = "time of day must be HH:MM, 00:00..23:59"
	if len(s) != 5 || s[2] != ':' {
		return 0, 0, bad
	}
	h, ok1 := atoi(s[:2], 2)
	m, ok2 := atoi(s[3:], 2)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, 0, bad
	}
	return h, m, ""
}

// parseMonthDay parses MM-DD (syntax only).
func parseMonthDay(s string) (time.Month, int, bool) {
	if len(s) != 5 || s[2] != '-' {
		return 0, 0, false
	}
	m, ok1 := atoi(s[:2], 2)
	d, ok2 := atoi(s[3:], 2)
	return time.Month(m), d, ok1 && ok2
}

// atoi parses 1..max ASCII digits.
func atoi(s string, max int) (int, bool) {
	if len(s) == 0 || len(s) > max {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days in month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// floorDiv returns floor(a/b) for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// fire returns the firing on civil date y-m-d in f's zone. A wall-clock
// time that does not exist (a daylight-saving gap) is moved later by the
// length of the gap, as java.time does; time.Date alone may move it earlier.
func (f *friendly) fire(y int, m time.Month, d int) time.Time {
	r := time.Date(y, m, d, f.hour, f.minute, 0, 0, f.loc)
	ry, rm, rd := r.Date()
	if r.Hour() == f.hour && r.Minute() == f.minute && ry == y && rm == m && rd == d {
		return r
	}
	_, off := r.Zone()
	alt := time.Date(y, m, d, f.hour, f.minute, 0, 0, time.UTC).Add(-time.Duration(off) * time.Second).In(f.loc)
	if alt.After(r) {
		return alt
	}
	return r
}

// Next implements Schedule. It starts from the period whose firing day is
// on or after the day before t's civil date and walks forward; at most three
// periods are examined.
func (f *friendly) Next(t time.Time) time.Time {
	y, m, d := t.In(f.loc).Date()
	if f.kind == weekly {
		// The civil date before t's, as a UTC noon (for weekday and day arithmetic).
		start := time.Date(y, m, d-1, 12, 0, 0, 0, time.UTC)
		delta := (int(f.weekday) - int(start.Weekday()) + 7) % 7
		for k := 0; k < 3; k++ {
			c := start.AddDate(0, 0, delta+7*k)
			cy, cm, cd := c.Date()
			if r := f.fire(cy, cm, cd); r.After(t) {
				return r
			}
		}
		return time.Time{}
	}
	// Periods are numbered by the month index (year*12 + month-1) of their
	// firing; off shifts yearly periods to their month.
	n := step[f.kind]
	off := 0
	if f.kind == yearly {
		off = int(f.month) - 1
	}
	p := floorDiv(y*12+int(m)-1-off, n) - 1
	for k := 0; k < 3; k++ {
		idx := (p+k)*n + off
		fy, fm := floorDiv(idx, 12), time.Month(idx-floorDiv(idx, 12)*12+1)
		if r := f.fire(fy, fm, min(f.day, daysIn(fy, fm))); r.After(t) {
			return r
		}
	}
	return time.Time{}
}

// Timed implements Schedule.
func (f *friendly) Timed() bool { return f.timed }

// String implements Schedule: the keyword, then the canonical argument
// (lower-case three-letter weekday, day without leading zero, MM-DD), then
// HH:MM when timed.
func (f *friendly) String() string {
	var b strings.Builder
	b.WriteString(keyword[f.kind])
	b.WriteByte(' ')
	switch f.kind {
	case weekly:
		b.WriteString(strings.ToLower(f.weekday.String()[:3]))
	case yearly:
		fmt.Fprintf(&b, "%02d-%02d", int(f.month), f.day)
	default:
		fmt.Fprintf(&b, "%d", f.day)
	}
	if f.timed {
		fmt.Fprintf(&b, " %02d:%02d", f.hour, f.minute)
	}
	return b.String()
}

// ---- cron forms ----

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronSchedule wraps a robfig/cron schedule parsed without a zone prefix
// (the prefix is handled here, which also avoids robfig's panic on "TZ=x"
// with no space). Such a schedule is read in the location of the time given
// to its Next, so Next always hands it a time in zone: the CRON_TZ= zone, or
// loc when the spec named none. Firings are returned in loc.
type cronSchedule struct {
	s     cron.Schedule
	zone  *time.Location // where the fields are read
	loc   *time.Location // where firings are returned
	canon string
}

// parseCron parses fields (the spec after an optional "cron" keyword).
func parseCron(spec string, fields []string, keyword bool, loc *time.Location) (Schedule, error) {
	fail := func(reason string, err error) (Schedule, error) {
		return nil, &ParseError{Spec: spec, Reason: reason, Err: err}
	}
	zone, prefix := loc, ""
	if len(fields) > 0 {
		up := strings.ToUpper(fields[0])
		if strings.HasPrefix(up, "CRON_TZ=") || strings.HasPrefix(up, "TZ=") {
			name := fields[0][strings.IndexByte(fields[0], '=')+1:]
			if name == "" {
				return fail("CRON_TZ= needs a zone name, e.g. CRON_TZ=Asia/Shanghai", nil)
			}
			if name == "Local" {
				return fail("CRON_TZ=Local depends on the host; name a zone, e.g. CRON_TZ=Asia/Shanghai", nil)
			}
			z, err := time.LoadLocation(name)
			if err != nil {
				return fail("bad zone in CRON_TZ=", err)
			}
			zone, prefix = z, "CRON_TZ="+name+" "
			fields = fields[1:]
			if len(fields) == 0 {
				return fail("CRON_TZ=<zone> must be followed by a cron expression", nil)
			}
		}
	}
	var expr string
	switch {
	case len(fields) > 0 && strings.HasPrefix(fields[0], "@"):
		switch d := strings.ToLower(fields[0]); d {
		case "@weekly", "@monthly", "@yearly", "@annually":
			if len(fields) > 1 {
				return fail("unexpected text after "+d, nil)
			}
			if d == "@annually" {
				d = "@yearly"
			}
			expr = d
		case "@every":
			return fail("@every is an interval, not a calendar schedule", nil)
		default:
			return fail("descriptor must be @weekly, @monthly or @yearly", nil)
		}
	case len(fields) != 5:
		if keyword || prefix != "" {
			return fail(fmt.Sprintf("a cron expression has 5 fields (minute hour day-of-month month day-of-week), found %d", len(fields)), nil)
		}
		return fail(fmt.Sprintf("%s (found %d fields)", forms, len(fields)), nil)
	default:
		expr = strings.Join(fields, " ")
	}
	s, err := safeParse(expr)
	if err != nil {
		return fail("bad cron expression", err)
	}
	canon := prefix + expr
	if prefix == "" && !strings.HasPrefix(expr, "@") {
		canon = "cron " + expr
	}
	c := &cronSchedule{s: s, zone: zone, loc: loc, canon: canon}
	if c.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, zone)).IsZero() {
		return fail("never fires (no firing within 5 years of 2000-01-01)", nil)
	}
	return c, nil
}

// safeParse runs the robfig parser, turning a panic into an error.
func safeParse(expr string) (s cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cron parser panicked: %v", r)
		}
	}()
	return parser.Parse(expr)
}

// Next implements Schedule.
func (c *cronSchedule) Next(t time.Time) time.Time {
	r := c.s.Next(t.In(c.zone))
	if r.IsZero() || !r.After(t) {
		return time.Time{}
	}
	return r.In(c.loc)
}

// Timed implements Schedule: cron firings always carry a time of day.
func (c *cronSchedule) Timed() bool { return true }

// String implements Schedule: "cron <fields>" (whitespace normalised), or
// "CRON_TZ=<zone> <fields>" when the spec named a zone (TZ= is written
// CRON_TZ=), or the descriptor (@annually is written @yearly).
func (c *cronSchedule) String() string { return c.canon }

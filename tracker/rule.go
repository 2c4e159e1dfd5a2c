package tracker

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadRule is wrapped by every rule and offset parse error.
var ErrBadRule = errors.New("bad rule")

// RuleKind is the form of a deadline rule (SPEC §4).
type RuleKind uint8

// Rule forms.
const (
	RuleDate     RuleKind = iota + 1 // YYYY-MM-DD: that day is the last day, never rolled
	RuleInstant                      // YYYY-MM-DD HH:MM: due at that instant
	RuleDays                         // Nd: calendar days, rolled per Civil Code Art. 203
	RuleWorkdays                     // Nwd: working days (0wd: the same working day)
	RuleMonths                       // Nmo: months (Art. 202), then rolled as Nd
	RuleHours                        // Nh: start + N hours exactly
)

// Rule is a parsed deadline rule: `3d`, `2wd`, `0wd`, `1mo`, `48h`,
// `2026-09-30` or `2026-09-30 17:00`.
type Rule struct {
	Kind RuleKind
	N    int
	Date Date      // RuleDate, RuleInstant
	At   TimeOfDay // RuleInstant
}

const ruleHelp = "use 3d, 3wd, 0wd, 1mo, 48h, 2026-09-30 or 2026-09-30 17:00"

// maxRuleN bounds N so that arithmetic stays far from overflow and loops short.
const maxRuleN = 3660

// ParseRule parses a deadline rule.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (Rule, error) {
		if why != "" {
			why = ": " + why
		}
		return Rule{}, fmt.Errorf("%w: %q is not a deadline%s; %s", ErrBadRule, s, why, ruleHelp)
	}
	if s == "" {
		return bad("empty")
	}
	if s[0] >= '0' && s[0] <= '9' && len(s) >= 10 && s[4] == '-' {
		datePart, timePart, hasTime := strings.Cut(s, " ")
		d, err := ParseDate(datePart)
		if err != nil {
			return bad("bad date")
		}
		if !hasTime {
			return Rule{Kind: RuleDate, Date: d}, nil
		}
		tod, err := ParseTimeOfDay(strings.TrimSpace(timePart))
		if err != nil || tod == 24*60 {
			return bad("bad time of day")
		}
		return Rule{Kind: RuleInstant, Date: d, At: tod}, nil
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 4 {
		return bad("")
	}
	n, _ := strconv.Atoi(s[:i])
	if n > maxRuleN {
		return bad(fmt.Sprintf("at most %d", maxRuleN))
	}
	var k RuleKind
	switch s[i:] {
	case "d":
		k = RuleDays
	case "wd":
		k = RuleWorkdays
	case "mo":
		k = RuleMonths
	case "h":
		k = RuleHours
	default:
		return bad("")
	}
	if n == 0 && k != RuleWorkdays {
		return bad("only 0wd may be zero")
	}
	return Rule{Kind: k, N: n}, nil
}

// String returns the rule in its canonical written form.
func (r Rule) String() string {
	switch r.Kind {
	case RuleDate:
		return r.Date.String()
	case RuleInstant:
		return r.Date.String() + " " + r.At.String()
	case RuleDays:
		return strconv.Itoa(r.N) + "d"
	case RuleWorkdays:
		return strconv.Itoa(r.N) + "wd"
	case RuleMonths:
		return strconv.Itoa(r.N) + "mo"
	case RuleHours:
		return strconv.Itoa(r.N) + "h"
	}
	return ""
}

// Env is what deadline arithmetic needs besides the rule: the working
// calendar, the zone, when a day deadline ends (day_end) and when day-offset
// notices go out (send_time).
type Env struct {
	Cal      *Calendar
	Loc      *time.Location
	DayEnd   TimeOfDay // 1440 = 24:00
	SendTime TimeOfDay
}

// EndOf returns the first overdue instant of a deadline whose last day is d.
func (e Env) EndOf(d Date) time.Time { return d.At(e.DayEnd, e.Loc) }

// Today returns the civil date of now in the configured zone.
func (e Env) Today(now time.Time) Date { return DateOf(now.In(e.Loc)) }

// Deadline is a computed deadline.
type Deadline struct {
	// LastDay is the last day to act (for timed deadlines: the day of Due).
	LastDay Date `json:"last_day"`
	// Due is the first moment the obligation is overdue.
	Due time.Time `json:"due"`
	// Timed deadlines are exact instants; day deadlines end at day_end.
	Timed bool `json:"timed,omitempty"`
	// Provisional is set when the arithmetic touched a year without
	// holiday data (SPEC §3).
	Provisional bool `json:"provisional,omitempty"`
	// Rule is the rule text, Why explains how LastDay followed from it.
	Rule string `json:"rule,omitempty"`
	Why  string `json:"why,omitempty"`
}

// MarshalJSON encodes d as "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON decodes "YYYY-MM-DD" (or "").
func (d *Date) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("date: %w", err)
	}
	if s == "" {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Human returns the deadline in table form: "2026-09-28 24:00" for a day
// deadline, "2026-09-24 12:00" for a timed one.
func (dl Deadline) Human(env Env) string {
	if dl.Due.IsZero() {
		return ""
	}
	if dl.Timed {
		return dl.Due.In(env.Loc).Format("2006-01-02 15:04")
	}
	return dl.LastDay.String() + " " + env.DayEnd.String()
}

// dayDeadline builds a day deadline ending on last.
func (e Env) dayDeadline(last Date, rule, why string, provisional bool) Deadline {
	return Deadline{LastDay: last, Due: e.EndOf(last), Rule: rule, Why: why, Provisional: provisional}
}

// Deadline computes the deadline r gives for an obligation starting at
// start. roll is the item's roll setting; RollNone keeps a non-working last
// day of an Nd or Nmo rule instead of moving it to the next working day.
func (r Rule) Deadline(start time.Time, env Env, roll Roll) Deadline {
	start = start.In(env.Loc)
	s := DateOf(start)
	rule := r.String()
	switch r.Kind {
	case RuleDate:
		return env.dayDeadline(r.Date, rule, "fixed date, not rolled", false)
	case RuleInstant:
		t := r.Date.At(r.At, env.Loc)
		return Deadline{LastDay: r.Date, Due: t, Timed: true, Rule: rule, Why: "fixed instant"}
	case RuleHours:
		t := start.Add(time.Duration(r.N) * time.Hour)
		return Deadline{LastDay: DateOf(t), Due: t, Timed: true, Rule: rule,
			Why: fmt.Sprintf("%s + %d hours, not rolled", start.Format("2006-01-02 15:04"), r.N)}
	case RuleWorkdays:
		last := env.Cal.AddWorkdays(s, r.N)
		var why string
		if r.N == 0 {
			why = fmt.Sprintf("same working day as start %s", s)
			if last != s {
				why = fmt.Sprintf("start %s is not a working day; next working day", s)
			}
		} else {
			why = fmt.Sprintf("%d working day(s) after start %s (start day not counted)", r.N, s)
		}
		return env.dayDeadline(last, rule, why, env.Cal.Provisional(s, last))
	case RuleDays, RuleMonths:
		var raw Date
		var why string
		if r.Kind == RuleDays {
			raw = s.AddDays(r.N)
			why = fmt.Sprintf("start %s (not counted) + %d days = %s", s, r.N, raw)
		} else {
			raw = s.AddMonths(r.N)
			why = fmt.Sprintf("start %s + %d month(s) = %s (Art. 202)", s, r.N, raw)
		}
		last := raw
		if roll != RollNone {
			last = env.Cal.NextWorkday(raw)
			if last != raw {
				why += fmt.Sprintf(", not a working day, rolled to %s (Art. 203)", last)
			}
		}
		return env.dayDeadline(last, rule, why, env.Cal.Provisional(s, last))
	}
	return Deadline{}
}

// OffsetKind is the unit of an Offset.
type OffsetKind uint8

// Offset units.
const (
	OffsetZero     OffsetKind = iota + 1 // "0": the deadline itself
	OffsetDays                           // ±Nd
	OffsetWorkdays                       // ±Nwd
	OffsetHours                          // ±Nh
	OffsetLimit                          // "limit": the hard limit is exceeded
)

// Offset is a time relative to a deadline: policy step `at` and `every`
// values and `co_due`.
type Offset struct {
	Kind OffsetKind
	N    int // signed
}

// ParseOffset parses "0", "limit", "-2wd", "+1wd", "-1d", "+3d", "-4h".
// A bare "1wd" means "+1wd".
func ParseOffset(s string) (Offset, error) {
	s = strings.TrimSpace(s)
	bad := func() (Offset, error) {
		return Offset{}, fmt.Errorf("%w: %q is not an offset; use 0, limit, -2wd, +1wd, -1d, +3d or -4h", ErrBadRule, s)
	}
	switch s {
	case "0", "+0", "-0":
		return Offset{Kind: OffsetZero}, nil
	case "limit":
		return Offset{Kind: OffsetLimit}, nil
	case "":
		return bad()
	}
	sign := 1
	body := s
	switch s[0] {
	case '-':
		sign, body = -1, s[1:]
	case '+':
		body = s[1:]
	}
	i := 0
	for i < len(body) && body[i] >= '0' && body[i] <= '9' {
		i++
	}
	if i == 0 || i > 4 {
		return bad()
	}
	n, _ := strconv.Atoi(body[:i])
	if n > maxRuleN {
		return bad()
	}
	var k OffsetKind
	switch body[i:] {
	case "d":
		k = OffsetDays
	case "wd":
		k = OffsetWorkdays
	case "h":
		k = OffsetHours
	default:
		return bad()
	}
	if n == 0 {
		return Offset{Kind: OffsetZero}, nil
	}
	return Offset{Kind: k, N: sign * n}, nil
}

// String returns the offset in written form.
func (o Offset) String() string {
	switch o.Kind {
	case OffsetZero:
		return "0"
	case OffsetLimit:
		return "limit"
	}
	unit := map[OffsetKind]string{OffsetDays: "d", OffsetWorkdays: "wd", OffsetHours: "h"}[o.Kind]
	return fmt.Sprintf("%+d%s", o.N, unit)
}

// CoDeadline returns a co-unit's deadline: lead moved by co (-Nwd or -Nd).
// A day offset that lands on a non-working day moves back to the previous
// working day, so the co-unit is never given less time than the rule says.
func CoDeadline(lead Deadline, co Offset, env Env) Deadline {
	var last Date
	switch co.Kind {
	case OffsetWorkdays:
		last = env.Cal.AddWorkdays(lead.LastDay, co.N)
	case OffsetDays:
		last = env.Cal.PrevWorkday(lead.LastDay.AddDays(co.N))
	default:
		return lead
	}
	why := fmt.Sprintf("co-unit: %s from the lead unit's last day %s", co, lead.LastDay)
	prov := lead.Provisional || env.Cal.Provisional(last, lead.LastDay)
	if lead.Timed {
		clock := ClockOf(lead.Due.In(env.Loc))
		return Deadline{LastDay: last, Due: last.At(clock, env.Loc), Timed: true, Provisional: prov, Rule: "co_due " + co.String(), Why: why}
	}
	return env.dayDeadline(last, "co_due "+co.String(), why, prov)
}

// Extend returns the deadline after an extension: to is either a date
// ("2026-10-15"), an instant ("2026-10-15 17:00") or "+Nwd"/"+Nd" counted
// from the current last day.
func Extend(cur Deadline, to string, env Env) (Deadline, error) {
	return extendFlag(cur, to, "--to", env)
}

// ExtendLimit returns a hard limit moved with an extension (`extend
// --limit`): the same forms as Extend, "+Nwd"/"+Nd" counted from the
// current limit's last day.
func ExtendLimit(cur Deadline, to string, env Env) (Deadline, error) {
	d, err := extendFlag(cur, to, "--limit", env)
	if err != nil {
		return Deadline{}, err
	}
	d.Rule = strings.Replace(d.Rule, "extend ", "extend --limit ", 1)
	return d, nil
}

// extendFlag is Extend with the flag named in errors.
func extendFlag(cur Deadline, to, flag string, env Env) (Deadline, error) {
	to = strings.TrimSpace(to)
	if strings.HasPrefix(to, "+") {
		off, err := ParseOffset(to)
		if err != nil || (off.Kind != OffsetWorkdays && off.Kind != OffsetDays) || off.N <= 0 {
			return Deadline{}, fmt.Errorf("%w: %s %q：应为日期（2026-10-15）或 +N个工作日（+3wd）/ +N天（+5d）", ErrBadRule, flag, to)
		}
		var last Date
		if off.Kind == OffsetWorkdays {
			last = env.Cal.AddWorkdays(cur.LastDay, off.N)
		} else {
			last = env.Cal.NextWorkday(cur.LastDay.AddDays(off.N))
		}
		why := fmt.Sprintf("extended %s from %s", off, cur.LastDay)
		if cur.Timed {
			clock := ClockOf(cur.Due.In(env.Loc))
			return Deadline{LastDay: last, Due: last.At(clock, env.Loc), Timed: true, Rule: "extend " + to, Why: why,
				Provisional: env.Cal.Provisional(cur.LastDay, last)}, nil
		}
		return env.dayDeadline(last, "extend "+to, why, env.Cal.Provisional(cur.LastDay, last)), nil
	}
	r, err := ParseRule(to)
	if err != nil || (r.Kind != RuleDate && r.Kind != RuleInstant) {
		return Deadline{}, fmt.Errorf("%w: %s %q：应为日期（2026-10-15）、日期和时刻（2026-10-15 17:00）或 +N个工作日（+3wd）", ErrBadRule, flag, to)
	}
	d := r.Deadline(time.Time{}, env, RollNone)
	d.Rule = "extend " + to
	d.Why = "extended to a fixed date"
	return d, nil
}

// ExtensionCeiling returns the latest deadline a policy's max_extension
// allows (SPEC §4): the rule counted from the original last day, as if
// that day were the start of a `7d` (`5wd`, `1mo`) obligation.
func ExtensionCeiling(orig Deadline, maxExtension string, env Env) (Deadline, error) {
	r, err := ParseRule(maxExtension)
	if err != nil {
		return Deadline{}, fmt.Errorf("max_extension: %w", err)
	}
	switch r.Kind {
	case RuleDays, RuleWorkdays, RuleMonths:
	default:
		return Deadline{}, fmt.Errorf("%w: max_extension %q: use Nd, Nwd or Nmo", ErrBadRule, maxExtension)
	}
	d := r.Deadline(orig.LastDay.At(0, env.Loc), env, RollNext)
	d.Why = fmt.Sprintf("max_extension %s from the original last day %s: %s", maxExtension, orig.LastDay, d.Why)
	return d, nil
}

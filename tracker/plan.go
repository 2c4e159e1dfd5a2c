package tracker

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// DefaultPolicy applies to items that name no policy (and when no stored
// policy is called "default"): a reminder one working day before, a notice
// on the last day, a 催办 every working day while overdue, and an
// escalation to the leader and the office when the hard limit passes.
var DefaultPolicy = Policy{
	ID: "default",
	Steps: []Step{
		{At: "-1wd", To: []string{"unit"}, Level: LevelReminder},
		{At: "0", To: []string{"unit"}, Level: LevelDue},
		{At: "+1wd", Every: "1wd", To: []string{"unit"}, Level: LevelOverdue},
		{At: "limit", To: []string{"unit", "leader", "office"}, Level: LevelEscalation},
	},
}

// AssignedStep is the step number of the assigned notice (督办通知);
// policy steps are numbered from 1 in file order.
const AssignedStep = 0

// Notice is one notice the schedule sends. Instance, step and the time it
// is sent identify it (SPEC §6); Rep, the repetition number of an `every`
// step, is for display only: a calendar change shifts repetition numbers
// (a day that becomes a holiday drops one), never send times of
// repetitions already sent, so keying on the time keeps every identity
// unique through a recompute.
type Notice struct {
	At       time.Time `json:"at"`
	Instance string    `json:"id"`
	Step     int       `json:"step"`
	Rep      int       `json:"rep"`
	Level    Level     `json:"level"`
	To       []string  `json:"to"` // roles and literals until resolved, then addresses
}

// Key is the notice identity: "<instance>|<step>|<send time>", the send
// time in UTC to the second, e.g. "minutes-31|2|20260928T010000Z".
func (n Notice) Key() string {
	return fmt.Sprintf("%s|%d|%s", n.Instance, n.Step, n.At.UTC().Format("20060102T150405Z"))
}

// maxReps bounds repetitions of an `every` step in one plan.
const maxReps = 10000

// Notices returns the notices of instance in scheduled at or after from and
// before to, in time order, with To holding the step's roles. It is pure:
// whether a notice was already sent is the caller's business. Inactive
// instances have none; steps that fall before the instance's start are
// dropped (SPEC §6).
func (x *Expander) Notices(in *Instance, pol *Policy, from, to time.Time) []Notice {
	return x.notices(in, pol, from, to, maxReps)
}

// NextNotice returns the first notice of in scheduled at or after from and
// before to, if there is one. It is the first of Notices, without
// building every repetition of a daily 催办 in the window.
func (x *Expander) NextNotice(in *Instance, pol *Policy, from, to time.Time) (Notice, bool) {
	ns := x.notices(in, pol, from, to, 1)
	if len(ns) == 0 {
		return Notice{}, false
	}
	return ns[0], true
}

// notices is Notices with at most perStep notices of each step.
func (x *Expander) notices(in *Instance, pol *Policy, from, to time.Time, perStep int) []Notice {
	if !in.Status.Active() {
		return nil
	}
	var out []Notice
	inWindow := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	add := func(n Notice) bool {
		if inWindow(n.At) && !n.At.Before(in.Start) {
			out = append(out, n)
			return true
		}
		return false
	}
	// The assigned notice goes out whenever the unit is assigned, even
	// before the obligation starts: it is what tells the unit about it.
	if in.Status == StatusOpen && !in.AssignedAt.IsZero() && inWindow(in.AssignedAt) {
		// Rep: each reassignment (改派) announces the instance anew.
		out = append(out, Notice{At: in.AssignedAt, Instance: in.ID, Step: AssignedStep, Rep: in.Reassignments, Level: LevelAssigned, To: []string{"unit"}})
	}
	// 改派: the unit the instance was taken from is told, once per reassignment.
	if in.PrevUnit != "" && !in.ReassignedAt.IsZero() && inWindow(in.ReassignedAt) {
		out = append(out, Notice{At: in.ReassignedAt, Instance: in.ID, Step: ReassignedStep, Rep: in.Reassignments, Level: LevelReassigned, To: []string{"prev_unit"}})
	}
	// 督办事项通知单: the head (and, for 黄 and 红, the leader) receive each sheet.
	if in.Sheets > 0 && !in.SheetAt.IsZero() && inWindow(in.SheetAt) {
		to := []string{"unit"}
		if in.SheetGrade.ToLeader() {
			to = append(to, "leader")
		}
		out = append(out, Notice{At: in.SheetAt, Instance: in.ID, Step: SheetStep, Rep: in.Sheets, Level: LevelSheet, To: to})
	}
	for i, st := range pol.Steps {
		at, err := ParseOffset(st.At)
		if err != nil {
			continue
		}
		first, ok := x.stepTime(in, at)
		if !ok {
			continue
		}
		every, err := ParseOffset(st.Every)
		if st.Every == "" || err != nil || every.N <= 0 {
			add(Notice{At: first, Instance: in.ID, Step: i + 1, Level: st.Level, To: st.To})
			continue
		}
		rep, t := x.skipTo(first, every, from)
		for added := 0; rep < maxReps && t.Before(to) && added < perStep; rep++ {
			if add(Notice{At: t, Instance: in.ID, Step: i + 1, Rep: rep, Level: st.Level, To: st.To}) {
				added++
			}
			t = x.repeat(t, every)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// sendAt returns send_time on d, or on the next working day if d is not one.
func (x *Expander) sendAt(d Date) time.Time {
	return x.Env.Cal.NextWorkday(d).At(x.Env.SendTime, x.Env.Loc)
}

// dueNoticeAt is when the `at: 0` notice of dl goes out (SPEC §6):
// send_time on the last day, or on the working day before when the last
// day is not a working day (a fixed date is not rolled) or when the due
// instant is not later than send_time on it. A due notice never goes out
// at or after the moment the item becomes overdue.
func (x *Expander) dueNoticeAt(dl Deadline) time.Time {
	cal, day := x.Env.Cal, dl.LastDay
	if !cal.IsWorkday(day) {
		day = cal.PrevWorkday(day)
	}
	t := day.At(x.Env.SendTime, x.Env.Loc)
	for i := 0; !t.Before(dl.Due) && i < 30; i++ {
		day = cal.AddWorkdays(day, -1)
		t = day.At(x.Env.SendTime, x.Env.Loc)
	}
	return t
}

// stepTime returns when a step with offset at first fires for in.
func (x *Expander) stepTime(in *Instance, at Offset) (time.Time, bool) {
	dl := in.Deadline
	last := dl.LastDay
	switch at.Kind {
	case OffsetZero:
		return x.dueNoticeAt(dl), true
	case OffsetDays:
		return x.sendAt(last.AddDays(at.N)), true
	case OffsetWorkdays:
		return x.sendAt(x.Env.Cal.AddWorkdays(last, at.N)), true
	case OffsetHours:
		return dl.Due.Add(time.Duration(at.N) * time.Hour), true
	case OffsetLimit:
		if in.Limit == nil {
			return time.Time{}, false
		}
		if in.Limit.Timed {
			return in.Limit.Due, true
		}
		return x.sendAt(in.Limit.LastDay.AddDays(1)), true
	}
	return time.Time{}, false
}

// skipTo returns a repetition k of a step whose first repetition is at
// first, and its time, such that no repetition before k is at or after
// from: the repetitions before the planning window need not be walked one
// by one (an item a year overdue has some 250 daily ones). Repetitions
// compose when they are whole hours, or working days sent at a send_time
// before 24:00 (the N-th working day after the N-th working day after d is
// the 2N-th); for other kinds skipTo returns (0, first).
func (x *Expander) skipTo(first time.Time, every Offset, from time.Time) (int, time.Time) {
	if !first.Before(from) {
		return 0, first
	}
	switch {
	case every.Kind == OffsetHours:
		period := time.Duration(every.N) * time.Hour
		k := min(int(from.Sub(first)/period), maxReps)
		return k, first.Add(time.Duration(k) * period)
	case every.Kind == OffsetWorkdays && x.Env.SendTime < 24*60:
		cal := x.Env.Cal
		day := DateOf(first.In(x.Env.Loc))
		// Working days after day up to the day before from: every
		// repetition k <= that / N is on a day before from.
		k := min(cal.WorkdaysBetween(day, DateOf(from.In(x.Env.Loc)).AddDays(-1))/every.N, maxReps)
		if k == 0 {
			return 0, first
		}
		return k, x.sendAt(cal.AddWorkdays(day, k*every.N))
	}
	return 0, first
}

// repeat returns the repetition after one sent at prev: every N hours
// exactly, or send_time on the N-th (working) day after prev's day.
func (x *Expander) repeat(prev time.Time, every Offset) time.Time {
	day := DateOf(prev.In(x.Env.Loc))
	switch every.Kind {
	case OffsetHours:
		return prev.Add(time.Duration(every.N) * time.Hour)
	case OffsetDays:
		return x.sendAt(day.AddDays(every.N))
	default:
		return x.sendAt(x.Env.Cal.AddWorkdays(day, every.N))
	}
}

// Lead returns how far before a deadline the earliest step of the
// policies can fire, as a duration that errs on the long side. Planning
// windows scan the due index up to `to + Lead`.
func Lead(policies ...*Policy) time.Duration {
	days := 1
	for _, p := range policies {
		for _, st := range p.Steps {
			o, err := ParseOffset(st.At)
			if err != nil || o.N >= 0 {
				continue
			}
			n := -o.N
			switch o.Kind {
			case OffsetWorkdays:
				n = n*7/5 + 14 // weekends plus the longest holiday block
			case OffsetHours:
				n = n/24 + 1
			}
			days = max(days, n+1)
		}
	}
	return time.Duration(days) * 24 * time.Hour
}

// PolicyFor returns the policy that governs it: the one it names, else a
// stored policy called "default", else DefaultPolicy.
func PolicyFor(tx Tx, it *Item) (*Policy, error) {
	id := it.Policy
	if id == "" {
		id = "default"
	}
	p, err := tx.Policy(id)
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, ErrNotFound) && it.Policy == "":
		return &DefaultPolicy, nil
	}
	return nil, fmt.Errorf("item %s: policy: %w", it.ID, err)
}

// Plan returns every notice scheduled in [from, to) for the active
// instances, in time order, with recipients resolved to addresses.
// Notices whose key skip reports true (already sent) are left out; skip
// may be nil. Only instances whose deadline is within reach of the window
// are read, through the due index.
func (x *Expander) Plan(tx Tx, from, to time.Time, officeFallback string, skip func(key string) bool) ([]Notice, error) {
	var out []Notice
	items := make(map[string]*Item)
	policies := make(map[string]*Policy)
	lead := Lead(&DefaultPolicy)
	if err := tx.Policies(func(p *Policy) error {
		lead = max(lead, Lead(p))
		return nil
	}); err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	visit := func(in *Instance) error {
		if seen[in.ID] {
			return nil
		}
		seen[in.ID] = true
		it, ok := items[in.Item]
		if !ok {
			var err error
			if it, err = tx.Item(in.Item); err != nil {
				return fmt.Errorf("instance %s: %w", in.ID, err)
			}
			items[in.Item] = it
		}
		pol, ok := policies[it.Policy]
		if !ok {
			var err error
			if pol, err = PolicyFor(tx, it); err != nil {
				return err
			}
			policies[it.Policy] = pol
		}
		for _, n := range x.Notices(in, pol, from, to) {
			if skip != nil && skip(n.Key()) {
				continue
			}
			addrs, err := Recipients(tx, in, it, n.To, officeFallback)
			if err != nil {
				return err
			}
			n.To = addrs
			out = append(out, n)
		}
		return nil
	}
	// Step notices fire at most `lead` before the deadline; assigned
	// notices fire when the unit is assigned, whatever the deadline.
	if err := tx.DueBefore(to.Add(lead), visit); err != nil {
		return nil, err
	}
	if err := tx.AssignedBetween(from, to, visit); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].Key() < out[j].Key()
	})
	return out, nil
}

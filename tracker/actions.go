package tracker

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalid is wrapped by errors caused by a request that cannot apply
// (wrong status, missing reason, unknown unit): bad input, exit status 2.
var ErrInvalid = errors.New("invalid request")

// invalidError is a refused action: a message for the office that
// matches ErrInvalid with errors.Is.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// Action is one state change an administrator records (SPEC §8).
type Action struct {
	Kind  string // done, progress, extend, assign, return, withdraw
	ID    string // instance id
	Note  string // note or reason
	To    string // extend: new deadline; assign: unit id
	Limit string // extend: new hard limit (--limit DATE|+Nwd), required when the new deadline passes the current one
	Actor string
	// At is when the action took effect (`--at`, default now); RecordedAt
	// is the wall clock when it is recorded (zero: the same as At). At
	// may lie neither before the instance's start day (for assign, extend
	// and withdraw: nor before the day the item was tracked, if earlier)
	// nor after RecordedAt (SPEC §4).
	At         time.Time
	RecordedAt time.Time
	Policy     *Policy // extend: the item's policy, for max_extension (may be nil)
}

// actionKindNames are the Chinese names of the actions, for messages.
var actionKindNames = map[string]string{
	"done": "办结", "progress": "进展", "extend": "延期", "assign": "分办",
	"return": "退回", "withdraw": "撤销",
}

// actionStatusText says in Chinese what state an instance in s is in.
func actionStatusText(s Status) string {
	switch s {
	case StatusPending:
		return "待分办"
	case StatusOpen:
		return "办理中"
	case StatusDone:
		return "已办结"
	case StatusReturned:
		return "已退回"
	case StatusWithdrawn:
		return "已撤销"
	}
	return string(s)
}

// earliestAction returns the first day an action of kind on in may take
// effect: the start day for what the unit does (done, progress, return);
// for the office's decisions (assign, extend, withdraw), which may concern
// an instance that has not started yet (a future period withdrawn, an
// extension agreed in advance), the earlier of the start day and the day
// the item was first tracked.
func (x *Expander) earliestAction(tx Tx, in *Instance, kind string) (Date, error) {
	day := DateOf(in.Start.In(x.Env.Loc))
	switch kind {
	case "assign", "extend", "withdraw":
	default:
		return day, nil
	}
	it, err := tx.Item(in.Item)
	if errors.Is(err, ErrNotFound) {
		return day, nil
	}
	if err != nil {
		return Date{}, err
	}
	if tracked := DateOf(it.TrackedAt.In(x.Env.Loc)); !it.TrackedAt.IsZero() && tracked.Before(day) {
		return tracked, nil
	}
	return day, nil
}

// actionStamps returns when an action of kind on in took effect (at) and
// when it was recorded (recorded; zero: at), both to the second, and,
// when at is not allowed, why in Chinese: later than its recording, or
// before the earliest day of the action (SPEC §4).
func (x *Expander) actionStamps(tx Tx, in *Instance, kind string, at, recorded time.Time) (stamp, rstamp time.Time, why string, err error) {
	if recorded.IsZero() {
		recorded = at
	}
	stamp, rstamp = at.UTC().Truncate(time.Second), recorded.UTC().Truncate(time.Second)
	loc := x.Env.Loc
	const human = "2006-01-02 15:04"
	if stamp.After(rstamp) {
		return stamp, rstamp, fmt.Sprintf("生效时间（--at）%s 晚于登记时间 %s：不能登记尚未发生的事；请去掉 --at 或改为已经过去的时间",
			at.In(loc).Format(human), recorded.In(loc).Format(human)), nil
	}
	earliest, err := x.earliestAction(tx, in, kind)
	if err != nil {
		return stamp, rstamp, "", err
	}
	if x.Env.Today(at).Before(earliest) {
		if kind == "done" || kind == "progress" || kind == "return" {
			return stamp, rstamp, fmt.Sprintf("生效时间（--at）%s 早于本事项的起始日 %s：事项开始之前不能登记办理情况",
				at.In(loc).Format(human), earliest), nil
		}
		return stamp, rstamp, fmt.Sprintf("生效时间（--at）%s 早于 %s（本事项开始或登记之日，取其早者）", at.In(loc).Format(human), earliest), nil
	}
	return stamp, rstamp, "", nil
}

// Apply performs a in tx: it updates the instance and appends the audit
// event in the same transaction. It returns the updated instance. A
// refused action returns an error wrapping ErrInvalid and changes nothing.
//
// assign on an instance that an open unit holds is a reassignment (改派):
// it needs a reason (Note), is recorded as "reassign" from the old unit to
// the new, and sets PrevUnit and ReassignedAt so the old unit is told.
// extend past the hard limit needs Limit, which moves the limit too.
func (x *Expander) Apply(tx Tx, a Action) (*Instance, error) {
	in, err := tx.Instance(a.ID)
	if err != nil {
		return nil, err
	}
	name := actionKindNames[a.Kind]
	if name == "" {
		name = a.Kind
	}
	invalid := func(format string, args ...any) (*Instance, error) {
		return nil, &invalidError{msg: fmt.Sprintf("%s %s：", name, a.ID) + fmt.Sprintf(format, args...)}
	}
	stamp, rstamp, why, err := x.actionStamps(tx, in, a.Kind, a.At, a.RecordedAt)
	if err != nil {
		return nil, err
	}
	if why != "" {
		return invalid("%s", why)
	}
	ev := Event{At: stamp, RecordedAt: rstamp, Actor: a.Actor, Action: a.Kind, Note: strings.TrimSpace(a.Note)}
	var extra []Event
	needReason := func() bool { return ev.Note == "" }
	if err := CheckNote(ev.Note); err != nil {
		return nil, fmt.Errorf("%s %s: %w", a.Kind, a.ID, err)
	}
	switch a.Kind {
	case "done":
		if !in.Status.Active() {
			return invalid("本事项%s，不能%s", actionStatusText(in.Status), name)
		}
		if in.Status == StatusPending {
			return invalid("本事项尚未分办，请先分办（assign --unit）")
		}
		ev.From = string(in.Status)
		in.Status, in.DoneAt = StatusDone, stamp
		if ev.Note != "" {
			in.Note = ev.Note
		}
	case "progress":
		if ev.Note == "" {
			return invalid("须填写进展情况（--note）")
		}
		if !in.Status.Active() {
			return invalid("本事项%s，不能%s", actionStatusText(in.Status), name)
		}
		in.Note = ev.Note
	case "extend":
		if needReason() {
			return invalid("须说明理由（--reason）")
		}
		if !in.Status.Active() {
			return invalid("本事项%s，不能%s", actionStatusText(in.Status), name)
		}
		nd, err := Extend(in.Deadline, a.To, x.Env)
		if err != nil {
			return nil, fmt.Errorf("延期 %s：%w: %w", a.ID, ErrInvalid, err)
		}
		if !nd.Due.After(in.Deadline.Due) {
			return invalid("新的时限 %s 不晚于现在的时限 %s", nd.Human(x.Env), in.Deadline.Human(x.Env))
		}
		orig := in.Deadline
		if in.Original != nil {
			orig = *in.Original
		}
		if a.Policy != nil && a.Policy.MaxExtension != "" {
			ceiling, err := ExtensionCeiling(orig, a.Policy.MaxExtension, x.Env)
			if err == nil && nd.LastDay.After(ceiling.LastDay) {
				return invalid("督办规则 %s 规定延期最多 %s（自原定最后一天 %s 起算），新的最后一天不得晚于 %s；申请的是 %s",
					a.Policy.ID, a.Policy.MaxExtension, orig.LastDay, ceiling.LastDay, nd.LastDay)
			}
		}
		limit := in.Limit
		switch {
		case a.Limit != "" && in.Limit == nil:
			return invalid("本事项没有最迟时限，--limit 无从调整；去掉 --limit 即可延期")
		case a.Limit != "":
			nl, err := ExtendLimit(*in.Limit, a.Limit, x.Env)
			if err != nil {
				return nil, fmt.Errorf("延期 %s：%w: %w", a.ID, ErrInvalid, err)
			}
			if !nl.Due.After(in.Limit.Due) {
				return invalid("新的最迟时限 %s 不晚于现在的最迟时限 %s", nl.Human(x.Env), in.Limit.Human(x.Env))
			}
			if nl.Due.Before(nd.Due) {
				return invalid("新的最迟时限 %s 早于延期后的时限 %s", nl.Human(x.Env), nd.Human(x.Env))
			}
			limit = &nl
		case in.Limit != nil && nd.Due.After(in.Limit.Due):
			return invalid("延期后的时限 %s 超过最迟时限 %s：须同时调整最迟时限（--limit 日期 或 --limit +N个工作日），否则不能延期",
				nd.Human(x.Env), in.Limit.Human(x.Env))
		}
		if in.Original == nil {
			o := in.Deadline
			in.Original = &o
		}
		ev.From, ev.To = in.Deadline.Due.Format(time.RFC3339), nd.Due.Format(time.RFC3339)
		in.Deadline = nd
		in.Extensions++
		if limit != in.Limit {
			if in.OriginalLimit == nil {
				o := *in.Limit
				in.OriginalLimit = &o
			}
			extra = append(extra, Event{At: stamp, RecordedAt: rstamp, Actor: a.Actor, Action: "limit", Note: ev.Note,
				From: in.Limit.Due.Format(time.RFC3339), To: limit.Due.Format(time.RFC3339)})
			in.Limit = limit
		}
	case "assign":
		if in.Status != StatusPending && in.Status != StatusReturned && in.Status != StatusOpen {
			return invalid("本事项%s，不能%s", actionStatusText(in.Status), name)
		}
		if in.Co {
			return invalid("协办单位的事项不能改派")
		}
		if _, err := tx.Unit(a.To); err != nil {
			return nil, &invalidError{msg: fmt.Sprintf("分办 %s：没有单位 %q", a.ID, a.To)}
		}
		if in.Status == StatusOpen && in.Unit == a.To {
			return invalid("本事项已由 %s 办理", a.To)
		}
		ev.From, ev.To = in.Unit, a.To
		if in.Status == StatusOpen && in.Unit != "" {
			// 改派: the open instance moves from one unit to another.
			if needReason() {
				return invalid("本事项正由 %s 办理；改派给 %s 须说明理由（--reason），原承办单位将收到改派通知", in.Unit, a.To)
			}
			ev.Action = "reassign"
			in.PrevUnit, in.ReassignedAt = in.Unit, stamp
			in.Reassignments++
		}
		in.Unit, in.Status, in.AssignedAt = a.To, StatusOpen, stamp
	case "return":
		if needReason() {
			return invalid("须说明理由（--reason）")
		}
		if in.Status != StatusOpen {
			return invalid("只有办理中的事项可以退回（本事项%s）", actionStatusText(in.Status))
		}
		ev.From = in.Unit
		in.Status = StatusReturned
	case "withdraw":
		if needReason() {
			return invalid("须说明理由（--reason）")
		}
		if !in.Status.Active() {
			return invalid("本事项%s，不能%s", actionStatusText(in.Status), name)
		}
		ev.From = string(in.Status)
		in.Status = StatusWithdrawn
	default:
		return invalid("未知的操作")
	}
	in.UpdatedAt = stamp
	in.NextNotice = time.Time{} // the scheduler re-plans it at its next pass
	if err := tx.PutInstance(in); err != nil {
		return nil, err
	}
	for _, e := range append([]Event{ev}, extra...) {
		if err := tx.AppendEvent(in.ID, e); err != nil {
			return nil, err
		}
	}
	return in, nil
}

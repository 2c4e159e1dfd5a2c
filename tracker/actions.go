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

// Action is one state change an administrator records (SPEC §8).
type Action struct {
	Kind   string // done, progress, extend, assign, return, withdraw
	ID     string // instance id
	Note   string // note or reason
	To     string // extend: new deadline; assign: unit id
	Actor  string
	At     time.Time
	Policy *Policy // extend: the item's policy, for max_extension (may be nil)
}

// Apply performs a in tx: it updates the instance and appends the audit
// event in the same transaction. It returns the updated instance.
func (x *Expander) Apply(tx Tx, a Action) (*Instance, error) {
	in, err := tx.Instance(a.ID)
	if err != nil {
		return nil, err
	}
	stamp := a.At.UTC().Truncate(time.Second)
	ev := Event{At: stamp, Actor: a.Actor, Action: a.Kind, Note: strings.TrimSpace(a.Note)}
	invalid := func(format string, args ...any) (*Instance, error) {
		return nil, fmt.Errorf("%s %s: %w: %s", a.Kind, a.ID, ErrInvalid, fmt.Sprintf(format, args...))
	}
	needReason := func() bool { return ev.Note == "" }
	if err := CheckNote(ev.Note); err != nil {
		return nil, fmt.Errorf("%s %s: %w", a.Kind, a.ID, err)
	}
	switch a.Kind {
	case "done":
		if !in.Status.Active() {
			return invalid("instance is %s", in.Status)
		}
		if in.Status == StatusPending {
			return invalid("instance has no unit yet; assign it first")
		}
		ev.From = string(in.Status)
		in.Status, in.DoneAt = StatusDone, stamp
		if ev.Note != "" {
			in.Note = ev.Note
		}
	case "progress":
		if ev.Note == "" {
			return invalid("--note is required")
		}
		if !in.Status.Active() {
			return invalid("instance is %s", in.Status)
		}
		in.Note = ev.Note
	case "extend":
		if needReason() {
			return invalid("--reason is required")
		}
		if !in.Status.Active() {
			return invalid("instance is %s", in.Status)
		}
		nd, err := Extend(in.Deadline, a.To, x.Env)
		if err != nil {
			return nil, fmt.Errorf("extend %s: %w: %w", a.ID, ErrInvalid, err)
		}
		if !nd.Due.After(in.Deadline.Due) {
			return invalid("new deadline %s is not later than the current one %s", nd.Human(x.Env), in.Deadline.Human(x.Env))
		}
		if in.Original == nil {
			orig := in.Deadline
			in.Original = &orig
		}
		if a.Policy != nil && a.Policy.MaxExtension != "" {
			r, err := ParseRule(a.Policy.MaxExtension)
			if err == nil {
				ceiling := r.Deadline(in.Start, x.Env, "")
				if nd.Due.After(ceiling.Due) {
					return invalid("policy %s allows extensions up to %s (max_extension %s from the start)", a.Policy.ID, ceiling.Human(x.Env), a.Policy.MaxExtension)
				}
			}
		}
		ev.From, ev.To = in.Deadline.Due.Format(time.RFC3339), nd.Due.Format(time.RFC3339)
		in.Deadline = nd
		in.Extensions++
	case "assign":
		if in.Status != StatusPending && in.Status != StatusReturned && in.Status != StatusOpen {
			return invalid("instance is %s", in.Status)
		}
		if in.Co {
			return invalid("co-unit instances cannot be reassigned")
		}
		if _, err := tx.Unit(a.To); err != nil {
			return nil, fmt.Errorf("assign %s: %w: unknown unit %q", a.ID, ErrInvalid, a.To)
		}
		if in.Status == StatusOpen && in.Unit == a.To {
			return invalid("already assigned to %s", a.To)
		}
		ev.From, ev.To = in.Unit, a.To
		in.Unit, in.Status, in.AssignedAt = a.To, StatusOpen, stamp
	case "return":
		if needReason() {
			return invalid("--reason is required")
		}
		if in.Status != StatusOpen {
			return invalid("only open instances can be returned (instance is %s)", in.Status)
		}
		ev.From = in.Unit
		in.Status = StatusReturned
	case "withdraw":
		if needReason() {
			return invalid("--reason is required")
		}
		if !in.Status.Active() {
			return invalid("instance is %s", in.Status)
		}
		ev.From = string(in.Status)
		in.Status = StatusWithdrawn
	default:
		return invalid("unknown action")
	}
	in.UpdatedAt = stamp
	in.NextNotice = time.Time{} // the scheduler re-plans it at its next pass
	if err := tx.PutInstance(in); err != nil {
		return nil, err
	}
	if err := tx.AppendEvent(in.ID, ev); err != nil {
		return nil, err
	}
	return in, nil
}

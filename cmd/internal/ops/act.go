package ops

import (
	"errors"
	"fmt"
	"time"

	"duban/tracker"
)

// ActionKinds are the actions of the CLI that Act records, in the order
// the CLI lists them.
var ActionKinds = []string{"done", "progress", "extend", "assign", "return", "withdraw"}

// Request is one action as the CLI's flags give it (the API's JSON body
// uses the same names).
type Request struct {
	Kind   string `json:"-"`
	ID     string `json:"-"`
	Note   string `json:"note,omitempty"`   // done, progress, assign
	Reason string `json:"reason,omitempty"` // extend, return, withdraw; assign: 改派
	To     string `json:"to,omitempty"`     // extend: new deadline
	Limit  string `json:"limit,omitempty"`  // extend: new hard limit
	Unit   string `json:"unit,omitempty"`   // assign
	Actor  string `json:"-"`
	// At is when the action took effect (zero: Recorded); Recorded is the
	// wall clock when it is recorded.
	At       time.Time `json:"-"`
	Recorded time.Time `json:"-"`
}

// TextFlag is the flag that carries the text of kind (note or reason),
// and whether it is required.
func TextFlag(kind string) (flag string, required bool) {
	switch kind {
	case "progress":
		return "note", true
	case "extend", "return", "withdraw":
		return "reason", true
	}
	return "note", false
}

// Result is what Act did: the instance before and after.
type Result struct {
	Before, After *tracker.Instance
	// Late is set for an extension recorded after the deadline it moves
	// (事后延期): accepted, but the bulletin counts it late (SPEC §4).
	Late bool
}

// Act checks r like the CLI checks its flags and records it through
// tracker.Expander.Apply in one update of st. A missing flag is an
// ErrBadUsage; a refused action a tracker.ErrInvalid; an unknown
// instance a tracker.ErrNotFound.
func Act(st tracker.Store, x *tracker.Expander, r Request) (*Result, error) {
	text, to, err := r.Check()
	if err != nil {
		return nil, err
	}
	at := r.At
	if at.IsZero() {
		at = r.Recorded
	}
	res := &Result{}
	err = st.Update(func(tx tracker.Tx) error {
		var err error
		if res.Before, err = tx.Instance(r.ID); err != nil {
			return err
		}
		act := tracker.Action{Kind: r.Kind, ID: r.ID, Note: text, To: to, Limit: r.Limit, Actor: r.Actor,
			At: at, RecordedAt: r.Recorded}
		if r.Kind == "extend" {
			if act.Policy, err = policyOf(tx, res.Before); err != nil {
				return err
			}
		}
		res.After, err = x.Apply(tx, act)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.Late = r.Kind == "extend" && !r.Recorded.Before(res.Before.Deadline.Due)
	return res, nil
}

// Check reports a missing or unknown flag as ErrBadUsage, as the CLI
// does before it opens the database, and returns the action's text and
// target (extend: the new deadline; assign: the unit).
func (r *Request) Check() (text, to string, err error) {
	if !validKind(r.Kind) {
		return "", "", fmt.Errorf("%w: 未知操作 %q", ErrBadUsage, r.Kind)
	}
	flag, required := TextFlag(r.Kind)
	text = r.Note
	if flag == "reason" {
		text = r.Reason
	}
	to = r.To
	if r.Kind == "assign" && r.Reason != "" {
		text = r.Reason // 改派 takes a reason; a plain assignment a note
	}
	if required && text == "" {
		return "", "", fmt.Errorf("%w: %s needs --%s", ErrBadUsage, r.Kind, flag)
	}
	if r.Kind == "extend" && to == "" {
		return "", "", fmt.Errorf("%w: extend needs --to DATE or --to +Nwd", ErrBadUsage)
	}
	if r.Kind == "assign" {
		if r.Unit == "" {
			return "", "", fmt.Errorf("%w: assign needs --unit", ErrBadUsage)
		}
		to = r.Unit
	}
	return text, to, nil
}

func validKind(k string) bool {
	for _, v := range ActionKinds {
		if v == k {
			return true
		}
	}
	return false
}

// policyOf returns the policy of the instance's item (nil if none).
func policyOf(tx tracker.Tx, in *tracker.Instance) (*tracker.Policy, error) {
	it, err := tx.Item(in.Item)
	if err != nil {
		return nil, err
	}
	if it.Policy == "" {
		return nil, nil
	}
	pol, err := tx.Policy(it.Policy)
	if errors.Is(err, tracker.ErrNotFound) {
		return nil, nil
	}
	return pol, err
}

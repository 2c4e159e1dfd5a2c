package ops

import (
	"fmt"
	"time"

	"duban/tracker"
)

// PlanRow is one notice of the plan (`plan`, and `show`'s plan).
type PlanRow struct {
	At    time.Time     `json:"at"`
	ID    string        `json:"id"`
	Step  int           `json:"step"`
	Rep   int           `json:"rep"`
	Level tracker.Level `json:"level"`
	To    []string      `json:"to"`
}

// ShowView is what `show` prints and `GET /api/v1/instances/{id}` answers.
type ShowView struct {
	tracker.Row
	Start        time.Time         `json:"start"`
	Requirements string            `json:"requirements,omitempty"`
	Deadline     tracker.Deadline  `json:"deadline"`
	LimitRule    *tracker.Deadline `json:"limit_rule,omitempty"`
	Original     *tracker.Deadline `json:"original,omitempty"`
	// OriginalLimit is the hard limit before an extension moved it.
	OriginalLimit *tracker.Deadline `json:"original_limit,omitempty"`
	Policy        string            `json:"policy"`
	Plan          []PlanRow         `json:"plan"`
	History       []tracker.Event   `json:"history"`
}

// ShowPlanDays is how far ahead `show` lists the reminder plan.
const ShowPlanDays = 120

// Show builds the view of instance id as of now; office is the
// configured office address (mail.office) that the plan falls back on.
func Show(tx tracker.Tx, x *tracker.Expander, id string, now time.Time, office string) (*ShowView, error) {
	in, err := tx.Instance(id)
	if err != nil {
		return nil, err
	}
	var row *tracker.Row
	if err := x.List(tx, tracker.Filter{Item: in.Item, Statuses: tracker.Statuses}, now, func(r tracker.Row) error {
		if r.ID == in.ID {
			row = &r
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("instance %q: %w", in.ID, tracker.ErrNotFound)
	}
	it, err := tx.Item(in.Item)
	if err != nil {
		return nil, err
	}
	pol, err := tracker.PolicyFor(tx, it)
	if err != nil {
		return nil, err
	}
	loc := x.Env.Loc
	v := &ShowView{Row: *row, Start: in.Start.In(loc), Requirements: it.Requirements,
		Deadline: in.Deadline, LimitRule: in.Limit, Original: in.Original, Policy: pol.ID, Plan: []PlanRow{}}
	v.OriginalLimit = in.OriginalLimit
	for _, n := range x.Notices(in, pol, now, now.AddDate(0, 0, ShowPlanDays)) {
		to, err := tracker.Recipients(tx, in, it, n.To, office)
		if err != nil {
			return nil, err
		}
		v.Plan = append(v.Plan, PlanRow{At: n.At.In(loc), ID: n.Instance, Step: n.Step, Rep: n.Rep, Level: n.Level, To: to})
	}
	if v.History, err = tx.Events(in.ID); err != nil {
		return nil, err
	}
	return v, nil
}

package tracker

import (
	"fmt"
	"strings"
	"time"
)

// The loop with the units (SPEC §11): 签收 (ack), 报结 (report → review),
// 申请延期 (extend_request) and the office's 审核 (review).

// LevelReview is the notice that tells the office an instance waits for
// its review (待审核): a completion report or an extension request. It
// ranks with assigned.
const LevelReview Level = "review"

// LevelRework is the notice that mails the unit the reason the office
// rejected its completion report (退回重办); it ranks with assigned.
const LevelRework Level = "rework"

// ReviewStep is the step number of the 待审核 notice to the office; its
// send time is the report's (or the request's), so each report is told once.
const ReviewStep = -3

// ReworkStep is the step number of the 退回重办 notice to the unit; its
// repetition number is Instance.Reworks.
const ReworkStep = -4

// ExtendRequest is a unit's request for a new deadline (申请延期), waiting
// for the office: approving it is extend.
type ExtendRequest struct {
	To     string    `json:"to"` // YYYY-MM-DD
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor,omitempty"`
}

// Review decisions, the To of Action{Kind: "review"}.
const (
	ReviewApprove = "approve"
	ReviewReject  = "reject"
)

// loopKinds are the actions of the loop, applied by applyLoop.
var loopKinds = map[string]string{"ack": "签收", "report": "报结", "extend_request": "申请延期", "review": "审核"}

// Waiting reports whether in waits for the office's review: a completion
// report or an extension request.
func (in *Instance) Waiting() bool {
	return in.Status == StatusReview || (in.ExtendRequest != nil && in.Status.Active())
}

// reviewNotices are the notices of the loop in [from, to): the 待审核
// notice to the office and the 退回重办 notice to the unit.
func reviewNotices(in *Instance, inWindow func(time.Time) bool) []Notice {
	var out []Notice
	if in.Status == StatusReview && !in.ReportedAt.IsZero() && inWindow(in.ReportedAt) {
		out = append(out, Notice{At: in.ReportedAt, Instance: in.ID, Step: ReviewStep, Level: LevelReview, To: []string{"office"}})
	}
	if r := in.ExtendRequest; r != nil && in.Status.Active() && inWindow(r.At) {
		out = append(out, Notice{At: r.At, Instance: in.ID, Step: ReviewStep, Level: LevelReview, To: []string{"office"}})
	}
	if in.Status.Active() && in.Reworks > 0 && !in.ReworkAt.IsZero() && inWindow(in.ReworkAt) {
		out = append(out, Notice{At: in.ReworkAt, Instance: in.ID, Step: ReworkStep, Rep: in.Reworks, Level: LevelRework, To: []string{"unit"}})
	}
	return out
}

// applyLoop applies an action of the loop (ack, report, extend_request,
// review) to in, which tx holds, and stores it with its event.
//
// review decides what waits: for an instance in review, approve makes it
// done as of ReportedAt and reject (a reason is required) reopens it,
// counting a 退回重办 whose reason the unit is mailed at the next pass; for
// an extension request, approve is extend to the requested date and
// reject drops the request.
func (x *Expander) applyLoop(tx Tx, in *Instance, a Action, ev Event) (*Instance, error) {
	name := loopKinds[a.Kind]
	invalid := func(format string, args ...any) (*Instance, error) {
		return nil, &invalidError{msg: fmt.Sprintf("%s %s：", name, a.ID) + fmt.Sprintf(format, args...)}
	}
	stamp := ev.At
	switch a.Kind {
	case "ack":
		if in.Status != StatusOpen {
			return invalid("本事项%s，不能签收", in.Status.Label())
		}
		in.AckedAt = stamp
	case "report":
		if in.Status != StatusOpen {
			return invalid("本事项%s，不能报结", in.Status.Label())
		}
		ev.From, ev.To = string(in.Status), string(StatusReview)
		in.Status, in.ReportedAt = StatusReview, stamp
		in.ExtendRequest = nil
		if ev.Note != "" {
			in.Note = ev.Note
		}
	case "extend_request":
		if in.Status != StatusOpen {
			return invalid("本事项%s，不能申请延期", in.Status.Label())
		}
		if ev.Note == "" {
			return invalid("须说明延期理由")
		}
		to := strings.TrimSpace(a.To)
		d, err := ParseDate(to)
		if err != nil {
			return invalid("申请的日期 %q 应为 YYYY-MM-DD", to)
		}
		if !x.Env.EndOf(d).After(in.Deadline.Due) {
			return invalid("申请的日期 %s 不晚于现在的时限 %s", d, in.Deadline.Human(x.Env))
		}
		ev.To = d.String()
		in.ExtendRequest = &ExtendRequest{To: d.String(), Reason: ev.Note, At: stamp, Actor: a.Actor}
	case "review":
		if a.To != ReviewApprove && a.To != ReviewReject {
			return invalid("须选择通过（--approve）或退回（--reject）")
		}
		if a.To == ReviewReject && ev.Note == "" {
			return invalid("退回须说明理由（--reason）")
		}
		switch {
		case in.Status == StatusReview:
			ev.From = string(StatusReview)
			if a.To == ReviewApprove {
				ev.To = string(StatusDone)
				in.Status, in.DoneAt = StatusDone, in.ReportedAt
			} else {
				ev.To = string(StatusOpen) // 退回重办
				in.Status, in.ReworkAt = StatusOpen, stamp
				in.Reworks++
			}
		case in.ExtendRequest != nil && in.Status.Active():
			req := *in.ExtendRequest
			ev.From = "extend_request"
			if a.To == ReviewApprove {
				reason := "同意延期申请：" + req.Reason
				out, err := x.Apply(tx, Action{Kind: "extend", ID: a.ID, Note: reason, To: req.To, Actor: a.Actor,
					At: a.At, RecordedAt: a.RecordedAt, Policy: a.Policy})
				if err != nil {
					return nil, err
				}
				in = out
				ev.To = "extend"
			} else {
				ev.To = "extend_rejected"
			}
			in.ExtendRequest = nil
		default:
			return invalid("本事项%s，没有待审核的报结或延期申请", in.Status.Label())
		}
	}
	in.UpdatedAt = stamp
	in.NextNotice = time.Time{}
	if err := tx.PutInstance(in); err != nil {
		return nil, err
	}
	if err := tx.AppendEvent(in.ID, ev); err != nil {
		return nil, err
	}
	return in, nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"duban/cmd/internal/ops"
	"duban/tracker"
)

// actionCommand builds done, progress, extend, assign, return and
// withdraw: each records one audit event with two times, when it took
// effect (--at, default now) and when it was recorded (the wall clock).
func (a *app) actionCommand(kind, use, short, textFlag string, required bool) *cobra.Command {
	var text, reason, to, limit, unit, format string
	cmd := &cobra.Command{
		Use:   kind + " " + use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			req := ops.Request{Kind: kind, ID: args[0], To: to, Limit: limit, Unit: unit, Reason: reason, Actor: a.actor}
			if textFlag == "reason" {
				req.Reason = text
			} else {
				req.Note = text
			}
			res, err := a.record(cmd.Context(), req)
			if err != nil {
				return err
			}
			before, in := res.Before, res.After
			env := a.x.Env
			if res.Late {
				// 事后延期: accepted, but the bulletin counts it late (SPEC §4).
				fmt.Fprintf(a.stderr, "duban: 警告：%s 的原时限 %s 已过，本次延期属事后延期，月度通报仍按原时限计为逾期\n",
					in.ID, before.Deadline.Human(env))
			}
			if format == "json" {
				return json.NewEncoder(a.stdout).Encode(in)
			}
			what := tracker.ActionLabel(kind)
			if before.Status == tracker.StatusOpen && before.Unit != "" && kind == "assign" {
				what = "改派"
			}
			fmt.Fprintf(a.stdout, "%s：已登记%s（%s），办理时限 %s", in.ID, what, in.Status.Label(),
				deadlineCell(in.Deadline.Human(env), in.Deadline.Provisional))
			if in.Limit != nil && (before.Limit == nil || !in.Limit.Due.Equal(before.Limit.Due)) {
				fmt.Fprintf(a.stdout, "，最迟时限 %s", deadlineCell(in.Limit.Human(env), in.Limit.Provisional))
			}
			fmt.Fprintln(a.stdout)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&text, textFlag, "", textFlag)
	switch kind {
	case "extend":
		fl.StringVar(&to, "to", "", "new deadline: YYYY-MM-DD, \"YYYY-MM-DD HH:MM\" or +Nwd/+Nd from the current last day")
		fl.StringVar(&limit, "limit", "", "new hard limit, required when the new deadline passes it: YYYY-MM-DD or +Nwd/+Nd from the current limit")
	case "assign":
		fl.StringVar(&unit, "unit", "", "unit id")
		fl.StringVar(&reason, "reason", "", "why an open instance moves to another unit (改派; required then)")
	}
	fl.StringVar(&format, "format", "table", "table|json")
	a.addAt(cmd)
	fl.Lookup("at").Usage = `when the action took effect (YYYY-MM-DD, "YYYY-MM-DD HH:MM" or RFC 3339; default now): ` +
		"not later than now, not before the instance's start; the history also keeps when it was recorded"
	return cmd
}

// record checks req's flags (before the database is opened), stamps it
// with --at and the wall clock and records it through ops.Act.
func (a *app) record(ctx context.Context, req ops.Request) (*ops.Result, error) {
	if _, _, err := req.Check(); err != nil {
		return nil, err
	}
	st, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	if req.At, req.Recorded, err = a.actionTimes(); err != nil {
		return nil, err
	}
	return ops.Act(st, a.x, req)
}

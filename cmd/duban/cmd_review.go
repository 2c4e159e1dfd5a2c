package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"duban/cmd/internal/ops"
	"duban/tracker"
)

// reviewCommand builds `review ID --approve [--note T] | --reject --reason
// T`: the office's decision on a completion report (审核通过 / 退回重办)
// or on an extension request (approving it is extend), SPEC §8 and §11.
func (a *app) reviewCommand() *cobra.Command {
	var note, reason, format string
	var approve, reject bool
	cmd := &cobra.Command{
		Use:   "review ID --approve [--note T] | --reject --reason T",
		Short: "decide on a reported completion or an extension request (审核通过 / 退回重办)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			req := ops.Request{Kind: "review", ID: args[0], Note: note, Reason: reason, Approve: approve, Reject: reject, Actor: a.actor}
			res, err := a.record(cmd.Context(), req)
			if err != nil {
				return err
			}
			in := res.After
			if format == "json" {
				return json.NewEncoder(a.stdout).Encode(in)
			}
			env := a.x.Env
			switch {
			case res.Before.Status == tracker.StatusReview && in.Status == tracker.StatusDone:
				fmt.Fprintf(a.stdout, "%s：审核通过，已办结（办结时间按报结时间 %s）\n", in.ID,
					in.DoneAt.In(env.Loc).Format("2006-01-02 15:04"))
			case res.Before.Status == tracker.StatusReview:
				fmt.Fprintf(a.stdout, "%s：已退回重办（第%d次），下一轮将把退回理由发给承办单位\n", in.ID, in.Reworks)
			case approve:
				fmt.Fprintf(a.stdout, "%s：同意延期，办理时限 %s\n", in.ID, deadlineCell(in.Deadline.Human(env), in.Deadline.Provisional))
			default:
				fmt.Fprintf(a.stdout, "%s：不同意延期，办理时限仍为 %s\n", in.ID, deadlineCell(in.Deadline.Human(env), in.Deadline.Provisional))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&approve, "approve", false, "approve (审核通过: done as of the report time; or extend as requested)")
	fl.BoolVar(&reject, "reject", false, "reject (退回重办; or refuse the extension); needs --reason")
	fl.StringVar(&note, "note", "", "note with an approval")
	fl.StringVar(&reason, "reason", "", "why it is rejected (mailed to the unit)")
	fl.StringVar(&format, "format", "table", "table|json")
	a.addAt(cmd)
	return cmd
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"duban/cmd/internal/ops"
	"duban/tracker"
)

// showView is what `show` prints.
type showView = ops.ShowView

// showPlanDays is how far ahead `show` lists the reminder plan.
const showPlanDays = ops.ShowPlanDays

func (a *app) showCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "one instance: deadlines with the rule that made them, the reminder plan, the history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			now, err := a.now()
			if err != nil {
				return err
			}
			var v *showView
			err = st.View(func(tx tracker.Tx) error {
				v, err = ops.Show(tx, a.x, args[0], now, a.cfg.Mail.Office)
				return err
			})
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			a.printShow(a.stdout, v)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table|json")
	a.addAt(cmd)
	return cmd
}

var allStatuses = tracker.Statuses

func (a *app) printShow(w io.Writer, v *showView) {
	env := a.x.Env
	line := func(k, val string) {
		if val != "" {
			fmt.Fprintf(w, "%s%s：%s\n", k, strings.Repeat("　", max(0, 4-utf8.RuneCountInString(k))), val)
		}
	}
	line("编号", v.ID)
	line("事项", v.Title)
	line("文号", v.Doc)
	line("办理要求", v.Requirements)
	unit := v.Unit
	if v.UnitName != "" {
		unit = v.UnitName + "（" + v.Unit + "）"
	}
	if v.Co {
		unit += tracker.CoMark
	}
	line("承办单位", unit)
	status := v.Status.Label()
	if v.Overdue {
		status += fmt.Sprintf("，已逾期%d个工作日", v.OverdueWorkdays)
	}
	line("状态", status)
	line("开始时间", v.Start.Format("2006-01-02 15:04"))
	dl := func(d tracker.Deadline) string {
		s := fmt.Sprintf("%s  [%s: %s]", deadlineCell(d.Human(env), d.Provisional), d.Rule, d.Why)
		if d.Provisional {
			s += "  （暂定：所涉年份的节假日安排尚未公布，按法定节假日推算）"
		}
		return s
	}
	line("办理时限", dl(v.Deadline))
	if v.Original != nil {
		line("原期限", dl(*v.Original))
	}
	if v.LimitRule != nil {
		line("最迟时限", dl(*v.LimitRule))
	}
	if v.OriginalLimit != nil {
		line("原最迟时限", dl(*v.OriginalLimit))
	}
	if v.DoneAt != nil {
		line("办结时间", v.DoneAt.Format("2006-01-02 15:04"))
	}
	line("最新进展", v.Note)
	line("催办规则", v.Policy)
	fmt.Fprintln(w, "\n通知计划：")
	if len(v.Plan) == 0 {
		fmt.Fprintln(w, "  （没有待发的通知）")
	}
	for _, p := range v.Plan {
		fmt.Fprintf(w, "  %s  步骤 %-4s %s → %s\n", p.At.Format("2006-01-02 15:04"),
			stepLabel(tracker.Notice{Step: p.Step, Rep: p.Rep}), p.Level.Label(), strings.Join(p.To, ", "))
	}
	fmt.Fprintln(w, "\n办理记录：")
	for _, e := range v.History {
		fmt.Fprintln(w, historyLine(e, env))
	}
}

// historyLine renders one event: when it took effect and, when that
// differs, when it was recorded (SPEC §4), then what, who, from → to and
// the note. Deadline instants are shown in table form.
func historyLine(e tracker.Event, env tracker.Env) string {
	const layout = "2006-01-02 15:04"
	at := e.At.In(env.Loc).Format(layout)
	if rec := e.Recorded().In(env.Loc).Format(layout); rec != at {
		at += "（登记于 " + rec + "）"
	}
	name := tracker.ActionLabel(e.Action)
	s := fmt.Sprintf("  %s  %s  %s", at, name, e.Actor)
	switch {
	case e.From != "" && e.To == "" && tracker.ValidStatus(e.From): // done, withdraw: the status it left
		s += "  原状态 " + historyInstant(e.From, env)
	case e.From != "" && e.To == "": // return: the unit that returned it
		s += "  承办单位 " + e.From
	case e.From != "":
		s += fmt.Sprintf("  %s → %s", historyInstant(e.From, env), historyInstant(e.To, env))
	case e.To != "":
		s += "  → " + historyInstant(e.To, env)
	}
	if e.Note != "" {
		s += "  " + e.Note
	}
	return s
}

// historyInstant shows an RFC 3339 instant (a deadline in an event) as a
// local time and a status by its Chinese name; other values (unit ids)
// are returned as they are.
func historyInstant(v string, env tracker.Env) string {
	if tracker.ValidStatus(v) {
		return tracker.Status(v).Label()
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return v
	}
	local := t.In(env.Loc)
	if env.DayEnd == 24*60 && local.Hour() == 0 && local.Minute() == 0 && local.Second() == 0 {
		return local.AddDate(0, 0, -1).Format("2006-01-02") + " 24:00" // a day deadline's end
	}
	return local.Format("2006-01-02 15:04")
}

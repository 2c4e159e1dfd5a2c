package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"duban/tracker"
)

// showView is what `show` prints.
type showView struct {
	tracker.Row
	Start        time.Time         `json:"start"`
	Requirements string            `json:"requirements,omitempty"`
	Deadline     tracker.Deadline  `json:"deadline"`
	LimitRule    *tracker.Deadline `json:"limit_rule,omitempty"`
	Original     *tracker.Deadline `json:"original,omitempty"`
	// OriginalLimit is the hard limit before an extension moved it.
	OriginalLimit *tracker.Deadline `json:"original_limit,omitempty"`
	Policy        string            `json:"policy"`
	Plan          []planRow         `json:"plan"`
	History       []tracker.Event   `json:"history"`
}

// showPlanDays is how far ahead `show` lists the reminder plan.
const showPlanDays = 120

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
			var v showView
			err = st.View(func(tx tracker.Tx) error {
				in, err := tx.Instance(args[0])
				if err != nil {
					return err
				}
				var row *tracker.Row
				if err := a.x.List(tx, tracker.Filter{Item: in.Item, Statuses: allStatuses}, now, func(r tracker.Row) error {
					if r.ID == in.ID {
						row = &r
					}
					return nil
				}); err != nil {
					return err
				}
				if row == nil {
					return fmt.Errorf("instance %q: %w", in.ID, tracker.ErrNotFound)
				}
				it, err := tx.Item(in.Item)
				if err != nil {
					return err
				}
				pol, err := tracker.PolicyFor(tx, it)
				if err != nil {
					return err
				}
				v = showView{Row: *row, Start: in.Start.In(a.cfg.Location), Requirements: it.Requirements,
					Deadline: in.Deadline, LimitRule: in.Limit, Original: in.Original, Policy: pol.ID, Plan: []planRow{}}
				v.OriginalLimit = in.OriginalLimit
				for _, n := range a.x.Notices(in, pol, now, now.AddDate(0, 0, showPlanDays)) {
					to, err := tracker.Recipients(tx, in, it, n.To, a.cfg.Mail.Office)
					if err != nil {
						return err
					}
					v.Plan = append(v.Plan, planRow{At: n.At.In(a.cfg.Location), ID: n.Instance, Step: n.Step, Rep: n.Rep, Level: n.Level, To: to})
				}
				v.History, err = tx.Events(in.ID)
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
			a.printShow(a.stdout, &v)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "table|json")
	a.addAt(cmd)
	return cmd
}

var allStatuses = []tracker.Status{tracker.StatusPending, tracker.StatusOpen, tracker.StatusDone, tracker.StatusReturned, tracker.StatusWithdrawn}

func (a *app) printShow(w io.Writer, v *showView) {
	env := a.x.Env
	line := func(k, val string) {
		if val != "" {
			fmt.Fprintf(w, "%-12s %s\n", k+":", val)
		}
	}
	line("id", v.ID)
	line("title", v.Title)
	line("doc", v.Doc)
	line("requirements", v.Requirements)
	unit := v.Unit
	if v.UnitName != "" {
		unit = v.UnitName + " (" + v.Unit + ")"
	}
	if v.Co {
		unit += " 协办"
	}
	line("unit", unit)
	status := string(v.Status)
	if v.Overdue {
		status += fmt.Sprintf(", overdue %d working day(s)", v.OverdueWorkdays)
	}
	line("status", status)
	line("start", v.Start.Format("2006-01-02 15:04"))
	dl := func(d tracker.Deadline) string {
		s := fmt.Sprintf("%s  [%s: %s]", d.Human(env), d.Rule, d.Why)
		if d.Provisional {
			s += "  (provisional: holiday data missing for a year involved)"
		}
		return s
	}
	line("deadline", dl(v.Deadline))
	if v.Original != nil {
		line("original", dl(*v.Original))
	}
	if v.LimitRule != nil {
		line("hard limit", dl(*v.LimitRule))
	}
	if v.OriginalLimit != nil {
		line("orig. limit", dl(*v.OriginalLimit))
	}
	if v.DoneAt != nil {
		line("done at", v.DoneAt.Format("2006-01-02 15:04"))
	}
	line("note", v.Note)
	line("policy", v.Policy)
	fmt.Fprintln(w, "\nplan:")
	if len(v.Plan) == 0 {
		fmt.Fprintln(w, "  (no further notices)")
	}
	for _, p := range v.Plan {
		fmt.Fprintf(w, "  %s  step %-4s %-10s → %s\n", p.At.Format("2006-01-02 15:04"),
			stepLabel(tracker.Notice{Step: p.Step, Rep: p.Rep}), p.Level, strings.Join(p.To, ", "))
	}
	fmt.Fprintln(w, "\nhistory:")
	for _, e := range v.History {
		fmt.Fprintln(w, historyLine(e, env))
	}
}

// historyEventNames are the Chinese names of history actions.
var historyEventNames = map[string]string{
	"tracked": "纳入督办", "updated": "事项更新", "assign": "分办", "reassign": "改派", "progress": "进展",
	"done": "办结", "extend": "延期", "limit": "调整最迟时限", "return": "退回", "withdraw": "撤销",
	"recomputed": "期限重算",
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
	name := historyEventNames[e.Action]
	if name == "" {
		name = e.Action
	}
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
	if name, ok := confirmStatusNames[tracker.Status(v)]; ok {
		return name
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

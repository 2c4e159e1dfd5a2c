package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/ops"
	"duban/tracker"
	"duban/tracker/kvstore"
)

func (a *app) planCommand() *cobra.Command {
	var from, to, format string
	cmd := &cobra.Command{
		Use:   "plan [--from D] [--to D]",
		Short: "every notice the schedule would send in a window, without sending",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "table", "json", "csv"); err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			start, end, err := a.planWindow(from, to)
			if err != nil {
				return err
			}
			if !end.After(start) {
				return fmt.Errorf("%w: --to must be after --from", errBadUsage)
			}
			var notices []tracker.Notice
			err = st.View(func(tx tracker.Tx) error {
				var err error
				notices, err = a.x.Plan(tx, start, end, a.cfg.Mail.Office, nil)
				return err
			})
			if err != nil {
				return err
			}
			rw := newRowWriter(a.stdout, format, []string{"发送时间", "编号", "步骤", "级别", "收件人"})
			for _, n := range notices {
				row := planRow{At: n.At.In(a.cfg.Location), ID: n.Instance, Step: n.Step, Rep: n.Rep, Level: n.Level, To: n.To}
				if row.To == nil {
					row.To = []string{}
				}
				cells := []string{row.At.Format("2006-01-02 15:04"), n.Instance, stepLabel(n), levelLabel(n.Level), strings.Join(n.To, ", ")}
				if err := rw.Row(row, cells); err != nil {
					return err
				}
			}
			return rw.Close()
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "window start (YYYY-MM-DD or \"YYYY-MM-DD HH:MM\"; default: now, or --at)")
	cmd.Flags().StringVar(&to, "to", "", "window end (a date includes that whole day; default: 14 days after the start)")
	a.addAt(cmd)
	cmd.Flags().StringVar(&format, "format", "table", "table|json|csv")
	return cmd
}

// planRow is one `plan` row; JSON names are the SPEC §8 contract.
type planRow = ops.PlanRow

func stepLabel(n tracker.Notice) string {
	s := strconv.Itoa(n.Step)
	if n.Rep > 0 {
		s += "#" + strconv.Itoa(n.Rep)
	}
	return s
}

func (a *app) dueCommand() *cobra.Command {
	var from, format, roll string
	cmd := &cobra.Command{
		Use:   "due RULE",
		Short: "print the deadline a rule gives (duban due 3wd --from 2026-09-30)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			if err := a.loadConfig(); err != nil {
				return err
			}
			// With a database, its imported holiday notices count (SPEC
			// §12); due never creates one.
			if _, err := os.Stat(a.cfg.DB); err == nil || kvstore.IsURL(a.cfg.DB) {
				if _, err := a.openStore(cmd.Context()); err != nil {
					return err
				}
			}
			r, err := tracker.ParseRule(args[0])
			if err != nil {
				return err
			}
			start := time.Now().In(a.cfg.Location)
			if from != "" {
				if start, err = parseAt(from, a.cfg.Location); err != nil {
					return err
				}
			}
			if roll != "" && roll != "next" && roll != "none" {
				return fmt.Errorf("%w: --roll %q: use next or none", errBadUsage, roll)
			}
			dl := r.Deadline(start, a.x.Env, tracker.Roll(roll))
			if format == "json" {
				return json.NewEncoder(a.stdout).Encode(struct {
					LastDay     string    `json:"last_day"`
					Due         time.Time `json:"due"`
					Timed       bool      `json:"timed"`
					Provisional bool      `json:"provisional"`
					Why         string    `json:"why"`
				}{dl.LastDay.String(), dl.Due.In(a.cfg.Location), dl.Timed, dl.Provisional, dl.Why})
			}
			fmt.Fprintf(a.stdout, "%s  (%s)\n", dl.Human(a.x.Env), dl.Why)
			if dl.Provisional {
				fmt.Fprintln(a.stdout, "暂定：所涉年份的国务院办公厅节假日安排尚未载入，按《全国年节及纪念日放假办法》规定的法定节假日计算，调休以通知为准")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "start (default now): YYYY-MM-DD, \"YYYY-MM-DD HH:MM\" or RFC 3339")
	cmd.Flags().StringVar(&format, "format", "table", "table|json")
	cmd.Flags().StringVar(&roll, "roll", "", "none keeps a non-working last day of Nd/Nmo rules")
	return cmd
}

// planDefaultDays is the window `plan` covers when --to is not given.
const planDefaultDays = 14

// planWindow resolves plan's --from and --to: --from defaults to now (--at),
// --to to planDefaultDays after the start; a --to that is a date includes
// that whole day.
func (a *app) planWindow(from, to string) (start, end time.Time, err error) {
	if from == "" {
		start, err = a.now()
	} else {
		start, err = parseAt(from, a.cfg.Location)
	}
	if err != nil {
		return start, end, err
	}
	if to == "" {
		end = start.AddDate(0, 0, planDefaultDays)
	} else {
		if end, err = parseAt(to, a.cfg.Location); err != nil {
			return start, end, err
		}
		if len(strings.TrimSpace(to)) == len(time.DateOnly) {
			end = end.AddDate(0, 0, 1) // --to a date includes that day
		}
	}
	return start, end, nil
}

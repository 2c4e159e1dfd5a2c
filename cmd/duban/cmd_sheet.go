package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/ops"
	"duban/cmd/internal/sheetdoc"
	"duban/tracker"
)

// sheetCommand builds `duban sheet ID --grade G --within RULE` (issue a
// 督办事项通知单, SPEC §15) with its subcommands list, show and withdraw.
func (a *app) sheetCommand() *cobra.Command {
	var grade, within, note, format string
	cmd := &cobra.Command{
		Use:   "sheet ID --grade 蓝|黄|红 --within RULE",
		Short: "issue a 督办事项通知单 on an instance: numbered, graded, with a 限期 that becomes its hard limit",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "table", "json"); err != nil {
				return err
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			effective, recorded, err := a.actionTimes()
			if err != nil {
				return err
			}
			sh, err := ops.IssueSheet(st, a.x, ops.SheetRequest{ID: args[0], Grade: grade, Within: within, Note: note},
				a.actor, a.cfg.Sheets.Prefix, effective, recorded)
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(a.stdout).Encode(sh)
			}
			fmt.Fprintf(a.stdout, "%s：已签发督办事项通知单 %s（%s·%s），限期 %s（最迟时限）\n", sh.ID, sh.Number,
				sh.Grade, sh.Grade.Label(), deadlineCell(sh.Limit.Human(a.x.Env), sh.Limit.Provisional))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&grade, "grade", "", "蓝 (一般督办), 黄 (重点督办) or 红 (挂牌督办)")
	fl.StringVar(&within, "within", "", "the 限期, a deadline rule counted from the issue time: 3wd, 5d, 2026-10-20")
	fl.StringVar(&note, "note", "", "督办要求: what the unit must do")
	fl.StringVar(&format, "format", "table", "table|json")
	a.addAt(cmd)
	cmd.AddCommand(a.sheetListCommand(), a.sheetShowCommand(), a.sheetWithdrawCommand())
	for _, c := range cmd.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return cmd
}

// sheetRow is one row of `duban sheet list` (SPEC §15).
type sheetRow struct {
	Number string         `json:"number"`
	ID     string         `json:"id"`
	Unit   string         `json:"unit"`
	Grade  tracker.Grade  `json:"grade"`
	Issued time.Time      `json:"issued"`
	Within string         `json:"within"`
	Limit  time.Time      `json:"limit"`
	Status tracker.Status `json:"status"`
}

func (a *app) sheetListCommand() *cobra.Command {
	var year int
	var format string
	cmd := &cobra.Command{
		Use:   "list [--year Y]",
		Short: "list the 督办事项通知单 of a year (default: this year)",
		Args:  cobra.NoArgs,
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
			if year == 0 {
				year = now.In(a.cfg.Location).Year()
			}
			rows := []sheetRow{}
			var limits []string // the 限期 in table form (2026-10-10 24:00)
			err = st.View(func(tx tracker.Tx) error {
				ss, err := tracker.SheetsOf(tx, year)
				if err != nil {
					return err
				}
				for i := range ss {
					status, err := tracker.SheetStatus(tx, &ss[i])
					if err != nil {
						return err
					}
					s := ss[i]
					rows = append(rows, sheetRow{Number: s.Number, ID: s.ID, Unit: s.Unit, Grade: s.Grade,
						Issued: s.Issued.In(a.cfg.Location), Within: s.Within, Limit: s.Limit.Due.In(a.cfg.Location), Status: status})
					limits = append(limits, deadlineCell(s.Limit.Human(a.x.Env), s.Limit.Provisional))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if format == "table" && len(rows) == 0 {
				fmt.Fprintf(a.stdout, "%d年没有督办事项通知单\n", year)
				return nil
			}
			rw := newRowWriter(a.stdout, format, []string{"编号", "事项", "承办单位", "等级", "签发时间", "限期", "状态"})
			for i, r := range rows {
				if err := rw.Row(r, []string{r.Number, r.ID, r.Unit, string(r.Grade) + "·" + r.Grade.Label(),
					r.Issued.Format("2006-01-02 15:04"), limits[i] + "（" + r.Within + "）", r.Status.Label()}); err != nil {
					return err
				}
			}
			return rw.Close()
		},
	}
	cmd.Flags().IntVar(&year, "year", 0, "the year (default: this year, or the year of --at)")
	cmd.Flags().StringVar(&format, "format", "table", "table|json")
	a.addAt(cmd)
	return cmd
}

func (a *app) sheetShowCommand() *cobra.Command {
	var format, output string
	cmd := &cobra.Command{
		Use:   "show NUMBER --format docx|html --output FILE",
		Short: "render a 督办事项通知单 as a Word file (A4, 红头) or a printable HTML page",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "docx", "html"); err != nil {
				return err
			}
			if format == "docx" && output == "" {
				return fmt.Errorf("%w: sheet show --format docx needs --output FILE", errBadUsage)
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			var v sheetdoc.View
			err = st.View(func(tx tracker.Tx) error {
				sh, err := tracker.SheetByNumber(tx, args[0])
				if err != nil {
					return err
				}
				v, err = sheetdoc.Build(tx, a.x.Env, sh)
				return err
			})
			if err != nil {
				return err
			}
			var data []byte
			if format == "docx" {
				data, err = sheetdoc.DOCX(v)
			} else {
				data, err = sheetdoc.HTML(v)
			}
			if err != nil {
				return err
			}
			if output == "" || output == "-" {
				_, err = a.stdout.Write(data)
				return err
			}
			if err := os.WriteFile(a.abs(output), data, 0o644); err != nil {
				return fmt.Errorf("sheet show: %w", err)
			}
			fmt.Fprintf(a.stderr, "duban: 已写出 %s（%s 字节）\n", output, strconv.Itoa(len(data)))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "docx", "docx|html")
	cmd.Flags().StringVar(&output, "output", "", "file to write (html: default standard output)")
	return cmd
}

func (a *app) sheetWithdrawCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "withdraw NUMBER --reason T",
		Short: "withdraw a 督办事项通知单 (its number stays taken; the hard limit it set is undone)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return fmt.Errorf("%w: sheet withdraw needs --reason", errBadUsage)
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			effective, recorded, err := a.actionTimes()
			if err != nil {
				return err
			}
			var sh *tracker.Sheet
			err = st.Update(func(tx tracker.Tx) error {
				sh, err = a.x.WithdrawSheet(tx, args[0], reason, a.actor, effective, recorded)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "已撤销督办事项通知单 %s（%s），编号不再使用\n", sh.Number, sh.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the sheet is withdrawn")
	a.addAt(cmd)
	return cmd
}

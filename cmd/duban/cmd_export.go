package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/config"
	"duban/cmd/internal/report"
	"duban/notify"
	"duban/tracker"
	"duban/tracker/ledger"
)

// exportCommand is `duban export`: the ledger (督办台账) as a spreadsheet,
// or open deadlines as an iCalendar file.
func (a *app) exportCommand() *cobra.Command {
	var format, status, unit, output string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "write the ledger (督办台账) as .xlsx or .csv, or open deadlines as an .ics calendar",
		Long: `Write the ledger, one row per instance, with Chinese headers: 编号, 承办单位,
单位编号, 事项, 文号, 办理要求, 开始时间, 办理时限, 最迟时限, 状态, 办结时间,
最新进展, 逾期工作日 (as of --at). "duban import" reads the same columns back.

  --format xlsx  needs --output FILE (frozen header, real dates, streamed)
  --format csv   UTF-8 with a byte order mark, to stdout or --output
  --format ics   open deadlines as one iCalendar file (e.g. --unit fzj)

Without --status the ledger has every instance; the calendar has the open ones.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkFormat(format, "xlsx", "csv", "ics"); err != nil {
				return err
			}
			if format == "xlsx" && output == "" {
				return fmt.Errorf("%w: --format xlsx needs --output FILE.xlsx", errBadUsage)
			}
			statuses, err := exportStatuses(status, format)
			if err != nil {
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
			f := ledger.Filter{Statuses: statuses, Unit: unit}
			write := func(w io.Writer) (int, error) { return a.exportTo(st, format, f, now, w) }
			var n int
			if output == "" {
				n, err = write(a.stdout)
			} else {
				n, err = writeFileAtomic(a.abs(output), write)
			}
			if err != nil {
				return err
			}
			if output != "" {
				fmt.Fprintf(a.stdout, "%s: %d rows\n", output, n)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "xlsx", "xlsx|csv|ics")
	fl.StringVar(&status, "status", "", "pending|open|done|returned|withdrawn|all, comma-separated (default: all; ics: open)")
	fl.StringVar(&unit, "unit", "", "only this unit's instances")
	fl.StringVar(&output, "output", "", "write to this file (required for xlsx)")
	a.addAt(cmd)
	return cmd
}

// exportStatuses parses --status; nil means every status.
func exportStatuses(s, format string) ([]tracker.Status, error) {
	switch s {
	case "":
		if format == "ics" {
			return []tracker.Status{tracker.StatusOpen}, nil
		}
		return nil, nil
	case "all":
		return nil, nil
	}
	return parseStatuses(s)
}

// exportTo writes the export to w in one read transaction and returns the
// number of rows (or events) written.
func (a *app) exportTo(st tracker.Store, format string, f ledger.Filter, now time.Time, w io.Writer) (int, error) {
	var n int
	err := st.View(func(tx tracker.Tx) error {
		if f.Unit != "" { // an id or a unit's name; unknown: exit 2 with a suggestion
			id, err := tracker.ResolveUnit(tx, f.Unit)
			if err != nil {
				return err
			}
			f.Unit = id
		}
		switch format {
		case "csv":
			cw, err := ledger.NewCSV(w)
			if err != nil {
				return err
			}
			if n, err = ledger.Export(tx, a.x, f, now, cw); err != nil {
				return err
			}
			return cw.Close()
		case "ics":
			var err error
			n, err = exportICS(tx, a.x, a.cfg, f, now, w)
			return err
		}
		xw, err := ledger.NewXLSX()
		if err != nil {
			return err
		}
		defer xw.Close()
		if n, err = ledger.Export(tx, a.x, f, now, xw); err != nil {
			return err
		}
		_, err = xw.WriteTo(w)
		return err
	})
	return n, err
}

// exportICS writes the deadlines of the instances matching f as one
// calendar.
func exportICS(tx tracker.Tx, x *tracker.Expander, cfg *config.Config, f ledger.Filter, now time.Time, w io.Writer) (int, error) {
	var evs []notify.ICSEvent
	name := "督办事项"
	err := ledger.Walk(tx, f, func(in *tracker.Instance, it *tracker.Item, u *tracker.Unit) error {
		unitName := in.Unit
		if u != nil {
			unitName = u.Name
			if f.Unit != "" {
				name = "督办事项: " + u.Name
			}
		}
		evs = append(evs, report.DeadlineEvent(x.Env, cfg.DayEnd, in, it, unitName, now))
		return nil
	})
	if err != nil {
		return 0, err
	}
	_, err = w.Write(notify.ICSCalendar(name, evs))
	return len(evs), err
}

// writeFileAtomic writes path through a temporary file in the same
// directory, renamed into place only when write succeeded.
func writeFileAtomic(path string, write func(io.Writer) (int, error)) (int, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errBadUsage, err)
	}
	defer os.Remove(tmp.Name())
	n, err := write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return 0, err
	}
	return n, os.Rename(tmp.Name(), path)
}

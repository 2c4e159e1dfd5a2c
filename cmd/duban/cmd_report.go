package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/report"
	"duban/tracker"
)

func (a *app) reportCommand() *cobra.Command {
	var month, unit, format, output, kind, from, to string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "the monthly bulletin (通报): per-unit handling figures and the list of late and overdue items",
		Long: `Count, per unit, the instances whose deadline fell in the month: done on time,
done late, still open and overdue at the end of the month (or now, for a month
not over), extended; the on-time rate and the lateness in working days; then
list every instance done late or still overdue (the 通报 list). The footer of
table and html output defines each figure.

--month defaults to the month before --at. xlsx needs --output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch kind {
			case "score", "考核":
				return a.scoreReport(cmd, from, to, format, output)
			case "bulletin", "通报":
			default:
				return fmt.Errorf("%w: --kind %q: use bulletin or score", errBadUsage, kind)
			}
			now, err := a.reportStart(format, output, "table", "json", "csv", "xlsx", "html")
			if err != nil {
				return err
			}
			m := tracker.MonthOf(a.x.Env.Today(now)).Add(-1)
			if month != "" {
				if m, err = tracker.ParseMonth(month); err != nil {
					return fmt.Errorf("%w: --month: %w", errBadUsage, err)
				}
			}
			st, err := a.openStore(cmd.Context())
			if err != nil {
				return err
			}
			var doc *report.Bulletin
			if err := st.View(func(tx tracker.Tx) error {
				doc, err = report.LoadBulletin(tx, a.x.Env, m, unit, now, a.cfg.Report.PraiseMin)
				return err
			}); err != nil {
				return err
			}
			return a.writeReport(doc, format, output)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&month, "month", "", "the month, YYYY-MM (default: the month before --at)")
	fl.StringVar(&unit, "unit", "", "only this unit")
	fl.StringVar(&format, "format", "table", "table|json|csv|xlsx|html")
	fl.StringVar(&output, "output", "", "write to this file instead of standard output (required for xlsx)")
	fl.StringVar(&kind, "kind", "bulletin", "bulletin (the monthly 通报) or score (考核: each unit's score and every item of it)")
	fl.StringVar(&from, "from", "", "score: first month, YYYY-MM (default: the month before --at)")
	fl.StringVar(&to, "to", "", "score: last month, YYYY-MM (default: --from)")
	a.addAt(cmd)
	return cmd
}

// reportDoc is a report rendered in several formats (the bulletin, the
// score report); csv and html are the bulletin's only.
type reportDoc interface {
	WriteJSON(io.Writer) error
	WriteXLSX(io.Writer) error
	WriteTable(io.Writer) error
}

// writeReport renders doc in format and writes it to standard output, or
// to the file output.
func (a *app) writeReport(doc reportDoc, format, output string) error {
	var buf bytes.Buffer
	var err error
	switch b, _ := doc.(*report.Bulletin); {
	case format == "json":
		err = doc.WriteJSON(&buf)
	case format == "xlsx":
		err = doc.WriteXLSX(&buf)
	case format == "csv" && b != nil:
		err = b.WriteCSV(&buf)
	case format == "html" && b != nil:
		err = b.WriteHTML(&buf)
	default:
		err = doc.WriteTable(&buf)
	}
	if err != nil {
		return err
	}
	if output == "" {
		_, err = a.stdout.Write(buf.Bytes())
		return err
	}
	return writeReportFile(a.abs(output), buf.Bytes())
}

// writeReportFile writes data to path through a temporary file in the
// same directory, so a reader never sees half a report.
func writeReportFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// reportStart checks a report command's --format against formats (xlsx
// needs --output), loads the config and returns "now" (--at).
func (a *app) reportStart(format, output string, formats ...string) (time.Time, error) {
	if err := checkFormat(format, formats...); err != nil {
		return time.Time{}, err
	}
	if format == "xlsx" && output == "" {
		return time.Time{}, fmt.Errorf("%w: --format xlsx writes a binary file: name it with --output FILE", errBadUsage)
	}
	if err := a.loadConfig(); err != nil {
		return time.Time{}, err
	}
	return a.now()
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"duban/cmd/internal/report"
	"duban/tracker"
)

// scoreReport is `duban report --kind score --from YYYY-MM --to YYYY-MM`:
// each unit's 考核 score by the imported scoring standard, with every
// deduction and bonus traced to its instance and fact (SPEC §15).
func (a *app) scoreReport(cmd *cobra.Command, from, to, format, output string) error {
	now, err := a.reportStart(format, output, "table", "json", "xlsx")
	if err != nil {
		return err
	}
	first := tracker.MonthOf(a.x.Env.Today(now)).Add(-1)
	if from != "" {
		if first, err = tracker.ParseMonth(from); err != nil {
			return fmt.Errorf("%w: --from: %w", errBadUsage, err)
		}
	}
	last := first
	if to != "" {
		if last, err = tracker.ParseMonth(to); err != nil {
			return fmt.Errorf("%w: --to: %w", errBadUsage, err)
		}
	}
	if last.First().Before(first.First()) {
		return fmt.Errorf("%w: --to %s is before --from %s", errBadUsage, last, first)
	}
	st, err := a.openStore(cmd.Context())
	if err != nil {
		return err
	}
	var doc *report.ScoreReport
	if err := st.View(func(tx tracker.Tx) error {
		doc, err = report.LoadScores(tx, a.x.Env, first, last, now)
		return err
	}); err != nil {
		return err
	}
	return a.writeReport(doc, format, output)
}

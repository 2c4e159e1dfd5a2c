package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"duban/tracker"
	"duban/tracker/ledger"
	"duban/tracker/trackfile"
)

func (a *app) importCommand() *cobra.Command {
	var dryRun bool
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "load tracking files (.yaml) and ledger spreadsheets (.xlsx, .csv); all or nothing, --dry-run only validates",
		Args:  cobra.MinimumNArgs(1),
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
			paths := make([]string, len(args))
			for i, p := range args {
				paths[i] = a.abs(p)
			}
			res, err := importFiles(cmd.Context(), st, a.x, paths, args, now, a.actor, dryRun)
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(a.stdout).Encode(res)
			}
			verb := "imported"
			if dryRun {
				verb = "valid (dry run, nothing written)"
			}
			fmt.Fprintf(a.stdout, "%s: %d items (%d new, %d changed), %d instances (%d new, %d changed, %d unchanged)\n",
				verb, res.Items, res.ItemsAdded, res.ItemsUpdated, res.Instances, res.InstancesAdded, res.InstancesUpdated, res.Unchanged)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate only; write nothing")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table|json")
	a.addAt(cmd)
	return cmd
}

// importSummary is what an import reports.
type importSummary struct {
	tracker.ImportResult
	Items     int  `json:"items"`
	Instances int  `json:"instances"`
	DryRun    bool `json:"dry_run"`
}

// errDryRun rolls back a dry-run import.
var errDryRun = errors.New("dry run")

// errNoChange rolls back an import that changed nothing, so that the
// database file is left byte-for-byte as it was.
var errNoChange = errors.New("no change")

// importFiles validates the files together and upserts them in one
// transaction. names are the paths as the user wrote them, for messages.
// Any error leaves the store untouched.
func importFiles(ctx context.Context, st tracker.Store, x *tracker.Expander, paths, names []string, now time.Time, actor string, dryRun bool) (importSummary, error) {
	var files []trackfile.File
	var ledgerPaths, ledgerNames []string // .xlsx and .csv: ledger spreadsheets (cmd_export.go)
	for i, p := range paths {
		if ledger.IsLedger(p) {
			ledgerPaths, ledgerNames = append(ledgerPaths, p), append(ledgerNames, names[i])
			continue
		}
		f, err := trackfile.ReadFile(p, names[i])
		if err != nil {
			return importSummary{}, fmt.Errorf("%w: %w", errBadUsage, err)
		}
		files = append(files, f)
	}
	sheets, ledgerErr := readLedgers(ctx, ledgerPaths, ledgerNames, x.Env.Loc)
	if ledgerErr != nil && !isBadInput(ledgerErr) {
		return importSummary{}, ledgerErr
	}
	sum := importSummary{DryRun: dryRun}
	err := st.Update(func(tx tracker.Tx) error {
		known := func(kind, id string) bool {
			var err error
			switch kind {
			case "unit":
				_, err = tx.Unit(id)
			case "person":
				_, err = tx.Person(id)
			case "policy":
				_, err = tx.Policy(id)
			default:
				return false
			}
			return err == nil
		}
		b, err := trackfile.Load(files, x.Env.Loc, known, trackfile.WithDeadlines(x.Env, now, func(id string) (time.Time, bool) {
			it, err := tx.Item(id)
			if err != nil {
				return time.Time{}, false
			}
			return it.TrackedAt, true
		}))
		if err != nil || ledgerErr != nil {
			return errors.Join(err, ledgerErr, ledger.Problems(sheets))
		}
		res, err := x.Import(tx, b, now, actor)
		if err != nil {
			return err
		}
		lres, err := ledger.ApplyContext(ctx, tx, x, sheets, now)
		if err != nil {
			return err
		}
		res = addImportResults(res, lres.ImportResult)
		sum.ImportResult = res
		sum.Items = len(b.Items) + lres.ItemsAdded + lres.ItemsUpdated
		sum.Instances = res.InstancesAdded + res.InstancesUpdated + res.Unchanged
		switch {
		case dryRun:
			return errDryRun
		case !res.Changed():
			return errNoChange
		}
		return nil
	})
	if errors.Is(err, errDryRun) || errors.Is(err, errNoChange) {
		err = nil
	}
	return sum, err
}

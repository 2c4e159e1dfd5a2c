package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"duban/tracker"
	"duban/tracker/trackfile"
)

func (a *app) importCommand() *cobra.Command {
	var dryRun bool
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "load tracking files (all or nothing; --dry-run only validates)",
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
func importFiles(_ context.Context, st tracker.Store, x *tracker.Expander, paths, names []string, now time.Time, actor string, dryRun bool) (importSummary, error) {
	files := make([]trackfile.File, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return importSummary{}, fmt.Errorf("%w: %w", errBadUsage, err)
		}
		files[i] = trackfile.File{Name: names[i], Data: data}
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
		b, err := trackfile.Load(files, x.Env.Loc, known)
		if err != nil {
			return err
		}
		res, err := x.Import(tx, b, now, actor)
		if err != nil {
			return err
		}
		sum.ImportResult = res
		sum.Items = len(b.Items)
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

package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"duban/cmd/internal/importer"
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
			res, err := importer.Files(cmd.Context(), st, a.x, paths, args, now, a.actor, dryRun, trackfile.WithRobots(a.cfg.RobotNames()))
			if err != nil {
				return err
			}
			if format == "json" {
				return json.NewEncoder(a.stdout).Encode(res)
			}
			fmt.Fprintln(a.stdout, res.Text())
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "validate only; write nothing")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table|json")
	a.addAt(cmd)
	return cmd
}

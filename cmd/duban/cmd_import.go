package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
			fmt.Fprintln(a.stdout, res.summary())
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

// summary is the one-line report of an import, in Chinese.
func (s importSummary) summary() string {
	if !s.DryRun && !s.Changed() {
		return fmt.Sprintf("已导入：内容与数据库一致，未作任何改动（%d个事项，%d个实例）", s.Items, s.Instances)
	}
	verb := "已导入"
	if s.DryRun {
		verb = "校验通过（试运行，未写入）"
	}
	return fmt.Sprintf("%s：%d个事项（新增%d，变更%d），%d个实例（新增%d，变更%d，未变%d），名录（督查室、人员、单位、策略）变更%d",
		verb, s.Items, s.ItemsAdded, s.ItemsUpdated, s.Instances, s.InstancesAdded, s.InstancesUpdated, s.Unchanged, s.Directory)
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
	var files []trackfile.File
	var yamlPaths []string                // files[i] was read from yamlPaths[i]
	var ledgerPaths, ledgerNames []string // .xlsx and .csv: ledger spreadsheets (cmd_export.go)
	for i, p := range paths {
		if ledger.IsLedger(p) {
			ledgerPaths, ledgerNames = append(ledgerPaths, p), append(ledgerNames, names[i])
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return importSummary{}, fmt.Errorf("%w: %w", errBadUsage, err)
		}
		files = append(files, trackfile.File{Name: names[i], Data: data})
		yamlPaths = append(yamlPaths, p)
	}
	sheets, ledgerErr := readLedgers(ledgerPaths, ledgerNames, x.Env.Loc)
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
		b, err := trackfile.Load(files, x.Env.Loc, known)
		if err != nil || ledgerErr != nil {
			return errors.Join(err, ledgerErr, ledger.Problems(sheets))
		}
		canonicalSources(b, files, yamlPaths)
		res, err := x.Import(tx, b, now, actor)
		if err != nil {
			return err
		}
		lres, err := ledger.Apply(tx, x, sheets, now)
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

// canonicalSources rewrites the Source fields of b ("name:line", with the
// file named as the user typed it) to the file's clean absolute path, so
// that what is stored does not depend on how the file was named: the
// daemon loads `tracking:` paths resolved against the config's directory,
// a user imports "docs/example/tracked.yaml" from wherever they stand, and
// both must store the same bytes (an import of unchanged files changes
// nothing). Messages keep the name as typed.
func canonicalSources(b *tracker.Bundle, files []trackfile.File, paths []string) {
	canon := make(map[string]string, len(files))
	for i, f := range files {
		if c := filepath.Clean(paths[i]); c != f.Name {
			canon[f.Name] = c
		}
	}
	if len(canon) == 0 {
		return
	}
	fix := func(src *string) {
		name, line, ok := cutLine(*src)
		if c, found := canon[name]; ok && found {
			*src = c + ":" + line
		}
	}
	for i := range b.People {
		fix(&b.People[i].Source)
	}
	for i := range b.Units {
		fix(&b.Units[i].Source)
	}
	for i := range b.Policies {
		fix(&b.Policies[i].Source)
	}
	for i := range b.Items {
		fix(&b.Items[i].Source)
	}
}

// cutLine splits "file:line" at its last colon (file names may contain
// colons, line numbers do not).
func cutLine(src string) (file, line string, ok bool) {
	i := strings.LastIndexByte(src, ':')
	if i < 0 {
		return "", "", false
	}
	return src[:i], src[i+1:], true
}

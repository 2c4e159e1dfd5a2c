// Package importer loads tracking files and ledger spreadsheets into the
// store in one transaction, all or nothing: `duban import`, the daemon's
// start and SIGHUP (tracking:), and any later upload share it.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"duban/tracker"
	"duban/tracker/ledger"
	"duban/tracker/trackfile"
)

// ErrBadInput marks a file that cannot be used as given (unreadable, too
// large): the caller's bad input, exit status 2 in the CLI. Problems in
// a file's content are trackfile.Errors or ledger.Errors
// (tracker.ErrInvalid).
var ErrBadInput = errors.New("bad usage")

// badInput reports whether err is the caller's input rather than a
// failure of the store or the system.
func badInput(err error) bool {
	var tfe trackfile.Errors
	return errors.Is(err, ErrBadInput) || errors.Is(err, tracker.ErrInvalid) || errors.Is(err, tracker.ErrBadRule) ||
		errors.Is(err, tracker.ErrNotFound) || errors.As(err, &tfe)
}

// Summary is what an import reports (the JSON of `duban import --format json`).
type Summary struct {
	tracker.ImportResult
	Items     int  `json:"items"`
	Instances int  `json:"instances"`
	DryRun    bool `json:"dry_run"`
}

// Text is the one-line report of an import, in Chinese.
func (s Summary) Text() string {
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

// Files validates the tracking files (.yaml) and ledger spreadsheets
// (.xlsx, .csv) at paths together and upserts them in one
// transaction. names are the paths as the user wrote them, for messages.
// Any error leaves the store untouched.
func Files(ctx context.Context, st tracker.Store, x *tracker.Expander, paths, names []string, now time.Time, actor string, dryRun bool, opts ...trackfile.Option) (Summary, error) {
	var files []trackfile.File
	var yamlPaths []string                // files[i] was read from yamlPaths[i]
	var ledgerPaths, ledgerNames []string // .xlsx and .csv: ledger spreadsheets (tracker/ledger)
	for i, p := range paths {
		if ledger.IsLedger(p) {
			ledgerPaths, ledgerNames = append(ledgerPaths, p), append(ledgerNames, names[i])
			continue
		}
		f, err := trackfile.ReadFile(p, names[i])
		if err != nil {
			return Summary{}, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		files = append(files, f)
		yamlPaths = append(yamlPaths, p)
	}
	sheets, ledgerErr := readLedgers(ctx, ledgerPaths, ledgerNames, x.Env.Loc)
	if ledgerErr != nil && !badInput(ledgerErr) {
		return Summary{}, ledgerErr
	}
	sum := Summary{DryRun: dryRun}
	err := st.Update(func(tx tracker.Tx) error {
		b, err := Load(tx, x, files, now, opts...)
		if err != nil || ledgerErr != nil {
			return errors.Join(err, ledgerErr, ledger.Problems(sheets))
		}
		canonicalSources(b, files, yamlPaths)
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

// Load validates tracking files against what tx already stores
// (references to units, people and policies; the tracking day of known
// items) with trackfile.Load, as an import does. The workspace's 立项 form
// loads its one item through it, for the same rules and messages.
func Load(tx tracker.Tx, x *tracker.Expander, files []trackfile.File, now time.Time, opts ...trackfile.Option) (*tracker.Bundle, error) {
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
	return trackfile.Load(files, x.Env.Loc, known, append(opts, trackfile.WithDeadlines(x.Env, now, func(id string) (time.Time, bool) {
		it, err := tx.Item(id)
		if err != nil {
			return time.Time{}, false
		}
		return it.TrackedAt, true
	}))...)
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

// readLedgers reads the ledger spreadsheets of an import (before its
// transaction). Files that cannot be used at all are reported as
// ledger.Errors, returned with the sheets of the others, whose cell
// problems are in their Problems. A file larger than ledger.MaxFileSize
// is refused before it is read; cancelling ctx (SIGTERM, SIGINT) stops
// the reading.
func readLedgers(ctx context.Context, paths, names []string, loc *time.Location) ([]*ledger.Sheet, error) {
	var sheets []*ledger.Sheet
	var errs ledger.Errors
	for i, p := range paths {
		data, err := readLimited(p, ledger.MaxFileSize)
		if errors.Is(err, errTooBig) {
			errs = append(errs, &ledger.Error{File: names[i], Msg: fmt.Sprintf("文件过大：台账文件最大 %d MiB；请分成几个文件导入", ledger.MaxFileSize>>20)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadInput, err)
		}
		sh, err := ledger.ReadContext(ctx, names[i], data, loc)
		if err != nil {
			if es, ok := err.(ledger.Errors); ok {
				errs = append(errs, es...)
				continue
			}
			return nil, err
		}
		sheets = append(sheets, sh)
	}
	if len(errs) > 0 {
		return sheets, errs
	}
	return sheets, nil
}

// errTooBig is returned by readLimited for a file over its limit.
var errTooBig = errors.New("file too large")

// readLimited reads the file at path, refusing it with errTooBig when it
// is larger than limit bytes, before reading it when its size is known.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, errTooBig
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooBig
	}
	return data, nil
}

// addImportResults adds the counts of a ledger import to those of the
// tracking files imported with it.
func addImportResults(a, b tracker.ImportResult) tracker.ImportResult {
	a.ItemsAdded += b.ItemsAdded
	a.ItemsUpdated += b.ItemsUpdated
	a.InstancesAdded += b.InstancesAdded
	a.InstancesUpdated += b.InstancesUpdated
	a.Unchanged += b.Unchanged
	a.Directory += b.Directory
	return a
}

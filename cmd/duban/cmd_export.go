package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/config"
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
		evs = append(evs, deadlineEvent(x, cfg, in, it, unitName, now))
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

// deadlineEvent is the calendar invitation of an instance's deadline
// (RFC 5545, see notify.ICSEvent): UID "<instance id>@duban", SEQUENCE
// the number of extensions, an all-day event on the last day of a day
// deadline or a short event ending at a timed one, and an alarm at
// send_time one working day before the last day — left out when that
// moment has passed at now.
func deadlineEvent(x *tracker.Expander, cfg *config.Config, in *tracker.Instance, it *tracker.Item, unitName string, now time.Time) notify.ICSEvent {
	loc := x.Env.Loc
	dl := in.Deadline
	title := it.Title
	if in.Co {
		title += tracker.CoMark
	}
	ev := notify.ICSEvent{UID: in.ID + "@duban", Sequence: in.Extensions + in.Revision, Stamp: now,
		Summary: notify.MarkProvisional(title+" 截止", dl.Provisional)}
	if dl.Timed {
		ev.End = dl.Due
	} else {
		ev.AllDay, ev.Start = true, dl.LastDay.At(0, loc)
	}
	human := formatDeadline(dl, cfg)
	var d strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&d, "%s: %s\n", k, v)
		}
	}
	line("督办事项", it.Title)
	line("文号", it.Doc)
	line("承办单位", unitName)
	if in.Co {
		line("承办方式", "协办")
	}
	line("办理要求", it.Requirements)
	line("办理时限", human)
	if in.Original != nil {
		line("原定时限", formatDeadline(*in.Original, cfg))
	}
	if in.Limit != nil {
		line("最迟时限", formatDeadline(*in.Limit, cfg))
	}
	line("编号", in.ID)
	ev.Description = strings.TrimSuffix(d.String(), "\n")
	alarm := x.Env.Cal.AddWorkdays(dl.LastDay, -1).At(x.Env.SendTime, loc)
	if alarm.After(now) && alarm.Before(dl.Due) {
		ev.Alarm = alarm
		ev.AlarmText = "督办提醒: " + title + ", 办理时限为" + human
	}
	return ev
}

// noticeAttachments returns the calendar attached to a message for group:
// the deadlines of the instances whose assigned notice (督办通知) it
// carries, and of extended instances not yet overdue — so the first
// notice after `duban extend` carries the updated invitation (same UID,
// higher SEQUENCE). Nil if there is none.
func (d *daemon) noticeAttachments(group []*tracker.Delivery, now time.Time) ([]notify.Attachment, error) {
	cfg, x := d.config(), d.expander()
	var evs []notify.ICSEvent
	seen := make(map[string]bool)
	err := d.store.View(func(tx tracker.Tx) error {
		for _, dl := range group {
			if seen[dl.Instance] || dl.Level == levelFailure || dl.Level == tracker.LevelReassigned || dl.Instance == "" {
				continue
			}
			in, err := tx.Instance(dl.Instance)
			if err != nil {
				return err
			}
			if !in.Status.Active() || (!carriesDeadline(tx, dl) && (in.Extensions == 0 || in.Overdue(now))) {
				continue
			}
			it, err := tx.Item(in.Item)
			if err != nil {
				return err
			}
			unitName := in.Unit
			if u, err := tx.Unit(in.Unit); err == nil {
				unitName = u.Name
			}
			seen[dl.Instance] = true
			evs = append(evs, deadlineEvent(x, cfg, in, it, unitName, now))
		}
		return nil
	})
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	return []notify.Attachment{notify.ICSAttachment(notify.ICSCalendar("", evs))}, nil
}

// carriesDeadline reports whether dl tells its recipient the deadline
// anew, so that its message carries the .ics: an assigned notice, a
// notice sent in place of one (superseded by it), or a correction (更正,
// same UID, higher SEQUENCE).
func carriesDeadline(tx tracker.Tx, dl *tracker.Delivery) bool {
	if dl.Level == tracker.LevelAssigned || dl.Level == tracker.LevelCorrection {
		return true
	}
	for _, k := range dl.Supersedes {
		if o, err := tx.Delivery(k + "|" + dl.To); err == nil && o.Level == tracker.LevelAssigned {
			return true
		}
	}
	return false
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
			return nil, fmt.Errorf("%w: %w", errBadUsage, err)
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

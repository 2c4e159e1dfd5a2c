package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/config"
	"duban/notify"
	"duban/tracker"
	"duban/tracker/boltstore"
	"duban/tracker/calnotice"
)

// daemon is `duban serve`: the only process that opens the database while
// it runs. Each pass loads nothing from disk but the store: it
// materialises recurring instances (once a day), decides the notices that
// came due (one transaction: the outbox), and delivers the outbox.
type daemon struct {
	cfg      *config.Config
	store    *boltstore.Store
	logger   *slog.Logger
	renderer *notify.Renderer
	clock    func() time.Time
	// newSender opens the mail transport for one delivery round.
	newSender func() (notify.Sender, error)

	mu sync.Mutex
	x  *tracker.Expander

	wakeCh chan struct{}

	materialisedOn tracker.Date
	warnedOn       tracker.Date
}

// status is the daemon's last pass, stored in meta for `list`, `show`
// and `outbox`.
type status struct {
	LastPass  time.Time `json:"last_pass"`
	Queued    int       `json:"queued"`
	Failed    int       `json:"failed"`
	Sent      int       `json:"sent_last_pass"`
	NextWake  time.Time `json:"next_wake,omitzero"`
	PassError string    `json:"pass_error,omitempty"`
}

const metaStatus = "daemon_status"

func (d *daemon) expander() *tracker.Expander {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.x
}

func (d *daemon) sender() (notify.Sender, error) {
	d.mu.Lock()
	f := d.newSender
	d.mu.Unlock()
	return f()
}

// config returns the running configuration (swapped on SIGHUP).
func (d *daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// wake asks the scheduler loop to run a pass now (after an admin change).
func (d *daemon) wake() {
	select {
	case d.wakeCh <- struct{}{}:
	default:
	}
}

// newLogger returns the daemon's logger: level and format from c, record
// times in loc (the configured zone), whatever the machine's zone is.
func newLogger(w io.Writer, c config.LogConfig, loc *time.Location) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel(), ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 && a.Value.Kind() == slog.KindTime && loc != nil {
			a.Value = slog.TimeValue(a.Value.Time().In(loc))
		}
		return a
	}}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (a *app) serveCommand() *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the daemon (--once: a single pass as of --at, then exit)",
		Long: `Run the daemon: load the tracking files, then sleep until the next notice is
due, decide it, and mail it. SIGHUP re-reads the config, tracking and calendar
files (a bad file is reported and the old state kept); SIGTERM and SIGINT
finish the message being sent and exit.

With --once, run a single pass as of --at (default now) and exit: for
cron-driven setups and tests.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.loadConfig(); err != nil {
				return err
			}
			logger := newLogger(a.stderr, a.cfg.Log, a.cfg.Location)
			renderer, err := notify.NewRenderer(a.cfg.Templates)
			if err != nil {
				return fmt.Errorf("%w: templates: %w", errBadConfig, err)
			}
			if _, err := newSender(a.cfg); err != nil {
				return fmt.Errorf("%w: mail: %w", errBadConfig, err)
			}
			st, err := boltstore.Open(a.cfg.DB, lockTimeout)
			if err != nil {
				return fmt.Errorf("open database: %w", err)
			}
			defer st.Close()
			cal, err := calnotice.FromStore(st, a.x.Env.Cal, a.cfg.Location)
			if err != nil {
				return err
			}
			a.x = newExpander(a.cfg, cal)
			cfg := a.cfg
			d := &daemon{cfg: cfg, store: st, logger: logger, renderer: renderer, x: a.x,
				wakeCh: make(chan struct{}, 1), clock: time.Now,
				newSender: func() (notify.Sender, error) { return newSender(cfg) }}
			if once {
				now, err := a.now()
				if err != nil {
					return err
				}
				// Cron mode: the calendar files may have changed since
				// the last run; recompute before the files are loaded.
				if err := d.recompute(now); err != nil {
					return err
				}
				if err := d.load(cmd.Context(), now); err != nil {
					return err
				}
				return d.pass(cmd.Context(), now)
			}
			if a.at != "" {
				return fmt.Errorf("%w: --at needs --once", errBadUsage)
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return d.run(cmd.Context(), hup, a.reload)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass as of --at and exit")
	a.addAt(cmd)
	return cmd
}

// reload re-reads the configuration and calendar files for SIGHUP.
func (a *app) reload() (*config.Config, *tracker.Expander, error) {
	fresh := &app{cwd: a.cwd, configPath: a.configPath, dbPath: a.dbPath}
	if err := fresh.loadConfig(); err != nil {
		return nil, nil, err
	}
	return fresh.cfg, fresh.x, nil
}

// load imports the configured tracking files. A bad file changes nothing.
func (d *daemon) load(ctx context.Context, now time.Time) error {
	if len(d.cfg.Tracking) == 0 {
		return nil
	}
	res, err := importFiles(ctx, d.store, d.expander(), d.cfg.Tracking, d.cfg.Tracking, now, "duban serve", false)
	if err != nil {
		return fmt.Errorf("tracking files: %w", err)
	}
	d.logger.Info("tracking files loaded", "files", len(d.cfg.Tracking), "items", res.Items,
		"instances_added", res.InstancesAdded, "instances_updated", res.InstancesUpdated)
	return nil
}

// metaCalendar holds the calendar fingerprint the stored deadlines were
// computed with (tracker.Expander.CalendarFingerprint).
const metaCalendar = "calendar_fingerprint"

// recompute recomputes the open deadlines when the working calendar (or
// the zone, day_end or send_time) differs from the one they were computed
// with: at start, on SIGHUP and on every `serve --once`. It is cheap when
// nothing changed: one fingerprint of five years of days. Moved deadlines
// are recorded in history and corrected (更正) to whoever was told them.
func (d *daemon) recompute(now time.Time) error {
	x := d.expander()
	fp := x.CalendarFingerprint(now)
	var res tracker.ImportResult
	ran := false
	err := d.store.Update(func(tx tracker.Tx) error {
		old, err := tx.Meta(metaCalendar)
		if err != nil || string(old) == fp {
			return err
		}
		ran = true
		actor, err := calnotice.RecomputeActor(tx, "duban serve (calendar)")
		if err != nil {
			return err
		}
		if res, err = x.Recompute(tx, now, actor); err != nil {
			return err
		}
		return tx.PutMeta(metaCalendar, []byte(fp))
	})
	if err != nil {
		return fmt.Errorf("recompute deadlines: %w", err)
	}
	switch {
	case ran && res.InstancesUpdated > 0:
		d.logger.Info("open deadlines recomputed for the calendar", "changed", res.InstancesUpdated, "corrections", res.Corrections)
	case ran:
		d.logger.Debug("calendar changed; no open deadline moved")
	}
	return nil
}

// pass runs one scheduler pass as of now: materialise recurring
// instances (once per day), decide due notices, deliver the outbox.
func (d *daemon) pass(ctx context.Context, now time.Time) error {
	x := d.expander()
	today := x.Env.Today(now)
	if today != d.warnedOn {
		d.warnCalendar(now)
		d.warnedOn = today
	}
	if today != d.materialisedOn {
		var res tracker.ImportResult
		if err := d.store.Update(func(tx tracker.Tx) error {
			var err error
			res, err = x.Materialise(tx, now, "duban serve")
			return err
		}); err != nil {
			return fmt.Errorf("materialise: %w", err)
		}
		d.materialisedOn = today
		if res.InstancesAdded > 0 {
			d.logger.Info("recurring instances materialised", "added", res.InstancesAdded)
		}
	}
	var dec tracker.DecideResult
	if err := d.store.Update(func(tx tracker.Tx) error {
		var err error
		dec, err = x.Decide(tx, now, tracker.Catchup(d.cfg.Catchup), d.cfg.Mail.Office)
		return err
	}); err != nil {
		return fmt.Errorf("decide: %w", err)
	}
	if dec.Queued+dec.Skipped+dec.Failed+dec.Superseded > 0 {
		d.logger.Info("notices decided", "instances", dec.Instances, "queued", dec.Queued, "skipped", dec.Skipped,
			"superseded", dec.Superseded, "no_recipient", dec.Failed)
	}
	del, derr := d.deliver(ctx, now)
	if rerr := d.reports(ctx, now, &del); rerr != nil { // monthly bulletin, weekly summary (bulletin.go)
		derr = errors.Join(derr, rerr)
	}
	if del.Messages > 0 {
		d.logger.Info("mail delivered", "messages", del.Messages, "sent", del.Sent, "retry", del.Retried, "failed", del.Failed)
	}
	st := status{LastPass: now.UTC(), Sent: del.Sent}
	if derr != nil {
		st.PassError = derr.Error()
	}
	if err := d.saveStatus(&st); err != nil {
		return errors.Join(derr, err)
	}
	return derr
}

// saveStatus stores the pass summary with the outbox counts.
func (d *daemon) saveStatus(st *status) error {
	return d.store.Update(func(tx tracker.Tx) error {
		if err := tx.Deliveries(func(dl *tracker.Delivery) error {
			switch dl.State {
			case tracker.DeliveryQueued:
				st.Queued++
			case tracker.DeliveryFailed:
				st.Failed++
			}
			return nil
		}); err != nil {
			return err
		}
		if next, ok, err := d.nextWake(tx); err == nil && ok {
			st.NextWake = next
		}
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		return tx.PutMeta(metaStatus, b)
	})
}

// nextWake is the earliest instant something is due: an instance's next
// notice or a queued delivery's next attempt.
func (d *daemon) nextWake(tx tracker.Tx) (time.Time, bool, error) {
	w, okW, err := tx.FirstWake()
	if err != nil {
		return time.Time{}, false, err
	}
	q, okQ, err := tx.FirstQueued()
	if err != nil {
		return time.Time{}, false, err
	}
	if r, ok := reportWake(tx); ok && (!okW || r.Before(w)) { // the next bulletin or weekly summary
		w, okW = r, true
	}
	switch {
	case okW && okQ:
		return minTime(w, q), true, nil
	case okW:
		return w, true, nil
	case okQ:
		return q, true, nil
	}
	return time.Time{}, false, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// warnCalendar logs, from 1 November, that next year's State Council
// arrangement is missing, so an operator adds it before deadlines need it.
func (d *daemon) warnCalendar(now time.Time) {
	x := d.expander()
	today := x.Env.Today(now)
	if today.Month >= time.November && !x.Env.Cal.Known(today.Year+1) {
		d.logger.Warn("holiday arrangement for next year is missing; deadlines in it are provisional",
			"year", today.Year+1, "how", "paste the State Council notice: duban calendar import FILE (preview), then --apply")
	}
	if !x.Env.Cal.Known(today.Year) {
		d.logger.Warn("holiday arrangement for this year is missing; deadlines are provisional", "year", today.Year)
	}
}

// maxSleep bounds one sleep so that the daily jobs (materialising
// recurring instances, the calendar warning) run even on an idle daemon.
const maxSleep = 6 * time.Hour

// run serves the admin socket and runs passes until ctx ends: one at
// start (catching up after downtime), then whenever the earliest entry of
// the wake or queue index comes due, an admin command changed something,
// or SIGHUP reloaded the files.
func (d *daemon) run(ctx context.Context, hup <-chan os.Signal, reload func() (*config.Config, *tracker.Expander, error)) error {
	// No admin socket when admin.socket is "": config validation requires
	// one for `duban serve`, but tests run the loop without it (under
	// testing/synctest a unix listener is real I/O outside the bubble).
	//
	// The socket is claimed before the tracking files are loaded, so a
	// second daemon fails at once, but it is served only after the load:
	// a command sent meanwhile waits in the listen backlog and sees the
	// loaded state, never a half-started daemon.
	var errc chan error // nil without a socket: never ready
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	var ln net.Listener
	if sock := d.cfg.Admin.Socket; sock != "" {
		var err error
		if ln, err = listenAdmin(sock); err != nil {
			return err
		}
		defer os.Remove(sock)
	}
	d.logger.Info("started", "db", d.cfg.DB, "socket", d.cfg.Admin.Socket, "timezone", d.cfg.Location.String(),
		"transport", d.cfg.Mail.Transport)
	if err := d.recompute(d.clock()); err != nil {
		d.logger.Error("recomputing deadlines for the calendar", "err", err)
	}
	if err := d.load(ctx, d.clock()); err != nil {
		d.logger.Error("tracking files not loaded; stored state kept", "err", err)
	}
	if ln != nil {
		errc = make(chan error, 1)
		go func() { errc <- d.serveAdmin(adminCtx, ln) }()
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	failedPasses := 0 // consecutive
	for {
		select {
		case <-ctx.Done():
			d.logger.Info("stopping", "cause", context.Cause(ctx))
			stopAdmin()
			if errc != nil {
				if err := <-errc; err != nil {
					return err
				}
			}
			return nil
		case err := <-errc:
			return fmt.Errorf("admin socket: %w", err)
		case <-hup:
			d.hangup(ctx, reload)
		case <-d.wakeCh:
		case <-timer.C:
		}
		now := d.clock()
		failedPasses++
		if err := d.pass(ctx, now); err != nil {
			d.logger.Error("pass failed", "err", err)
		} else {
			failedPasses = 0
		}
		sleep := maxSleep
		if err := d.store.View(func(tx tracker.Tx) error {
			next, ok, err := d.nextWake(tx)
			if ok {
				sleep = min(sleep, max(next.Sub(d.clock()), 0))
			}
			return err
		}); err != nil {
			d.logger.Error("next wake-up", "err", err)
			sleep = time.Minute
		}
		if failedPasses > 0 {
			// What failed the pass (the mail server refusing our
			// credentials, a transport that cannot be set up, the disk)
			// left deliveries due now: back off like a temporary failure
			// instead of retrying at once in a busy loop.
			sleep = max(sleep, backoff(d.cfg.Mail.Retry, failedPasses))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(sleep)
		d.logger.Debug("sleeping", "for", sleep.String())
	}
}

// hangup reloads configuration, calendar and tracking files. A bad file
// is reported and the running state kept.
func (d *daemon) hangup(ctx context.Context, reload func() (*config.Config, *tracker.Expander, error)) {
	cfg, x, err := reload()
	if err == nil {
		var cal *tracker.Calendar
		if cal, err = calnotice.FromStore(d.store, x.Env.Cal, cfg.Location); err == nil {
			x = newExpander(cfg, cal)
		}
	}
	if err != nil {
		d.logger.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	renderer, err := notify.NewRenderer(cfg.Templates)
	if err != nil {
		d.logger.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	old := d.cfg
	if cfg.DB != old.DB || cfg.Admin.Socket != old.Admin.Socket {
		d.logger.Warn("db and admin.socket changes need a restart; keeping the old ones")
		cfg.DB, cfg.Admin.Socket = old.DB, old.Admin.Socket
	}
	d.mu.Lock()
	d.cfg, d.x, d.renderer = cfg, x, renderer
	d.newSender = func() (notify.Sender, error) { return newSender(cfg) }
	d.materialisedOn = tracker.Date{}
	d.mu.Unlock()
	// The calendar files may have changed: recompute open deadlines
	// first, so that the tracking files load onto them.
	if err := d.recompute(d.clock()); err != nil {
		d.logger.Error("recomputing deadlines after the calendar changed", "err", err)
	}
	if err := d.load(ctx, d.clock()); err != nil {
		d.logger.Error("tracking files not loaded; stored state kept", "err", err)
		return
	}
	d.logger.Info("reloaded", "config", cfg.File)
}

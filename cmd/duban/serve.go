package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/config"
	"duban/tracker"
	"duban/tracker/boltstore"
)

// daemon is `duban serve`: the only process that opens the database while
// it runs. It loads the tracking files, materialises recurring instances,
// serves the admin socket and runs scheduler passes.
type daemon struct {
	cfg    *config.Config
	store  *boltstore.Store
	logger *slog.Logger

	mu sync.Mutex
	x  *tracker.Expander

	wakeCh chan struct{}
}

func (d *daemon) expander() *tracker.Expander {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.x
}

// wake asks the scheduler loop to run a pass now (after an admin change).
func (d *daemon) wake() {
	select {
	case d.wakeCh <- struct{}{}:
	default:
	}
}

func newLogger(w interface{ Write([]byte) (int, error) }, c config.LogConfig) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.loadConfig(); err != nil {
				return err
			}
			now, err := a.now()
			if err != nil {
				return err
			}
			logger := newLogger(a.stderr, a.cfg.Log)
			st, err := boltstore.Open(a.cfg.DB, lockTimeout)
			if err != nil {
				return fmt.Errorf("open database: %w", err)
			}
			defer st.Close()
			d := &daemon{cfg: a.cfg, store: st, logger: logger, x: a.x, wakeCh: make(chan struct{}, 1)}
			if once {
				return d.pass(cmd.Context(), now)
			}
			return d.run(cmd.Context(), a.at != "")
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass as of --at and exit")
	a.addAt(cmd)
	return cmd
}

// pass loads the tracking files and materialises instances as of now.
// A bad tracking file is reported and the stored state kept.
func (d *daemon) pass(ctx context.Context, now time.Time) error {
	x := d.expander()
	d.warnCalendar(now)
	if len(d.cfg.Tracking) > 0 {
		res, err := importFiles(ctx, d.store, x, d.cfg.Tracking, d.cfg.Tracking, now, "duban serve", false)
		if err != nil {
			return fmt.Errorf("tracking files: %w", err)
		}
		d.logger.Info("tracking files loaded", "files", len(d.cfg.Tracking), "items", res.Items,
			"instances_added", res.InstancesAdded, "instances_updated", res.InstancesUpdated)
	}
	return nil
}

// warnCalendar logs, from 1 November, that next year's State Council
// arrangement is missing, so an operator adds it before deadlines need it.
func (d *daemon) warnCalendar(now time.Time) {
	x := d.expander()
	today := x.Env.Today(now)
	if today.Month >= time.November && !x.Env.Cal.Known(today.Year+1) {
		d.logger.Warn("holiday arrangement for next year is missing; deadlines in it are provisional",
			"year", today.Year+1, "how", "add the State Council notice as a holiday-cn JSON file to calendar.files")
	}
	if !x.Env.Cal.Known(today.Year) {
		d.logger.Warn("holiday arrangement for this year is missing; deadlines are provisional", "year", today.Year)
	}
}

// run serves until ctx ends: a pass at start, then one a day and on every
// wake-up. (The mail scheduler hooks in here.)
func (d *daemon) run(ctx context.Context, fixedNow bool) error {
	ln, err := listenAdmin(d.cfg.Admin.Socket)
	if err != nil {
		return err
	}
	defer os.Remove(d.cfg.Admin.Socket)
	errc := make(chan error, 1)
	go func() { errc <- d.serveAdmin(ctx, ln) }()
	d.logger.Info("started", "db", d.cfg.DB, "socket", d.cfg.Admin.Socket, "timezone", d.cfg.Location.String())
	if err := d.pass(ctx, time.Now()); err != nil {
		d.logger.Error("pass failed", "err", err)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			d.logger.Info("stopping", "cause", context.Cause(ctx))
			if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		case err := <-errc:
			return err
		case <-d.wakeCh:
		case <-timer.C:
			if err := d.pass(ctx, time.Now()); err != nil {
				d.logger.Error("pass failed", "err", err)
			}
			timer.Reset(time.Hour)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/account"
	"duban/cmd/internal/config"
	"duban/cmd/internal/daemon"
	"duban/cmd/internal/web"
	"duban/tracker"
	"duban/tracker/kvstore"
)

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
			if err := daemon.Check(a.cfg); err != nil {
				return fmt.Errorf("%w: %w", errBadConfig, err)
			}
			st, err := kvstore.Open(a.cfg.DB, lockTimeout)
			if err != nil {
				return fmt.Errorf("open database: %w", err)
			}
			defer st.Close()
			// The calendar includes the notices imported into the store,
			// at start and on every reload (SPEC §12).
			if a.x, err = withStoredNotices(st, a.cfg, a.x); err != nil {
				return err
			}
			reload := func() (*config.Config, *tracker.Expander, error) {
				cfg, x, err := a.reload()
				if err != nil {
					return nil, nil, err
				}
				x, err = withStoredNotices(st, cfg, x)
				return cfg, x, err
			}
			logger := newLogger(a.stderr, a.cfg.Log, a.cfg.Location)
			// On PostgreSQL several nodes share the store: this one acts
			// only while it holds the leader lease (SPEC §14).
			node := a.cfg.Cluster.NodeName()
			d, err := daemon.New(daemon.Options{Config: a.cfg, Expander: a.x, Store: st,
				Logger: logger, ReadConfig: reload, Exec: execForwarded,
				Lease: daemon.LeaseFor(st, node, a.cfg.Cluster, logger), Node: node})
			if err != nil {
				return fmt.Errorf("%w: %w", errBadConfig, err)
			}
			if once {
				now, err := a.now()
				if err != nil {
					return err
				}
				return d.RunOnce(cmd.Context(), now)
			}
			if a.at != "" {
				return fmt.Errorf("%w: --at needs --once", errBadUsage)
			}
			if a.cfg.Web.Listen == "" {
				return runDaemon(cmd.Context(), d)
			}
			return a.runWithWorkspace(cmd.Context(), d)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "run one pass as of --at and exit")
	a.addAt(cmd)
	return cmd
}

// runDaemon runs d until ctx ends, turning SIGHUP into d.Reload.
func runDaemon(ctx context.Context, d *daemon.Daemon) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			select {
			case <-hup:
				d.Reload(loopCtx)
			case <-loopCtx.Done():
				return
			}
		}
	}()
	return d.Run(ctx)
}

// runWithWorkspace runs the daemon and the workspace (web.listen) in
// this process over the daemon's store, and stops both when ctx ends or
// either fails. On the first start without any account it creates admin
// and prints its password once.
func (a *app) runWithWorkspace(ctx context.Context, d *daemon.Daemon) error {
	logger := newLogger(a.stderr, a.cfg.Log, a.cfg.Location)
	var pw string
	if err := d.Store().Update(func(tx tracker.Tx) (err error) {
		pw, err = account.EnsureAdmin(tx, d.Now())
		return err
	}); err != nil {
		return err
	}
	cfg := a.cfg.Web
	srv, err := web.New(web.Options{Daemon: d, Logger: logger,
		Secure: cfg.TLS.Cert != "" || strings.HasPrefix(cfg.BaseURL, "https://")})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	webErr := make(chan error, 1)
	ready := make(chan string, 1)
	go func() {
		webErr <- srv.Serve(ctx, cfg.Listen, cfg.TLS, func(addr net.Addr) { ready <- addr.String() })
		cancel() // a workspace that cannot serve stops the daemon too
	}()
	select {
	case addr := <-ready:
		url := cfg.BaseURL
		if url == "" {
			scheme := "http"
			if cfg.TLS.Cert != "" {
				scheme = "https"
			}
			url = scheme + "://" + addr
		}
		fmt.Fprintf(a.stdout, "督办工作台：%s\n", url)
		if pw != "" {
			fmt.Fprintf(a.stdout, "首次启动，已创建管理员账户 admin，初始密码（只显示这一次）：%s\n"+
				"登录后请用 duban user passwd admin 修改，并用 duban user add 为督查室和领导建立账户。\n", pw)
		}
	case err := <-webErr:
		return err
	}
	runErr := runDaemon(ctx, d)
	cancel()
	if err := <-webErr; err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// reload re-reads the configuration and calendar files for SIGHUP.
func (a *app) reload() (*config.Config, *tracker.Expander, error) {
	fresh := &app{cwd: a.cwd, configPath: a.configPath, dbPath: a.dbPath}
	if err := fresh.loadConfig(); err != nil {
		return nil, nil, err
	}
	return fresh.cfg, fresh.x, nil
}

// execForwarded runs a command line sent to the daemon's admin socket,
// against the daemon's open store, config and expander; an action is
// recorded at the caller's wall clock when it sent one.
func execForwarded(ctx context.Context, d *daemon.Daemon, req daemon.Request, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr, cwd: req.Cwd, actor: req.Actor,
		cfg: d.Config(), x: d.Expander(), store: d.Store(), shared: true, clock: d.Now, running: d}
	if req.Stdin != "" {
		a.stdin = strings.NewReader(req.Stdin)
	}
	if rec := req.RecordedAt; !rec.IsZero() {
		a.clock = func() time.Time { return rec }
	}
	return a.execute(ctx, req.Args)
}

// Package daemon is `duban serve`: the only process that opens the
// database while it runs. Its loop sleeps until the earliest entry of the
// wake or queue index comes due, then runs a pass: materialise recurring
// instances (once a day), decide the notices that came due (one
// transaction: the outbox), deliver the outbox (deliver.go), and queue and
// mail the monthly bulletin and the weekly summary (reports.go). It
// reloads configuration, calendar and tracking files on request (SIGHUP),
// recomputing open deadlines when the calendar changed, and serves the
// admin socket (admin.go), where every other command runs in-process.
//
// The API is what `duban serve` and a web server beside the loop need:
// New, Run, RunOnce and Reload to drive it; Store, Expander and Config
// for the state the daemon is running on (an HTTP handler reads through
// Store().View and writes through Store().Update with Expander()); Wake
// to run a pass now after a change, as the admin socket does after each
// command. The daemon never imports package main: the CLI commands that
// the admin socket runs come in as an Exec.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"duban/cmd/internal/config"
	"duban/cmd/internal/importer"
	"duban/notify"
	"duban/tracker"
	"duban/tracker/calnotice"
	"duban/tracker/kvstore"
	"duban/tracker/trackfile"
)

// Daemon is the running service over one open store.
type Daemon struct {
	cfg      *config.Config
	store    *kvstore.Store
	logger   *slog.Logger
	renderer *notify.Renderer
	clock    func() time.Time
	// newSender opens the mail transport for one delivery round.
	newSender func() (notify.Sender, error)
	// injected: newSender came from Options and survives a reload.
	injected   bool
	readConfig func() (*config.Config, *tracker.Expander, error)
	exec       Exec

	mu sync.Mutex
	x  *tracker.Expander

	wakeCh   chan struct{}
	reloadCh chan struct{}
	stopped  chan struct{} // closed when Run returns

	robotHTTP *http.Client // shared by the robots' posts (robots.go)

	lead *leader // nil on one node (bbolt); see cluster.go

	materialisedOn tracker.Date
	warnedOn       tracker.Date
}

// Exec runs one command line forwarded over the admin socket, in-process
// against d's store, config and expander, writing what the command prints
// to stdout and stderr; it returns the exit status. Package main provides
// it (its cobra commands), so that the daemon does not import main.
type Exec func(ctx context.Context, d *Daemon, req Request, stdout, stderr io.Writer) int

// Options are what New needs. Config, Expander and Store are required.
type Options struct {
	Config   *config.Config
	Expander *tracker.Expander
	Store    *kvstore.Store
	Logger   *slog.Logger     // nil: discard
	Clock    func() time.Time // nil: time.Now; tests run the loop on a fake clock
	// NewSender opens the mail transport for one delivery round; nil: the
	// configured transport (NewSender(cfg)), rebuilt on each reload.
	NewSender func() (notify.Sender, error)
	// ReadConfig re-reads the configuration and calendar for Reload; nil:
	// a reload keeps the running configuration and reports why.
	ReadConfig func() (*config.Config, *tracker.Expander, error)
	// Exec runs the commands sent to the admin socket; nil: the socket
	// answers every command with exit status 1.
	Exec Exec
	// Lease, when the store is shared by several nodes (PostgreSQL),
	// makes the daemon act only while it leads (cluster.go); Node names
	// this node. nil: the only node, as with a bbolt file.
	Lease Lease
	Node  string
}

// Check reports whether a daemon can run on cfg: the templates parse and
// the mail transport can be set up. `duban serve` calls it before it
// opens the database.
func Check(cfg *config.Config) error {
	if _, err := notify.NewRenderer(cfg.Templates); err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	if _, err := NewSender(cfg); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	return nil
}

// New returns a daemon over o.Store, or the error of Check. The caller
// keeps the store and closes it after Run or RunOnce returned. Run may be
// called once.
func New(o Options) (*Daemon, error) {
	if o.Config == nil || o.Expander == nil || o.Store == nil {
		return nil, errors.New("daemon: Config, Expander and Store are required")
	}
	renderer, err := notify.NewRenderer(o.Config.Templates)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	d := &Daemon{cfg: o.Config, x: o.Expander, store: o.Store, logger: o.Logger, renderer: renderer, clock: o.Clock,
		newSender: o.NewSender, injected: o.NewSender != nil, readConfig: o.ReadConfig, exec: o.Exec,
		wakeCh: make(chan struct{}, 1), reloadCh: make(chan struct{}), stopped: make(chan struct{})}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	if o.Lease != nil {
		d.lead = &leader{lease: o.Lease, node: o.Node, renew: o.Config.Cluster.Renew}
		d.logger = d.logger.With("node", o.Node)
	}
	if d.clock == nil {
		d.clock = time.Now
	}
	if d.newSender == nil {
		cfg := o.Config
		if _, err := NewSender(cfg); err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		d.newSender = func() (notify.Sender, error) { return NewSender(cfg) }
	}
	return d, nil
}

// Status is the daemon's last pass, stored in the store's meta for
// `list`, `show` and `outbox`.
type Status struct {
	LastPass  time.Time `json:"last_pass"`
	Queued    int       `json:"queued"`
	Failed    int       `json:"failed"`
	Sent      int       `json:"sent_last_pass"`
	NextWake  time.Time `json:"next_wake,omitzero"`
	PassError string    `json:"pass_error,omitempty"`
	// Node and Term are, with several nodes, the leader that ran the pass.
	Node string `json:"node,omitempty"`
	Term int64  `json:"term,omitempty"`
}

const metaStatus = "daemon_status"

// LoadStatus reads the daemon's last pass summary (nil if it never ran).
func LoadStatus(tx tracker.Tx) (*Status, error) {
	b, err := tx.Meta(metaStatus)
	if err != nil || b == nil {
		return nil, err
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("daemon status: %w", err)
	}
	return &st, nil
}

// Summary is the status line the CLI prints, in Chinese; st may be nil.
func (st *Status) Summary(loc *time.Location) string {
	if st == nil {
		return "督办服务：尚无运行记录（请运行 duban serve）"
	}
	s := fmt.Sprintf("督办服务：上次运行 %s，待发送 %d，发送失败 %d", st.LastPass.In(loc).Format("2006-01-02 15:04:05"), st.Queued, st.Failed)
	if !st.NextWake.IsZero() {
		s += "，下次运行 " + st.NextWake.In(loc).Format("2006-01-02 15:04")
	}
	if st.PassError != "" {
		s += "，上次错误：" + st.PassError
	}
	return s
}

// Store is the daemon's open store.
func (d *Daemon) Store() *kvstore.Store { return d.store }

// Expander is the running deadline engine (swapped on reload).
func (d *Daemon) Expander() *tracker.Expander {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.x
}

// Config returns the running configuration (swapped on reload).
func (d *Daemon) Config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Now is the daemon's clock.
func (d *Daemon) Now() time.Time { return d.clock() }

// Wake asks the loop to run a pass now (after a change to the store); it
// never blocks, and wakes made while a pass runs fold into one.
func (d *Daemon) Wake() {
	select {
	case d.wakeCh <- struct{}{}:
	default:
	}
}

// SetCalendar makes cal the daemon's working calendar and recomputes the
// open deadlines through the same path as any calendar change (history,
// 更正): the hook of `duban calendar import --apply` run by the daemon.
func (d *Daemon) SetCalendar(cal *tracker.Calendar) error {
	d.mu.Lock()
	x := *d.x
	x.Env.Cal = cal
	d.x = &x
	d.mu.Unlock()
	return d.recompute(d.store, d.clock())
}

// Reload asks the loop to re-read configuration, calendar and tracking
// files (SIGHUP); a bad file is reported and the running state kept. It
// returns once the loop has taken the request; the reload and a pass
// follow. It waits for Run to start; it returns ctx's error, or an error
// once Run has returned.
func (d *Daemon) Reload(ctx context.Context) error {
	select {
	case d.reloadCh <- struct{}{}:
		return nil
	case <-d.stopped:
		return errors.New("daemon stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Daemon) sender() (notify.Sender, error) {
	d.mu.Lock()
	f := d.newSender
	d.mu.Unlock()
	return f()
}

// NewSender builds the configured mail transport.
func NewSender(cfg *config.Config) (notify.Sender, error) {
	if cfg.Mail.Transport == "file" {
		fs, err := notify.NewFileSender(cfg.Mail.File.Dir)
		if err != nil {
			return nil, err
		}
		return fs, nil
	}
	s := cfg.Mail.SMTP
	ss, err := notify.NewSMTPSender(notify.SMTPOptions{
		Host: s.Host, Port: s.Port, TLS: s.TLS, CAFile: s.CAFile,
		Username: s.Username, Password: string(s.Password), Auth: s.Auth, Timeout: s.Timeout,
	})
	if err != nil {
		return nil, err
	}
	return ss, nil
}

// RunOnce runs a single pass as of now, for cron-driven setups (`serve
// --once`): recompute the open deadlines if the calendar changed since the
// last run, load the tracking files, then the pass. It serves no socket.
//
// In leader mode it first takes the lease (waiting for it at most twice
// its TTL, as a standby would), runs the pass fenced by its term, and
// resigns.
func (d *Daemon) RunOnce(ctx context.Context, now time.Time) error {
	if d.lead != nil {
		leaseCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.lead.lease.Run(leaseCtx, d.Wake)
		}()
		defer func() { stop(); <-done }() // resigns
		if err := d.waitLeading(ctx, 2*d.Config().Cluster.LeaseTTL); err != nil {
			return err
		}
		if _, err := d.startPass(); err != nil {
			return err
		}
	}
	if err := d.recompute(d.writer(), now); err != nil {
		return err
	}
	if err := d.load(ctx, now); err != nil {
		return err
	}
	d.started()
	d.PollInbound(ctx, now) // logged; the notices go out regardless
	return d.pass(ctx, now)
}

// load imports the configured tracking files. A bad file changes nothing.
func (d *Daemon) load(ctx context.Context, now time.Time) error {
	if len(d.cfg.Tracking) == 0 {
		return nil
	}
	res, err := importer.Files(ctx, d.writer(), d.Expander(), d.cfg.Tracking, d.cfg.Tracking, now, "duban serve", false,
		trackfile.WithRobots(d.cfg.RobotNames()))
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
func (d *Daemon) recompute(st tracker.Store, now time.Time) error {
	x := d.Expander()
	fp := x.CalendarFingerprint(now)
	var res tracker.ImportResult
	ran := false
	err := st.Update(func(tx tracker.Tx) error {
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
//
// In leader mode it runs only while this node leads: the first pass of a
// term starts the scheduler (recompute, tracking files) as Run does at
// start on one node, and every write is fenced by the term.
func (d *Daemon) pass(ctx context.Context, now time.Time) error {
	start, err := d.startPass()
	if err != nil {
		return err
	}
	if start {
		d.logger.Info("leading", "term", d.passFence().Term)
		if err := d.recompute(d.writer(), now); err != nil {
			return err
		}
		if err := d.load(ctx, now); err != nil {
			if Deposed(err) {
				return err
			}
			d.logger.Error("tracking files not loaded; stored state kept", "err", err)
		}
		d.started()
	}
	x := d.Expander()
	today := x.Env.Today(now)
	if today != d.warnedOn {
		d.warnCalendar(now)
		d.warnedOn = today
	}
	if today != d.materialisedOn {
		var res tracker.ImportResult
		if err := d.writer().Update(func(tx tracker.Tx) error {
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
	if err := d.writer().Update(func(tx tracker.Tx) error {
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
	if Deposed(derr) {
		return derr // stop acting at once
	}
	if rdel, rerr := d.deliverRobots(ctx, now); rdel.Messages > 0 || rerr != nil { // work-group robots (robots.go)
		d.logger.Info("robot messages posted", "messages", rdel.Messages, "sent", rdel.Sent, "retry", rdel.Retried, "failed", rdel.Failed)
		del.Sent, derr = del.Sent+rdel.Sent, errors.Join(derr, rerr)
	}
	if Deposed(derr) {
		return derr
	}
	if rerr := d.reports(ctx, now, &del); rerr != nil { // monthly bulletin, weekly summary (reports.go)
		if Deposed(rerr) {
			return rerr
		}
		derr = errors.Join(derr, rerr)
	}
	if del.Messages > 0 {
		d.logger.Info("mail delivered", "messages", del.Messages, "sent", del.Sent, "retry", del.Retried, "failed", del.Failed)
	}
	st := Status{LastPass: now.UTC(), Sent: del.Sent}
	if d.lead != nil {
		st.Node, st.Term = d.lead.node, d.passFence().Term
	}
	if derr != nil {
		st.PassError = derr.Error()
	}
	if err := d.saveStatus(&st); err != nil {
		return errors.Join(derr, err)
	}
	return derr
}

// saveStatus stores the pass summary with the outbox counts.
func (d *Daemon) saveStatus(st *Status) error {
	return d.writer().Update(func(tx tracker.Tx) error {
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
func (d *Daemon) nextWake(tx tracker.Tx) (time.Time, bool, error) {
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
func (d *Daemon) warnCalendar(now time.Time) {
	x := d.Expander()
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

// Run serves the admin socket and runs passes until ctx ends: one at
// start (catching up after downtime), then whenever the earliest entry of
// the wake or queue index comes due, Wake was called (an admin command
// changed something), or Reload reloaded the files. It returns nil when
// ctx ended, after the message being sent and the admin commands running.
func (d *Daemon) Run(ctx context.Context) error {
	defer close(d.stopped)
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
	if d.lead == nil { // a leader does this at the first pass of its term
		if err := d.recompute(d.store, d.clock()); err != nil {
			d.logger.Error("recomputing deadlines for the calendar", "err", err)
		}
		if err := d.load(ctx, d.clock()); err != nil {
			d.logger.Error("tracking files not loaded; stored state kept", "err", err)
		}
	} else {
		// The lease outlives the loop: a leader stopping finishes (and
		// marks) the message in flight, then resigns, handing over at once.
		leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
		leaseDone := make(chan struct{})
		go func() {
			defer close(leaseDone)
			d.lead.lease.Run(leaseCtx, d.Wake)
		}()
		defer func() { stopLease(); <-leaseDone }()
	}
	if ln != nil {
		errc = make(chan error, 1)
		go func() { errc <- d.serveAdmin(adminCtx, ln) }()
	}
	if d.cfg.Inbound.IMAP.Host != "" {
		go d.pollInboundLoop(ctx) // replies to notices (inbound.go)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	failedPasses := 0   // consecutive
	var dueAt time.Time // leader mode: when the next pass has work; the timer may fire before, to look
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
		case <-d.reloadCh:
			d.hangup(ctx)
			dueAt = time.Time{}
		case <-d.wakeCh:
			dueAt = time.Time{}
		case <-timer.C:
		}
		now := d.clock()
		if d.lead != nil && now.Before(dueAt) {
			// A leader's periodic look: other nodes' writes cannot wake
			// it, so it reads the indexes and passes only if work is due.
			// After a failed pass it keeps the back-off.
			if _, leading := d.Leading(); leading {
				work, wait, err := d.due(now)
				if failedPasses > 0 {
					wait = dueAt.Sub(now)
				}
				if failedPasses > 0 || (err == nil && !work) {
					resetTimer(timer, min(wait, d.lead.renew))
					continue
				}
			}
		}
		failedPasses++
		err := d.pass(ctx, now)
		switch {
		case err == nil:
			failedPasses = 0
		case Deposed(err):
			failedPasses = 0
			if !errors.Is(err, errNotLeading) {
				d.logger.Warn("deposed: another node took the lease over; stopped acting", "err", err)
			}
		default:
			d.logger.Error("pass failed", "err", err)
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
		if d.lead != nil {
			// A standby waits for the lease (its change wakes the loop)
			// and looks every renew interval; a leader looks as often.
			dueAt = d.clock().Add(sleep)
			sleep = min(sleep, d.lead.renew)
		}
		resetTimer(timer, sleep)
		d.logger.Debug("sleeping", "for", sleep.String())
	}
}

// resetTimer stops t, drains it, and resets it to d.
func resetTimer(t *time.Timer, d time.Duration) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	t.Reset(d)
}

// hangup reloads configuration, calendar and tracking files. A bad file
// is reported and the running state kept.
func (d *Daemon) hangup(ctx context.Context) {
	if d.readConfig == nil {
		d.logger.Error("reload failed; keeping the running configuration", "err", "no way to re-read the configuration")
		return
	}
	cfg, x, err := d.readConfig()
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
	if !d.injected {
		d.newSender = func() (notify.Sender, error) { return NewSender(cfg) }
	}
	d.materialisedOn = tracker.Date{}
	d.mu.Unlock()
	if d.lead != nil {
		// The leader's next pass recomputes and loads, under its term.
		d.restart()
		d.logger.Info("reloaded", "config", cfg.File)
		return
	}
	// The calendar files may have changed: recompute open deadlines
	// first, so that the tracking files load onto them.
	if err := d.recompute(d.store, d.clock()); err != nil {
		d.logger.Error("recomputing deadlines after the calendar changed", "err", err)
	}
	if err := d.load(ctx, d.clock()); err != nil {
		d.logger.Error("tracking files not loaded; stored state kept", "err", err)
		return
	}
	d.logger.Info("reloaded", "config", cfg.File)
}

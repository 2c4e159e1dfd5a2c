package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"duban/cmd/internal/config"
	"duban/cmd/internal/daemon"
	"duban/cmd/internal/importer"
	"duban/cmd/internal/ops"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/trackfile"
)

// app is one invocation of a command: its streams, configuration and
// store. The daemon runs one per admin request (execForwarded), sharing
// its store.
type app struct {
	stdout, stderr io.Writer
	stdin          io.Reader // nil: the process's standard input
	input          string    // what a command read from stdin, forwarded with it
	cwd            string    // relative file arguments resolve here
	actor          string    // who is recorded in audit events

	args []string // the command line, forwarded to a running daemon

	configPath string
	dbPath     string
	at         string

	cfg    *config.Config
	x      *tracker.Expander
	store  tracker.Store
	shared bool // store belongs to the daemon: do not close, do not forward
	// running is the daemon that runs this command (execForwarded), nil
	// in a command of its own.
	running *daemon.Daemon

	// clock is the wall clock that stamps when an action is recorded
	// (nil: time.Now); --at only sets when it took effect. Tests inject
	// it; the daemon runs a forwarded command with the caller's reading.
	clock func() time.Time
}

// lockTimeout bounds how long a command waits for the database lock.
const lockTimeout = time.Second

// errBadUsage marks usage errors (exit status 2).
var errBadUsage = ops.ErrBadUsage

// forwardedError carries the exit status of a command the daemon ran.
type forwardedError struct{ code int }

func (e *forwardedError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func isBadInput(err error) bool {
	var tfe trackfile.Errors
	var cve *config.ValidationError
	return errors.Is(err, errBadUsage) || errors.Is(err, tracker.ErrInvalid) ||
		errors.Is(err, tracker.ErrBadRule) || errors.Is(err, tracker.ErrNotFound) ||
		errors.As(err, &tfe) || errors.As(err, &cve) || errors.Is(err, errBadConfig) || errors.Is(err, importer.ErrBadInput)
}

var errBadConfig = errors.New("bad configuration")

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// execute runs args as a duban command line and returns the exit status.
func (a *app) execute(ctx context.Context, args []string) int {
	a.args = args
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	if a.stdin != nil {
		root.SetIn(a.stdin)
	}
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		err = fmt.Errorf("%w: %w", errBadUsage, err)
	}
	if a.store != nil && !a.shared {
		if cerr := a.store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	var fwd *forwardedError
	if err != nil && !errors.As(err, &fwd) {
		fmt.Fprintln(a.stderr, "duban:", err)
	}
	return exitCode(err)
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "duban",
		Short: "督办: track deadlines on the Chinese working calendar and chase them by email",
		Long: `duban tracks decisions and documents that units must handle by a deadline,
computes every deadline on the Chinese working calendar (holidays and 调休),
and chases the units by email until they are done.

Run "duban serve" as the daemon; every other command is the admin CLI and
talks to the running daemon over its socket, or opens the database itself.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		DisableAutoGenTag: true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w", errBadUsage, err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "config file (default $DUBAN_CONFIG, else duban.yaml if present, else built-in defaults)")
	pf.StringVar(&a.dbPath, "db", "", "database file (overrides the config's db)")
	root.AddCommand(
		a.serveCommand(),
		a.importCommand(),
		a.listCommand(),
		a.showCommand(),
		a.actionCommand("done", "ID", "record that an instance is done (办结)", "note", false),
		a.actionCommand("progress", "ID", "record progress on an instance", "note", true),
		a.actionCommand("extend", "ID", "extend an instance's deadline (延期)", "reason", true),
		a.actionCommand("assign", "ID", "assign an instance to a unit", "note", false),
		a.actionCommand("return", "ID", "record that a unit returned an instance as not its business (退回)", "reason", true),
		a.actionCommand("withdraw", "ID", "withdraw an instance that is no longer required", "reason", true),
		a.reviewCommand(),
		a.linkCommand(),
		a.planCommand(),
		a.dueCommand(),
		a.outboxCommand(),
		a.statusCommand(),
		a.reportCommand(),
		a.exportCommand(),
		a.backupCommand(),
		a.migrateCommand(),
		a.userCommand(),
		a.calendarCommand(),
		a.sheetCommand(),
		a.robotCommand(),
	)
	for _, c := range root.Commands() {
		c.Args = wrapArgs(c.Args)
	}
	return root
}

// wrapArgs marks positional-argument errors as usage errors.
func wrapArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	if v == nil {
		return nil
	}
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return fmt.Errorf("%w: %s: %w", errBadUsage, cmd.Name(), err)
		}
		return nil
	}
}

// loadConfig reads the configuration once per invocation.
func (a *app) loadConfig() error {
	if a.cfg != nil {
		return nil
	}
	path := a.configPath
	if path == "" {
		path = os.Getenv("DUBAN_CONFIG")
	}
	if path == "" {
		if _, err := os.Stat(filepath.Join(a.cwd, "duban.yaml")); err == nil {
			path = "duban.yaml"
		}
	}
	if path != "" {
		path = a.abs(path)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadConfig, err)
	}
	if a.dbPath != "" {
		if err := cfg.SetDB(a.dbPath, a.cwd); err != nil {
			return fmt.Errorf("%w: %w", errBadConfig, err)
		}
	}
	x, err := cfg.Expander()
	if err != nil {
		return fmt.Errorf("%w: %w", errBadConfig, err)
	}
	a.cfg = cfg
	a.x = x
	return nil
}

func (a *app) abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(a.cwd, p)
}

// now returns the --at time, or the wall clock.
func (a *app) now() (time.Time, error) {
	if a.at == "" {
		return time.Now().In(a.cfg.Location), nil
	}
	return parseAt(a.at, a.cfg.Location)
}

// wallClock returns the recording time: the injected clock or time.Now.
func (a *app) wallClock() time.Time {
	if a.clock != nil {
		return a.clock().In(a.cfg.Location)
	}
	return time.Now().In(a.cfg.Location)
}

// actionTimes returns when an action takes effect (--at, default now)
// and when it is recorded (the wall clock).
func (a *app) actionTimes() (effective, recorded time.Time, err error) {
	recorded = a.wallClock()
	effective = recorded
	if a.at != "" {
		effective, err = parseAt(a.at, a.cfg.Location)
	}
	return effective, recorded, err
}

// parseAt parses an --at or --from value: YYYY-MM-DD, YYYY-MM-DD HH:MM (in
// loc) or RFC 3339.
func parseAt(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), nil
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a time; use YYYY-MM-DD, \"YYYY-MM-DD HH:MM\" or RFC 3339", errBadUsage, s)
}

// addAt registers --at on cmd.
func (a *app) addAt(cmd *cobra.Command) {
	cmd.Flags().StringVar(&a.at, "at", "", `evaluate as of this time (YYYY-MM-DD, "YYYY-MM-DD HH:MM" or RFC 3339; default now)`)
}

// openStore returns the store for a command that needs the database.
// When a daemon answers on the admin socket, the whole command is run by
// the daemon instead and a *forwardedError carries its exit status.
func (a *app) openStore(ctx context.Context) (tracker.Store, error) {
	if a.store != nil {
		return a.store, nil
	}
	if err := a.loadConfig(); err != nil {
		return nil, err
	}
	if code, ok, err := a.forward(ctx); ok || err != nil {
		if err != nil {
			return nil, err
		}
		return nil, &forwardedError{code: code}
	}
	st, err := kvstore.Open(a.cfg.DB, lockTimeout)
	if errors.Is(err, kvstore.ErrLocked) {
		return nil, fmt.Errorf("%s is in use by another process and no daemon answers on %s; stop that process or check admin.socket: %w",
			a.cfg.DB, a.cfg.Admin.Socket, err)
	}
	if err != nil {
		return nil, err
	}
	a.store = st
	// The calendar includes the notices imported into this database.
	if a.x, err = withStoredNotices(st, a.cfg, a.x); err != nil {
		return nil, err
	}
	return st, nil
}

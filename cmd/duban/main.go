// Command duban tracks deadlines of supervised items (督办事项) on the
// Chinese working calendar and chases them by email. `duban serve` is the
// daemon; every other subcommand is the admin CLI (SPEC §8).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // minimal systems lack zoneinfo; deadlines need Asia/Shanghai
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses (SPEC §8).
const (
	exitOK      = 0
	exitFailure = 1
	exitBadUse  = 2
)

// run is main without the process: tests call it with their own
// arguments and writers. It returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(stderr, "duban:", err)
		return exitFailure
	}
	a := &app{stdout: stdout, stderr: stderr, cwd: cwd, actor: currentUser()}
	return a.execute(ctx, args)
}

// exitCode maps an error to the exit status: bad input and bad usage are
// 2, everything else 1.
func exitCode(err error) int {
	var fwd *forwardedError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &fwd):
		return fwd.code
	case isBadInput(err):
		return exitBadUse
	}
	return exitFailure
}

package kvstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/tracker/kvstore"
)

// Environment of the helper process (TestHelperProcess).
const (
	envHelperPath = "DUBAN_BOLTSTORE_HELPER_PATH"
	envHelperMode = "DUBAN_BOLTSTORE_HELPER_MODE" // "rw" or "ro"
)

const lockTimeout = 500 * time.Millisecond

// TestHelperProcess is not a test: run by TestLock in a child process, it
// opens the database named by the environment and prints what happened.
// bbolt's flock is per open file, so only a second process shows what a
// second daemon or the CLI would see.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(envHelperPath)
	if path == "" {
		t.Skip("helper process for TestLock")
	}
	open := kvstore.Open
	if os.Getenv(envHelperMode) == "ro" {
		open = kvstore.OpenReadOnly
	}
	start := time.Now()
	s, err := open(path, lockTimeout)
	elapsed := time.Since(start)
	switch {
	case errors.Is(err, kvstore.ErrLocked):
		fmt.Printf("locked %d\n", elapsed.Milliseconds())
	case err != nil:
		fmt.Printf("error %v\n", err)
	default:
		s.Close()
		fmt.Printf("opened %d\n", elapsed.Milliseconds())
	}
	os.Exit(0)
}

// Ensure that a second process fails with ErrLocked after the timeout,
// instead of hanging, while the database is held, and that readers share.
func TestLock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	tests := []struct {
		name         string
		holder       string // how this process holds the file
		child        string // how the child opens it
		wantLocked   bool
		wantMinDelay time.Duration
	}{
		{"rw holder, rw child", "rw", "rw", true, lockTimeout - 100*time.Millisecond},
		{"rw holder, ro child", "rw", "ro", true, lockTimeout - 100*time.Millisecond},
		{"ro holder, rw child", "ro", "rw", true, lockTimeout - 100*time.Millisecond},
		{"ro holder, ro child", "ro", "ro", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "duban.db")
			s, err := kvstore.Open(path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if tt.holder == "ro" {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if s, err = kvstore.OpenReadOnly(path, time.Second); err != nil {
					t.Fatal(err)
				}
			}
			defer s.Close()

			// A hang would show as the context deadline, not a stuck test.
			ctx, cancel := context.WithTimeout(t.Context(), lockTimeout+10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), envHelperPath+"="+path, envHelperMode+"="+tt.child)
			start := time.Now()
			out, err := cmd.Output()
			wall := time.Since(start)
			if err != nil {
				t.Fatalf("helper: %v (after %v), output %q", err, wall, out)
			}
			var verdict string
			var ms int64
			if _, err := fmt.Sscanf(string(out), "%s %d", &verdict, &ms); err != nil {
				t.Fatalf("helper output %q", out)
			}
			delay := time.Duration(ms) * time.Millisecond
			want := "opened"
			if tt.wantLocked {
				want = "locked"
			}
			if verdict != want {
				t.Fatalf("child %s open: %s, want %s", tt.child, strings.TrimSpace(string(out)), want)
			}
			if delay < tt.wantMinDelay || delay > lockTimeout+time.Second {
				t.Errorf("child gave up after %v, want about %v", delay, lockTimeout)
			}
		})
	}
}

// Ensure that a timeout <= 0 means one attempt rather than bbolt's
// "wait forever", and that the error says what happened.
func TestLockZeroTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	path := filepath.Join(t.TempDir(), "duban.db")
	mustOpenPath(t, path) // held by this process
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcessZero$")
	cmd.Env = append(os.Environ(), envHelperPath+"="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v, output %q", err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "open "+path+": database is locked by another process") {
		t.Errorf("zero-timeout open: %q", got)
	}
}

// TestHelperProcessZero is not a test: TestLockZeroTimeout's child.
func TestHelperProcessZero(t *testing.T) {
	path := os.Getenv(envHelperPath)
	if path == "" {
		t.Skip("helper process for TestLockZeroTimeout")
	}
	start := time.Now()
	_, err := kvstore.Open(path, 0)
	if time.Since(start) > time.Second {
		fmt.Println("waited")
	} else {
		fmt.Println(err)
	}
	os.Exit(0)
}

package daemon

import (
	"context"
	"testing"
)

// Reload hands the request to the running loop and returns; once Run has
// returned it fails instead of waiting for a loop that is gone.
func TestReloadWhileRunningAndAfterStop(t *testing.T) {
	d := newTestDaemon(t, nil)
	d.cfg.Admin.Socket = "" // no socket: nothing to listen on
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for range 2 { // the second returns after the first reload and its pass
		if err := d.Reload(t.Context()); err != nil {
			t.Fatalf("Reload while running: %v", err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := d.Reload(t.Context()); err == nil {
		t.Error("Reload after Run returned succeeded")
	}
}

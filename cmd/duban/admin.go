package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"duban/cmd/internal/daemon"
)

// The client side of the admin socket (the server is in
// cmd/internal/daemon/admin.go): while `duban serve` runs it holds the
// bbolt lock, so every other command is sent to it and run inside the
// daemon against the daemon's open store — one command tree, two
// transports.

// forward runs the command line in a daemon listening on the admin socket.
// ok is false when no daemon listens there.
func (a *app) forward(ctx context.Context) (code int, ok bool, err error) {
	if a.shared {
		return 0, false, nil
	}
	sock := a.cfg.Admin.Socket
	client, ok := daemon.AdminClient(sock)
	if !ok {
		return 0, false, nil // no daemon: open the database directly
	}
	body, _ := json.Marshal(daemon.Request{Args: a.args, Cwd: a.cwd, Actor: a.actor, RecordedAt: a.wallClock(), Stdin: a.input})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, daemon.RunURL, bytes.NewReader(body))
	if err != nil {
		return 0, true, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, true, fmt.Errorf("admin socket %s: %w", sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, true, fmt.Errorf("admin socket %s: %s: %s", sock, resp.Status, bytes.TrimSpace(msg))
	}
	var out daemon.Response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, true, fmt.Errorf("admin socket %s: %w", sock, err)
	}
	io.WriteString(a.stdout, out.Stdout)
	io.WriteString(a.stderr, out.Stderr)
	return out.Code, true, nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// The admin socket: while `duban serve` runs it holds the bbolt lock, so
// every other command is sent to it over a Unix socket (0600) and run
// inside the daemon against the daemon's open store — one command tree,
// two transports. The protocol is HTTP: POST /v1/run with an adminRequest,
// answered by an adminResponse.

type adminRequest struct {
	Args  []string `json:"args"`
	Cwd   string   `json:"cwd"`
	Actor string   `json:"actor"`
	// RecordedAt is the caller's wall clock: actions run by the daemon
	// are recorded at the time the caller gave them (SPEC §4).
	RecordedAt time.Time `json:"recorded_at,omitzero"`
}

type adminResponse struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
}

// dialTimeout bounds connecting to the admin socket; a daemon that holds
// the lock but does not answer is reported instead of waited for.
const dialTimeout = 2 * time.Second

// forward runs the command line in a daemon listening on the admin socket.
// ok is false when no daemon listens there.
func (a *app) forward(ctx context.Context) (code int, ok bool, err error) {
	if a.shared {
		return 0, false, nil
	}
	client, sock, ok := a.adminClient()
	if !ok {
		return 0, false, nil // no daemon: open the database directly
	}
	body, _ := json.Marshal(adminRequest{Args: a.args, Cwd: a.cwd, Actor: a.actor, RecordedAt: a.wallClock()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://duban/v1/run", bytes.NewReader(body))
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
	var out adminResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, true, fmt.Errorf("admin socket %s: %w", sock, err)
	}
	io.WriteString(a.stdout, out.Stdout)
	io.WriteString(a.stderr, out.Stderr)
	return out.Code, true, nil
}

// adminClient returns an HTTP client for the admin socket, and false when
// no daemon answers there.
func (a *app) adminClient() (*http.Client, string, bool) {
	sock := a.cfg.Admin.Socket
	if sock == "" {
		return nil, "", false
	}
	conn, err := net.DialTimeout("unix", sock, dialTimeout)
	if err != nil {
		return nil, "", false
	}
	conn.Close()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}, sock, true
}

// listenAdmin creates the admin socket with mode 0600, replacing a stale
// socket file but refusing to take over one a live daemon answers on.
func listenAdmin(path string) (net.Listener, error) {
	if conn, err := net.DialTimeout("unix", path, dialTimeout); err == nil {
		conn.Close()
		return nil, fmt.Errorf("admin socket %s: another daemon is answering there", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("admin socket %s: remove stale socket: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	return ln, nil
}

// adminHandler runs forwarded commands against the daemon's store.
func (d *daemon) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/run", func(w http.ResponseWriter, r *http.Request) {
		var req adminRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(req.Args) > 0 && req.Args[0] == "serve" {
			http.Error(w, "serve cannot be run through the admin socket", http.StatusBadRequest)
			return
		}
		var stdout, stderr bytes.Buffer
		a := &app{stdout: &stdout, stderr: &stderr, cwd: req.Cwd, actor: req.Actor,
			cfg: d.config(), x: d.expander(), store: d.store, shared: true, daemon: d, clock: d.clock}
		if rec := req.RecordedAt; !rec.IsZero() {
			a.clock = func() time.Time { return rec }
		}
		code := a.execute(r.Context(), req.Args)
		d.logger.Info("admin command", "args", req.Args, "actor", req.Actor, "exit", code)
		d.wake()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(adminResponse{Stdout: stdout.String(), Stderr: stderr.String(), Code: code})
	})
	// GET /v1/backup streams a consistent copy of the database (bbolt's
	// Tx.WriteTo in one read transaction, Content-Length its size); the
	// CLI writes and checks the file (cmd_backup.go). Duban-DB names the
	// database, so that the CLI refuses to write the copy onto it.
	mux.HandleFunc("GET /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var n int64
		err := d.store.Snapshot(func(size int64, src io.WriterTo) error {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.Header().Set(headerDB, d.store.Path())
			var err error
			n, err = src.WriteTo(w)
			return err
		})
		if err != nil {
			// Headers are out: the short body tells the client, which
			// also checks the copy before keeping it.
			d.logger.Error("backup failed", "bytes", n, "err", err)
			return
		}
		d.logger.Info("backup streamed", "bytes", n, "took", time.Since(start).Round(time.Millisecond).String())
	})
	return mux
}

// headerDB carries the daemon's database path in a backup response.
const headerDB = "Duban-DB"

// serveAdmin serves the admin socket until ctx ends.
func (d *daemon) serveAdmin(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: d.adminHandler(), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn)}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

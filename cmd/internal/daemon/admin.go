package daemon

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
// two transports. The protocol is HTTP: POST /v1/run (RunURL) with a
// Request, answered by a Response; GET /v1/backup (BackupURL) streams a
// copy of the database. The client side is in package main (app.go,
// cmd_backup.go).

// URLs of the admin socket's endpoints, for an http.Client from
// AdminClient.
const (
	RunURL    = "http://duban/v1/run"
	BackupURL = "http://duban/v1/backup"
)

// Request is a command line forwarded to the daemon.
type Request struct {
	Args  []string `json:"args"`
	Cwd   string   `json:"cwd"`
	Actor string   `json:"actor"`
	// RecordedAt is the caller's wall clock: actions run by the daemon
	// are recorded at the time the caller gave them (SPEC §4).
	RecordedAt time.Time `json:"recorded_at,omitzero"`
	// Stdin is what the caller read from its standard input for the
	// command (`user add --password-stdin`), if anything.
	Stdin string `json:"stdin,omitempty"`
}

// Response is what a forwarded command printed and its exit status.
type Response struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
}

// dialTimeout bounds connecting to the admin socket; a daemon that holds
// the lock but does not answer is reported instead of waited for.
const dialTimeout = 2 * time.Second

// AdminClient returns an HTTP client for the admin socket sock, and false
// when no daemon answers there (or sock is "").
func AdminClient(sock string) (*http.Client, bool) {
	if sock == "" {
		return nil, false
	}
	conn, err := net.DialTimeout("unix", sock, dialTimeout)
	if err != nil {
		return nil, false
	}
	conn.Close()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}, true
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
func (d *Daemon) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/run", func(w http.ResponseWriter, r *http.Request) {
		var req Request
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(req.Args) > 0 && req.Args[0] == "serve" {
			http.Error(w, "serve cannot be run through the admin socket", http.StatusBadRequest)
			return
		}
		var stdout, stderr bytes.Buffer
		code := 1
		if d.exec != nil {
			code = d.exec(r.Context(), d, req, &stdout, &stderr)
		} else {
			stderr.WriteString("duban: this daemon runs no commands\n")
		}
		d.logger.Info("admin command", "args", req.Args, "actor", req.Actor, "exit", code)
		d.Wake()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Response{Stdout: stdout.String(), Stderr: stderr.String(), Code: code})
	})
	// GET /v1/backup streams a consistent copy of the database (bbolt's
	// Tx.WriteTo in one read transaction, Content-Length its size); the
	// CLI writes and checks the file (cmd/duban/cmd_backup.go). Duban-DB names the
	// database, so that the CLI refuses to write the copy onto it.
	mux.HandleFunc("GET /v1/backup", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var n int64
		err := d.store.Snapshot(func(size int64, src io.WriterTo) error {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
			w.Header().Set(HeaderDB, d.store.Path())
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

// HeaderDB carries the daemon's database path in a backup response.
const HeaderDB = "Duban-DB"

// serveAdmin serves the admin socket until ctx ends.
func (d *Daemon) serveAdmin(ctx context.Context, ln net.Listener) error {
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

package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"duban/cmd/internal/config"
	"duban/tracker/kvstore"
)

// newTestDaemon returns a daemon on the built-in configuration (file
// transport into dir) over a fresh store in dir.
func newTestDaemon(t *testing.T, exec Exec) *Daemon {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DUBAN_DB", filepath.Join(dir, "duban.db"))
	t.Setenv("DUBAN_MAIL_TRANSPORT", "file")
	t.Setenv("DUBAN_MAIL_FILE_DIR", filepath.Join(dir, "outbox"))
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	x, err := cfg.Expander()
	if err != nil {
		t.Fatal(err)
	}
	st, err := kvstore.Open(cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := New(Options{Config: cfg, Expander: x, Store: st, Exec: exec})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func postRun(t *testing.T, h http.Handler, req Request) *httptest.ResponseRecorder {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, RunURL, bytes.NewReader(body)))
	return rec
}

// The admin socket runs a forwarded command through the Exec main gives
// the daemon (the daemon never imports main), returns what it printed and
// its status, and wakes the loop for the change it may have made.
func TestAdminRunsForwardedCommandsThroughExec(t *testing.T) {
	recorded := time.Date(2026, 10, 9, 16, 30, 0, 0, time.UTC)
	var got Request
	var gotDaemon *Daemon
	d := newTestDaemon(t, func(_ context.Context, d *Daemon, req Request, stdout, stderr io.Writer) int {
		got, gotDaemon = req, d
		io.WriteString(stdout, "已登记办结\n")
		io.WriteString(stderr, "duban: 警告\n")
		return 2
	})
	h := d.adminHandler()
	want := Request{Args: []string{"done", "notice-88"}, Cwd: "/srv/duban", Actor: "li", RecordedAt: recorded}
	rec := postRun(t, h, want)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", RunURL, rec.Code, rec.Body)
	}
	var resp Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp != (Response{Stdout: "已登记办结\n", Stderr: "duban: 警告\n", Code: 2}) {
		t.Errorf("response %+v", resp)
	}
	if gotDaemon != d || !slices.Equal(got.Args, want.Args) || got.Cwd != want.Cwd || got.Actor != want.Actor ||
		!got.RecordedAt.Equal(recorded) {
		t.Errorf("Exec got %+v (daemon %p, want %p), want %+v", got, gotDaemon, d, want)
	}
	select {
	case <-d.wakeCh:
	default:
		t.Error("the command did not wake the loop")
	}

	// serve is never run through the socket.
	if rec := postRun(t, h, Request{Args: []string{"serve"}}); rec.Code != http.StatusBadRequest {
		t.Errorf("serve through the socket: %d, want 400", rec.Code)
	}
}

func TestAdminWithoutExecAnswersExitStatus1(t *testing.T) {
	d := newTestDaemon(t, nil)
	rec := postRun(t, d.adminHandler(), Request{Args: []string{"list"}})
	var resp Response
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Code != 1 || resp.Stderr == "" {
		t.Errorf("response %+v, want exit status 1 and a message", resp)
	}
}

// Package web is the workspace (督办工作台, SPEC §10): server-rendered
// pages in Chinese for the office and leaders, and the JSON API under
// /api/v1. `duban serve` runs it in the daemon's process, over the
// daemon's open store; every action goes through cmd/internal/ops, the
// code the CLI runs, with the signed-in account as actor.
//
// The route table is in Handler; one file per page or action (board.go,
// instance.go, item_new.go, reports.go, api.go), security as middleware
// around the mux (middleware.go, login.go).
package web

import (
	"context"
	"crypto/tls"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"duban/cmd/internal/config"
	"duban/cmd/internal/daemon"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// Daemon is what the workspace needs of the running daemon
// (*daemon.Daemon): its store, its engine and configuration (swapped on
// reload), its clock, and a way to wake it after a change.
type Daemon interface {
	Store() *kvstore.Store
	Expander() *tracker.Expander
	Config() *config.Config
	Now() time.Time
	Wake()
	// SetCalendar takes a new working calendar (an imported notice) and
	// recomputes the open deadlines.
	SetCalendar(*tracker.Calendar) error
	// Clustered says the store is shared by several nodes (PostgreSQL);
	// ClusterStatus is then this node, the leader and its lease.
	Clustered() bool
	ClusterStatus(context.Context) (*daemon.ClusterStatus, error)
}

// Options configure a Server.
type Options struct {
	Daemon Daemon
	Logger *slog.Logger // nil: discard
	// Secure marks cookies Secure: set it when browsers reach the
	// workspace over HTTPS (web.tls, or a base_url with https behind a
	// proxy).
	Secure bool
}

// Server is the workspace's HTTP handler with its login throttle.
type Server struct {
	d        Daemon
	log      *slog.Logger
	secure   bool
	pages    map[string]*template.Template
	throttle *Throttle
	handler  http.Handler
	// heavy admits the requests that read many instances (board, API
	// list, reports): at most one fewer than the CPUs at a time, so that
	// however many browsers refresh the board the scheduler in the same
	// process keeps a CPU for its passes. The others wait their turn.
	heavy chan struct{}
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New builds the workspace; its templates are parsed once here.
func New(o Options) (*Server, error) {
	if o.Daemon == nil {
		return nil, errors.New("web: Daemon is required")
	}
	s := &Server{d: o.Daemon, log: o.Logger, secure: o.Secure, throttle: NewThrottle(),
		heavy: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1))}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler returns the workspace: the mux inside the security middleware.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)

	mux.Handle("GET /{$}", s.page(s.limit(s.board)))
	// Instance ids hold slashes (weekly-cases/2026-09-03/fzj): the id is
	// the rest of the path, and an action its last segment.
	mux.Handle("GET /instances/{id...}", s.page(s.instancePage))
	mux.Handle("POST /instances/{rest...}", s.page(s.instanceAction))
	mux.HandleFunc("GET /r/{token}", s.linkPage) // the units' personal links (link.go)
	mux.HandleFunc("POST /r/{token}", s.linkPost)
	mux.HandleFunc("GET /r/{token}/files/{hash}", s.linkFile)
	mux.Handle("GET /files/{hash}/{id...}", s.page(s.attachmentDownload))
	mux.Handle("GET /items/new", s.page(s.itemNewPage))
	mux.Handle("POST /items/new", s.page(s.itemCreate))
	mux.Handle("GET /reports", s.page(s.reportsPage))
	mux.Handle("GET /reports/bulletin", s.page(s.limit(s.bulletinPage)))
	mux.Handle("GET /reports/weekly", s.page(s.limit(s.weeklyPage)))
	mux.Handle("GET /reports/bulletin.xlsx", s.page(s.limit(s.download(s.bulletinDownload, "xlsx"))))
	mux.Handle("GET /reports/bulletin.html", s.page(s.limit(s.download(s.bulletinDownload, "html"))))
	mux.Handle("GET /reports/ledger.xlsx", s.page(s.limit(s.download(s.ledgerDownload, "xlsx"))))
	mux.Handle("GET /reports/ledger.csv", s.page(s.limit(s.download(s.ledgerDownload, "csv"))))

	mux.Handle("GET /sheets/{number}", s.page(s.sheetPage("html")))
	mux.Handle("GET /sheets/{number}/docx", s.page(s.sheetPage("docx")))
	mux.Handle("GET /scores", s.page(s.limit(s.scoresPage)))
	mux.Handle("GET /scores.xlsx", s.page(s.limit(s.scoresDownload)))
	mux.Handle("GET /calendar", s.page(s.calendarPage))
	mux.Handle("POST /calendar/preview", s.page(s.limit(s.calendarImport(false))))
	mux.Handle("POST /calendar/apply", s.page(s.limit(s.calendarImport(true))))

	mux.Handle("GET /api/v1/instances", s.api(s.limit(s.apiList)))
	mux.Handle("GET /api/v1/instances/{id...}", s.api(s.apiShow))
	mux.Handle("POST /api/v1/instances/{rest...}", s.api(s.apiAction))
	mux.Handle("/api/", s.api(func(w http.ResponseWriter, r *http.Request, _ *tracker.Account) {
		apiError(w, http.StatusNotFound, "没有这个接口："+r.Method+" "+r.URL.Path)
	}))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			apiError(w, http.StatusForbidden, "跨站请求被拒绝")
			return
		}
		http.Error(w, "跨站请求被拒绝", http.StatusForbidden)
	}))
	return securityHeaders(cop.Handler(mux))
}

// limit runs h once a heavy slot is free (or answers 503 if the client
// went away while waiting).
func (s *Server) limit(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
		select {
		case s.heavy <- struct{}{}:
		case <-r.Context().Done():
			http.Error(w, "服务繁忙，请稍后再试", http.StatusServiceUnavailable)
			return
		}
		defer func() { <-s.heavy }()
		h(w, r, acc)
	}
}

// idAction splits the {rest...} of an action route, "ID/ACTION", at its
// last slash.
func idAction(r *http.Request) (id, action string) {
	rest := r.PathValue("rest")
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

// Serve listens on addr (HTTPS with the TLS files when set) until ctx
// ends, then shuts down gracefully: requests running finish, for at most
// 10 s. It returns once the listener is closed and requests are done;
// ready, if not nil, receives the listening address first.
func (s *Server) Serve(ctx context.Context, addr string, tlsCfg config.TLSConfig, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web.listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if tlsCfg.Cert != "" {
		cert, err := tls.LoadX509KeyPair(tlsCfg.Cert, tlsCfg.Key)
		if err != nil {
			ln.Close()
			return fmt.Errorf("web.tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("web shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

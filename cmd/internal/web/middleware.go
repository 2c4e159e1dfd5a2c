package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"duban/cmd/internal/account"
	"duban/tracker"
)

// cookieName is the session cookie.
const cookieName = "duban_session"

// pageCSP allows only the workspace's own files: no inline script or
// style, no framing, forms posting only here.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// reportCSP is for the bulletin and weekly summary, whose HTML (shared
// with the mailed reports) carries its own <style>: inline styles, still
// no script of any kind.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

type handlerFunc func(w http.ResponseWriter, r *http.Request, acc *tracker.Account)

// page wraps a page handler: without a valid session, redirect to
// /login (a GET) or answer 401 (anything else).
func (s *Server) page(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc, err := s.sessionAccount(r)
		if err != nil {
			if !errors.Is(err, tracker.ErrNotFound) {
				s.serverError(w, r, err)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			http.Error(w, "请先登录", http.StatusUnauthorized)
			return
		}
		h(w, r, acc)
	})
}

// api wraps an API handler: the session cookie or a bearer token, else
// 401 as JSON.
func (s *Server) api(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var acc *tracker.Account
		var err error
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			err = s.d.Store().View(func(tx tracker.Tx) (err error) {
				acc, err = account.ByToken(tx, strings.TrimSpace(tok))
				return err
			})
		} else {
			acc, err = s.sessionAccount(r)
		}
		if errors.Is(err, tracker.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="duban"`)
			apiError(w, http.StatusUnauthorized, "需要登录或 API 令牌（Authorization: Bearer …）")
			return
		}
		if err != nil {
			s.log.Error("api authentication", "err", err)
			apiError(w, http.StatusInternalServerError, "内部错误")
			return
		}
		h(w, r, acc)
	})
}

// sessionAccount returns the account of the request's session cookie;
// tracker.ErrNotFound without a live session.
func (s *Server) sessionAccount(r *http.Request) (*tracker.Account, error) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return nil, tracker.ErrNotFound
	}
	var acc *tracker.Account
	err = s.d.Store().View(func(tx tracker.Tx) (err error) {
		acc, _, err = account.BySession(tx, c.Value, s.d.Now())
		return err
	})
	return acc, err
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("web request", "method", r.Method, "path", logPath(r.URL.Path), "err", err)
	http.Error(w, "内部错误，详见服务日志", http.StatusInternalServerError)
}

// logPath is a request path fit for the log: a personal link's token is a
// credential (anyone holding it may act for the unit), so /r/<token>/… is
// logged as /r/…/….
func logPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/r/")
	if !ok {
		return p
	}
	if _, after, found := strings.Cut(rest, "/"); found {
		return "/r/…/" + after
	}
	return "/r/…"
}

// scope says which units an account sees: all for admin and office, the
// units a leader leads, a unit account's own unit.
type scope struct {
	all   bool
	units map[string]bool
}

func (sc scope) sees(unit string) bool { return sc.all || sc.units[unit] }

func scopeOf(tx tracker.Tx, acc *tracker.Account) (scope, error) {
	switch acc.Role {
	case tracker.RoleAdmin, tracker.RoleOffice:
		return scope{all: true}, nil
	case tracker.RoleUnit:
		return scope{units: map[string]bool{acc.Unit: true}}, nil
	}
	sc := scope{units: map[string]bool{}}
	err := tx.Units(func(u *tracker.Unit) error {
		if acc.Person != "" && u.Leader == acc.Person {
			sc.units[u.ID] = true
		}
		return nil
	})
	return sc, err
}

// mayAct reports whether acc may record kind on an instance of unit:
// office roles every action; a unit account progress on its own
// instances; a leader nothing.
func mayAct(acc *tracker.Account, kind, unit string) bool {
	if acc.Role.CanAct() {
		return true
	}
	return acc.Role == tracker.RoleUnit && kind == "progress" && unit == acc.Unit
}

package web

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"duban/cmd/internal/account"
	"duban/tracker"
)

type loginView struct {
	Username string
	Error    string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.sessionAccount(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", nil, loginView{})
}

// login checks the form's username and password: a session cookie and a
// redirect to / on success, the form again with 401 on failure, 429
// while the account or the address is throttled.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, password := r.PostFormValue("username"), r.PostFormValue("password")
	addr := clientAddr(r)
	now := s.d.Now()
	if until, blocked := s.throttle.Blocked(name, addr, now); blocked {
		secs := int(until.Sub(now).Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.render(w, r, http.StatusTooManyRequests, "login", nil, loginView{Username: name,
			Error: "登录失败次数过多，请在 " + until.In(s.d.Config().Location).Format("15:04") + " 之后再试"})
		return
	}
	var secret string
	err := s.d.Store().Update(func(tx tracker.Tx) (err error) {
		if err := account.PruneSessions(tx, now); err != nil {
			return err
		}
		secret, _, err = account.Login(tx, name, password, now)
		return err
	})
	if errors.Is(err, account.ErrBadLogin) {
		s.throttle.Fail(name, addr, now)
		s.log.Warn("login failed", "account", name, "address", addr)
		s.render(w, r, http.StatusUnauthorized, "login", nil, loginView{Username: name, Error: "用户名或密码不正确"})
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.throttle.Succeed(name)
	// Max-Age, not Expires: the browser counts it from when it receives the
	// cookie on its own clock, so a daemon run with --at (or a test clock)
	// never hands out a cookie that is already expired or far too long-lived.
	// The store's session expiry, on the daemon's clock, is what counts.
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: secret, Path: "/", HttpOnly: true, Secure: s.secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: int(account.SessionTTL / time.Second)})
	s.log.Info("login", "account", name, "address", addr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		if err := s.d.Store().Update(func(tx tracker.Tx) error { return account.Logout(tx, c.Value) }); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true, Secure: s.secure || r.TLS != nil,
		SameSite: http.SameSiteLaxMode, MaxAge: -1, Expires: time.Unix(0, 0)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// clientAddr is the peer's IP address. Behind a reverse proxy every
// request comes from the proxy: the per-address limit then counts the
// proxy as one address, and the per-account limit still applies.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

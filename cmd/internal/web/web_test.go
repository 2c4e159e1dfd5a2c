package web_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"duban/cmd/internal/account"
	"duban/cmd/internal/config"
	"duban/cmd/internal/daemon"
	"duban/cmd/internal/importer"
	"duban/cmd/internal/web"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// The office of these tests: two leaders, so that scope shows.
const testUnits = `office: {name: 市政府督查室, email: ducha@example.gov.cn}
people:
  - {id: wang, name: 王冠标, email: wang@example.gov.cn}
  - {id: li,   name: 李秘书长, email: li@example.gov.cn}
  - {id: zhao, name: 赵副市长, email: zhao@example.gov.cn}
  - {id: chen, name: 陈主任, email: chen@example.gov.cn}
units:
  - {id: fzj,      name: 市法制局, head: wang, leader: li}
  - {id: caizheng, name: 市财政局, head: chen, leader: zhao}
policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit], level: reminder}
      - {at: 0, to: [unit], level: due}
      - {at: +1wd, every: 1wd, to: [unit], level: overdue}
      - {at: limit, to: [unit, leader, office], level: escalation}
items:
  - id: minutes-31
    title: 第31次常务会议纪要签发
    unit: fzj
    start: 2026-09-24 16:00
    due: 3d
    limit: 7d
    policy: standard
  - id: budget-7
    title: 预算调整方案 <script>alert(1)</script>
    unit: caizheng
    start: 2026-11-02 09:00
    due: 10wd
    policy: standard
  - id: later-1
    title: 年终总结
    unit: fzj
    start: 2026-12-01 09:00
    due: 2026-12-31
    policy: standard
`

// clock is the fake wall clock of the daemon and the workspace.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	clk   *clock
	st    *kvstore.Store
	cfg   *config.Config
	srv   *web.Server
	h     http.Handler
	loc   *time.Location
	pw    map[string]string
	token map[string]string
}

// newEnv imports testUnits on 2026-09-25 and opens the workspace as of
// 2026-12-07 10:00 (minutes-31 past its limit, budget-7 overdue).
func newEnv(t *testing.T, moreItems ...string) *env {
	t.Helper()
	return newEnvOn(t, "", moreItems...)
}

// newEnvOn is newEnv on the database db: a PostgreSQL URL, or "" for a
// new bbolt file.
func newEnvOn(t *testing.T, db string, moreItems ...string) *env {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DB = cmp.Or(db, filepath.Join(dir, "duban.db"))
	cfg.Mail.File.Dir = filepath.Join(dir, "outbox")
	cfg.Web.Attachments.Dir = filepath.Join(dir, "attachments")
	cfg.Admin.Socket = ""
	x, err := cfg.Expander()
	if err != nil {
		t.Fatal(err)
	}
	st, err := kvstore.Open(cfg.DB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	units := filepath.Join(dir, "units.yaml")
	if err := os.WriteFile(units, []byte(testUnits+strings.Join(moreItems, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	loc := cfg.Location
	imported := time.Date(2026, 9, 25, 10, 0, 0, 0, loc)
	if _, err := importer.Files(context.Background(), st, x, []string{units}, []string{"units.yaml"}, imported, "test", false); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, loc)}
	d, err := daemon.New(daemon.Options{Config: cfg, Expander: x, Store: st, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{Daemon: d})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clk: clk, st: st, cfg: cfg, srv: srv, h: srv.Handler(), loc: loc, pw: map[string]string{}, token: map[string]string{}}
	for _, a := range []account.Spec{
		{Name: "office", Role: tracker.RoleOffice},
		{Name: "li", Role: tracker.RoleLeader, Person: "li"},
		{Name: "fzj", Role: tracker.RoleUnit, Unit: "fzj"},
	} {
		a.Password = "pw-" + a.Name + "-secret"
		e.pw[a.Name] = a.Password
		err := st.Update(func(tx tracker.Tx) error {
			if _, err := account.Add(tx, a, clk.Now()); err != nil {
				return err
			}
			tok, err := account.NewToken(tx, a.Name, clk.Now())
			e.token[a.Name] = tok
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// do sends a request as a same-origin browser would.
func (e *env) do(method, path string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(method, "http://duban.test"+path, body)
	req.RemoteAddr = "192.0.2.7:40000"
	if body != nil && hdr["Content-Type"] == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// login signs in and returns the session cookie header.
func (e *env) login(name string) map[string]string {
	e.t.Helper()
	rec := e.postForm("/login", nil, "username", name, "password", e.pw[name])
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
		e.t.Fatalf("login %s: %d %s", name, rec.Code, rec.Body)
	}
	c := rec.Result().Cookies()
	if len(c) != 1 {
		e.t.Fatalf("login set %d cookies", len(c))
	}
	return map[string]string{"Cookie": c[0].Name + "=" + c[0].Value}
}

func (e *env) postForm(path string, hdr map[string]string, kv ...string) *httptest.ResponseRecorder {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return e.do("POST", path, strings.NewReader(v.Encode()), hdr)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func with(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range h {
		out[a] = b
	}
	return out
}

func TestSecurityHeadersAndLoginRedirect(t *testing.T) {
	e := newEnv(t)
	rec := e.do("GET", "/", nil, nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Errorf("GET / without a session: %d %q, want 303 to /login", rec.Code, rec.Header().Get("Location"))
	}
	rec = e.do("GET", "/login", nil, nil)
	h := rec.Header()
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", h)
	}
	if !strings.Contains(rec.Body.String(), `name="username"`) || strings.Contains(rec.Body.String(), "<script") {
		t.Errorf("login page: %s", rec.Body)
	}
	rec = e.do("GET", "/api/v1/instances", nil, nil)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("API without credentials: %d %s", rec.Code, rec.Body)
	}
	rec = e.do("GET", "/api/v1/instances", nil, bearer("dbt_wrong"))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("API with a wrong token: %d", rec.Code)
	}
	rec = e.postForm("/instances/minutes-31/done", nil, "note", "x")
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("action without a session: %d", rec.Code)
	}
}

func TestLoginCookieLogoutAndExpiry(t *testing.T) {
	e := newEnv(t)
	rec := e.postForm("/login", nil, "username", "office", "password", e.pw["office"])
	c := rec.Result().Cookies()
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode || c[0].Secure {
		t.Fatalf("cookie = %+v; want HttpOnly, SameSite=Lax, not Secure over http", c)
	}
	sess := map[string]string{"Cookie": c[0].Name + "=" + c[0].Value}
	if rec := e.do("GET", "/", nil, sess); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "office（督查室）") {
		t.Fatalf("board: %d", rec.Code)
	}
	// Expiry: a session is good for SessionTTL.
	e.clk.Add(account.SessionTTL)
	if rec := e.do("GET", "/", nil, sess); rec.Code != http.StatusSeeOther {
		t.Errorf("expired session: %d, want 303", rec.Code)
	}
	sess = e.login("office")
	if rec := e.postForm("/logout", sess); rec.Code != http.StatusSeeOther {
		t.Errorf("logout: %d", rec.Code)
	}
	if rec := e.do("GET", "/api/v1/instances", nil, sess); rec.Code != http.StatusUnauthorized {
		t.Errorf("session after logout: %d, want 401", rec.Code)
	}
	// Wrong password: the form again, 401, no cookie.
	rec = e.postForm("/login", nil, "username", "office", "password", "nope")
	if rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 || !strings.Contains(rec.Body.String(), "用户名或密码不正确") {
		t.Errorf("bad login: %d %v", rec.Code, rec.Result().Cookies())
	}
}

// TestLoginThrottle: SPEC §10, on the injected clock.
func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	for i := range web.AccountLimit {
		if rec := e.postForm("/login", nil, "username", "office", "password", "wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, rec.Code)
		}
		e.clk.Add(time.Minute)
	}
	// The 6th attempt is refused, even with the right password.
	rec := e.postForm("/login", nil, "username", "office", "password", e.pw["office"])
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d, want 429 with Retry-After", web.AccountLimit, rec.Code)
	}
	// Another account from the same address is not blocked.
	e.login("li")
	e.clk.Add(web.Window - time.Minute - time.Second) // 1 s before the window has passed
	if rec := e.postForm("/login", nil, "username", "office", "password", e.pw["office"]); rec.Code != http.StatusTooManyRequests {
		t.Errorf("within the window: %d, want 429", rec.Code)
	}
	e.clk.Add(time.Second)
	e.login("office")

	// Per address: 20 failures (any names) block the address.
	for i := range web.AddressLimit {
		if rec := e.postForm("/login", nil, "username", "nobody"+strings.Repeat("x", i), "password", "wrong"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("address failure %d: %d", i+1, rec.Code)
		}
	}
	if rec := e.postForm("/login", nil, "username", "fzj", "password", e.pw["fzj"]); rec.Code != http.StatusTooManyRequests {
		t.Errorf("after %d failures from one address: %d, want 429", web.AddressLimit, rec.Code)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	e := newEnv(t)
	sess := e.login("office")
	for _, h := range []map[string]string{
		with(sess, "Sec-Fetch-Site", "cross-site"),
		with(sess, "Origin", "https://evil.example"),
	} {
		rec := e.postForm("/instances/minutes-31/progress", h, "note", "伪造")
		if rec.Code != http.StatusForbidden {
			t.Errorf("cross-site POST %v: %d, want 403", h, rec.Code)
		}
	}
	rec := e.do("POST", "/api/v1/instances/minutes-31/progress", strings.NewReader(`{"note":"伪造"}`),
		with(with(sess, "Sec-Fetch-Site", "cross-site"), "Content-Type", "application/json"))
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("cross-site API POST: %d %s", rec.Code, rec.Body)
	}
	if h := showHistory(t, e, "minutes-31"); strings.Contains(h, "伪造") {
		t.Errorf("a refused request was recorded: %s", h)
	}
	// Same origin: recorded, with the account as actor and both times.
	rec = e.postForm("/instances/minutes-31/progress", with(sess, "Sec-Fetch-Site", "same-origin"), "note", "已报送初稿")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("same-origin POST: %d %s", rec.Code, rec.Body)
	}
	var v struct {
		History []tracker.Event `json:"history"`
	}
	if err := json.Unmarshal([]byte(showJSON(t, e, "minutes-31")), &v); err != nil {
		t.Fatal(err)
	}
	last := v.History[len(v.History)-1]
	if last.Action != "progress" || last.Actor != "office" || last.Note != "已报送初稿" ||
		!last.At.Equal(e.clk.Now()) || !last.RecordedAt.Equal(e.clk.Now()) {
		t.Errorf("recorded %+v", last)
	}
}

func showJSON(t *testing.T, e *env, id string) string {
	t.Helper()
	rec := e.do("GET", "/api/v1/instances/"+id, nil, bearer(e.token["office"]))
	if rec.Code != http.StatusOK {
		t.Fatalf("show %s: %d %s", id, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func showHistory(t *testing.T, e *env, id string) string {
	s := showJSON(t, e, id)
	return s[strings.Index(s, `"history"`):]
}

// TestRoles: leaders see their units read-only, unit accounts their unit.
func TestRoles(t *testing.T) {
	e := newEnv(t)
	li := e.login("li")
	rec := e.do("GET", "/", nil, li)
	body := rec.Body.String()
	if !strings.Contains(body, `data-id="minutes-31"`) || strings.Contains(body, "budget-7") {
		t.Errorf("leader li's board shows other units or misses his own")
	}
	if strings.Contains(body, "form-") || strings.Contains(body, `href="/items/new"`) {
		t.Errorf("leader's board offers 立项")
	}
	page := e.do("GET", "/instances/minutes-31", nil, li).Body.String()
	if strings.Contains(page, `id="form-`) {
		t.Errorf("leader's instance page has action forms")
	}
	if rec := e.postForm("/instances/minutes-31/progress", li, "note", "领导批示"); rec.Code != http.StatusForbidden {
		t.Errorf("leader records progress: %d, want 403", rec.Code)
	}
	if rec := e.do("POST", "/api/v1/instances/minutes-31/done", strings.NewReader(`{}`), bearer(e.token["li"])); rec.Code != http.StatusForbidden {
		t.Errorf("leader API done: %d, want 403", rec.Code)
	}
	if rec := e.do("GET", "/instances/budget-7", nil, li); rec.Code != http.StatusForbidden {
		t.Errorf("leader opens another leader's unit: %d, want 403", rec.Code)
	}
	if rec := e.do("GET", "/items/new", nil, li); rec.Code != http.StatusForbidden {
		t.Errorf("leader opens 立项: %d, want 403", rec.Code)
	}
	if rec := e.postForm("/items/new", li, "id", "x", "title", "x", "unit", "fzj", "due", "3d"); rec.Code != http.StatusForbidden {
		t.Errorf("leader posts 立项: %d, want 403", rec.Code)
	}
	// The unit account: its unit's instances; progress only.
	tok := bearer(e.token["fzj"])
	rec = e.do("GET", "/api/v1/instances?status=all", nil, tok)
	var rows []tracker.Row
	if err := json.Unmarshal(rec.Body.Bytes(), &rows); err != nil {
		t.Fatal(err, rec.Body.String())
	}
	for _, r := range rows {
		if r.Unit != "fzj" {
			t.Errorf("unit account sees %s of %s", r.ID, r.Unit)
		}
	}
	if len(rows) != 2 {
		t.Errorf("unit account sees %d rows, want 2", len(rows))
	}
	if rec := e.do("GET", "/api/v1/instances/budget-7", nil, tok); rec.Code != http.StatusNotFound {
		t.Errorf("unit account shows another unit's instance: %d, want 404", rec.Code)
	}
	if rec := e.do("GET", "/api/v1/instances?unit=caizheng", nil, tok); rec.Code != http.StatusForbidden {
		t.Errorf("unit account lists another unit: %d, want 403", rec.Code)
	}
	if rec := e.do("POST", "/api/v1/instances/minutes-31/progress", strings.NewReader(`{"note":"正在办理"}`), tok); rec.Code != http.StatusOK {
		t.Errorf("unit account progress: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("POST", "/api/v1/instances/minutes-31/done", strings.NewReader(`{}`), tok); rec.Code != http.StatusForbidden {
		t.Errorf("unit account done: %d, want 403", rec.Code)
	}
}

// TestAPIErrors: 400, 401, 404, 409 as {"error": …}.
func TestAPIErrors(t *testing.T) {
	e := newEnv(t)
	tok := bearer(e.token["office"])
	cases := []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/api/v1/instances?status=bogus", "", 400, "不是状态"},
		{"GET", "/api/v1/instances?overdue=yes", "", 400, "overdue"},
		{"GET", "/api/v1/instances?unit=nosuch", "", 400, "nosuch"},
		{"GET", "/api/v1/instances?due_within=soon", "", 400, "due-within"},
		{"GET", "/api/v1/instances/nosuch", "", 404, "nosuch"},
		{"GET", "/api/v1/nothing", "", 404, "没有这个接口"},
		{"POST", "/api/v1/instances/minutes-31/progress", `{}`, 400, "needs --note"},
		{"POST", "/api/v1/instances/minutes-31/extend", `{"reason":"x"}`, 400, "--to"},
		{"POST", "/api/v1/instances/minutes-31/progress", `{"notes":"typo"}`, 400, "JSON"},
		{"POST", "/api/v1/instances/minutes-31/fly", `{}`, 400, "未知操作"},
		{"POST", "/api/v1/instances/nosuch/done", `{}`, 404, "nosuch"},
		{"POST", "/api/v1/instances/minutes-31/done", `{"note":"已签发"}`, 200, `"status": "done"`},
		{"POST", "/api/v1/instances/minutes-31/done", `{"note":"再次"}`, 409, "已办结"},
	}
	for _, c := range cases {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		rec := e.do(c.method, c.path, body, with(tok, "Content-Type", "application/json"))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.msg) {
			t.Errorf("%s %s %s: %d %s; want %d with %q", c.method, c.path, c.body, rec.Code, rec.Body, c.code, c.msg)
		}
		if c.code != 200 && !strings.HasPrefix(rec.Body.String(), `{"error":`) {
			t.Errorf("%s %s: error body %s", c.method, c.path, rec.Body)
		}
	}
}

// TestAPIActions: every CLI action through the API, in the history.
func TestAPIActions(t *testing.T) {
	e := newEnv(t)
	tok := with(bearer(e.token["office"]), "Content-Type", "application/json")
	steps := []struct{ path, body, want string }{
		{"/api/v1/instances/budget-7/progress", `{"note":"已起草"}`, `"note": "已起草"`},
		{"/api/v1/instances/budget-7/extend", `{"to":"2026-12-31","reason":"待人大审议"}`, `"extended": true`},
		{"/api/v1/instances/budget-7/assign", `{"unit":"fzj","reason":"职能调整"}`, `"unit": "fzj"`},
		{"/api/v1/instances/later-1/withdraw", `{"reason":"不再需要"}`, `"status": "withdrawn"`},
		{"/api/v1/instances/minutes-31/return", `{"reason":"非本单位职责"}`, `"status": "returned"`},
	}
	for _, s := range steps {
		rec := e.do("POST", s.path, strings.NewReader(s.body), tok)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), s.want) {
			t.Errorf("POST %s %s: %d %s", s.path, s.body, rec.Code, rec.Body)
		}
	}
	h := showHistory(t, e, "budget-7")
	for _, a := range []string{`"action": "progress"`, `"action": "extend"`, `"action": "reassign"`, `"actor": "office"`} {
		if !strings.Contains(h, a) {
			t.Errorf("budget-7 history lacks %s:\n%s", a, h)
		}
	}
}

// TestEscaping: a title with <script> shows as text on every page.
func TestEscaping(t *testing.T) {
	e := newEnv(t)
	sess := e.login("office")
	for _, p := range []string{"/", "/instances/budget-7", "/items/new"} {
		body := e.do("GET", p, nil, sess).Body.String()
		if strings.Contains(body, "<script>") {
			t.Errorf("%s: raw <script> in the page", p)
		}
		if !strings.Contains(body, "预算调整方案 &lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the title is not shown as text", p)
		}
	}
}

// TestBoard: lights, order, counts, filters and pagination.
func TestBoard(t *testing.T) {
	e := newEnv(t)
	sess := e.login("office")
	body := e.do("GET", "/", nil, sess).Body.String()
	iMin, iBud, iLater := strings.Index(body, `data-id="minutes-31"`), strings.Index(body, `data-id="budget-7"`), strings.Index(body, `data-id="later-1"`)
	if iMin < 0 || iBud < 0 || iLater < 0 || !(iMin < iBud && iBud < iLater) {
		t.Fatalf("board order: minutes-31 %d, budget-7 %d, later-1 %d; want purple, red, green", iMin, iBud, iLater)
	}
	for id, light := range map[string]string{"minutes-31": "purple", "budget-7": "red", "later-1": "green"} {
		if !strings.Contains(body, `<tr class="`+light+`" data-id="`+id+`"`) {
			t.Errorf("%s is not %s", id, light)
		}
	}
	for _, want := range []string{"紫 1", "红 1", "黄 0", "绿 1", "共 3 件", "按承办单位", "按分管领导", "李秘书长", "赵副市长", "督办服务"} {
		if !strings.Contains(body, want) {
			t.Errorf("board lacks %q", want)
		}
	}
	// Yellow: on the last working day before the deadline (policy -1wd).
	e.clk.t = time.Date(2026, 12, 30, 10, 0, 0, 0, e.loc)
	sess = e.login("office")
	if body := e.do("GET", "/?unit=fzj", nil, sess).Body.String(); !strings.Contains(body, `<tr class="yellow" data-id="later-1"`) {
		t.Errorf("later-1 is not yellow the day before its deadline")
	}
	// Filters.
	for q, want := range map[string][]string{
		"/?unit=caizheng":              {"budget-7"},
		"/?leader=li":                  {"minutes-31", "later-1"},
		"/?q=" + url.QueryEscape("纪要"): {"minutes-31"},
		"/?item=later-1":               {"later-1"},
		"/?status=done":                {},
	} {
		body := e.do("GET", q, nil, sess).Body.String()
		n := strings.Count(body, "data-id=")
		if n != len(want) {
			t.Errorf("%s: %d rows, want %v", q, n, want)
		}
		for _, id := range want {
			if !strings.Contains(body, `data-id="`+id+`"`) {
				t.Errorf("%s misses %s", q, id)
			}
		}
	}
}

// TestItemNew: 立项 with the tracking file's rules and messages; items
// from files are read-only.
func TestItemNew(t *testing.T) {
	e := newEnv(t)
	sess := e.login("office")
	rec := e.postForm("/items/new", sess, "id", "notice-9", "title", "防汛检查", "unit", "fzj", "due", "3 days")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "due: ") || !strings.Contains(rec.Body.String(), "is not a deadline") {
		t.Errorf("bad due: %d %s", rec.Code, rec.Body)
	}
	rec = e.postForm("/items/new", sess, "id", "minutes-31", "title", "改名", "unit", "fzj", "due", "3d")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "只能在该文件中修改") {
		t.Errorf("file item changed from the form: %d", rec.Code)
	}
	rec = e.postForm("/items/new", sess, "id", "notice-9", "title", "防汛检查", "unit", "fzj", "due", "3wd", "policy", "standard")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("立项: %d %s", rec.Code, rec.Body)
	}
	rec = e.postForm("/items/new", sess, "id", "weekly-9", "title", "周报", "units", "fzj, caizheng", "every", "weekly thu 12:00", "from", "2026-12-01")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("recurring 立项: %d %s", rec.Code, rec.Body)
	}
	list := e.do("GET", "/api/v1/instances?status=all", nil, bearer(e.token["office"])).Body.String()
	for _, want := range []string{`"id":"notice-9"`, `"item":"weekly-9"`, `"unit":"caizheng"`} {
		if !strings.Contains(list, want) {
			t.Errorf("after 立项 the list lacks %s", want)
		}
	}
	if h := showHistory(t, e, "notice-9"); !strings.Contains(h, `"actor": "office"`) {
		t.Errorf("立项 not recorded with the account: %s", h)
	}
}

func TestReports(t *testing.T) {
	e := newEnv(t)
	sess := e.login("office")
	for path, ctype := range map[string]string{
		"/reports":                        "text/html",
		"/reports/bulletin?month=2026-11": "text/html",
		"/reports/weekly":                 "text/html",
		"/reports/ledger.csv":             "text/csv",
		"/reports/ledger.xlsx":            "spreadsheetml",
		"/reports/bulletin.xlsx":          "spreadsheetml",
		"/reports/bulletin.html":          "text/html",
	} {
		rec := e.do("GET", path, nil, sess)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), ctype) || rec.Body.Len() == 0 {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
		}
		if strings.Contains(rec.Header().Get("Content-Type"), "html") && strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("%s has a script", path)
		}
	}
	if body := e.do("GET", "/reports/bulletin?month=2026-11", nil, sess).Body.String(); !strings.Contains(body, "<svg") {
		t.Errorf("the bulletin page has no chart")
	}
	if rec := e.do("GET", "/reports/ledger.csv", nil, e.login("fzj")); rec.Code != http.StatusForbidden {
		t.Errorf("unit account downloads the ledger: %d", rec.Code)
	}
}

// TestBoardPages: 100 rows a page, most urgent first across pages.
func TestBoardPages(t *testing.T) {
	var more strings.Builder
	for i := range 120 {
		fmt.Fprintf(&more, "  - {id: p-%03d, title: 事项%03d, unit: fzj, start: 2026-12-01 09:00, due: 2026-12-%02d, policy: standard}\n", i, i, 10+i%20)
	}
	e := newEnv(t, more.String())
	sess := e.login("office")
	body := e.do("GET", "/", nil, sess).Body.String()
	if n := strings.Count(body, "data-id="); n != web.PageSize {
		t.Fatalf("page 1 has %d rows, want %d", n, web.PageSize)
	}
	if !strings.Contains(body, "第 1 / 2 页") || !strings.Contains(body, `href="/?page=2"`) || strings.Contains(body, `id="prev"`) {
		t.Errorf("page 1 navigation wrong")
	}
	if strings.Index(body, `data-id="minutes-31"`) > strings.Index(body, `data-id="p-`) {
		t.Errorf("the purple row is not first")
	}
	body = e.do("GET", "/?page=2", nil, sess).Body.String()
	if n := strings.Count(body, "data-id="); n != 123-web.PageSize {
		t.Errorf("page 2 has %d rows, want %d", n, 123-web.PageSize)
	}
	if !strings.Contains(body, `href="/"`) || !strings.Contains(body, "第 2 / 2 页") || !strings.Contains(body, `data-id="later-1"`) {
		t.Errorf("page 2: navigation or the latest deadline missing")
	}
}

package web_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/calnotice"
)

// springItem's provisional deadline falls in the 2027 Spring Festival,
// which the 2027 notice moves.
const springItem = `  - {id: spring-b, title: 春节前后事项, unit: fzj, start: "2026-12-01 09:00", due: 47wd, policy: standard}
`

func notice2027(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "tracker", "calnotice", "testdata", "2027.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func storedNotices(t *testing.T, e *env) []calnotice.Record {
	t.Helper()
	var recs []calnotice.Record
	if err := e.st.View(func(tx tracker.Tx) (err error) { recs, err = calnotice.Load(tx); return err }); err != nil {
		t.Fatal(err)
	}
	return recs
}

func deadlineOf(t *testing.T, e *env, id string) (time.Time, bool) {
	t.Helper()
	var v struct {
		Deadline struct {
			Due         time.Time `json:"due"`
			Provisional bool      `json:"provisional"`
		} `json:"deadline"`
	}
	if err := json.Unmarshal([]byte(showJSON(t, e, id)), &v); err != nil {
		t.Fatal(err)
	}
	return v.Deadline.Due, v.Deadline.Provisional
}

// TestCalendarPageRoles: everyone sees the grid and its source; only
// office roles get the form, and a leader's or unit's POST is refused.
func TestCalendarPageRoles(t *testing.T) {
	e := newEnv(t)
	for _, who := range []string{"office", "li", "fzj"} {
		rec := e.do("GET", "/calendar?year=2026", nil, e.login(who))
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, `id="grid"`) || !strings.Contains(body, "内置") ||
			!strings.Contains(body, "国庆节") || strings.Contains(body, "<script") {
			t.Fatalf("%s: GET /calendar: %d %s", who, rec.Code, body)
		}
		if got := strings.Contains(body, `id="form-calendar"`); got != (who == "office") {
			t.Errorf("%s: notice form shown %v", who, got)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); strings.Contains(csp, "unsafe") {
			t.Errorf("CSP %q", csp)
		}
	}
	// 2027 has no notice yet: provisional.
	if body := e.do("GET", "/calendar?year=2027", nil, e.login("fzj")).Body.String(); !strings.Contains(body, "暂定") {
		t.Errorf("2027 not provisional: %s", body)
	}
	for _, who := range []string{"li", "fzj"} {
		for _, path := range []string{"/calendar/preview", "/calendar/apply"} {
			if rec := e.postForm(path, e.login(who), "notice", notice2027(t)); rec.Code != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", who, path, rec.Code)
			}
		}
	}
	if recs := storedNotices(t, e); len(recs) != 0 {
		t.Errorf("refused posts stored %d notices", len(recs))
	}
	if rec := e.do("GET", "/calendar?year=abc", nil, e.login("office")); rec.Code != http.StatusBadRequest {
		t.Errorf("bad year: %d", rec.Code)
	}
}

// TestCalendarRefusalChangesNothing: a notice with a wrong weekday is
// refused on preview and on apply, quoting its line; nothing is stored
// and no deadline moves.
func TestCalendarRefusalChangesNothing(t *testing.T) {
	e := newEnv(t, springItem)
	sess := e.login("office")
	before, _ := deadlineOf(t, e, "spring-b")
	bad := strings.Replace(notice2027(t), "4月3日（周六）", "4月3日（周一）", 1)
	for _, path := range []string{"/calendar/preview", "/calendar/apply"} {
		rec := e.postForm(path, sess, "notice", bad)
		body := rec.Body.String()
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="refusals"`) ||
			!strings.Contains(body, "三、清明节：4月3日（周一）") || !strings.Contains(body, "未做任何改动") {
			t.Errorf("POST %s: %d %s", path, rec.Code, body)
		}
		if !strings.Contains(body, "清明节：4月3日（周一）至5日") { // the pasted text is kept in the form
			t.Errorf("POST %s: the form lost the text", path)
		}
	}
	if recs := storedNotices(t, e); len(recs) != 0 {
		t.Errorf("a refused notice stored %d records", len(recs))
	}
	if after, _ := deadlineOf(t, e, "spring-b"); !after.Equal(before) {
		t.Errorf("deadline moved %v → %v", before, after)
	}
}

// TestCalendarPreviewAndApply: the preview lists the move the apply then
// makes (recomputed by the daemon), the deadline stops being provisional
// and the notice is stored with its author; the same text again changes
// nothing; a second national notice needs 取代.
func TestCalendarPreviewAndApply(t *testing.T) {
	e := newEnv(t, springItem)
	sess := e.login("office")
	before, prov := deadlineOf(t, e, "spring-b")
	if !prov {
		t.Fatalf("spring-b's deadline %v is not provisional before the notice", before)
	}
	rec := e.postForm("/calendar/preview", sess, "notice", notice2027(t))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `id="preview"`) || !strings.Contains(body, `id="apply-button"`) ||
		!strings.Contains(body, "2027年2月5日至2027年2月13日 共9天") || !strings.Contains(body, "2月14日（周日）") {
		t.Fatalf("preview: %d %s", rec.Code, body)
	}
	m := regexp.MustCompile(`<a href="/instances/spring-b">spring-b</a></td><td>春节前后事项</td><td>办理时限</td><td class="t">([^<]*)</td><td class="t">→ ([^<]*)</td>`).FindStringSubmatch(body)
	if m == nil || !strings.Contains(m[1], "暂定") || strings.Contains(m[2], "暂定") {
		t.Fatalf("preview lists no move of spring-b (provisional → definite): %s", body)
	}
	corr := regexp.MustCompile(`id="corrections">(\d+)<`).FindStringSubmatch(body)
	if corr == nil { // no notice of spring-b was sent yet: 0 here
		t.Errorf("preview shows no 更正 count: %s", body)
	}
	if recs := storedNotices(t, e); len(recs) != 0 {
		t.Fatalf("a preview stored %d notices", len(recs))
	}
	if after, _ := deadlineOf(t, e, "spring-b"); !after.Equal(before) {
		t.Fatalf("a preview moved the deadline")
	}

	rec = e.postForm("/calendar/apply", sess, "notice", notice2027(t))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/calendar?ok=1&year=2027" {
		t.Fatalf("apply: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	recs := storedNotices(t, e)
	if len(recs) != 1 || recs[0].Year != 2027 || recs[0].By != "office" || recs[0].SHA256 != calnotice.Sum([]byte(notice2027(t))) {
		t.Fatalf("stored: %+v", recs)
	}
	after, prov := deadlineOf(t, e, "spring-b")
	if prov || after.Equal(before) {
		t.Fatalf("after apply spring-b: %v provisional %v (was %v)", after, prov, before)
	}
	if got := after.In(e.loc).Add(-time.Minute).Format("2006-01-02"); !strings.HasPrefix(m[2], got) {
		t.Errorf("applied deadline %v, the preview said %q", after, m[2])
	}
	if h := showHistory(t, e, "spring-b"); !strings.Contains(h, "2027年通知") {
		t.Errorf("history names no notice: %s", h)
	}
	page := e.do("GET", "/calendar?ok=1&year=2027", nil, e.login("fzj")).Body.String()
	if !strings.Contains(page, `id="ok"`) || !strings.Contains(page, "通知（") || strings.Contains(page, "暂定：") {
		t.Errorf("2027 after apply: %s", page)
	}
	// The same text again: nothing to do.
	if body := e.postForm("/calendar/preview", sess, "notice", notice2027(t)).Body.String(); !strings.Contains(body, `id="same"`) || strings.Contains(body, `id="apply-button"`) {
		t.Errorf("same notice again: %s", body)
	}
	// Another national notice for 2027 needs 取代; with it, it replaces.
	other := strings.Replace(notice2027(t), "9月26日（周日）、", "", 1)
	if rec := e.postForm("/calendar/apply", sess, "notice", other); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "取代") {
		t.Errorf("second notice without 取代: %d", rec.Code)
	}
	if rec := e.postForm("/calendar/apply", sess, "notice", other, "replace", "1"); rec.Code != http.StatusSeeOther {
		t.Errorf("second notice with 取代: %d %s", rec.Code, rec.Body)
	}
	if recs := storedNotices(t, e); len(recs) != 1 || recs[0].SHA256 != calnotice.Sum([]byte(other)) {
		t.Errorf("after replace: %d records", len(recs))
	}
}

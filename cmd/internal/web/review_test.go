package web_test

import (
	"net/http"
	"strings"
	"testing"

	"duban/cmd/internal/config"
	"duban/cmd/internal/ops"
)

// report records 报结 on id as the unit would, at the env's clock.
func (e *env) report(id, note string) {
	e.t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		e.t.Fatal(err)
	}
	x, err := cfg.Expander()
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := ops.Act(e.st, x, ops.Request{Kind: "report", ID: id, Note: note, Actor: "fzj", Recorded: e.clk.Now()}); err != nil {
		e.t.Fatal(err)
	}
}

// TestAPIReview: POST /api/v1/instances/{id}/review rejects (退回重办, a
// reason required) and approves (done as of the report time); nothing
// waiting is a 409, both or neither decision a 400, a unit account 403.
func TestAPIReview(t *testing.T) {
	e := newEnv(t)
	tok := with(bearer(e.token["office"]), "Content-Type", "application/json")
	post := func(h map[string]string, body string) (int, string) {
		rec := e.do("POST", "/api/v1/instances/later-1/review", strings.NewReader(body), h)
		return rec.Code, rec.Body.String()
	}
	if code, body := post(tok, `{"approve":true}`); code != http.StatusConflict {
		t.Fatalf("review with nothing waiting: %d %s", code, body)
	}
	reported := e.clk.Now()
	e.report("later-1", "已办结，材料已报")
	e.clk.Add(48 * 3600e9)
	for _, b := range []string{`{}`, `{"approve":true,"reject":true}`, `{"reject":true}`} {
		if code, body := post(tok, b); code != http.StatusBadRequest {
			t.Errorf("review %s: %d %s, want 400", b, code, body)
		}
	}
	unit := with(bearer(e.token["fzj"]), "Content-Type", "application/json")
	if code, body := post(unit, `{"approve":true}`); code != http.StatusForbidden {
		t.Errorf("unit account reviews: %d %s", code, body)
	}
	if code, body := post(tok, `{"reject":true,"reason":"缺少佐证材料"}`); code != http.StatusOK || !strings.Contains(body, `"status": "open"`) {
		t.Fatalf("reject: %d %s", code, body)
	}
	e.report("later-1", "已补充材料")
	reported = e.clk.Now()
	e.clk.Add(24 * 3600e9)
	code, body := post(tok, `{"approve":true,"note":"同意"}`)
	if code != http.StatusOK || !strings.Contains(body, `"status": "done"`) {
		t.Fatalf("approve: %d %s", code, body)
	}
	if !strings.Contains(body, `"done_at": "`+reported.UTC().Format("2006-01-02T15:04:05Z")) &&
		!strings.Contains(body, `"done_at": "`+reported.Format("2006-01-02T15:04:05-07:00")) {
		t.Errorf("done_at is not the report time %v:\n%s", reported, body)
	}
	h := showHistory(t, e, "later-1")
	if strings.Count(h, `"action": "review"`) != 2 || strings.Count(h, `"action": "report"`) != 2 {
		t.Errorf("history:\n%s", h)
	}
}

// TestReviewForm: the instance page offers the review form to the office
// only while something waits, and the form records the decision.
func TestReviewForm(t *testing.T) {
	e := newEnv(t)
	office := e.login("office")
	if b := e.do("GET", "/instances/later-1", nil, office).Body.String(); strings.Contains(b, "form-review") {
		t.Fatal("review form shown with nothing waiting")
	}
	e.report("later-1", "已办结")
	if b := e.do("GET", "/instances/later-1", nil, office).Body.String(); !strings.Contains(b, "form-review") || !strings.Contains(b, "待审核") {
		t.Fatalf("review form missing:\n%s", b)
	}
	rec := e.postForm("/instances/later-1/review", with(office, "Origin", "http://duban.test"), "decision", "reject", "reason", "数据不全")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("review form: %d %s", rec.Code, rec.Body)
	}
	if h := showHistory(t, e, "later-1"); !strings.Contains(h, "数据不全") {
		t.Errorf("history lacks the reason:\n%s", h)
	}
}

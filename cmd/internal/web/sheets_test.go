package web_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"duban/cmd/internal/config"
	"duban/cmd/internal/ops"
	"duban/tracker"
)

func sheetsOf(t *testing.T, e *env, year int) []tracker.Sheet {
	t.Helper()
	var ss []tracker.Sheet
	if err := e.st.View(func(tx tracker.Tx) (err error) { ss, err = tracker.SheetsOf(tx, year); return err }); err != nil {
		t.Fatal(err)
	}
	return ss
}

// TestSheetAction: office issues a sheet from the instance page through
// the CLI's code path (numbered, 限期 the new hard limit, in the
// history); the page lists it with its printable page and .docx; leaders
// and units cannot issue; a bad form changes nothing; the API issues
// the next number.
func TestSheetAction(t *testing.T) {
	e := newEnv(t)
	office := e.login("office")
	// Refused forms: nothing stored.
	for _, f := range [][]string{{"grade", "绿", "within", "3wd"}, {"grade", "黄", "within", ""}, {"grade", "黄", "within", "三天"}} {
		rec := e.postForm("/instances/budget-7/sheet", office, f...)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "督办事项通知单未签发") {
			t.Errorf("form %v: %d %s", f, rec.Code, rec.Body)
		}
	}
	for _, who := range []string{"li", "fzj"} {
		if rec := e.postForm("/instances/minutes-31/sheet", e.login(who), "grade", "黄", "within", "3wd"); rec.Code != http.StatusForbidden {
			t.Errorf("%s issuing a sheet: %d, want 403", who, rec.Code)
		}
	}
	if ss := sheetsOf(t, e, 2026); len(ss) != 0 {
		t.Fatalf("refused forms stored %d sheets", len(ss))
	}
	if body := e.do("GET", "/instances/minutes-31", nil, e.login("li")).Body.String(); strings.Contains(body, `id="form-sheet"`) {
		t.Errorf("a leader gets the sheet form")
	}

	rec := e.postForm("/instances/minutes-31/sheet", office, "grade", "黄", "within", "3wd", "note", "请于限期内签发并报送")
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("issue: %d %s", rec.Code, rec.Body)
	}
	ss := sheetsOf(t, e, 2026)
	if len(ss) != 1 || ss[0].Number != "督〔2026〕1号" || ss[0].Actor != "office" || ss[0].Grade != tracker.GradeYellow || ss[0].ID != "minutes-31" {
		t.Fatalf("sheets: %+v", ss)
	}
	var shown struct {
		Limit struct {
			Due string `json:"due"`
		} `json:"limit_rule"`
	}
	if err := json.Unmarshal([]byte(showJSON(t, e, "minutes-31")), &shown); err != nil || !strings.HasPrefix(shown.Limit.Due, ss[0].Limit.Due.Format("2006-01-02T15")) {
		t.Errorf("the instance's limit %q is not the sheet's 限期 %v", shown.Limit.Due, ss[0].Limit.Due)
	}
	if h := showHistory(t, e, "minutes-31"); !strings.Contains(h, "督〔2026〕1号（黄·重点督办）") {
		t.Errorf("history: %s", h)
	}
	page := e.do("GET", rec.Header().Get("Location"), nil, office).Body.String()
	path := "/sheets/" + url.PathEscape("督〔2026〕1号")
	if !strings.Contains(page, "已签发督办事项通知单 督〔2026〕1号") || !strings.Contains(page, `href="`+path+`"`) || !strings.Contains(page, path+`/docx`) {
		t.Errorf("instance page after issuing: %s", page)
	}

	// The printable page: the sheet's own HTML, inline style allowed, no script.
	for _, who := range []string{"office", "li", "fzj"} {
		rec := e.do("GET", path, nil, e.login(who))
		body := rec.Body.String()
		csp := rec.Header().Get("Content-Security-Policy")
		if rec.Code != http.StatusOK || !strings.Contains(body, "督〔2026〕1号") || !strings.Contains(body, "督办事项通知单") ||
			!strings.Contains(body, "市法制局") || !strings.Contains(body, "@page { size: A4") || strings.Contains(body, "<script") ||
			strings.Contains(csp, "script") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: sheet page %d (CSP %q): %s", who, rec.Code, csp, body)
		}
	}
	rec = e.do("GET", path+"/docx", nil, office)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "PK") ||
		!strings.Contains(rec.Header().Get("Content-Type"), "wordprocessingml") || !strings.Contains(rec.Header().Get("Content-Disposition"), "attachment") {
		t.Errorf("docx: %d %v", rec.Code, rec.Header())
	}
	if rec := e.do("GET", "/sheets/"+url.PathEscape("督〔2026〕9号"), nil, office); rec.Code != http.StatusNotFound {
		t.Errorf("unknown sheet: %d", rec.Code)
	}

	// The API: the next number; a sheet outside a leader's units is not found.
	rec = e.do("POST", "/api/v1/instances/budget-7/sheet", strings.NewReader(`{"grade":"红","within":"5wd"}`),
		with(bearer(e.token["office"]), "Content-Type", "application/json"))
	var sh tracker.Sheet
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &sh) != nil || sh.Number != "督〔2026〕2号" || sh.Grade != tracker.GradeRed {
		t.Fatalf("API sheet: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/sheets/"+url.PathEscape(sh.Number), nil, e.login("li")); rec.Code != http.StatusNotFound {
		t.Errorf("leader li reading 市财政局's sheet: %d, want 404", rec.Code)
	}
	rec = e.do("POST", "/api/v1/instances/budget-7/sheet", strings.NewReader(`{"grade":"红","within":"5wd","x":1}`),
		with(bearer(e.token["office"]), "Content-Type", "application/json"))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("API unknown key: %d", rec.Code)
	}
	rec = e.do("POST", "/api/v1/instances/budget-7/sheet", strings.NewReader(`{"grade":"红","within":"5wd"}`),
		with(bearer(e.token["li"]), "Content-Type", "application/json"))
	if rec.Code != http.StatusNotFound && rec.Code != http.StatusForbidden {
		t.Errorf("API leader: %d", rec.Code)
	}
	if ss := sheetsOf(t, e, 2026); len(ss) != 2 {
		t.Errorf("%d sheets, want 2", len(ss))
	}
}

// TestSheetNumbersUnderConcurrency: 25 sheets from the API and 25 through
// ops.IssueSheet (the CLI's path) at once, on the same store, get 50
// distinct consecutive numbers.
func TestSheetNumbersUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	cfg, err := config.Load("") // the workspace's configuration in newEnv
	if err != nil {
		t.Fatal(err)
	}
	x, err := cfg.Expander()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := []string{"minutes-31", "budget-7"}[i%2]
			if i < 25 {
				rec := e.do("POST", "/api/v1/instances/"+id+"/sheet", strings.NewReader(`{"grade":"蓝","within":"5wd"}`),
					with(bearer(e.token["office"]), "Content-Type", "application/json"))
				if rec.Code != http.StatusOK {
					errs <- fmt.Sprintf("API %d: %d %s", i, rec.Code, rec.Body)
				}
				return
			}
			now := e.clk.Now()
			if _, err := ops.IssueSheet(e.st, x, ops.SheetRequest{ID: id, Grade: "蓝", Within: "5wd"}, "cli", "督", now, now); err != nil {
				errs <- fmt.Sprintf("CLI path %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	ss := sheetsOf(t, e, 2026)
	seen := map[string]bool{}
	for i, sh := range ss {
		if want := fmt.Sprintf("督〔2026〕%d号", i+1); sh.Number != want || seen[sh.Number] {
			t.Errorf("sheet %d is %s, want %s", i, sh.Number, want)
		}
		seen[sh.Number] = true
	}
	if len(ss) != 50 {
		t.Errorf("%d sheets, want 50", len(ss))
	}
}

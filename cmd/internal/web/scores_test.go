package web_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestScoresPage: the 考核 page of September 2026 shows each unit's score;
// the drill-down lists every item with its fact and points, and they add
// up to the score from the base of 100; a leader sees only the units he
// leads, a unit only itself; unit accounts get no xlsx.
func TestScoresPage(t *testing.T) {
	e := newEnv(t)
	office := e.login("office")
	rec := e.do("GET", "/scores?from=2026-09&to=2026-09", nil, office)
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "2026年9月督办工作考核得分") || !strings.Contains(body, "市法制局") ||
		!strings.Contains(body, "评分标准：基础分100") {
		t.Fatalf("scores: %d %s", rec.Code, body)
	}
	rec = e.do("GET", "/scores?from=2026-09&to=2026-09&unit=fzj", nil, office)
	body = rec.Body.String()
	score := regexp.MustCompile(`市法制局：扣分与加分明细（得分 ([-0-9.]+)）`).FindStringSubmatch(body)
	if score == nil {
		t.Fatalf("drill-down: %s", body)
	}
	items := regexp.MustCompile(`<a href="/instances/([^"]+)">[^<]*</a></td><td>([^<]*)</td><td class="n score-(?:minus|plus)">([-+0-9.]+)</td>`).FindAllStringSubmatch(body, -1)
	if len(items) == 0 {
		t.Fatalf("no items in the drill-down: %s", body)
	}
	// minutes-31 (due 27 Sep, still open on 30 Sep): overdue, each working
	// day late up to the cap.
	sum := 100.0
	overdue := false
	for _, it := range items {
		p, err := strconv.ParseFloat(it[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += p
		if it[1] == "minutes-31" && strings.Contains(it[2], "逾期") && p < 0 {
			overdue = true
		}
	}
	if !overdue {
		t.Errorf("no overdue deduction for minutes-31: %v", items)
	}
	if got, _ := strconv.ParseFloat(score[1], 64); strconv.FormatFloat(got, 'f', 2, 64) != strconv.FormatFloat(sum, 'f', 2, 64) {
		t.Errorf("score %s, but 100 + items = %v", score[1], sum)
	}
	// Scope.
	body = e.do("GET", "/scores?from=2026-09", nil, e.login("li")).Body.String()
	if !strings.Contains(body, "市法制局") || strings.Contains(body, "市财政局") {
		t.Errorf("leader li's scores: %s", body)
	}
	if rec := e.do("GET", "/scores?from=2026-11&unit=caizheng", nil, e.login("fzj")); rec.Code != http.StatusNotFound {
		t.Errorf("unit fzj drilling into caizheng: %d", rec.Code)
	}
	if rec := e.do("GET", "/scores.xlsx?from=2026-09", nil, e.login("fzj")); rec.Code != http.StatusForbidden {
		t.Errorf("unit xlsx: %d", rec.Code)
	}
	rec = e.do("GET", "/scores.xlsx?from=2026-09", nil, office)
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "PK") {
		t.Errorf("xlsx: %d", rec.Code)
	}
	if rec := e.do("GET", "/scores?from=2026-13", nil, office); rec.Code != http.StatusBadRequest {
		t.Errorf("bad month: %d", rec.Code)
	}
	if rec := e.do("GET", "/scores?from=2026-10&to=2026-09", nil, office); rec.Code != http.StatusBadRequest {
		t.Errorf("to before from: %d", rec.Code)
	}
}

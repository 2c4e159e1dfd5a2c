package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/attach"
	"duban/cmd/internal/unitlink"
	"duban/tracker"
	"duban/tracker/kvstore/pgtest"
)

// link returns the path of a personal link for to naming ids, issued now.
func (e *env) link(to string, ids ...string) string {
	e.t.Helper()
	secret, err := unitlink.Secret(e.st)
	if err != nil {
		e.t.Fatal(err)
	}
	return "/r/" + unitlink.Sign(secret, unitlink.Token{To: to, Instances: ids, Issued: e.clk.Now().Unix()})
}

// postLink posts the link form: fields as pairs, then files name→content.
func (e *env) postLink(path string, fields []string, files map[string][]byte) *http.Response {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile("attachment", name)
		fw.Write(data)
	}
	mw.Close()
	return e.do("POST", path, &body, map[string]string{"Content-Type": mw.FormDataContentType(), "Origin": "http://duban.test"}).Result()
}

// state is what a refused request must leave alone: the instance and its history.
func (e *env) state(id string) string {
	e.t.Helper()
	var out []byte
	if err := e.st.View(func(tx tracker.Tx) error {
		in, err := tx.Instance(id)
		if err != nil {
			return err
		}
		evs, err := tx.Events(id)
		if err != nil {
			return err
		}
		out, err = json.Marshal([]any{in, evs})
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	return string(out)
}

func bodyOf(r *http.Response) string {
	var b bytes.Buffer
	b.ReadFrom(r.Body)
	return b.String()
}

// TestLinkPageAndCompleteWithAttachments: the head's link lists the
// instances of the mail with deadlines and lights; 报结 with two files
// puts the instance in review, keeps the files by content hash, lists
// them in show and serves them only as downloads to those who may see it.
// On PostgreSQL the files are kept in the database, not in the
// attachments directory.
func TestLinkPageAndCompleteWithAttachments(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { linkPageAndCompleteWithAttachments(t, "") })
	t.Run("postgres", func(t *testing.T) {
		e := linkPageAndCompleteWithAttachments(t, pgtest.URL(t))
		if ents, _ := os.ReadDir(e.cfg.Web.Attachments.Dir); len(ents) != 0 {
			t.Errorf("files in the attachments directory: %v", ents)
		}
		if hs, err := attach.InDB(e.st.KV()).Hashes(); err != nil || len(hs) != 2 {
			t.Errorf("attachments in the database: %v, %v; want 2", hs, err)
		}
	})
}

func linkPageAndCompleteWithAttachments(t *testing.T, db string) *env {
	e := newEnvOn(t, db)
	link := e.link("wang@example.gov.cn", "minutes-31", "later-1")
	page := e.do("GET", link, nil, nil)
	b := page.Body.String()
	if page.Code != http.StatusOK || !strings.Contains(b, "第31次常务会议纪要签发") || !strings.Contains(b, "年终总结") ||
		!strings.Contains(b, `class="light purple"`) || !strings.Contains(b, `value="complete"`) {
		t.Fatalf("link page: %d\n%s", page.Code, b)
	}
	pdf := []byte("%PDF-1.4 办理结果\n")
	res := e.postLink(link, []string{"instance", "later-1", "action", "complete", "note", "已办结，材料见附件"},
		map[string][]byte{"结果.pdf": pdf, "照片.jpg": []byte("jpeg")})
	b = bodyOf(res)
	if res.StatusCode != http.StatusOK || !strings.Contains(b, "报结已登记，附件 2 个") || !strings.Contains(b, "待审核") {
		t.Fatalf("complete: %d\n%s", res.StatusCode, b)
	}
	show := showJSON(t, e, "later-1")
	sum := sha256.Sum256(pdf)
	hash := "sha256:" + hex.EncodeToString(sum[:])
	if !strings.Contains(show, `"status": "review"`) || !strings.Contains(show, `"name": "结果.pdf"`) || !strings.Contains(show, hash) {
		t.Fatalf("show after complete:\n%s", show)
	}
	// The ledger counts them.
	ledger := e.do("GET", "/reports/ledger.csv?status=all", nil, e.login("office")).Body.String()
	lines := strings.Split(ledger, "\n")
	if !strings.HasSuffix(strings.TrimSpace(lines[0]), "附件数") {
		t.Errorf("ledger header: %q", lines[0])
	}
	found := false
	for _, l := range lines {
		if strings.HasPrefix(l, "later-1,") && strings.HasSuffix(strings.TrimSpace(l), ",2") {
			found = true
		}
	}
	if !found {
		t.Errorf("ledger has no later-1 row with 2 attachments:\n%s", ledger)
	}
	// The link downloads it as an attachment; so does the office.
	for _, c := range []struct {
		path string
		hdr  map[string]string
	}{{link + "/files/" + hash, nil}, {"/files/" + hash + "/later-1", e.login("office")}} {
		dl := e.do("GET", c.path, nil, c.hdr)
		if dl.Code != http.StatusOK || !bytes.Equal(dl.Body.Bytes(), pdf) ||
			!strings.HasPrefix(dl.Header().Get("Content-Disposition"), "attachment") || dl.Header().Get("Content-Type") != "application/octet-stream" {
			t.Errorf("GET %s: %d %q %q", c.path, dl.Code, dl.Header().Get("Content-Disposition"), dl.Body.String())
		}
	}
	// Not through another instance, nor through a link that does not name it.
	if dl := e.do("GET", "/files/"+hash+"/minutes-31", nil, e.login("office")); dl.Code != http.StatusNotFound {
		t.Errorf("attachment through another instance: %d", dl.Code)
	}
	other := e.link("wang@example.gov.cn", "minutes-31")
	if dl := e.do("GET", other+"/files/"+hash, nil, nil); dl.Code != http.StatusNotFound {
		t.Errorf("attachment through a link not naming it: %d", dl.Code)
	}
	// The page's other actions: 签收, 反馈进展, 申请延期 on the other instance.
	for _, f := range [][]string{
		{"instance", "minutes-31", "action", "ack"},
		{"instance", "minutes-31", "action", "progress", "note", "正在会签"},
		{"instance", "minutes-31", "action", "extend", "date", "2026-12-31", "note", "需市长签批"},
	} {
		if res := e.postLink(link, f, nil); res.StatusCode != http.StatusOK {
			t.Errorf("%v: %d %s", f, res.StatusCode, bodyOf(res))
		}
	}
	h := showHistory(t, e, "minutes-31")
	for _, a := range []string{`"action": "ack"`, `"action": "progress"`, `"action": "extend_request"`, `"actor": "链接:wang@example.gov.cn"`} {
		if !strings.Contains(h, a) {
			t.Errorf("history lacks %s:\n%s", a, h)
		}
	}
	return e
}

// TestLinkRefusals: a tampered token, an instance the token does not
// name, a leader's (read-only) link and an expired link get a plain 4xx
// and change nothing.
func TestLinkRefusals(t *testing.T) {
	e := newEnv(t)
	link := e.link("wang@example.gov.cn", "later-1")
	before := e.state("later-1") + e.state("budget-7")
	form := []string{"instance", "later-1", "action", "complete", "note", "已办结"}
	// Tampered: one character of the payload or of the signature changed.
	i := len("/r/") + 5
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for _, bad := range []string{flip(link, i), flip(link, len(link)-3), link + "x", "/r/nonsense"} {
		if res := e.postLink(bad, form, map[string][]byte{"a.pdf": []byte("x")}); res.StatusCode != http.StatusForbidden {
			t.Errorf("tampered %s: %d", bad, res.StatusCode)
		}
		if res := e.do("GET", bad, nil, nil); res.Code != http.StatusForbidden || strings.Contains(res.Body.String(), "年终总结") {
			t.Errorf("GET tampered: %d", res.Code)
		}
	}
	// Another instance (chen's budget-7) through wang's link.
	if res := e.postLink(link, []string{"instance", "budget-7", "action", "complete"}, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("foreign instance: %d", res.StatusCode)
	}
	// A token signed for budget-7 but with wang's address: wang may not act on it.
	if res := e.postLink(e.link("wang@example.gov.cn", "budget-7"), []string{"instance", "budget-7", "action", "complete"}, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("instance of another unit: %d", res.StatusCode)
	}
	// The leader's link shows read-only and refuses actions.
	lead := e.link("li@example.gov.cn", "later-1")
	if res := e.do("GET", lead, nil, nil); res.Code != http.StatusOK || strings.Contains(res.Body.String(), "<form") ||
		!strings.Contains(res.Body.String(), "本页只供查看") {
		t.Errorf("leader page: %d\n%s", res.Code, res.Body)
	}
	if res := e.postLink(lead, form, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("leader posts: %d", res.StatusCode)
	}
	if after := e.state("later-1") + e.state("budget-7"); after != before {
		t.Errorf("refused requests changed something:\n%s\n%s", before, after)
	}
	// Expiry: 30 days after the last instance closed.
	if res := e.postLink(link, form, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("complete: %d %s", res.StatusCode, bodyOf(res))
	}
	tok := with(bearer(e.token["office"]), "Content-Type", "application/json")
	if rec := e.do("POST", "/api/v1/instances/later-1/review", strings.NewReader(`{"approve":true}`), tok); rec.Code != http.StatusOK {
		t.Fatalf("approve: %d %s", rec.Code, rec.Body)
	}
	e.clk.Add(29 * 24 * time.Hour)
	if res := e.do("GET", link, nil, nil); res.Code != http.StatusOK {
		t.Errorf("29 days after closing: %d", res.Code)
	}
	e.clk.Add(2 * 24 * time.Hour)
	closed := e.state("later-1")
	if res := e.do("GET", link, nil, nil); res.Code != http.StatusGone {
		t.Errorf("31 days after closing: %d", res.Code)
	}
	if res := e.postLink(link, []string{"instance", "later-1", "action", "progress", "note", "补充"}, nil); res.StatusCode != http.StatusGone {
		t.Errorf("post on expired link: %d", res.StatusCode)
	}
	if e.state("later-1") != closed {
		t.Error("expired link changed the instance")
	}
}

// TestLinkRateLimit: 60 requests a minute per address are served (SPEC:
// at least 30), the 61st is 429, and a minute later it is served again.
func TestLinkRateLimit(t *testing.T) {
	e := newEnv(t)
	link := e.link("wang@example.gov.cn", "later-1")
	for i := 0; i < 60; i++ {
		if res := e.do("GET", link, nil, nil); res.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, res.Code)
		}
	}
	if res := e.do("GET", link, nil, nil); res.Code != http.StatusTooManyRequests {
		t.Fatalf("request 61: %d", res.Code)
	}
	e.clk.Add(time.Minute)
	if res := e.do("GET", link, nil, nil); res.Code != http.StatusOK {
		t.Fatalf("a minute later: %d", res.Code)
	}
}

package inbound_test

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"io"
	"log"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/backend/memory"
	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-imap/server"
	"golang.org/x/text/encoding/simplifiedchinese"

	"duban/cmd/internal/attach"
	"duban/cmd/internal/config"
	"duban/cmd/internal/inbound"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/pgtest"
)

// imapServer starts go-imap's own server with its memory backend on
// 127.0.0.1 (user "username", password "password") and returns its port.
func imapServer(t *testing.T) int {
	t.Helper()
	s := server.New(memory.New())
	s.AllowInsecureAuth = true
	// A nil ErrorLog panics in the server's writer when a client has gone
	// (conn.go calls ErrorLog.Println on a failed write): discard instead.
	s.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// mailbox is a client of the test server, as a mail client would be.
func mailbox(t *testing.T, port int) *client.Client {
	t.Helper()
	c, err := client.Dial("127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("username", "password"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout() })
	return c
}

func appendMsg(t *testing.T, c *client.Client, raw string) {
	t.Helper()
	raw = strings.ReplaceAll(raw, "\n", "\r\n")
	if err := c.Append("INBOX", nil, time.Now(), bytes.NewBufferString(raw)); err != nil {
		t.Fatal(err)
	}
}

// unseen returns the subjects of the unread messages.
func unseen(t *testing.T, c *client.Client) []string {
	t.Helper()
	if _, err := c.Select("INBOX", true); err != nil {
		t.Fatal(err)
	}
	crit := imap.NewSearchCriteria()
	crit.WithoutFlags = []string{imap.SeenFlag}
	uids, err := c.UidSearch(crit)
	if err != nil {
		t.Fatal(err)
	}
	if len(uids) == 0 {
		return nil
	}
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	ch := make(chan *imap.Message, 10)
	go c.UidFetch(set, []imap.FetchItem{imap.FetchEnvelope}, ch)
	var out []string
	for m := range ch {
		out = append(out, m.Envelope.Subject)
	}
	return out
}

type fixture struct {
	st     *kvstore.Store
	x      *tracker.Expander
	port   int
	attDir string
	now    time.Time
}

// newFixture stores unit fzj (head wang) with three open instances and
// records two sent messages: a digest of a-1 and a-2, and a notice of b-1.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(t, "")
}

// newFixtureOn is newFixture on the database db: a PostgreSQL URL, or ""
// for a new bbolt file.
func newFixtureOn(t *testing.T, db string) *fixture {
	t.Helper()
	cfg := config.Default()
	x, err := cfg.Expander()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := kvstore.Open(cmp.Or(db, filepath.Join(dir, "duban.db")), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	loc := cfg.Location
	imported := time.Date(2026, 11, 2, 9, 0, 0, 0, loc)
	b := &tracker.Bundle{
		People: []tracker.Person{{ID: "wang", Name: "王", Email: "wang@example.gov.cn"}},
		Units:  []tracker.Unit{{ID: "fzj", Name: "市法制局", Head: "wang"}},
		Items: []tracker.Item{
			{ID: "a-1", Title: "规范性文件清理", Unit: "fzj", Start: "2026-11-02 09:00", Due: "2026-11-30"},
			{ID: "a-2", Title: "行政复议案件统计", Unit: "fzj", Start: "2026-11-02 09:00", Due: "2026-11-30"},
			{ID: "b-1", Title: "法治政府建设报告", Unit: "fzj", Start: "2026-11-02 09:00", Due: "2026-11-30"},
		},
	}
	if err := st.Update(func(tx tracker.Tx) error {
		if _, err := x.Import(tx, b, imported, "test"); err != nil {
			return err
		}
		dl := func(id string) *tracker.Delivery { return &tracker.Delivery{Instance: id, To: "wang@example.gov.cn"} }
		if err := inbound.RecordSent(tx, "<digest-1@example.gov.cn>", []*tracker.Delivery{dl("a-1"), dl("a-2")}); err != nil {
			return err
		}
		return inbound.RecordSent(tx, "<single-1@example.gov.cn>", []*tracker.Delivery{dl("b-1")})
	}); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, x: x, port: imapServer(t), attDir: filepath.Join(dir, "attachments"), now: time.Date(2026, 11, 10, 10, 0, 0, 0, loc)}
}

func (f *fixture) poller() *inbound.Poller {
	return &inbound.Poller{
		Cfg: config.IMAPConfig{Host: "127.0.0.1", Port: f.port, TLS: "none", Username: "username", Password: "password",
			Mailbox: "INBOX", Poll: time.Second},
		Store: f.st, Expander: f.x, AttachDir: f.attDir, MaxSize: 20 << 20,
		Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now },
	}
}

func (f *fixture) events(t *testing.T, id string) []tracker.Event {
	t.Helper()
	var evs []tracker.Event
	if err := f.st.View(func(tx tracker.Tx) error {
		var err error
		evs, err = tx.Events(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}

func (f *fixture) instance(t *testing.T, id string) *tracker.Instance {
	t.Helper()
	var in *tracker.Instance
	if err := f.st.View(func(tx tracker.Tx) error {
		var err error
		in, err = tx.Instance(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return in
}

func gbk(t *testing.T, s string) string {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRepliesByIMAP: a reply "已办结，材料见附件" with a PDF to a digest of
// two instances is feedback to both (flagged: it names neither), with the
// PDF kept for both; a GBK reply "已完成" to a single notice is a 报结; an
// auto-reply is ignored; unrelated mail and a reply to a message duban
// never sent stay unread. A second poller (a restart) and a message
// marked unread again record nothing twice.
// On PostgreSQL the PDF is kept in the database (attach.For).
func TestRepliesByIMAP(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) { repliesByIMAP(t, "") })
	t.Run("postgres", func(t *testing.T) { repliesByIMAP(t, pgtest.URL(t)) })
}

func repliesByIMAP(t *testing.T, db string) {
	f := newFixtureOn(t, db)
	mc := mailbox(t, f.port)
	pdf := []byte("%PDF-1.4\n办理结果材料\n%%EOF\n")
	appendMsg(t, mc, `From: 王 <wang@example.gov.cn>
To: ducha@example.gov.cn
Subject: =?UTF-8?b?`+base64.StdEncoding.EncodeToString([]byte("回复：督办事项通知"))+`?=
Message-ID: <r1@example.gov.cn>
In-Reply-To: <digest-1@example.gov.cn>
References: <digest-1@example.gov.cn>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=BB

--BB
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: base64

`+base64.StdEncoding.EncodeToString([]byte("已办结，材料见附件\n\n在 2026年11月9日，督查室 写道：\n> 现将您的2项督办事项通知如下"))+`
--BB
Content-Type: application/pdf
Content-Disposition: attachment; filename="result.pdf"
Content-Transfer-Encoding: base64

`+base64.StdEncoding.EncodeToString(pdf)+`
--BB--
`)
	appendMsg(t, mc, "From: wang@example.gov.cn\nTo: ducha@example.gov.cn\nSubject: =?GBK?b?"+
		base64.StdEncoding.EncodeToString([]byte(gbk(t, "回复：法治政府建设报告")))+"?=\nMessage-ID: <r2@example.gov.cn>\n"+
		"In-Reply-To: <single-1@example.gov.cn>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=GBK\n"+
		"Content-Transfer-Encoding: base64\n\n"+base64.StdEncoding.EncodeToString([]byte(gbk(t, "已完成，报告已印发。\n")))+"\n")
	appendMsg(t, mc, "From: wang@example.gov.cn\nSubject: =?UTF-8?b?"+base64.StdEncoding.EncodeToString([]byte("自动回复：我正在休假"))+
		"?=\nAuto-Submitted: auto-replied\nIn-Reply-To: <single-1@example.gov.cn>\nContent-Type: text/plain; charset=UTF-8\n\n休假中\n")
	appendMsg(t, mc, "From: someone@example.com\nSubject: unrelated\nContent-Type: text/plain\n\nhello\n")
	appendMsg(t, mc, "From: someone@example.com\nSubject: stranger reply\nIn-Reply-To: <never-sent@example.gov.cn>\nContent-Type: text/plain\n\nhi\n")

	res, err := f.poller().Poll(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Seen != 5 || res.Recorded != 2 || res.AutoReplies != 1 || res.Unmatched != 2 {
		t.Fatalf("first poll: %+v", res)
	}
	// The digest reply: 反馈 on both, flagged, the PDF on both.
	for _, id := range []string{"a-1", "a-2"} {
		evs := f.events(t, id)
		var progress, file *tracker.Event
		for i := range evs {
			switch evs[i].Action {
			case "progress":
				progress = &evs[i]
			case "attachment":
				file = &evs[i]
			}
		}
		if progress == nil || !strings.Contains(progress.Note, "已办结，材料见附件") || !strings.Contains(progress.Note, "请督查室核实") ||
			strings.Contains(progress.Note, "写道") || progress.Actor != "邮件:wang@example.gov.cn" {
			t.Errorf("%s progress: %+v", id, progress)
		}
		if file == nil || file.Note != "result.pdf" {
			t.Fatalf("%s attachment: %+v", id, file)
		}
		var kept []byte
		r, err := attach.For(f.st, f.attDir).Open(file.To)
		if err == nil {
			kept, err = io.ReadAll(r)
			r.Close()
		}
		if err != nil || !bytes.Equal(kept, pdf) {
			t.Errorf("%s attachment file: %v %q", id, err, kept)
		}
		if in := f.instance(t, id); in.Status != tracker.StatusOpen {
			t.Errorf("%s status %s, want open (the reply named no instance)", id, in.Status)
		}
	}
	// The GBK reply: 报结 on b-1, decoded.
	if in := f.instance(t, "b-1"); in.Status != tracker.StatusReview || in.Note != "已完成，报告已印发。" {
		t.Errorf("b-1 after the GBK reply: %s %q", in.Status, in.Note)
	}
	// Unrelated and stranger mail stay unread; the rest is read.
	if u := unseen(t, mc); len(u) != 2 || !strings.Contains(strings.Join(u, "|"), "unrelated") {
		t.Errorf("unread after the poll: %q", u)
	}
	count := func() int { return len(f.events(t, "a-1")) + len(f.events(t, "a-2")) + len(f.events(t, "b-1")) }
	before := count()
	// A restart: a new poller over the same store.
	res, err = f.poller().Poll(t.Context())
	if err != nil || res.Recorded != 0 || res.Seen != 0 {
		t.Errorf("second poll: %+v %v", res, err)
	}
	// The GBK reply marked unread again in a mail client.
	if _, err := mc.Select("INBOX", false); err != nil {
		t.Fatal(err)
	}
	all := new(imap.SeqSet)
	all.AddRange(1, 0)
	if err := mc.Store(all, imap.FormatFlagsOp(imap.RemoveFlags, true), []any{imap.SeenFlag}, nil); err != nil {
		t.Fatal(err)
	}
	// (The memory backend's own sample message, read until now, is new
	// to duban: seen once, unmatched.)
	res, err = f.poller().Poll(t.Context())
	if err != nil || res.Recorded != 0 || res.Skipped != 5 {
		t.Errorf("poll after marking unread: %+v %v", res, err)
	}
	if count() != before {
		t.Errorf("events grew from %d to %d on later polls", before, count())
	}
}

// TestDigestReplyNamingOneInstance: a reply to a digest that names one
// instance by its title applies to that one only, and 已办结 reports it.
func TestDigestReplyNamingOneInstance(t *testing.T) {
	f := newFixture(t)
	mc := mailbox(t, f.port)
	appendMsg(t, mc, "From: wang@example.gov.cn\nSubject: Re\nIn-Reply-To: <digest-1@example.gov.cn>\n"+
		"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"+
		base64.StdEncoding.EncodeToString([]byte("已办结：行政复议案件统计已报送。"))+"\n")
	if _, err := f.poller().Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a1, a2 := f.instance(t, "a-1"), f.instance(t, "a-2"); a1.Status != tracker.StatusOpen || a2.Status != tracker.StatusReview {
		t.Errorf("a-1 %s, a-2 %s; want open and review", a1.Status, a2.Status)
	}
}

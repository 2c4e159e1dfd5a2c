package main

import (
	"bytes"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/backend/memory"
	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-imap/server"

	"duban/cmd/internal/unitlink"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// TestNoticeLinkAndReplyLoop: with web.base_url and inbound.imap set, the
// notice carries the head's personal link and says a reply works too; a
// reply "已办结" to it, left in the IMAP mailbox (go-imap's own server on
// 127.0.0.1), is read by the next `serve --once` and reports completion;
// the office's next mail has the 待审核 entry.
func TestNoticeLinkAndReplyLoop(t *testing.T) {
	e := newTestEnv(t)
	s := server.New(memory.New())
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	cfg, _ := os.ReadFile(e.config)
	cfg = append(cfg, []byte("web: {base_url: \"http://duban.test:8080\"}\ninbound:\n  imap: {host: 127.0.0.1, port: "+
		strconv.Itoa(port)+", tls: none, username: username, password: password, mailbox: INBOX, poll: 1s}\n")...)
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("import", examplePath("units.yaml"), e.writeTemp("ny.yaml", newYearItem), "--at", "2026-12-28 09:00")
	e.mustRun("serve", "--once", "--at", "2026-12-30 10:30")
	files, _ := filepath.Glob(filepath.Join(e.dir, "outbox", "ny-1_0_*wang*.eml"))
	if len(files) != 1 {
		t.Fatalf("assigned notice files: %v", files)
	}
	raw, _ := os.ReadFile(files[0])
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	msgID := msg.Header.Get("Message-Id")
	text, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`http://duban\.test:8080/r/(\S+)`).FindStringSubmatch(text)
	if m == nil || !strings.Contains(text, "或直接回复本邮件") || strings.Contains(text, "办理完毕后请回复督查室报结") {
		t.Fatalf("notice text lacks the link or the reply line:\n%s", text)
	}
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := unitlink.Secret(st)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := unitlink.Verify(secret, m[1])
	if err != nil || tok.To != "wang@example.gov.cn" || len(tok.Instances) != 1 || tok.Instances[0] != "ny-1" {
		t.Fatalf("link token: %+v %v", tok, err)
	}

	c, err := client.Dial("127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout()
	if err := c.Login("username", "password"); err != nil {
		t.Fatal(err)
	}
	reply := "From: wang@example.gov.cn\r\nTo: ducha@example.gov.cn\r\nSubject: Re\r\nIn-Reply-To: " + msgID +
		"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n已办结。\r\n"
	if err := c.Append("INBOX", nil, time.Now(), bytes.NewBufferString(reply)); err != nil {
		t.Fatal(err)
	}
	e.mustRun("serve", "--once", "--at", "2026-12-31 10:00")
	in := e.instance("ny-1")
	if in.Status != tracker.StatusReview || !in.ReportedAt.Equal(atTime(t, "2026-12-31 10:00")) {
		t.Fatalf("after the reply: %s reported %v", in.Status, in.ReportedAt)
	}
	found := false
	for _, r := range e.noticeRows("--all") {
		if r.Instance == "ny-1" && r.Level == "review" && r.To == "ducha@example.gov.cn" && r.State == "sent" {
			found = true
		}
	}
	if !found {
		t.Errorf("no 待审核 notice sent to the office: %+v", e.noticeRows("--all"))
	}
	if !outboxHas(t, filepath.Join(e.dir, "outbox"), "【待审核】") {
		t.Error("no mail has the 待审核 entry")
	}
}

// TestLinkRotate: `link rotate` replaces the secret, so a token signed
// before no longer verifies.
func TestLinkRotate(t *testing.T) {
	e := newTestEnv(t)
	e.mustRun("import", examplePath("units.yaml"), e.writeTemp("ny.yaml", newYearItem), "--at", "2026-12-28 09:00")
	secret := func() []byte {
		st, err := kvstore.Open(e.db, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s, err := unitlink.Secret(st)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tok := unitlink.Sign(secret(), unitlink.Token{To: "wang@example.gov.cn", Instances: []string{"ny-1"}, Issued: 1})
	e.mustRun("link", "rotate")
	if _, err := unitlink.Verify(secret(), tok); err == nil {
		t.Error("a link signed before the rotation still verifies")
	}
}

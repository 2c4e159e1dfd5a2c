// Package inbound reads replies to notices from an IMAP mailbox (SPEC
// §11). Each sent notice's Message-ID is recorded with its recipient and
// instances (RecordSent, meta "msgid:<id>"); a poll fetches the unread
// messages without marking them read, matches In-Reply-To / References
// against those ids, and records the reply's text as 反馈 (progress) —
// or, when it starts with 已办结 / 办结 / 已完成, as 报结 (report → review)
// — with its attachments kept. Auto-replies are marked read and ignored;
// unmatched mail stays unread and is logged once. The UIDVALIDITY and UID
// of every message looked at are recorded (meta "imap:<mailbox>:<validity>:<uid>")
// before anything is recorded from it, so a restart, or a message marked
// unread again, never records a reply twice.
package inbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/simplifiedchinese"

	attachfile "duban/cmd/internal/attach"
	"duban/cmd/internal/config"
	"duban/cmd/internal/ops"
	"duban/tracker"
)

func init() {
	message.CharsetReader = charsetReader
}

// charsetReader decodes the charsets Chinese mail comes in: UTF-8,
// GBK / GB2312 / GB18030 (by GB18030, their superset) and Latin-1.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "utf-8", "utf8", "us-ascii", "ascii", "":
		return r, nil
	case "gbk", "gb2312", "gb18030", "cp936", "x-gbk", "euc-cn", "windows-936":
		return simplifiedchinese.GB18030.NewDecoder().Reader(r), nil
	case "hz-gb-2312":
		return simplifiedchinese.HZGB2312.NewDecoder().Reader(r), nil
	case "iso-8859-1", "latin1":
		return charmap.ISO8859_1.NewDecoder().Reader(r), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", cs)
}

// Sent is what RecordSent keeps of a sent message.
type Sent struct {
	To        string   `json:"to"`
	Instances []string `json:"instances"`
}

// RecordSent remembers the recipient and instances of the message msgID
// sent for group, so that a reply to it can be matched.
func RecordSent(tx tracker.Tx, msgID string, group []*tracker.Delivery) error {
	s := Sent{To: group[0].To}
	for _, dl := range group {
		if dl.Instance != "" && !contains(s.Instances, dl.Instance) {
			s.Instances = append(s.Instances, dl.Instance)
		}
	}
	if len(s.Instances) == 0 {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return tx.PutMeta("msgid:"+normID(msgID), b)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func normID(id string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(id), "<>"))
}

// Poller polls one mailbox.
type Poller struct {
	Cfg      config.IMAPConfig
	Store    tracker.Store
	Expander *tracker.Expander
	// AttachDir and MaxSize are web.attachments (the files are kept in
	// the database instead when Store is on PostgreSQL: attach.For).
	AttachDir string
	MaxSize   int64
	Log       *slog.Logger
	Now       func() time.Time
}

// Result counts what a poll did.
type Result struct {
	Seen, Recorded, AutoReplies, Unmatched, Skipped int
}

// Poll connects, handles the unread messages and logs out.
func (p *Poller) Poll(ctx context.Context) (Result, error) {
	var res Result
	c, err := p.dial()
	if err != nil {
		return res, err
	}
	defer c.Logout()
	if err := c.Login(p.Cfg.Username, string(p.Cfg.Password)); err != nil {
		return res, fmt.Errorf("imap login %s@%s: %w", p.Cfg.Username, p.Cfg.Host, err)
	}
	mbox, err := c.Select(p.Cfg.Mailbox, false)
	if err != nil {
		return res, fmt.Errorf("imap select %s: %w", p.Cfg.Mailbox, err)
	}
	crit := imap.NewSearchCriteria()
	crit.WithoutFlags = []string{imap.SeenFlag}
	uids, err := c.UidSearch(crit)
	if err != nil {
		return res, fmt.Errorf("imap search: %w", err)
	}
	var todo []uint32
	for _, uid := range uids {
		done, err := p.handled(mbox.UidValidity, uid)
		if err != nil {
			return res, err
		}
		if done {
			res.Skipped++
		} else {
			todo = append(todo, uid)
		}
	}
	if len(todo) == 0 {
		return res, nil
	}
	set := new(imap.SeqSet)
	set.AddNum(todo...)
	section := &imap.BodySectionName{Peek: true}
	ch := make(chan *imap.Message, 16)
	fetchErr := make(chan error, 1)
	go func() { fetchErr <- c.UidFetch(set, []imap.FetchItem{imap.FetchUid, section.FetchItem()}, ch) }()
	type fetched struct {
		uid  uint32
		body []byte
	}
	var msgs []fetched
	for m := range ch {
		r := m.GetBody(section)
		if r == nil {
			continue
		}
		b, err := io.ReadAll(r)
		if err != nil {
			continue
		}
		msgs = append(msgs, fetched{m.Uid, b})
	}
	if err := <-fetchErr; err != nil {
		return res, fmt.Errorf("imap fetch: %w", err)
	}
	// Recorded first, in one transaction: at most once, whatever happens next.
	uidsFetched := make([]uint32, len(msgs))
	for i, m := range msgs {
		uidsFetched[i] = m.uid
	}
	if err := p.markHandled(mbox.UidValidity, uidsFetched); err != nil {
		return res, err
	}
	var seen []uint32
	for _, m := range msgs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Seen++
		outcome, err := p.handle(m.uid, m.body)
		if err != nil {
			p.Log.Error("inbound message", "uid", m.uid, "err", err)
			continue
		}
		switch outcome {
		case outcomeRecorded:
			res.Recorded++
			seen = append(seen, m.uid)
		case outcomeAuto:
			res.AutoReplies++
			seen = append(seen, m.uid)
		case outcomeUnmatched:
			res.Unmatched++ // stays unread where it was
		}
	}
	if len(seen) > 0 {
		s := new(imap.SeqSet)
		s.AddNum(seen...)
		if err := c.UidStore(s, imap.FormatFlagsOp(imap.AddFlags, true), []any{imap.SeenFlag}, nil); err != nil {
			return res, fmt.Errorf("imap store \\Seen: %w", err)
		}
	}
	return res, nil
}

func (p *Poller) dial() (*client.Client, error) {
	addr := net.JoinHostPort(p.Cfg.Host, strconv.Itoa(p.Cfg.Port))
	tc := &tls.Config{ServerName: p.Cfg.Host, MinVersion: tls.VersionTLS12}
	if p.Cfg.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(p.Cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("inbound.imap.ca_file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("inbound.imap.ca_file %s: no PEM certificate", p.Cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	switch p.Cfg.TLS {
	case "implicit":
		c, err := client.DialWithDialerTLS(dialer, addr, tc)
		if err != nil {
			return nil, fmt.Errorf("imap connect %s: %w", addr, err)
		}
		return c, nil
	default:
		c, err := client.DialWithDialer(dialer, addr)
		if err != nil {
			return nil, fmt.Errorf("imap connect %s: %w", addr, err)
		}
		if p.Cfg.TLS == "starttls" {
			if err := c.StartTLS(tc); err != nil {
				c.Logout()
				return nil, fmt.Errorf("imap starttls %s: %w", addr, err)
			}
		}
		c.Timeout = 60 * time.Second
		return c, nil
	}
}

func (p *Poller) key(validity, uid uint32) string {
	return fmt.Sprintf("imap:%s:%d:%d", p.Cfg.Mailbox, validity, uid)
}

func (p *Poller) handled(validity, uid uint32) (bool, error) {
	var done bool
	err := p.Store.View(func(tx tracker.Tx) error {
		b, err := tx.Meta(p.key(validity, uid))
		done = b != nil
		return err
	})
	return done, err
}

func (p *Poller) markHandled(validity uint32, uids []uint32) error {
	stamp := []byte(p.Now().UTC().Format(time.RFC3339))
	return p.Store.Update(func(tx tracker.Tx) error {
		for _, uid := range uids {
			if err := tx.PutMeta(p.key(validity, uid), stamp); err != nil {
				return err
			}
		}
		return nil
	})
}

type outcome int

const (
	outcomeRecorded outcome = iota
	outcomeAuto
	outcomeUnmatched
)

// completion starts a reply that reports completion.
var completion = regexp.MustCompile(`^\s*(已办结|办结|已完成)`)

// Reply is a parsed reply.
type Reply struct {
	From, Subject string
	Refs          []string
	Auto          bool
	Text          string
	Files         []File
}

// File is an attachment of a reply.
type File struct {
	Name string
	Data []byte
}

// Parse reads a message: its sender, the ids it refers to, whether it is
// an auto-reply, its new text (quoted text cut) and its attachments.
func Parse(raw []byte) (*Reply, error) {
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil && mr == nil {
		return nil, err
	}
	defer mr.Close()
	h := mr.Header
	r := &Reply{}
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		r.From = strings.ToLower(from[0].Address)
	}
	r.Subject, _ = h.Subject()
	for _, k := range []string{"In-Reply-To", "References"} {
		ids, _ := h.MsgIDList(k)
		for _, id := range ids {
			r.Refs = append(r.Refs, normID(id))
		}
	}
	if a := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); a != "" && a != "no" {
		r.Auto = true
	}
	if strings.Contains(r.Subject, "自动回复") {
		r.Auto = true
	}
	var html string
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if message.IsUnknownCharset(err) {
				continue
			}
			return r, err
		}
		switch ph := part.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := ph.ContentType()
			b, _ := io.ReadAll(part.Body)
			switch {
			case ct == "text/plain" && r.Text == "":
				r.Text = string(b)
			case ct == "text/html" && html == "":
				html = string(b)
			}
		case *mail.AttachmentHeader:
			name, _ := ph.Filename()
			b, err := io.ReadAll(part.Body)
			if err != nil {
				return r, err
			}
			r.Files = append(r.Files, File{Name: name, Data: b})
		}
	}
	if r.Text == "" && html != "" {
		r.Text = stripHTML(html)
	}
	r.Text = newText(r.Text)
	return r, nil
}

var tagRE = regexp.MustCompile(`(?s)<[^>]*>`)

func stripHTML(s string) string {
	s = regexp.MustCompile(`(?i)<br\s*/?>|</p>|</div>`).ReplaceAllString(s, "\n")
	s = tagRE.ReplaceAllString(s, "")
	return strings.NewReplacer("&nbsp;", " ", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// quoteStart marks where a mail client starts quoting the notice.
var quoteStart = regexp.MustCompile(`^(-{2,}\s*(原始邮件|Original Message|回复的原邮件)|在.*写道[：:]?\s*$|On .* wrote:\s*$|发件人[：:]|From: )`)

// newText is the reply's own text: up to the quoted notice, without
// quoted lines, trimmed.
func newText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []string
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		if quoteStart.MatchString(t) {
			break
		}
		if strings.HasPrefix(t, ">") {
			continue
		}
		out = append(out, strings.TrimRight(line, " \t"))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// handle records one message; the returned outcome says whether it is to
// be marked read.
func (p *Poller) handle(uid uint32, raw []byte) (outcome, error) {
	r, err := Parse(raw)
	if err != nil {
		return outcomeUnmatched, err
	}
	if r.Auto {
		p.Log.Info("inbound auto-reply ignored", "uid", uid, "from", r.From, "subject", r.Subject)
		return outcomeAuto, nil
	}
	var sent *Sent
	err = p.Store.View(func(tx tracker.Tx) error {
		for i := len(r.Refs) - 1; i >= 0; i-- { // In-Reply-To first, then the latest reference
			b, err := tx.Meta("msgid:" + r.Refs[i])
			if err != nil {
				return err
			}
			if b != nil {
				sent = &Sent{}
				return json.Unmarshal(b, sent)
			}
		}
		return nil
	})
	if err != nil {
		return outcomeUnmatched, err
	}
	if sent == nil {
		p.Log.Warn("inbound mail matches no notice; left unread", "uid", uid, "from", r.From, "subject", r.Subject)
		return outcomeUnmatched, nil
	}
	ids, named := p.named(sent.Instances, r.Text)
	text := r.Text
	kind := "progress"
	if completion.MatchString(text) && named {
		kind = "report"
	}
	if !named {
		text = "（邮件回复未指明事项，记入本邮件所列全部事项，请督查室核实）" + text
	}
	if text == "" {
		text = "（邮件回复，无正文）"
	}
	if r.From != "" && !strings.EqualFold(r.From, sent.To) {
		text += "（回复人：" + r.From + "）"
	}
	now := p.Now()
	actor := "邮件:" + cmpOr(r.From, sent.To)
	for _, id := range ids {
		req := ops.Request{Kind: kind, ID: id, Note: text, Actor: actor, Recorded: now}
		_, err := ops.Act(p.Store, p.Expander, req)
		if kind == "report" && errors.Is(err, tracker.ErrInvalid) {
			req.Kind = "progress" // not open (already in review, say): keep the text as 反馈
			_, err = ops.Act(p.Store, p.Expander, req)
		}
		if err != nil {
			p.Log.Warn("inbound reply not recorded", "uid", uid, "instance", id, "err", err)
			continue
		}
		for _, f := range r.Files {
			pf, err := attachfile.For(p.Store, p.AttachDir).Receive(f.Name, bytes.NewReader(f.Data), p.MaxSize)
			if err != nil {
				p.Log.Warn("inbound attachment not kept", "uid", uid, "name", f.Name, "err", err)
				continue
			}
			if err := pf.Keep(); err != nil {
				pf.Discard()
				return outcomeRecorded, err
			}
			if err := ops.Attach(p.Store, id, pf.Name, pf.Hash, pf.Size, actor, now); err != nil {
				return outcomeRecorded, err
			}
		}
	}
	p.Log.Info("inbound reply recorded", "uid", uid, "from", r.From, "instances", ids, "action", kind)
	return outcomeRecorded, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// named returns the instances of a digest the text names, by id or by the
// item's title; all of them (and false) when it names none. A mail of one
// instance names it.
func (p *Poller) named(ids []string, text string) ([]string, bool) {
	if len(ids) == 1 {
		return ids, true
	}
	var out []string
	_ = p.Store.View(func(tx tracker.Tx) error {
		for _, id := range ids {
			if strings.Contains(text, id) {
				out = append(out, id)
				continue
			}
			in, err := tx.Instance(id)
			if err != nil {
				continue
			}
			if it, err := tx.Item(in.Item); err == nil && it.Title != "" && strings.Contains(text, it.Title) {
				out = append(out, id)
			}
		}
		return nil
	})
	if len(out) == 0 {
		return ids, false
	}
	return out, true
}

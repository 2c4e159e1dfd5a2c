package main

// Mail as the end-to-end tests of `duban serve` receive it: an SMTP
// server on loopback (notify/smtptest: STARTTLS with a self-signed
// certificate, AUTH PLAIN and LOGIN, injectable RCPT/DATA failures), and
// a received message decoded the way a mail client would.

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"

	"duban/notify/smtptest"
)

// startSMTPServer starts a submission server on 127.0.0.1: STARTTLS, and
// no MAIL FROM before AUTH.
func startSMTPServer(t *testing.T) *smtptest.Server {
	t.Helper()
	return smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS, RequireAuth: true})
}

// parsedMail is a received message decoded the way a mail client would.
type parsedMail struct {
	Envelope   smtptest.Message
	Header     mail.Header
	HeaderRaw  string // the header block as received
	Subject    string
	To         []*mail.Address
	Text, HTML string
	Entries    []digestEntry
	// Attachments maps file names to content types; AttachmentData to
	// the decoded content.
	Attachments    map[string]string
	AttachmentData map[string][]byte
	// PartHeaders are the headers of every MIME part, nested ones too.
	PartHeaders []textproto.MIMEHeader
}

// digestEntry is one notice of a digest, read back from the text body.
type digestEntry struct {
	Level string // 督办通知, 到期提醒, 今日到期, 逾期催办, 问责预警, 邮件投递失败
	Title string
	Late  bool // marked （补发）
	ID    string
	Lines []string // the entry's detail lines, trimmed
}

// digestLevelNames are the subject tags of the notice levels (notify/render.go).
var digestLevelNames = map[string]string{
	"assigned": "督办通知", "reminder": "到期提醒", "due": "今日到期",
	"overdue": "逾期催办", "escalation": "问责预警", "failure": "邮件投递失败",
	"reassigned": "改派通知",
}

// parseMail decodes a received message with net/mail, mime.WordDecoder,
// mime/multipart and quoted-printable, and reads the digest entries back
// from the text part.
func parseMail(t *testing.T, r smtptest.Message) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v\n%s", err, r.Data)
	}
	head, _, _ := bytes.Cut(r.Data, []byte("\r\n\r\n"))
	p := parsedMail{Envelope: r, Header: msg.Header, HeaderRaw: string(head)}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	if p.To, err = msg.Header.AddressList("To"); err != nil {
		t.Fatalf("parse To %q: %v", msg.Header.Get("To"), err)
	}
	walkMailPart(t, &p, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	p.Text = strings.ReplaceAll(p.Text, "\r\n", "\n")
	p.Entries = parseDigestText(p.Text)
	return p
}

func walkMailPart(t *testing.T, p *parsedMail, ctype, cte string, body io.Reader) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("Content-Type %q: %v", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("next part: %v", err)
			}
			p.PartHeaders = append(p.PartHeaders, part.Header)
			if cd := part.Header.Get("Content-Disposition"); cd != "" {
				// An attachment (e.g. deadline.ics on assigned notices).
				_, dp, err := mime.ParseMediaType(cd)
				if err != nil {
					t.Fatalf("Content-Disposition %q: %v", cd, err)
				}
				if p.Attachments == nil {
					p.Attachments = map[string]string{}
				}
				p.Attachments[dp["filename"]] = part.Header.Get("Content-Type")
				var ar io.Reader = part
				switch strings.ToLower(part.Header.Get("Content-Transfer-Encoding")) {
				case "base64":
					ar = base64.NewDecoder(base64.StdEncoding, part)
				case "quoted-printable":
					ar = quotedprintable.NewReader(part)
				}
				data, err := io.ReadAll(ar)
				if err != nil {
					t.Fatalf("decode attachment %s: %v", dp["filename"], err)
				}
				if p.AttachmentData == nil {
					p.AttachmentData = map[string][]byte{}
				}
				p.AttachmentData[dp["filename"]] = data
				continue
			}
			walkMailPart(t, p, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
		}
	}
	var r io.Reader
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	default:
		r = body
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s body: %v", cte, err)
	}
	if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "UTF-8") {
		t.Fatalf("charset %q, want UTF-8", cs)
	}
	switch mt {
	case "text/plain":
		p.Text = string(data)
	case "text/html":
		p.HTML = string(data)
	default:
		t.Fatalf("unexpected part %s", mt)
	}
}

// parseDigestText reads the entries of a digest's text body: a heading
// "一、【级别】标题[（补发）]" then detail lines up to "事项编号：ID".
func parseDigestText(text string) []digestEntry {
	var out []digestEntry
	var cur *digestEntry
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "、【"); i > 0 && !strings.HasPrefix(line, "　") {
			rest := line[i+len("、【"):]
			level, title, ok := strings.Cut(rest, "】")
			if !ok {
				continue
			}
			e := digestEntry{Level: level, Title: title}
			if t, ok := strings.CutSuffix(title, "（补发）"); ok {
				e.Title, e.Late = t, true
			}
			out = append(out, e)
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		l := strings.TrimSpace(strings.TrimLeft(line, "　"))
		if l == "" {
			cur = nil
			continue
		}
		cur.Lines = append(cur.Lines, l)
		if id, ok := strings.CutPrefix(l, "事项编号："); ok {
			cur.ID = id
		}
	}
	return out
}

// entry returns the first entry of p with instance id and level name, or nil.
func (p parsedMail) entry(id, level string) *digestEntry {
	for i := range p.Entries {
		if p.Entries[i].ID == id && p.Entries[i].Level == digestLevelNames[level] {
			return &p.Entries[i]
		}
	}
	return nil
}

// has reports whether the entry has a detail line with this prefix and
// returns its value.
func (e *digestEntry) field(name string) (string, bool) {
	for _, l := range e.Lines {
		if v, ok := strings.CutPrefix(l, name+"："); ok {
			return v, true
		}
	}
	return "", false
}

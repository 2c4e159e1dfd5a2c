package notify_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"duban/notify"
)

var shanghai = time.FixedZone("CST", 8*3600)

// sampleMessage is a realistic Chinese notice with HTML and an attachment.
func sampleMessage() *notify.Message {
	return &notify.Message{
		Key:  "minutes-31|2|0",
		From: mail.Address{Name: "市政府督查室", Address: "ducha@example.gov.cn"},
		To: []mail.Address{
			{Name: "市法制局", Address: "fzj@example.gov.cn"},
			{Name: "王冠标", Address: "wang@example.gov.cn"},
		},
		Cc:      []mail.Address{{Name: "李秘书长, 市政府办公室", Address: "li@example.gov.cn"}},
		Subject: "【逾期催办】第31次常务会议纪要签发（逾期2个工作日）",
		Text:    "市法制局：\n\n第31次常务会议纪要签发已逾期2个工作日，请立即办理。\n\n市政府督查室\n",
		HTML:    "<p>市法制局：</p><p>第31次常务会议纪要签发已逾期<strong>2</strong>个工作日。</p>",
		Attachments: []notify.Attachment{
			{Name: "督办清单.csv", ContentType: "text/csv; charset=UTF-8", Data: []byte("事项,时限\n纪要签发,9月28日\n")},
		},
		Date: time.Date(2026, 9, 30, 9, 0, 0, 0, shanghai),
	}
}

// parsedMail is a message decoded the way a mail client would.
type parsedMail struct {
	Header      mail.Header
	Raw         []byte
	Subject     string
	From        *mail.Address
	To, Cc      []*mail.Address
	Text, HTML  string
	Attachments map[string][]byte // by decoded file name
}

// mustParseMail decodes data with net/mail, mime.WordDecoder, mime/multipart
// (raw parts) and quoted-printable/base64.
func mustParseMail(tb testing.TB, data []byte) parsedMail {
	tb.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		tb.Fatalf("mail.ReadMessage: %v\n%s", err, data)
	}
	p := parsedMail{Header: msg.Header, Raw: data, Attachments: map[string][]byte{}}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		tb.Fatalf("decode Subject: %v", err)
	}
	if p.From, err = mail.ParseAddress(msg.Header.Get("From")); err != nil {
		tb.Fatalf("parse From %q: %v", msg.Header.Get("From"), err)
	}
	if p.To, err = msg.Header.AddressList("To"); err != nil {
		tb.Fatalf("parse To %q: %v", msg.Header.Get("To"), err)
	}
	if msg.Header.Get("Cc") != "" {
		if p.Cc, err = msg.Header.AddressList("Cc"); err != nil {
			tb.Fatalf("parse Cc %q: %v", msg.Header.Get("Cc"), err)
		}
	}
	walkPart(tb, &p, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), "", msg.Body)
	return p
}

// walkPart decodes one MIME entity, recursing into multiparts.
func walkPart(tb testing.TB, p *parsedMail, ctype, cte, disposition string, body io.Reader) {
	tb.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		tb.Fatalf("Content-Type %q: %v", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				tb.Fatalf("next part: %v", err)
			}
			walkPart(tb, p, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"),
				part.Header.Get("Content-Disposition"), part)
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
		tb.Fatalf("decode %s body: %v", cte, err)
	}
	if disposition != "" {
		_, dp, err := mime.ParseMediaType(disposition)
		if err != nil {
			tb.Fatalf("Content-Disposition %q: %v", disposition, err)
		}
		p.Attachments[dp["filename"]] = data
		return
	}
	if params["charset"] != "" && !strings.EqualFold(params["charset"], "UTF-8") {
		tb.Fatalf("charset %q, want UTF-8", params["charset"])
	}
	switch mt {
	case "text/plain":
		p.Text = string(data)
	case "text/html":
		p.HTML = string(data)
	default:
		tb.Fatalf("unexpected inline part %s", mt)
	}
}

// headerLines returns the header block of a message (or of a part), one
// physical line per element, without CRLF.
func headerLines(data []byte) []string {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	return strings.Split(string(head), "\r\n")
}

// mustBytes renders m or fails.
func mustBytes(tb testing.TB, m *notify.Message) []byte {
	tb.Helper()
	b, err := m.Bytes()
	if err != nil {
		tb.Fatalf("Bytes: %v", err)
	}
	return b
}

// checkSampleDecodes asserts that a received copy of sampleMessage decodes
// to what was sent.
func checkSampleDecodes(tb testing.TB, data []byte) {
	tb.Helper()
	want := sampleMessage()
	p := mustParseMail(tb, data)
	if p.Subject != want.Subject {
		tb.Errorf("Subject = %q, want %q", p.Subject, want.Subject)
	}
	if p.From.Name != want.From.Name || p.From.Address != want.From.Address {
		tb.Errorf("From = %v, want %v", p.From, want.From)
	}
	if len(p.To) != 2 || p.To[0].Name != "市法制局" || p.To[1].Name != "王冠标" || p.To[1].Address != "wang@example.gov.cn" {
		tb.Errorf("To = %v", p.To)
	}
	if len(p.Cc) != 1 || p.Cc[0].Name != "李秘书长, 市政府办公室" {
		tb.Errorf("Cc = %v, want the name with its comma intact", p.Cc)
	}
	// quoted-printable turns \n into CRLF on the wire.
	if got := strings.ReplaceAll(p.Text, "\r\n", "\n"); got != want.Text {
		tb.Errorf("Text = %q, want %q", got, want.Text)
	}
	if p.HTML != want.HTML {
		tb.Errorf("HTML = %q, want %q", p.HTML, want.HTML)
	}
	if got := string(p.Attachments["督办清单.csv"]); got != string(want.Attachments[0].Data) {
		tb.Errorf("attachment 督办清单.csv = %q (attachments %v)", got, p.Attachments)
	}
	if got := p.Header.Get("Message-Id"); got != want.MessageID() {
		tb.Errorf("Message-Id = %q, want %q", got, want.MessageID())
	}
	if got, err := p.Header.Date(); err != nil || !got.Equal(want.Date) {
		tb.Errorf("Date = %v, %v; want %v", got, err, want.Date)
	}
}

package notify_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"duban/notify"
)

func TestMessageBytesDecodes(t *testing.T) {
	checkSampleDecodes(t, mustBytes(t, sampleMessage()))
}

func TestMessageBytesASCIINameWithComma(t *testing.T) {
	m := sampleMessage()
	m.From = mail.Address{Name: "Duchashi, City Hall", Address: "ducha@example.gov.cn"}
	m.To = []mail.Address{{Name: "Zhang, San", Address: "zhang@example.gov.cn"}, {Address: "wang@example.gov.cn"}}
	p := mustParseMail(t, mustBytes(t, m))
	if p.From.Name != "Duchashi, City Hall" {
		t.Errorf("From name = %q", p.From.Name)
	}
	long := strings.Repeat("Supervision Office, ", 5) // 100 characters: several encoded words
	m.From.Name = long
	if p := mustParseMail(t, mustBytes(t, m)); p.From.Name != long {
		t.Errorf("From name = %q", p.From.Name)
	}
	if len(p.To) != 2 || p.To[0].Name != "Zhang, San" || p.To[1].Address != "wang@example.gov.cn" {
		t.Errorf("To = %v", p.To)
	}
}

func TestMessageBytesIs7BitCRLF(t *testing.T) {
	b := mustBytes(t, sampleMessage())
	for i, c := range b {
		if c >= 0x80 {
			t.Fatalf("8-bit byte %#x at offset %d", c, i)
		}
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			t.Fatalf("bare LF at offset %d", i)
		}
	}
}

func TestMessageBytesLongSubjectFolded(t *testing.T) {
	m := sampleMessage()
	m.Subject = strings.Repeat("逾期催办纪要签发事项", 30) // 300 runes, ~900 bytes of UTF-8
	b := mustBytes(t, m)
	for _, line := range strings.Split(string(b), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d bytes: %.80q…", len(line), line)
		}
	}
	for _, line := range headerLines(b) {
		if len(line) > 100 {
			t.Errorf("header line of %d bytes, want folded near 78: %q", len(line), line)
		}
	}
	p := mustParseMail(t, b)
	if n := utf8.RuneCountInString(p.Subject); n != 200 {
		t.Errorf("decoded subject has %d runes, want 200", n)
	}
	if want := string([]rune(m.Subject)[:199]) + "…"; p.Subject != want {
		t.Errorf("decoded subject = %q, want %q", p.Subject, want)
	}
}

func TestMessageBytesManyRecipientsFolded(t *testing.T) {
	m := sampleMessage()
	m.To = nil
	for i := range 60 {
		m.To = append(m.To, mail.Address{Name: fmt.Sprintf("第%d责任单位办公室", i), Address: fmt.Sprintf("unit%d@example.gov.cn", i)})
	}
	b := mustBytes(t, m)
	for _, line := range headerLines(b) {
		if len(line) > 998 {
			t.Fatalf("header line of %d bytes", len(line))
		}
	}
	p := mustParseMail(t, b)
	if len(p.To) != 60 || p.To[59].Name != "第59责任单位办公室" || p.To[59].Address != "unit59@example.gov.cn" {
		t.Errorf("To decoded to %d addresses, last %v", len(p.To), p.To[len(p.To)-1])
	}
}

func TestMessageBytesHeaderInjection(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *notify.Message)
	}{
		{"subject CRLF", func(m *notify.Message) { m.Subject = "督办\r\nBcc: evil@attacker.example\r\nX-Evil: 1" }},
		{"subject LF", func(m *notify.Message) { m.Subject = "督办\nBcc: evil@attacker.example" }},
		{"subject ASCII CRLF", func(m *notify.Message) { m.Subject = "hello\r\nX-Evil: 1" }},
		{"from name", func(m *notify.Message) { m.From.Name = "督查室\r\nBcc: evil@attacker.example" }},
		{"to name", func(m *notify.Message) { m.To[0].Name = "法制局\r\nX-Evil: 1" }},
		{"cc name LF", func(m *notify.Message) { m.Cc[0].Name = "x\nBcc: evil@attacker.example" }},
		{"to address", func(m *notify.Message) { m.To[0].Address = "fzj@example.gov.cn\r\nBcc: evil@attacker.example" }},
		{"from address", func(m *notify.Message) { m.From.Address = "ducha@example.gov.cn\nX-Evil: 1" }},
		{"attachment name", func(m *notify.Message) { m.Attachments[0].Name = "清单.csv\r\nX-Evil: 1" }},
		{"attachment name LF", func(m *notify.Message) { m.Attachments[0].Name = "a.csv\"\nX-Evil: 1" }},
		{"attachment content type", func(m *notify.Message) { m.Attachments[0].ContentType = "text/csv\r\nX-Evil: 1" }},
		{"extra header value", func(m *notify.Message) {
			m.Headers = map[string]string{"X-Duban-Node": "n1\r\nBcc: evil@attacker.example"}
		}},
		{"extra header name", func(m *notify.Message) {
			m.Headers = map[string]string{"X-Duban\r\nBcc: evil@attacker.example\r\nX-A": "1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleMessage()
			tt.mutate(m)
			b, err := m.Bytes()
			if err != nil {
				if !errors.Is(err, notify.ErrInvalid) || !notify.IsPermanent(err) {
					t.Errorf("Bytes error %v: want ErrInvalid and permanent", err)
				}
				return
			}
			for _, line := range strings.Split(string(b), "\r\n") {
				if strings.HasPrefix(line, "Bcc:") || strings.HasPrefix(line, "X-Evil:") {
					t.Fatalf("injected header line %q in:\n%s", line, b)
				}
			}
			if bytes.ContainsAny(b, "\x80") || bytes.Contains(b, []byte("\n\n")) {
				t.Errorf("suspicious bytes in output")
			}
			mustParseMail(t, b) // still a well-formed message
		})
	}
}

// Extra headers (the cluster's X-Duban-Node and X-Duban-Term) are written
// as given.
func TestMessageExtraHeaders(t *testing.T) {
	m := sampleMessage()
	m.Headers = map[string]string{"X-Duban-Node": "db1.example.gov.cn:4242", "X-Duban-Term": "17"}
	p := mustParseMail(t, mustBytes(t, m))
	for name, want := range m.Headers {
		if got := p.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestMessageSubjectControlCharsBecomeSpaces(t *testing.T) {
	m := sampleMessage()
	m.Subject = "  第31次\r\n常务会议\t纪要　签发  "
	p := mustParseMail(t, mustBytes(t, m))
	if want := "第31次 常务会议 纪要　签发"; p.Subject != want {
		t.Errorf("Subject = %q, want %q", p.Subject, want)
	}
}

func TestMessageIDDeterministic(t *testing.T) {
	sum := sha256.Sum256([]byte("minutes-31|2|0"))
	want := "<" + hex.EncodeToString(sum[:])[:32] + "@example.gov.cn>"
	m := sampleMessage()
	if got := m.MessageID(); got != want {
		t.Fatalf("MessageID() = %q, want %q", got, want)
	}
	for range 2 {
		if got := mustParseMail(t, mustBytes(t, m)).Header.Get("Message-Id"); got != want {
			t.Errorf("Message-Id header = %q, want %q", got, want)
		}
	}
	other := sampleMessage()
	other.Key = "minutes-31|2|1"
	if other.MessageID() == want {
		t.Errorf("different keys gave the same Message-ID %s", want)
	}
	other.From = mail.Address{Address: "ducha@Mail.Example.GOV.cn"}
	if got := other.MessageID(); !strings.HasSuffix(got, "@mail.example.gov.cn>") {
		t.Errorf("MessageID() = %q, want the From domain in lower case", got)
	}
}

func TestMessageBytesInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *notify.Message)
		want   string
	}{
		{"no key", func(m *notify.Message) { m.Key = "" }, "key is empty"},
		{"zero date", func(m *notify.Message) { m.Date = time.Time{} }, "date is zero"},
		{"no recipient", func(m *notify.Message) { m.To, m.Cc = nil, nil }, "no recipient"},
		{"bad to", func(m *notify.Message) { m.To[1].Address = "wang" }, "to[1]"},
		{"non-ASCII address", func(m *notify.Message) { m.Cc[0].Address = "李@example.gov.cn" }, "cc[0]"},
		{"empty from", func(m *notify.Message) { m.From = mail.Address{} }, "from"},
		{"no text", func(m *notify.Message) { m.Text = " \n" }, "text body is empty"},
		{"bad UTF-8", func(m *notify.Message) { m.Text = "ok\xff" }, "UTF-8"},
		{"attachment path", func(m *notify.Message) { m.Attachments[0].Name = "../etc/passwd" }, "path separator"},
		{"attachment empty name", func(m *notify.Message) { m.Attachments[0].Name = "" }, "name is empty"},
		{"attachment long name", func(m *notify.Message) { m.Attachments[0].Name = strings.Repeat("表", 101) }, "limit 100"},
		{"attachment bad type", func(m *notify.Message) { m.Attachments[0].ContentType = "text" }, "content type"},
		{"header not X-", func(m *notify.Message) { m.Headers = map[string]string{"Bcc": "evil@attacker.example"} }, "must start with X-"},
		{"header name space", func(m *notify.Message) { m.Headers = map[string]string{"X-Duban Node": "n1"} }, "only letters"},
		{"header value non-ASCII", func(m *notify.Message) { m.Headers = map[string]string{"X-Duban-Node": "节点"} }, "printable ASCII"},
		{"header value long", func(m *notify.Message) { m.Headers = map[string]string{"X-Duban-Node": strings.Repeat("n", 201)} }, "limit 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sampleMessage()
			tt.mutate(m)
			_, err := m.Bytes()
			if err == nil {
				t.Fatal("Bytes succeeded, want an error")
			}
			if !errors.Is(err, notify.ErrInvalid) || !notify.IsPermanent(err) {
				t.Errorf("error %v: want ErrInvalid and permanent", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestAttachmentNames(t *testing.T) {
	tests := []string{
		"report.pdf",
		`a "quoted" name; x=1.txt`,
		"督办清单.xlsx",
		"第31次常务会议纪要签发督办事项清单（含各责任单位办理情况及逾期说明）" + strings.Repeat("附", 40) + ".xlsx", // RFC 2231 continuations
		"résumé 2026.pdf",
	}
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			m := sampleMessage()
			m.Attachments = []notify.Attachment{{Name: name, Data: []byte("data for " + name)}}
			b := mustBytes(t, m)
			for _, line := range strings.Split(string(b), "\r\n") {
				if len(line) > 998 {
					t.Errorf("line of %d bytes", len(line))
				}
			}
			p := mustParseMail(t, b)
			if got := string(p.Attachments[name]); got != "data for "+name {
				t.Errorf("attachment %q not found by decoded name; have %v", name, keys(p.Attachments))
			}
		})
	}
}

func TestAttachmentContentTypeKept(t *testing.T) {
	m := sampleMessage()
	m.Attachments = []notify.Attachment{{Name: "deadline.ics", ContentType: "text/calendar; charset=UTF-8; method=PUBLISH", Data: []byte("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")}}
	b := mustBytes(t, m)
	i := bytes.Index(b, []byte("Content-Type: text/calendar"))
	if i < 0 {
		t.Fatalf("no text/calendar part in:\n%s", b)
	}
	line, _, _ := strings.Cut(string(b[i:]), "\r\n")
	_, params, err := mime.ParseMediaType(strings.TrimPrefix(line, "Content-Type: "))
	if err != nil || params["method"] != "PUBLISH" || params["charset"] != "UTF-8" {
		t.Errorf("Content-Type line %q: params %v, %v", line, params, err)
	}
}

func TestRecipientsDeduplicated(t *testing.T) {
	m := sampleMessage()
	m.Cc = append(m.Cc, mail.Address{Address: "WANG@example.gov.cn"})
	got := strings.Join(m.Recipients(), " ")
	if want := "fzj@example.gov.cn wang@example.gov.cn li@example.gov.cn"; got != want {
		t.Errorf("Recipients() = %q, want %q", got, want)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

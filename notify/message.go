package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jordan-wright/email"
)

// Message is one email ready to send.
type Message struct {
	// Key is the notice identity, e.g. "minutes-31|2|0". The Message-ID and
	// the FileSender file name are derived from it, so a repeated send of
	// the same notice is recognisable as a copy.
	Key     string
	From    mail.Address
	To      []mail.Address
	Cc      []mail.Address
	Subject string // any length; control characters become spaces, capped at 200 characters
	Text    string // text/plain body, required
	HTML    string // optional text/html alternative
	// Attachments are added after the body, base64-encoded.
	Attachments []Attachment
	// Date is the Date header. It is injected by the caller; Bytes never
	// reads the clock.
	Date time.Time
	// Headers are extra header fields for the operators, e.g. X-Duban-Node
	// and X-Duban-Term: names "X-" and letters, digits or '-'; values
	// printable ASCII without line breaks (validated: no header injection).
	Headers map[string]string
}

// maxHeaderValue bounds an extra header's value.
const maxHeaderValue = 200

// checkExtraHeader validates one of Message.Headers.
func checkExtraHeader(name, value string) error {
	rest, ok := strings.CutPrefix(name, "X-")
	if !ok || rest == "" || len(name) > 76 {
		return fmt.Errorf("header name %q must start with X- and be up to 76 characters", name)
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("header name %q: only letters, digits and - after X-", name)
		}
	}
	if len(value) > maxHeaderValue {
		return fmt.Errorf("header %s: value is %d bytes long, limit %d", name, len(value), maxHeaderValue)
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("header %s: value has byte %#x; only printable ASCII", name, c)
		}
	}
	return nil
}

// Attachment is a file attached to a Message.
type Attachment struct {
	Name        string // file name shown to the recipient, e.g. "督办清单.xlsx"; no path, no control characters
	ContentType string // e.g. "text/calendar; charset=UTF-8"; "" means application/octet-stream
	Data        []byte
}

// keyHash is the hex SHA-256 of the key, cut to 32 characters (128 bits).
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:32]
}

// idDomain is the domain part for generated ids: the From domain, or "duban".
func (m *Message) idDomain() string {
	if i := strings.LastIndexByte(m.From.Address, '@'); i >= 0 && i < len(m.From.Address)-1 {
		return strings.ToLower(m.From.Address[i+1:])
	}
	return "duban"
}

// MessageID returns the Message-ID header value derived from Key:
// "<" + first 32 hex digits of SHA-256(Key) + "@" + From's domain + ">".
// The same Key always gives the same id, so mail clients drop a resent copy.
func (m *Message) MessageID() string {
	return "<" + keyHash(m.Key) + "@" + m.idDomain() + ">"
}

// Recipients returns the envelope recipients: the To then Cc addresses,
// without duplicates (compared case-insensitively).
func (m *Message) Recipients() []string {
	seen := make(map[string]bool, len(m.To)+len(m.Cc))
	var out []string
	for _, list := range [][]mail.Address{m.To, m.Cc} {
		for _, a := range list {
			k := strings.ToLower(a.Address)
			if !seen[k] {
				seen[k] = true
				out = append(out, a.Address)
			}
		}
	}
	return out
}

// Bytes validates the message and renders it as RFC 5322 bytes with CRLF line
// endings, 7-bit clean: text and optional HTML alternatives in UTF-8
// quoted-printable, attachments in base64, Chinese Subject and display names
// RFC 2047-encoded and folded so that no line exceeds 998 bytes, attachment
// names RFC 2231-encoded. Date and Message-ID come from Date and Key. Header
// order and multipart boundaries vary between calls.
//
// Invalid input (no recipient, a bad address, a line break in a display name,
// a bad attachment name, a zero Date, an empty Key or Text) gives an error
// wrapping ErrInvalid.
func (m *Message) Bytes() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	e := email.NewEmail()
	e.Text = []byte(m.Text)
	e.HTML = []byte(m.HTML)
	// jordan-wright writes From, Date and Message-Id from e.Headers (instead
	// of a random id and time.Now); To, Cc and Subject are left empty so it
	// writes none, and we write them folded below.
	e.Headers.Set("From", commaFreeAddress(m.From))
	e.Headers.Set("Date", m.Date.Format(time.RFC1123Z))
	e.Headers.Set("Message-Id", m.MessageID())
	for name, value := range m.Headers {
		e.Headers.Set(name, value)
	}
	for i, a := range m.Attachments {
		at, err := e.Attach(bytes.NewReader(a.Data), a.Name, attachmentType(a.ContentType))
		if err != nil {
			return nil, fmt.Errorf("attach %q: %w", a.Name, err)
		}
		at.Header.Set("Content-Disposition", dispositionHeader(a.Name))
		at.Header.Set("Content-ID", fmt.Sprintf("<%s.%d@%s>", keyHash(m.Key), i+1, m.idDomain()))
	}
	body, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("build MIME body: %w", err)
	}

	var h strings.Builder
	addressHeader(&h, "To", m.To)
	addressHeader(&h, "Cc", m.Cc)
	subjectHeader(&h, normalizeSubject(m.Subject))
	out := make([]byte, 0, h.Len()+len(body))
	out = append(out, h.String()...)
	out = append(out, body...)
	if err := checkWire(out); err != nil {
		// Unreachable if validation is right; refuse rather than send.
		return nil, fmt.Errorf("message %q: %w", m.Key, err)
	}
	return out, nil
}

// validate applies every rule Bytes promises.
func (m *Message) validate() error {
	if m.Key == "" {
		return invalidf("message key is empty")
	}
	if m.Date.IsZero() {
		return invalidf("message %q: date is zero", m.Key)
	}
	if err := checkAddress(m.From); err != nil {
		return invalidf("message %q: from %q: %w", m.Key, m.From.Address, err)
	}
	if len(m.To)+len(m.Cc) == 0 {
		return invalidf("message %q: no recipient", m.Key)
	}
	for _, f := range []struct {
		name string
		list []mail.Address
	}{{"to", m.To}, {"cc", m.Cc}} {
		for i, a := range f.list {
			if err := checkAddress(a); err != nil {
				return invalidf("message %q: %s[%d] %q: %w", m.Key, f.name, i, a.Address, err)
			}
		}
	}
	if strings.TrimSpace(m.Text) == "" {
		return invalidf("message %q: text body is empty", m.Key)
	}
	if !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return invalidf("message %q: body is not valid UTF-8", m.Key)
	}
	for name, value := range m.Headers {
		if err := checkExtraHeader(name, value); err != nil {
			return invalidf("message %q: %w", m.Key, err)
		}
	}
	for i, a := range m.Attachments {
		if err := checkAttachmentName(a.Name); err != nil {
			return invalidf("message %q: attachment %d: %w", m.Key, i, err)
		}
		if attachmentType(a.ContentType) == "" {
			return invalidf("message %q: attachment %q: bad content type %q", m.Key, a.Name, a.ContentType)
		}
	}
	return nil
}

// checkAttachmentName rejects names that are empty, carry a path or a control
// character, are not UTF-8, or are too long for short part-header lines.
func checkAttachmentName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("name is empty")
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		if r == '\r' || r == '\n' {
			return fmt.Errorf("name %q contains a line break", name)
		}
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return fmt.Errorf("name %q contains control character %U", name, r)
		}
		if r == '/' || r == '\\' {
			return fmt.Errorf("name %q contains a path separator", name)
		}
	}
	if n := utf8.RuneCountInString(name); n > maxAttachmentNameRunes {
		return fmt.Errorf("name is %d characters long, limit %d", n, maxAttachmentNameRunes)
	}
	return nil
}

// attachmentType parses and re-formats a Content-Type, so that nothing but a
// well-formed media type (parameters quoted or RFC 2231-encoded by the mime
// package) reaches the part header. It returns "" if ct does not parse.
func attachmentType(ct string) string {
	if strings.TrimSpace(ct) == "" {
		return "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.Contains(mt, "/") {
		return ""
	}
	return mime.FormatMediaType(mt, params)
}

// checkWire verifies the invariants of the rendered message: 7-bit bytes,
// CRLF line endings only, no line over 998 bytes.
func checkWire(b []byte) error {
	lineStart := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c >= 0x80:
			return fmt.Errorf("8-bit byte at offset %d", i)
		case c == '\n':
			if i == 0 || b[i-1] != '\r' {
				return fmt.Errorf("bare LF at offset %d", i)
			}
			if i-1-lineStart > 998 {
				return fmt.Errorf("line at offset %d is %d bytes long", lineStart, i-1-lineStart)
			}
			lineStart = i + 1
		case c == '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return fmt.Errorf("bare CR at offset %d", i)
			}
		}
	}
	if len(b)-lineStart > 998 {
		return fmt.Errorf("last line is %d bytes long", len(b)-lineStart)
	}
	return nil
}

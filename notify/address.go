package notify

import (
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameRunes caps a display name. It keeps one address, RFC 2047 encoded,
// well inside a 998-byte header line.
const maxNameRunes = 100

// invalidError carries a readable message and matches ErrInvalid with errors.Is.
type invalidError struct{ err error }

func (e *invalidError) Error() string        { return e.err.Error() }
func (e *invalidError) Unwrap() error        { return e.err }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// invalidf formats an error that wraps ErrInvalid (and any %w operands).
func invalidf(format string, args ...any) error {
	return &invalidError{fmt.Errorf(format, args...)}
}

// ParseAddress parses one address such as "王冠标 <wang@example.gov.cn>" or
// "wang@example.gov.cn". Display names may be Chinese, raw UTF-8 or RFC 2047
// encoded. It rejects CR and LF anywhere, anything net/mail rejects, and what
// duban does not send to: non-ASCII or quoted local parts, domain literals,
// control characters and display names over 100 characters. The error says
// which rule failed and wraps ErrInvalid.
func ParseAddress(s string) (mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return mail.Address{}, invalidf("address %q contains a line break", s)
	}
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return mail.Address{}, invalidf("address %q: %w", s, err)
	}
	if err := checkAddress(*a); err != nil {
		return mail.Address{}, invalidf("address %q: %w", s, err)
	}
	return *a, nil
}

// ParseAddressList parses a comma-separated list of addresses with the same
// rules as ParseAddress. An empty list is an error.
func ParseAddressList(s string) ([]mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, invalidf("address list %q contains a line break", s)
	}
	if strings.TrimSpace(s) == "" {
		return nil, invalidf("address list is empty")
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		return nil, invalidf("address list %q: %w", s, err)
	}
	out := make([]mail.Address, 0, len(list))
	for _, a := range list {
		if err := checkAddress(*a); err != nil {
			return nil, invalidf("address list %q: %q: %w", s, a.Address, err)
		}
		out = append(out, *a)
	}
	return out, nil
}

// checkAddress validates a mail.Address built in code or parsed by net/mail.
func checkAddress(a mail.Address) error {
	if err := checkName(a.Name); err != nil {
		return err
	}
	return checkAddrSpec(a.Address)
}

// checkName rejects display names that could break or bloat a header.
func checkName(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("display name is not valid UTF-8")
	}
	for _, r := range name {
		if r == '\r' || r == '\n' {
			return fmt.Errorf("display name %q contains a line break", name)
		}
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return fmt.Errorf("display name %q contains control character %U", name, r)
		}
	}
	if n := utf8.RuneCountInString(name); n > maxNameRunes {
		return fmt.Errorf("display name is %d characters long, limit %d", n, maxNameRunes)
	}
	return nil
}

// checkAddrSpec accepts dot-atom@domain in ASCII: what government and
// commercial mail systems in scope use, and nothing that needs quoting,
// SMTPUTF8 or care in a header.
func checkAddrSpec(s string) error {
	if s == "" {
		return fmt.Errorf("address is empty")
	}
	if strings.ContainsAny(s, "\r\n") {
		return fmt.Errorf("address %q contains a line break", s)
	}
	if len(s) > 254 {
		return fmt.Errorf("address is %d bytes long, limit 254", len(s))
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return fmt.Errorf("address %q is not local@domain", s)
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return fmt.Errorf("address %q: local part longer than 64 bytes", s)
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return fmt.Errorf("address %q: misplaced dot in local part", s)
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; c != '.' && !isAtext(c) {
			return fmt.Errorf("address %q: character %q not allowed in local part", s, c)
		}
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("address %q: bad domain %q", s, domain)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("address %q: character %q not allowed in domain", s, c)
			}
		}
	}
	return nil
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// formatAddress renders a checked address for a header in 7-bit ASCII:
// net/mail quotes ASCII names and RFC 2047-encodes the rest.
func formatAddress(a mail.Address) string {
	return (&a).String()
}

// commaFreeAddress renders an address without a raw comma, for headers that
// jordan-wright/email writes itself: it splits them on "," before re-parsing
// each piece with net/mail. A name that net/mail would quote with a comma
// inside is B-encoded instead; jordan-wright decodes and re-renders it, so the
// final header is exactly formatAddress(a).
//
// Only an ASCII name can reach the encoding here (net/mail already
// B-encodes non-ASCII names with a comma), and mime.BEncoding leaves ASCII
// alone, so the words are built by hand: 45 bytes each, 72 characters
// encoded, within RFC 2047's 75.
func commaFreeAddress(a mail.Address) string {
	s := formatAddress(a)
	if !strings.Contains(s, ",") {
		return s
	}
	var b strings.Builder
	for name := a.Name; name != ""; {
		n := min(len(name), 45)
		for n < len(name) && !utf8.RuneStart(name[n]) {
			n-- // never split a character across words
		}
		b.WriteString("=?UTF-8?B?")
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(name[:n])))
		b.WriteString("?= ")
		name = name[n:]
	}
	b.WriteString("<" + a.Address + ">")
	return b.String()
}

// addressHeader writes "Field: a1, a2\r\n", folding between addresses so that
// lines stay near 78 characters. No address is longer than about 800 bytes
// (name and addr-spec limits), so no line can reach 998.
func addressHeader(b *strings.Builder, field string, list []mail.Address) {
	if len(list) == 0 {
		return
	}
	b.WriteString(field)
	b.WriteString(":")
	lineLen := len(field) + 1
	for i, a := range list {
		s := formatAddress(a)
		if i > 0 {
			b.WriteString(",")
			lineLen++
		}
		if i > 0 && lineLen+1+len(s) > 78 {
			b.WriteString("\r\n")
			lineLen = 0
		}
		b.WriteString(" ")
		b.WriteString(s)
		lineLen += 1 + len(s)
	}
	b.WriteString("\r\n")
}

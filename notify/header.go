package notify

import (
	"mime"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSubjectRunes caps the Subject; longer ones end in "…".
const maxSubjectRunes = 200

// maxAttachmentNameRunes caps an attachment name; with RFC 2231 continuations
// and the RFC 2047 fallback this keeps every part-header line short.
const maxAttachmentNameRunes = 100

// normalizeSubject turns control characters (CR, LF, tab, …) and line or
// paragraph separators into spaces, collapses runs of ASCII spaces, trims,
// and caps the result at maxSubjectRunes. Full-width spaces (U+3000) are kept.
func normalizeSubject(s string) string {
	var b strings.Builder
	pendingSpace := false
	for _, r := range s {
		if r == ' ' || unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			pendingSpace = true
			continue
		}
		if pendingSpace && b.Len() > 0 {
			b.WriteByte(' ')
		}
		pendingSpace = false
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) > maxSubjectRunes {
		out = string([]rune(out)[:maxSubjectRunes-1]) + "…"
	}
	return out
}

// isPrintableASCII reports whether s is entirely printable 7-bit ASCII
// (space through tilde).
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// subjectHeader writes a folded "Subject: …\r\n" for a normalized subject.
// Non-ASCII text (or text that looks like an encoded word) is RFC 2047
// B-encoded; Go's encoder emits words of at most 75 bytes, and each goes on
// its own line, so no line comes near 998 bytes.
func subjectHeader(b *strings.Builder, s string) {
	if s == "" {
		return
	}
	var words []string
	if isPrintableASCII(s) && !strings.Contains(s, "=?") {
		words = strings.Split(s, " ")
	} else {
		words = strings.Split(mime.BEncoding.Encode("UTF-8", s), " ")
	}
	b.WriteString("Subject:")
	lineLen := len("Subject:")
	for i, w := range words {
		if i > 0 && lineLen+1+len(w) > 78 {
			b.WriteString("\r\n")
			lineLen = 0
		}
		b.WriteString(" ")
		b.WriteString(w)
		lineLen += 1 + len(w)
	}
	b.WriteString("\r\n")
}

// dispositionHeader returns a Content-Disposition value for an attachment
// name that checkAttachmentName accepted. Printable ASCII names are quoted.
// Other names get an RFC 2047 word inside quotes (what Outlook and most
// webmail read) followed by RFC 2231 filename* parameters, split into
// continuations of at most 60 characters (what Thunderbird and Go's
// mime.ParseMediaType prefer). The value is 7-bit ASCII in every case.
func dispositionHeader(name string) string {
	if isPrintableASCII(name) {
		return `attachment; filename="` + quoteParam(name) + `"`
	}
	var b strings.Builder
	b.WriteString("attachment;\r\n filename=\"")
	b.WriteString(mime.BEncoding.Encode("UTF-8", name))
	b.WriteString("\"")
	chunks := rfc2231Chunks(name, 60)
	if len(chunks) == 1 {
		b.WriteString(";\r\n filename*=UTF-8''")
		b.WriteString(chunks[0])
		return b.String()
	}
	for i, c := range chunks {
		b.WriteString(";\r\n filename*")
		b.WriteString(strconv.Itoa(i))
		b.WriteString("*=")
		if i == 0 {
			b.WriteString("UTF-8''")
		}
		b.WriteString(c)
	}
	return b.String()
}

// quoteParam escapes a printable ASCII string for use inside a quoted string.
func quoteParam(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// rfc2231Chunks percent-encodes s as RFC 2231 extended values and cuts the
// result into pieces of at most max bytes, never inside a %XX triplet.
func rfc2231Chunks(s string, max int) []string {
	const hex = "0123456789ABCDEF"
	var chunks []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		var tok string
		if isAttrChar(c) {
			tok = string(c)
		} else {
			tok = string([]byte{'%', hex[c>>4], hex[c&0x0f]})
		}
		if cur.Len()+len(tok) > max {
			chunks = append(chunks, cur.String())
			cur.Reset()
		}
		cur.WriteString(tok)
	}
	return append(chunks, cur.String())
}

// isAttrChar reports whether c may appear unencoded in an RFC 2231 value.
func isAttrChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

package tracker

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on what the office may write (SPEC §7), shared by tracking files,
// ledger imports and the CLI's notes. Lengths are in characters (runes).
const (
	// MaxTextLen bounds one-line texts: titles, document numbers, the
	// names of the office, people and units.
	MaxTextLen = 500
	// MaxLongTextLen bounds requirements and notes (progress, done,
	// extend and the other actions' --note and --reason).
	MaxLongTextLen = 10000
	// MaxIDLen bounds ids of items, units, people and policies (ASCII,
	// so bytes and characters agree). Instance ids join an item id, a
	// period and a unit id, far below bbolt's 32 KiB key limit.
	MaxIDLen = 128
	// MaxEmailLen bounds an email address (RFC 5321's path limit).
	MaxEmailLen = 254
	// MaxTrackingFileSize bounds one tracking file. 64 MiB holds some
	// 200 000 items (an item is about 300 bytes), twice the largest import
	// the benchmarks run; a bigger file is refused before it is parsed.
	MaxTrackingFileSize = 64 << 20
	// MaxQuoteLen is how many characters of a bad value an error quotes.
	MaxQuoteLen = 80
)

// QuoteValue quotes s for an error message like strconv.Quote, but keeps
// at most MaxQuoteLen characters: a longer value is cut and marked with
// "…" and its length, so that a 100 MB title makes a short message.
func QuoteValue(s string) string {
	if len(s) <= MaxQuoteLen { // bytes ≥ runes: surely short enough
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == MaxQuoteLen {
			return strconv.Quote(s[:i]+"…") + fmt.Sprintf("（共%d个字符）", utf8.RuneCountInString(s))
		}
		n++
	}
	return strconv.Quote(s)
}

// TextProblem checks a field value against the field rules: valid UTF-8,
// at most max characters, and — unless multiline — a single line without
// control characters; a multi-line text may hold line breaks and tabs but
// no other control character. It returns what is wrong, in Chinese, or "".
func TextProblem(s string, max int, multiline bool) string {
	if !utf8.ValidString(s) {
		return fmt.Sprintf("含无效的UTF-8字节（文件编码不是UTF-8？）：%s", QuoteValue(strings.ToValidUTF8(s, "\uFFFD")))
	}
	if len(s) > max { // a rune has at least one byte
		if n := utf8.RuneCountInString(s); n > max {
			return fmt.Sprintf("过长：%d个字符，最多%d个字符：%s", n, max, QuoteValue(s))
		}
	}
	if r, ok := controlChar(s, multiline); ok {
		what := "控制字符"
		if r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			what = "换行符"
		}
		where := "必须是单行文字，不得含换行符或控制字符"
		if multiline {
			where = "可以换行，但不得含其他控制字符"
		}
		return fmt.Sprintf("含%s U+%04X：%s；%s", what, r, QuoteValue(s), where)
	}
	return ""
}

// IsControl reports whether r is a control character (C0, DEL, C1) or a
// Unicode line or paragraph separator.
func IsControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u2028' || r == '\u2029'
}

// controlChar returns the first control character of s; a multi-line text
// may hold \n, \r and \t.
func controlChar(s string, multiline bool) (rune, bool) {
	for _, r := range s {
		if IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return r, true
		}
	}
	return 0, false
}

// CheckNote checks the note or reason of an action (at most
// MaxLongTextLen characters, line breaks allowed, no other control
// characters). The error wraps ErrInvalid.
func CheckNote(s string) error {
	if msg := TextProblem(s, MaxLongTextLen, true); msg != "" {
		return fmt.Errorf("%w: 说明%s", ErrInvalid, msg)
	}
	return nil
}

// fullWidth maps the full-width characters people type by mistake in
// rules, dates and times to their half-width forms.
var fullWidth = strings.NewReplacer(
	"０", "0", "１", "1", "２", "2", "３", "3", "４", "4",
	"５", "5", "６", "6", "７", "7", "８", "8", "９", "9",
	"：", ":", "，", ",", "－", "-", "＋", "+", "／", "/", "　", " ",
)

// FullWidthHint names the full-width digits, colons, commas and the like
// in s — the usual cause of a rule, date or time that does not parse when
// typed with a Chinese input method — as "含全角字符“：”“３”，请改用半角".
// It returns "" when s has none.
func FullWidthHint(s string) string {
	var found []string
	for _, r := range s {
		if r < 0x3000 {
			continue
		}
		c := string(r)
		if fullWidth.Replace(c) == c {
			continue
		}
		if r == '　' {
			c = "全角空格"
		}
		q := "“" + c + "”"
		if !containsStr(found, q) {
			found = append(found, q)
		}
		if len(found) == 5 {
			break
		}
	}
	if len(found) == 0 {
		return ""
	}
	return "含全角字符" + strings.Join(found, "") + "，请改用半角"
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WithFullWidthHint appends FullWidthHint(value) to msg, if any.
func WithFullWidthHint(msg, value string) string {
	if h := FullWidthHint(value); h != "" {
		return msg + "（" + h + "）"
	}
	return msg
}

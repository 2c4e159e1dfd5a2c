package tracker

import (
	"strings"
	"testing"
)

func TestQuoteValue(t *testing.T) {
	if got := QuoteValue("短"); got != `"短"` {
		t.Errorf("QuoteValue(短) = %s", got)
	}
	long := strings.Repeat("题", 100)
	want := `"` + strings.Repeat("题", MaxQuoteLen) + `…"（共100个字符）`
	if got := QuoteValue(long); got != want {
		t.Errorf("QuoteValue(100×题) = %s, want %s", got, want)
	}
	if got := QuoteValue(strings.Repeat("x", MaxQuoteLen)); got != `"`+strings.Repeat("x", MaxQuoteLen)+`"` {
		t.Errorf("a value of exactly %d characters is cut: %s", MaxQuoteLen, got)
	}
}

func TestFullWidthHint(t *testing.T) {
	for s, want := range map[string]string{
		"３wd":              "含全角字符“３”，请改用半角",
		"2026-09-24 16：00": "含全角字符“：”，请改用半角",
		"fzj，mishu":        "含全角字符“，”，请改用半角",
		"２０２６－０９－３０":       "含全角字符“２”“０”“６”“－”“９”，请改用半角",
		"3 days":           "",
		"第31次常务会议纪要签发（协办）": "",
	} {
		if got := FullWidthHint(s); got != want {
			t.Errorf("FullWidthHint(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestTextProblem(t *testing.T) {
	for _, c := range []struct {
		s         string
		max       int
		multiline bool
		want      string
	}{
		{"纪要签发", MaxTextLen, false, ""},
		{"两\n行", MaxTextLen, false, "含换行符 U+000A"},
		{"两\n行\t", MaxLongTextLen, true, ""},
		{"a\x1bb", MaxLongTextLen, true, "含控制字符 U+001B"},
		{"a\u0085b", MaxTextLen, false, "含换行符 U+0085"},
		{"a\u2029b", MaxLongTextLen, true, "含换行符 U+2029"},
		{"a\x00", MaxTextLen, false, "含控制字符 U+0000"},
		{"\xff", MaxTextLen, false, "含无效的UTF-8字节"},
		{strings.Repeat("字", 501), MaxTextLen, false, "过长：501个字符，最多500个字符"},
		{strings.Repeat("字", 500), MaxTextLen, false, ""},
	} {
		got := TextProblem(c.s, c.max, c.multiline)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("TextProblem(%.20q, %d, %v) = %q, want %q", c.s, c.max, c.multiline, got, c.want)
		}
	}
	if err := CheckNote(strings.Repeat("进", MaxLongTextLen+1)); err == nil || !strings.Contains(err.Error(), "过长") {
		t.Errorf("CheckNote: %v", err)
	}
}

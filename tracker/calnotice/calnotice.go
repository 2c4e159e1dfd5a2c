// Package calnotice reads the State Council General Office's notice on
// next year's holidays (《国务院办公厅关于YYYY年部分节假日安排的通知》) as
// published — UTF-8, GB18030 or UTF-16, full-width or ASCII punctuation —
// and returns the arrangement it makes: the days off and the make-up
// working days, by festival (SPEC §12).
//
// Only the numbered items (一、元旦：… 七、国庆节：…) are read; title,
// document number, preamble and signature hold dates that are not
// holidays. A notice that a person must correct is refused with every
// offending line quoted and the reason (*Error); what the law expects but
// the notice does not say is a warning (Notice.Warnings).
package calnotice

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	xunicode "golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"

	"duban/tracker"
)

// MaxSize is the largest notice Parse reads; a real one is about 2 KB.
const MaxSize = 1 << 20

// maxBlock bounds one range of days (the longest block ever was 10 days).
const maxBlock = 31

// maxItem bounds the text of one item with its continuation lines (a
// real one has at most 300 characters): it keeps a garbage paste linear.
const maxItem = 8 << 10

// maxQuote is how many characters of a line a refusal quotes.
const maxQuote = 80

// Options are what the caller knows besides the text.
type Options struct {
	// Year is the notice's year when the title is missing (--year); a
	// title naming another year is refused. 0: from the title.
	Year int
	// Regional marks a provincial notice (--regional): its days add to
	// the national arrangement, and no law-fixed festival is expected.
	Regional bool
	// Today, when set, warns about a notice for a past year.
	Today tracker.Date
}

// Notice is a parsed notice.
type Notice struct {
	Year  int
	Title string // the title line, if the text has one
	// Amending is set for a notice that changes an earlier one of the
	// same year (延长…假期至…): it applies on top of that arrangement.
	Amending bool
	Regional bool
	Items    []Item
	Warnings []string
}

// Item is one numbered item: one festival's block.
type Item struct {
	Line  int            // 1-based line of the item in the source
	Name  string         // as the item names it: 春节, 国庆节、中秋节
	Off   []tracker.Date // days off, in the order the item gives them
	Work  []tracker.Date // working days (调休上班, or 起正常上班 after an extension)
	Total int            // the stated length (共N天, 放假N天); 0 if none
	// ExtendTo is set by an amending item: the festival's block now
	// lasts until this day.
	ExtendTo tracker.Date
	// Replace is set by an adjusting notice (调整为): the item replaces
	// the festival's days of the arrangement it applies to.
	Replace bool
}

// Refusal is one reason a notice is refused: the line and what is wrong.
type Refusal struct {
	Line   int    `json:"line"`
	Quote  string `json:"quote"`
	Reason string `json:"reason"`
}

func (r Refusal) String() string {
	if r.Line == 0 {
		return r.Reason
	}
	return fmt.Sprintf("第%d行「%s」：%s", r.Line, r.Quote, r.Reason)
}

// Error lists every refusal of one notice. It wraps tracker.ErrInvalid:
// bad input, nothing changed.
type Error struct{ Refusals []Refusal }

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("通知无法载入，未做任何改动：")
	for _, r := range e.Refusals {
		b.WriteString("\n  ")
		b.WriteString(r.String())
	}
	return b.String()
}

// Unwrap makes a refusal bad input (exit status 2).
func (e *Error) Unwrap() error { return tracker.ErrInvalid }

// Decode returns the text of a notice file: UTF-8 (with or without BOM),
// UTF-16 with BOM, or GB18030, normalised with NFKC so that full-width
// punctuation reads like ASCII.
func Decode(data []byte) (string, error) {
	if len(data) > MaxSize {
		return "", &Error{[]Refusal{{Reason: fmt.Sprintf("文件有%d字节，超过%d字节：这不像一份通知", len(data), MaxSize)}}}
	}
	var s string
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		s = string(data[3:])
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		out, err := xunicode.UTF16(xunicode.LittleEndian, xunicode.ExpectBOM).NewDecoder().Bytes(data)
		if err != nil {
			return "", &Error{[]Refusal{{Reason: "UTF-16 文本无法解码：" + err.Error()}}}
		}
		s = string(out)
	case utf8.Valid(data):
		s = string(data)
	default:
		out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil || !utf8.Valid(out) {
			return "", &Error{[]Refusal{{Reason: "既不是 UTF-8 也不是 GB18030 文本"}}}
		}
		s = string(out)
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return norm.NFKC.String(s), nil
}

// Parse reads a notice. It returns *Error when the notice must be
// corrected before it can be used; then nothing of it applies.
func Parse(data []byte, opt Options) (*Notice, error) {
	text, err := Decode(data)
	if err != nil {
		return nil, err
	}
	p := &parser{opt: opt}
	return p.parse(text)
}

type parser struct {
	opt      Options
	refusals []Refusal
}

func (p *parser) refuse(line int, quote, format string, args ...any) {
	if len(p.refusals) >= 50 {
		return // enough to act on; the rest would bury them
	}
	p.refusals = append(p.refusals, Refusal{Line: line, Quote: quote, Reason: fmt.Sprintf(format, args...)})
}

// segment is an item's text with the line it starts on.
type segment struct {
	line int
	text string
}

func (p *parser) parse(text string) (*Notice, error) {
	lines := strings.Split(text, "\n")
	var pre strings.Builder // everything before the first item
	var items []segment
	title := ""
	for i, raw := range lines {
		line := strings.TrimSpace(strings.TrimRight(raw, "\r"))
		if line == "" {
			continue
		}
		starts := itemStarts(line)
		if len(starts) == 0 {
			switch {
			case len(items) == 0:
				if title == "" && strings.Contains(line, "通知") && pre.Len() == 0 {
					title = line
				} else if title != "" && pre.Len() == len(title) && strings.HasSuffix(line, "通知") {
					title += line // a title broken over two lines
				}
				if pre.Len() < 4096 {
					pre.WriteString(line)
				}
			case continues(line) && len(items[len(items)-1].text) < maxItem:
				items[len(items)-1].text += line
			}
			continue
		}
		if starts[0] > 0 && len(items) == 0 && pre.Len() < 4096 {
			pre.WriteString(line[:starts[0]])
		} else if starts[0] > 0 && len(items) > 0 && len(items[len(items)-1].text) < maxItem {
			items[len(items)-1].text += line[:starts[0]]
		}
		for j, s := range starts {
			end := len(line)
			if j+1 < len(starts) {
				end = starts[j+1]
			}
			// A page copied with spaces between characters reads the same.
			text := strings.Join(strings.Fields(line[s:end]), "")
			// The closing paragraph and the signature end the items,
			// also on a page that lost its line breaks.
			for _, stop := range []string{"节假日期间", "国务院办公厅"} {
				if k := strings.Index(text, stop); k > 0 {
					text = text[:k]
				}
			}
			items = append(items, segment{line: i + 1, text: text})
		}
	}
	n := &Notice{Title: title, Regional: p.opt.Regional}
	n.Year = p.year(pre.String(), title)
	if !p.opt.Regional && strings.Contains(pre.String(), "人民政府办公厅关于") {
		q := title
		if q == "" {
			q = pre.String()
		}
		p.refuse(1, quote(q), "这是地方人民政府的通知：它的放假日加在全国安排之上，请加 --regional")
	}
	adjust := false
	if len(items) == 0 {
		// 国务院办公厅关于调整2019年劳动节假期安排的通知 has no numbered
		// item: "2019年劳动节放假调休安排调整为：5月1日至4日放假调休…".
		for i, raw := range lines {
			line := strings.TrimSpace(strings.TrimRight(raw, "\r"))
			if k := strings.Index(line, "调整为"); k > 0 && strings.Contains(line[k:], "日") && len(line) < maxItem {
				items = append(items, segment{line: i + 1, text: "一、" + adjustedFestival(line[:k]) + ":" + strings.TrimLeft(line[k+len("调整为"):], ":")})
				adjust = true
			}
		}
	}
	if len(items) == 0 {
		p.refuse(0, "", "没有找到编号条目（如“一、元旦：1月1日放假……”）：请粘贴通知的全文")
	}
	for _, it := range items {
		if strings.Contains(it.text, "延长") || adjust {
			n.Amending = true
		}
	}
	if n.Year != 0 {
		type dayRef struct {
			off  bool
			line int
		}
		seen := map[tracker.Date]dayRef{} // the first item that names each date
		for _, seg := range items {
			it, ok := p.item(seg, n.Year, n.Amending)
			if !ok {
				continue
			}
			it.each(func(d tracker.Date, off bool) {
				if first, dup := seen[d]; dup && first.off != off {
					p.refuse(seg.line, quote(seg.text), "%s既是放假日又是上班日（另见第%d行）", dayText(d), first.line)
				} else if !dup {
					seen[d] = dayRef{off: off, line: seg.line}
				}
			})
			it.Replace = adjust
			if len(it.Off)+len(it.Work) > 0 || !it.ExtendTo.IsZero() {
				n.Items = append(n.Items, it)
			}
		}
	}
	if len(p.refusals) > 0 {
		return nil, &Error{p.refusals}
	}
	if len(n.Items) == 0 {
		return nil, &Error{[]Refusal{{Reason: "编号条目中没有任何放假或上班的日期"}}}
	}
	n.Warnings = p.warnings(n)
	return n, nil
}

// itemStarts returns the byte offsets in line where a numbered item
// (一、 … 十、) starts: at the start of the line or after 。 or ;. A
// reprint's "1、元旦：" counts at the start of a line.
func itemStarts(line string) []int {
	var out []int
	if _, n := digits(line); n > 0 && n <= 2 && strings.HasPrefix(line[n:], "、") {
		out = append(out, 0)
	}
	prev := rune(0)
	for i, r := range line {
		if isNumeral(r) && (prev == 0 || prev == '。' || prev == ';' || prev == ' ') {
			j := i
			for j < len(line) {
				c, w := utf8.DecodeRuneInString(line[j:])
				if !isNumeral(c) {
					break
				}
				j += w
			}
			if j-i <= 3*3 && strings.HasPrefix(line[j:], "、") {
				out = append(out, i)
			}
		}
		prev = r
	}
	return out
}

func isNumeral(r rune) bool { return strings.ContainsRune("一二三四五六七八九十", r) }

// continues reports whether a line after an item belongs to it: a web
// page may break an item over lines, but the closing paragraph and the
// signature never name a date together with 放假 or 上班.
func continues(line string) bool {
	if strings.HasPrefix(line, "节假日期间") {
		return false
	}
	hasKey := strings.Contains(line, "放假") || strings.Contains(line, "上班") || strings.Contains(line, "补休")
	return hasKey && strings.Contains(line, "日")
}

// year finds the notice's year in the title or preamble, or takes --year.
func (p *parser) year(pre, title string) int {
	found := 0
	for _, key := range []string{"关于", "现将", "现将调整后的"} {
		if i := strings.Index(pre, key); i >= 0 {
			if y, ok := leadingYear(pre[i+len(key):]); ok {
				found = y
				break
			}
		}
	}
	switch {
	case p.opt.Year != 0 && found != 0 && found != p.opt.Year:
		q := title
		if q == "" {
			q = pre
		}
		p.refuse(1, quote(q), "通知是%d年的，与 --year %d 不符", found, p.opt.Year)
		return 0
	case p.opt.Year != 0:
		if p.opt.Year < 1949 || p.opt.Year > 2200 {
			p.refuse(0, "", "--year %d 不是合理的年份", p.opt.Year)
			return 0
		}
		return p.opt.Year
	case found == 0:
		p.refuse(0, "", "看不出是哪一年的通知（标题或“现将YYYY年……”中没有年份）：请加 --year")
	}
	return found
}

// adjustedFestival is the festival an adjusting notice names:
// "2019年劳动节放假调休安排" -> "劳动节".
func adjustedFestival(s string) string {
	if _, n := digits(s); n == 4 && strings.HasPrefix(s[n:], "年") {
		s = s[n+len("年"):]
	}
	for _, suffix := range []string{"放假调休安排", "假期安排", "放假安排", "安排"} {
		if t, ok := strings.CutSuffix(s, suffix); ok {
			return t
		}
	}
	return s
}

// leadingYear reads "YYYY年" at the start of s (after 延长 or 调整).
func leadingYear(s string) (int, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "延长"), "调整")
	y, n := digits(s)
	if n != 4 || !strings.HasPrefix(s[n:], "年") || y < 1949 || y > 2200 {
		return 0, false
	}
	return y, true
}

// digits reads up to 6 ASCII digits at the start of s.
func digits(s string) (v, n int) {
	for n < len(s) && n < 6 && s[n] >= '0' && s[n] <= '9' {
		v = v*10 + int(s[n]-'0')
		n++
	}
	return v, n
}

// quote shortens a line for a refusal.
func quote(s string) string {
	if utf8.RuneCountInString(s) <= maxQuote {
		return s
	}
	r := []rune(s)
	return string(r[:maxQuote-1]) + "…"
}

// quoteAt shortens a line around byte offset at.
func quoteAt(s string, at int) string {
	if utf8.RuneCountInString(s) <= maxQuote {
		return s
	}
	start := utf8.RuneCountInString(s[:min(at, len(s))]) - 15
	r := []rune(s)
	if start <= 0 {
		return string(r[:maxQuote-1]) + "…"
	}
	end := min(len(r), start+maxQuote-2)
	out := "…" + string(r[start:end])
	if end < len(r) {
		out += "…"
	}
	return out
}

var weekdayNames = [...]string{"星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"}

func dayText(d tracker.Date) string {
	return fmt.Sprintf("%d年%d月%d日（%s）", d.Year, d.Month, d.Day, weekdayNames[d.Weekday()])
}

// lawFixed are the festivals 《全国年节及纪念日放假办法》 gives days off for.
var lawFixed = []string{"元旦", "春节", "清明", "劳动", "端午", "中秋", "国庆"}

func (p *parser) warnings(n *Notice) []string {
	var out []string
	if !p.opt.Today.IsZero() && n.Year < p.opt.Today.Year {
		out = append(out, fmt.Sprintf("这是%d年的通知，%d年已经过去：载入只会改动那一年的期限", n.Year, n.Year))
	}
	if n.Amending || n.Regional {
		return out
	}
	for _, f := range lawFixed {
		if !slices.ContainsFunc(n.Items, func(it Item) bool { return strings.Contains(it.Name, f) }) {
			name := f
			if !strings.HasSuffix(f, "旦") {
				name += "节"
			}
			out = append(out, fmt.Sprintf("通知的条目中没有%s（《全国年节及纪念日放假办法》规定的节日）：请核对是否粘贴完整", name))
		}
	}
	return out
}

// isWeekend reports Saturday or Sunday.
func isWeekend(d tracker.Date) bool {
	w := d.Weekday()
	return w == time.Saturday || w == time.Sunday
}

package calnotice

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"duban/tracker"
)

// token kinds of a clause.
const (
	tDate = iota
	tSep
	tCount
	tMove // 调至: the weekend days before it move to the days after it
)

type token struct {
	kind     int
	date     tracker.Date
	yearSet  bool // the date names its year
	monthSet bool
	count    int
	note     string // the bracketed note after a date: （星期六）
}

// context carries the year and month a date without them inherits.
type context struct {
	notice      int // the notice's year
	year, month int
	crossing    bool // the item named a date of the year before
}

// yearFor is the year of "M月D日" without a year: in an item that crosses
// into the notice year from December, December is the year before.
func (c *context) yearFor(month int) int {
	if c.crossing {
		if month == 12 {
			return c.notice - 1
		}
		return c.notice
	}
	return c.year
}

// clause is a piece of an item between , 。 ; outside brackets.
type clause struct {
	at   int // byte offset in the item text
	text string
}

// splitClauses cuts an item body at , 。 ; outside brackets.
func splitClauses(s string, offset int) []clause {
	var out []clause
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(', '[', '〔':
			depth++
		case ')', ']', '〕':
			depth = max(depth-1, 0)
		case ',', '。', ';', '，', '；':
			if depth == 0 {
				if i > start {
					out = append(out, clause{offset + start, s[start:i]})
				}
				start = i + utf8.RuneLen(r)
			}
		}
	}
	if start < len(s) {
		out = append(out, clause{offset + start, s[start:]})
	}
	return out
}

// plain returns s without bracketed notes.
func plain(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
		case r == ')':
			depth = max(depth-1, 0)
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isSep(r rune) bool { return strings.ContainsRune("至到—–-~―", r) }

var cnDigits = map[rune]int{'一': 1, '二': 2, '两': 2, '三': 3, '四': 4, '五': 5, '六': 6, '七': 7, '八': 8, '九': 9, '十': 10}

// tokens reads the dates, range separators and counts of a clause.
// ctx is updated as dates are read. It returns a reason when a date is
// malformed.
func tokens(s string, ctx *context) ([]token, string) {
	var out []token
	i := 0
	for i < len(s) {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '(':
			j := closing(s, i)
			note := strings.TrimSuffix(s[i+1:j], ")")
			if len(out) > 0 && out[len(out)-1].kind == tDate && out[len(out)-1].note == "" {
				out[len(out)-1].note = note
			}
			i = j
			continue
		case r >= '0' && r <= '9':
			v, n := digits(s[i:])
			if n == 6 {
				return nil, "数字太长，读不出日期"
			}
			rest := s[i+n:]
			switch {
			case strings.HasPrefix(rest, "年"):
				rest = rest[len("年"):]
				if m, mn := digits(rest); mn > 0 && strings.HasPrefix(rest[mn:], "月") {
					t, used, why := monthDay(rest[mn+len("月"):], v, m, ctx)
					if why != "" {
						return nil, why
					}
					t.yearSet, t.monthSet = true, true
					if v == ctx.notice-1 {
						ctx.crossing = true
					}
					out = append(out, t)
					i += n + len("年") + mn + len("月") + used
					continue
				}
				if v >= 1949 && v <= 2200 {
					ctx.year = v // 延长2020年春节假期: the year of what follows
				}
			case strings.HasPrefix(rest, "月"):
				t, used, why := monthDay(rest[len("月"):], ctx.yearFor(v), v, ctx)
				if why != "" {
					return nil, why
				}
				t.monthSet = true
				out = append(out, t)
				i += n + len("月") + used
				continue
			case strings.HasPrefix(rest, "日"):
				if ctx.month == 0 {
					return nil, fmt.Sprintf("“%d日”前面没有月份", v)
				}
				d, ok := mkDate(ctx.year, ctx.month, v)
				if !ok {
					return nil, fmt.Sprintf("%d月%d日不是有效日期", ctx.month, v)
				}
				out = append(out, token{kind: tDate, date: d})
				i += n + len("日")
				continue
			case strings.HasPrefix(rest, "天"):
				out = append(out, token{kind: tCount, count: v})
			}
			i += n
			continue
		case r == '调' && strings.HasPrefix(s[i+w:], "至"):
			out = append(out, token{kind: tMove})
			i += w + len("至")
			continue
		case isSep(r):
			out = append(out, token{kind: tSep})
		case r == '共':
			j, v := i+w, 0
			for j < len(s) {
				c, cw := utf8.DecodeRuneInString(s[j:])
				d, ok := cnDigits[c]
				if !ok {
					break
				}
				if d == 10 {
					v = max(v, 1) * 10
				} else if v >= 10 && v%10 == 0 {
					v += d
				} else {
					v = v*10 + d
				}
				j += cw
			}
			if v > 0 && strings.HasPrefix(s[j:], "天") {
				out = append(out, token{kind: tCount, count: v})
				i = j
				continue
			}
		}
		i += w
	}
	return out, ""
}

// closing returns the byte offset just after the bracket that closes the
// one at s[i], or len(s) when it is not closed.
func closing(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// monthDay reads "D日" after "M月"; used is the bytes read.
func monthDay(s string, year, month int, ctx *context) (token, int, string) {
	v, n := digits(s)
	if n == 0 || !strings.HasPrefix(s[n:], "日") {
		return token{}, 0, fmt.Sprintf("“%d月”后面不是“D日”", month)
	}
	d, ok := mkDate(year, month, v)
	if !ok {
		return token{}, 0, fmt.Sprintf("%d月%d日不是有效日期", month, v)
	}
	ctx.year, ctx.month = year, month
	return token{kind: tDate, date: d}, n + len("日"), ""
}

func mkDate(y, m, d int) (tracker.Date, bool) {
	if y < 1 || m < 1 || m > 12 || d < 1 || d > 31 {
		return tracker.Date{}, false
	}
	dt := tracker.Date{Year: y, Month: time.Month(m), Day: d}
	if d > tracker.DaysIn(y, dt.Month) {
		return tracker.Date{}, false
	}
	return dt, true
}

// weekdayIn returns the weekday a note names (星期六, 周日, 农历除夕、周二),
// or -1.
func weekdayIn(note string) int {
	for _, pre := range []string{"星期", "礼拜", "周"} {
		for i := 0; ; {
			j := strings.Index(note[i:], pre)
			if j < 0 {
				break
			}
			i += j + len(pre)
			r, _ := utf8.DecodeRuneInString(note[i:])
			switch r {
			case '日', '天':
				return 0
			case '一', '二', '三', '四', '五', '六':
				return cnDigits[r]
			}
		}
	}
	return -1
}

// item reads one numbered item. ok is false when it was refused (the
// refusals are recorded) or holds nothing to apply.
func (p *parser) item(seg segment, year int, amending bool) (Item, bool) {
	it := Item{Line: seg.line}
	text := seg.text
	body := strings.TrimLeft(text, "一二三四五六七八九十0123456789")
	body = strings.TrimPrefix(body, "、")
	offset := len(text) - len(body)
	if c := strings.IndexAny(body, ":："); c >= 0 && !strings.ContainsAny(body[:c], "0123456789") && c <= 40 {
		it.Name = strings.TrimSpace(body[:c])
		offset += c + 1
		body = body[c+1:]
	}
	refusedBefore := len(p.refusals)
	refuse := func(cl clause, format string, args ...any) {
		p.refuse(seg.line, quoteAt(text, cl.at), format, args...)
	}
	ctx := context{notice: year, year: year}
	hasJan1 := false
	type rec struct {
		d    tracker.Date
		cl   clause
		off  bool
		soft bool // a weekend day moved by 调至: working unless the item gives it off
	}
	var recs []rec
	for _, cl := range splitClauses(body, offset) {
		toks, why := tokens(cl.text, &ctx)
		if why != "" {
			refuse(cl, "%s", why)
			continue
		}
		for _, t := range toks {
			if t.kind != tDate || t.note == "" {
				continue
			}
			if w := weekdayIn(t.note); w >= 0 && w != int(t.date.Weekday()) {
				refuse(cl, "%d月%d日是%s，括号里写的是“%s”", t.date.Month, t.date.Day, weekdayNames[t.date.Weekday()], t.note)
			}
		}
		pl := plain(cl.text)
		ext := strings.Contains(pl, "延长") && strings.Contains(pl, "假期")
		work := strings.Contains(pl, "上班")
		off := strings.Contains(pl, "放假") || strings.Contains(pl, "补休")
		for _, t := range toks {
			if t.kind == tCount && (off || strings.HasPrefix(strings.TrimSpace(pl), "共")) {
				it.Total = t.count
			}
		}
		if !ext && !work && !off {
			// 2007–2008: "12月29日（星期六）公休日调至12月31日（星期一）":
			// the weekend day is worked, the day after 调至 is off.
			moved := false
			if !slices.ContainsFunc(toks, func(t token) bool { return t.kind == tMove }) {
				continue
			}
			for _, t := range toks {
				switch {
				case t.kind == tMove:
					moved = true
				case t.kind == tDate && !moved:
					recs = append(recs, rec{d: t.date, cl: cl, soft: true})
				case t.kind == tDate:
					recs = append(recs, rec{d: t.date, cl: cl, off: true})
				}
			}
			continue // 与周末连休, 其中…为法定节假日, 照常公休
		}
		if work && off {
			refuse(cl, "同一句里既有放假又有上班，读不出哪天放假")
			continue
		}
		days, why := expand(toks)
		if why != "" {
			refuse(cl, "%s", why)
			continue
		}
		if ext {
			f := pl[strings.Index(pl, "延长")+len("延长"):]
			f = f[:max(strings.Index(f, "假期"), 0)]
			if i := strings.Index(f, "年"); i >= 0 {
				f = f[i+len("年"):]
			}
			if f = strings.TrimSpace(f); f == "" || len(days) == 0 {
				refuse(cl, "读不出延长哪个节日的假期、延长到哪天（应为“延长YYYY年春节假期至M月D日”）")
				continue
			}
			if it.Name == "" {
				it.Name = f
			}
			it.ExtendTo = days[len(days)-1]
			continue
		}
		if len(days) == 0 {
			if !amending {
				refuse(cl, "有“放假”或“上班”，却读不出日期")
			}
			continue
		}
		for _, d := range days {
			recs = append(recs, rec{d: d, cl: cl, off: off})
			if off && d.Month == 1 && d.Day == 1 && d.Year == year {
				hasJan1 = true
			}
		}
		if work && !strings.Contains(pl, "正常上班") && !strings.Contains(pl, "起上班") {
			for _, d := range days {
				if !isWeekend(d) {
					refuse(cl, "%s不是周末：调休上班日应是星期六或星期日", dayText(d))
				}
			}
		}
	}
	offs := map[tracker.Date]bool{}
	for _, r := range recs {
		if r.off {
			offs[r.d] = true
		}
	}
	for _, r := range recs {
		if r.soft && offs[r.d] {
			continue
		}
		if r.soft && !isWeekend(r.d) {
			refuse(r.cl, "%s不是周末，不能作为公休日调走", dayText(r.d))
			continue
		}
		inYear := r.d.Year == year || (hasJan1 && r.d.Year == year-1 && r.d.Month == 12)
		if !inYear {
			refuse(r.cl, "%s不在%d年内（只有跨年的元旦假期及其调休可以落在上一年12月）", dayText(r.d), year)
			continue
		}
		if r.off {
			if !containsDate(it.Off, r.d) {
				it.Off = append(it.Off, r.d)
			}
		} else if !containsDate(it.Work, r.d) {
			it.Work = append(it.Work, r.d)
		}
	}
	if !it.ExtendTo.IsZero() && it.ExtendTo.Year != year {
		p.refuse(seg.line, quote(text), "延长到的%s不在%d年内", dayText(it.ExtendTo), year)
	}
	if it.Total > 0 && it.ExtendTo.IsZero() && it.Total != len(it.Off) && len(p.refusals) == refusedBefore {
		p.refuse(seg.line, quote(text), "写的是共%d天，日期算出来是%d天", it.Total, len(it.Off))
	}
	if it.Name == "" && !amending && len(p.refusals) == refusedBefore {
		p.refuse(seg.line, quote(text), "条目没有节日名称（应为“一、元旦：……”）")
	}
	if len(it.Off)+len(it.Work) == 0 && it.ExtendTo.IsZero() && !amending && len(p.refusals) == refusedBefore {
		p.refuse(seg.line, quote(text), "读不出放假或上班的日期（应为“M月D日至D日放假调休，共N天”）")
	}
	return it, len(p.refusals) == refusedBefore
}

// expand turns the dates and ranges of a clause into days.
func expand(toks []token) ([]tracker.Date, string) {
	var out []tracker.Date
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind != tDate {
			continue
		}
		if i+1 < len(toks) && toks[i+1].kind == tSep {
			if i+2 >= len(toks) || toks[i+2].kind != tDate {
				return nil, fmt.Sprintf("%d月%d日之后的“至”后面不是日期", t.date.Month, t.date.Day)
			}
			end := toks[i+2]
			e := end.date
			if !end.yearSet && e.Before(t.date) && end.monthSet {
				e.Year++ // 12月31日至1月2日
			}
			n := t.date.DaysUntil(e)
			switch {
			case n < 0:
				return nil, fmt.Sprintf("区间%s至%s起止颠倒", t.date, e)
			case n >= maxBlock:
				return nil, fmt.Sprintf("区间%s至%s长达%d天，不像节假日", t.date, e, n+1)
			}
			for d := t.date; !d.After(e); d = d.AddDays(1) {
				out = append(out, d)
			}
			i += 2
			continue
		}
		out = append(out, t.date)
	}
	return out, ""
}

func containsDate(ds []tracker.Date, d tracker.Date) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

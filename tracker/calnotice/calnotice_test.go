package calnotice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"duban/tracker"
)

// embedded reads the holiday-cn file duban ships for year.
func embedded(t *testing.T, year int) []tracker.HolidayDay {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "holidays", fmt.Sprintf("%d.json", year)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tracker.ReadHolidayFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sortDays(f.Days)
	return f.Days
}

func parseFile(t *testing.T, name string, opt Options) *Notice {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Parse(data, opt)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// sameDays compares two arrangements day by day.
func sameDays(t *testing.T, got, want []tracker.HolidayDay) {
	t.Helper()
	g := map[string]tracker.HolidayDay{}
	for _, d := range got {
		g[d.Date] = d
	}
	for _, w := range want {
		d, ok := g[w.Date]
		switch {
		case !ok:
			t.Errorf("%s (%s, off=%t): missing", w.Date, w.Name, w.IsOffDay)
		case d != w:
			t.Errorf("%s: got %+v, want %+v", w.Date, d, w)
		}
		delete(g, w.Date)
	}
	for _, d := range g {
		t.Errorf("%s: unexpected %+v", d.Date, d)
	}
}

// TestNoticesMatchEmbedded parses each year's notice and compares it with
// the embedded calendar, day by day (2020 with its extension).
func TestNoticesMatchEmbedded(t *testing.T) {
	for _, tc := range []struct {
		file string
		year int
	}{
		{"2021.txt", 2021}, {"2022.txt", 2022}, {"2022-fullwidth.txt", 2022}, {"2023.txt", 2023},
		{"2024.txt", 2024}, {"2025.txt", 2025}, {"2026.txt", 2026},
	} {
		t.Run(tc.file, func(t *testing.T) {
			n := parseFile(t, tc.file, Options{})
			if n.Year != tc.year || n.Amending || len(n.Warnings) > 0 {
				t.Fatalf("year %d amending %t warnings %q", n.Year, n.Amending, n.Warnings)
			}
			sameDays(t, n.Days(), embedded(t, tc.year))
		})
	}
	t.Run("2020+extension", func(t *testing.T) {
		n := parseFile(t, "2020.txt", Options{}) // no title: the year is in the preamble
		if n.Year != 2020 {
			t.Fatalf("year %d", n.Year)
		}
		ext := parseFile(t, "2020-extension.txt", Options{})
		if !ext.Amending || ext.Year != 2020 {
			t.Fatalf("extension: amending %t year %d", ext.Amending, ext.Year)
		}
		days, err := ext.Apply(n.Days())
		if err != nil {
			t.Fatal(err)
		}
		sameDays(t, days, embedded(t, 2020))
	})
}

// TestEncodings reads the 2022 notice as GB18030, UTF-16 and with a BOM.
func TestEncodings(t *testing.T) {
	data, err := os.ReadFile("testdata/2022-fullwidth.txt")
	if err != nil {
		t.Fatal(err)
	}
	gb, err := simplifiedchinese.GB18030.NewEncoder().Bytes(data)
	if err != nil {
		t.Fatal(err)
	}
	crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	oneLine := bytes.ReplaceAll(data, []byte("\n"), nil) // pasted from a page that lost the breaks
	spaced := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("月"), []byte(" 月 ")), []byte("日"), []byte(" 日 "))
	arabic := data
	for i, n := range []string{"一", "二", "三", "四", "五", "六", "七"} {
		arabic = bytes.Replace(arabic, []byte("\n"+n+"、"), []byte(fmt.Sprintf("\n%d、", i+1)), 1)
	}
	for name, in := range map[string][]byte{"gb18030": gb, "bom": append([]byte{0xEF, 0xBB, 0xBF}, data...), "crlf": crlf, "one line": oneLine,
		"spaces": spaced, "arabic numbers": arabic} {
		t.Run(name, func(t *testing.T) {
			n, err := Parse(in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			sameDays(t, n.Days(), embedded(t, 2022))
		})
	}
}

// TestYearFromFlag: a notice without title or preamble needs --year; a
// --year that contradicts the title is refused.
func TestYearFromFlag(t *testing.T) {
	items := "一、元旦：1月1日放假，与周末连休。\n"
	if _, err := Parse([]byte(items), Options{}); !isRefusal(err, "--year") {
		t.Fatalf("no year: %v", err)
	}
	n, err := Parse([]byte(items), Options{Year: 2024})
	if err != nil || n.Year != 2024 || len(n.Days()) != 1 {
		t.Fatalf("--year 2024: %v %+v", err, n)
	}
	data, _ := os.ReadFile("testdata/2023.txt")
	if _, err := Parse(data, Options{Year: 2024}); !isRefusal(err, "与 --year 2024 不符") {
		t.Fatalf("contradicting --year: %v", err)
	}
}

func isRefusal(err error, reason string) bool {
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, tracker.ErrInvalid) {
		return false
	}
	for _, r := range e.Refusals {
		if strings.Contains(r.Reason, reason) {
			return true
		}
	}
	return false
}

const head = "国务院办公厅关于2022年部分节假日安排的通知\n"

// TestRefusals: every refusal of SPEC §12 quotes the line (≤ 80
// characters) and says what is wrong.
func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, items, reason string
		line                int
	}{
		{"unreadable date", "一、元旦：1月1日至3曰放假，共3天。", "“至”后面不是日期", 2},
		{"month without day", "一、元旦：1月放假。", "后面不是“D日”", 2},
		{"invalid date", "一、春节：2月30日放假。", "不是有效日期", 2},
		{"day without month", "一、元旦：3日放假。", "前面没有月份", 2},
		{"no dates", "一、元旦：放假调休。", "读不出日期", 2},
		{"no festival", "一、1月1日至3日放假，共3天。", "没有节日名称", 2},
		{"outside the year", "一、元旦：2021年1月1日至3日放假，共3天。", "不在2022年内", 2},
		{"December not crossing", "一、国庆节：10月1日至7日放假调休，共7天。2021年12月25日（星期六）上班。", "不在2022年内", 2},
		{"wrong weekday", "一、春节：1月31日至2月6日放假调休，共7天。1月29日（星期日）、1月30日（星期日）上班。", "1月29日是星期六", 2},
		{"make-up on a weekday", "一、春节：1月31日至2月6日放假调休，共7天。1月28日、1月30日（星期日）上班。", "不是周末", 2},
		{"off and working", "一、春节：1月31日至2月6日放假调休，共7天。\n二、劳动节：4月30日至5月4日放假调休，共5天。2月5日（星期六）上班。", "既是放假日又是上班日", 3},
		{"total differs", "一、国庆节：10月1日至7日放假调休，共8天。", "共8天，日期算出来是7天", 2},
		{"reversed range", "一、国庆节：10月7日至1日放假。", "起止颠倒", 2},
		{"no items", "经国务院批准，现将安排通知如下。", "没有找到编号条目", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.items+"\n"), Options{})
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, tracker.ErrInvalid) {
				t.Fatalf("err = %v, want a refusal", err)
			}
			if !isRefusal(err, tc.reason) {
				t.Fatalf("refusals %v, want %q", e.Refusals, tc.reason)
			}
			r := e.Refusals[0]
			if r.Line != tc.line {
				t.Errorf("line %d, want %d", r.Line, tc.line)
			}
			if n := len([]rune(r.Quote)); n > maxQuote || (tc.line > 0 && n == 0) {
				t.Errorf("quote %q has %d characters", r.Quote, n)
			}
			if tc.line > 0 && !strings.Contains(err.Error(), fmt.Sprintf("第%d行", tc.line)) {
				t.Errorf("message %q does not name the line", err)
			}
		})
	}
}

// TestRefusalQuoteOfLongLine quotes the part of a long item that is wrong.
func TestRefusalQuoteOfLongLine(t *testing.T) {
	item := "一、春节：2月6日—12日（农历除夕至正月初六）放假，共7天。其中，2月6日（除夕）、2月7日（春节）、2月8日（正月初二）为法定节假日，2月9日（星期六）、2月10日（星期日）照常公休，2月2日（星期六）、2月3日（星期日）两个公休日调至2月11日（星期一）、2月12日（星期二），2月2日（星期六）、2月4日（星期日）上班。"
	_, err := Parse([]byte("国务院办公厅关于2008年部分节假日安排的通知\n"+item), Options{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	q := e.Refusals[0].Quote
	if len([]rune(q)) > maxQuote || !strings.Contains(q, "2月4日(星期日)") {
		t.Fatalf("quote %q (%d) does not show the wrong date", q, len([]rune(q)))
	}
}

// TestWarnings: a missing law-fixed festival or a past year is a warning.
func TestWarnings(t *testing.T) {
	n, err := Parse([]byte(head+"一、元旦：1月1日至3日放假，共3天。\n"), Options{Today: tracker.Date{Year: 2026, Month: 12, Day: 6}})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(n.Warnings, "\n")
	for _, w := range []string{"2022年已经过去", "没有春节", "没有清明节", "没有劳动节", "没有端午节", "没有中秋节", "没有国庆节"} {
		if !strings.Contains(all, w) {
			t.Errorf("warnings %q lack %q", all, w)
		}
	}
	if strings.Contains(all, "没有元旦") {
		t.Errorf("warns about 元旦, which is there: %q", all)
	}
}

// TestRegional: a regional notice adds its days to the national ones.
func TestRegional(t *testing.T) {
	text := "宁夏回族自治区人民政府办公厅关于2024年开斋节放假的通知\n一、开斋节：4月10日（星期三）放假1天。\n"
	if _, err := Parse([]byte(text), Options{}); !isRefusal(err, "请加 --regional") {
		t.Errorf("regional notice without Regional: %v", err)
	}
	n, err := Parse([]byte(text), Options{Regional: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Warnings) != 0 {
		t.Errorf("warnings %q", n.Warnings)
	}
	base := embedded(t, 2024)
	days, err := n.Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	want := append(base, tracker.HolidayDay{Name: "开斋节", Date: "2024-04-10", IsOffDay: true})
	sortDays(want)
	sameDays(t, days, want)
}

// TestAmendingWithoutBase: an extension needs the year's block.
func TestAmendingWithoutBase(t *testing.T) {
	ext := parseFile(t, "2020-extension.txt", Options{})
	if _, err := ext.Apply(nil); !isRefusal(err, "请先载入当年的通知") {
		t.Fatalf("err = %v", err)
	}
}

// jsonDays is a helper for the cases below: "休 2019-02-04~02-10 班 2019-02-02".
func expectDays(t *testing.T, spec string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	off := true
	for _, f := range strings.Fields(spec) {
		switch f {
		case "休":
			off = true
			continue
		case "班":
			off = false
			continue
		}
		from, to, rng := strings.Cut(f, "~")
		d, err := tracker.ParseDate(from)
		if err != nil {
			t.Fatal(err)
		}
		e := d
		if rng {
			if len(to) == 5 {
				to = from[:5] + to
			}
			if e, err = tracker.ParseDate(to); err != nil {
				t.Fatal(err)
			}
		}
		for ; !d.After(e); d = d.AddDays(1) {
			out[d.String()] = off
		}
	}
	return out
}

var _ = json.Marshal

// TestAdjustingNotice: the 2019 notice that changed 劳动节 has no numbered
// item; it replaces the festival's days of the 2019 arrangement.
func TestAdjustingNotice(t *testing.T) {
	base, err := Parse([]byte("国务院办公厅关于2019年部分节假日安排的通知\n四、劳动节：5月1日放假。\n五、端午节：6月7日放假，与周末连休。\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	adj, err := Parse([]byte(`国务院办公厅关于调整2019年劳动节假期安排的通知
国办发明电〔2019〕3号
各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
经国务院批准，现将调整后的2019年劳动节假期安排通知如下：
2019年劳动节放假调休安排调整为：5月1日至4日放假调休，共4天。4月28日（星期日）、5月5日（星期日）上班。
节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作。
国务院办公厅
2019年3月22日
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !adj.Amending || adj.Year != 2019 || len(adj.Items) != 1 || adj.Items[0].Name != "劳动节" {
		t.Fatalf("adjusting notice: %+v", adj)
	}
	days, err := adj.Apply(base.Days())
	if err != nil {
		t.Fatal(err)
	}
	want := expectDays(t, "休 2019-05-01~05-04 2019-06-07 班 2019-04-28 2019-05-05")
	got := map[string]bool{}
	for _, d := range days {
		got[d.Date] = d.IsOffDay
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

// TestBothPunctuations: every notice reads the same in full-width and in
// ASCII punctuation.
func TestBothPunctuations(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	toFull := strings.NewReplacer(",", "，", ":", "：", "(", "（", ")", "）", ";", "；")
	toASCII := strings.NewReplacer("，", ",", "：", ":", "（", "(", "）", ")", "；", ";")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Parse(data, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, conv := range []*strings.Replacer{toFull, toASCII} {
			got, err := Parse([]byte(conv.Replace(string(data))), Options{})
			if err != nil {
				t.Fatalf("%s converted: %v", name, err)
			}
			sameDays(t, got.Days(), want.Days())
		}
	}
}

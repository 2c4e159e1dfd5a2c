package notify_test

import (
	"flag"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"duban/notify"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// sampleDigest is a unit's digest with one overdue and one assigned item.
func sampleDigest() notify.Digest {
	due := time.Date(2026, 9, 28, 0, 0, 0, 0, shanghai)
	return notify.Digest{
		OfficeName: "市政府督查室", OfficeEmail: "ducha@example.gov.cn",
		To:        mail.Address{Name: "市法制局", Address: "fzj@example.gov.cn"},
		Generated: time.Date(2026, 9, 30, 9, 0, 0, 0, shanghai),
		Entries: []notify.Entry{
			{
				Level: "overdue", InstanceID: "minutes-31", Title: "第31次常务会议纪要签发",
				Doc: "常务会议纪要〔2026〕31号", Requirements: "对纪要涉及本单位的事项提出意见并会签",
				Unit: "市法制局", Deadline: notify.FormatDeadline(due, false, "24:00"),
				Limit: notify.FormatDeadline(due.AddDate(0, 0, 7), false, "24:00"), OverdueDays: 2,
			},
			{
				Level: "assigned", InstanceID: "weekly-safety-2026-40", Title: "安全生产周报",
				Doc: "市政办〔2026〕12号", Requirements: "报送本周安全生产检查情况", Unit: "市法制局", CoUnit: true,
				Deadline: notify.FormatDeadline(time.Date(2026, 10, 8, 12, 0, 0, 0, shanghai), true, ""),
				Schedule: "每周四12:00前", Late: true,
			},
		},
	}
}

func mustRenderer(tb testing.TB, dir string) *notify.Renderer {
	tb.Helper()
	r, err := notify.NewRenderer(dir)
	if err != nil {
		tb.Fatalf("NewRenderer(%q): %v", dir, err)
	}
	return r
}

// checkGolden compares got with testdata/name, rewriting it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (run go test -update after checking):\n%s", name, path, got)
	}
}

func TestRenderSubjectSingleEntry(t *testing.T) {
	r := mustRenderer(t, "")
	tests := []struct {
		level string
		days  int
		want  string
	}{
		{"assigned", 0, "【督办通知】第31次常务会议纪要签发"},
		{"reminder", 0, "【到期提醒】第31次常务会议纪要签发"},
		{"due", 0, "【今日到期】第31次常务会议纪要签发"},
		{"overdue", 2, "【逾期催办】第31次常务会议纪要签发（逾期2个工作日）"},
		{"escalation", 6, "【问责预警】第31次常务会议纪要签发（逾期6个工作日）"},
		{"failure", 0, "【邮件投递失败】第31次常务会议纪要签发"},
	}
	for _, tt := range tests {
		d := sampleDigest()
		d.Entries = d.Entries[:1]
		d.Entries[0].Level, d.Entries[0].OverdueDays = tt.level, tt.days
		subject, _, _, err := r.Render(d)
		if err != nil || subject != tt.want {
			t.Errorf("Render(%s) subject = %q, %v; want %q", tt.level, subject, err, tt.want)
		}
	}
}

func TestRenderSubjectSeveralEntries(t *testing.T) {
	r := mustRenderer(t, "")
	d := sampleDigest()
	d.Entries = append(d.Entries, notify.Entry{Level: "escalation", Title: "x", OverdueDays: 6})
	subject, _, _, err := r.Render(d)
	if want := "【督办汇总】您有3项督办事项（其中逾期2项）"; err != nil || subject != want {
		t.Errorf("subject = %q, %v; want %q", subject, err, want)
	}
	d.Entries = []notify.Entry{{Level: "due", Title: "a"}, {Level: "reminder", Title: "b"}}
	if subject, _, _, _ = r.Render(d); subject != "【督办汇总】您有2项督办事项" {
		t.Errorf("subject without overdue items = %q", subject)
	}
	d.Entries = []notify.Entry{{Level: "failure", Title: "a"}, {Level: "failure", Title: "b"}}
	if subject, _, _, _ = r.Render(d); subject != "【邮件投递失败】2封督办邮件未能送达" {
		t.Errorf("failure-report subject = %q", subject)
	}
}

func TestRenderBody(t *testing.T) {
	r := mustRenderer(t, "")
	subject, text, html, err := r.Render(sampleDigest())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"市法制局：",
		"一、【逾期催办】第31次常务会议纪要签发",
		"常务会议纪要〔2026〕31号",
		"2026年9月28日(星期一)24时前",
		"2026年10月5日(星期一)24时前",
		"已逾期2个工作日",
		"二、【督办通知】安全生产周报（补发）",
		"市法制局（协办）",
		"2026年10月8日(星期四)12:00前",
		"每周四12:00前",
		"补发说明",
		"办理完毕后请回复督查室报结；如需延期，请说明理由。",
		"市政府督查室\n联系邮箱：ducha@example.gov.cn\n2026年9月30日",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text body lacks %q", want)
		}
		if !strings.Contains(html, strings.Split(want, "\n")[0]) {
			t.Errorf("HTML body lacks %q", want)
		}
	}
	checkGolden(t, "digest.golden", subject+"\n\n"+text)
}

// TestRenderSpeaksToRecipients: a notice names no command, config key or
// English status or level word (SPEC §6) — today's main told units the
// office would record completion "以 duban done 登记办结".
func TestRenderSpeaksToRecipients(t *testing.T) {
	r := mustRenderer(t, "")
	for _, level := range []string{"assigned", "reminder", "due", "overdue", "escalation"} {
		d := sampleDigest()
		d.Entries[0].Level = level
		subject, text, html, err := r.Render(d)
		if err != nil {
			t.Fatal(err)
		}
		// The HTML's markup is English; its text is what the reader sees.
		visible := regexp.MustCompile(`(?s)<style.*?</style>|<[^>]*>`).ReplaceAllString(html, " ")
		for _, body := range []string{subject, text, visible} {
			for _, word := range englishWords.FindAllString(body, -1) {
				t.Errorf("%s notice shows the English word %q", level, word)
			}
		}
	}
}

// englishWords finds Latin words in a mail, except those a recipient
// expects: none in the sample but the document number's digits, the ids and
// the address (ids and addresses are cut out below).
var englishWords = regexp.MustCompile(`\b(duban|done|open|pending|returned|withdrawn|review|overdue|due|reminder|escalation|assigned|day_end|send_time|config|status|level)\b`)

// TestRenderProvisional: a deadline marked 暂定 by the caller carries the
// explanation in both bodies; one that is not provisional has neither.
func TestRenderProvisional(t *testing.T) {
	r := mustRenderer(t, "")
	d := sampleDigest()
	d.Entries = d.Entries[:1]
	d.Entries[0].Deadline = notify.MarkProvisional("2027年2月10日(星期三)24时前", true)
	d.Entries[0].Limit = notify.MarkProvisional("2027年2月20日(星期六)24时前", false)
	d.Entries[0].Provisional = true
	_, text, html, err := r.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{text, html} {
		for _, want := range []string{"2027年2月10日(星期三)24时前（暂定）", "时限说明：", "标“暂定”的时限按法定节假日推算"} {
			if !strings.Contains(strings.ReplaceAll(body, "</td><td>", "："), want) {
				t.Errorf("provisional notice lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "2027年2月20日(星期六)24时前（暂定）") {
			t.Errorf("the limit is not provisional but is marked:\n%s", body)
		}
	}
	d.Entries[0].Provisional, d.Entries[0].Deadline = false, "2026年9月28日(星期一)24时前"
	if _, text, _, _ = r.Render(d); strings.Contains(text, "暂定") {
		t.Errorf("a notice without provisional dates mentions 暂定:\n%s", text)
	}
}

func TestRenderHTMLEscapes(t *testing.T) {
	r := mustRenderer(t, "")
	d := sampleDigest()
	d.Entries[0].Title = `<script>alert("x")</script>纪要`
	_, text, html, err := r.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("HTML body does not escape the title")
	}
	if !strings.Contains(text, `<script>alert("x")</script>纪要`) {
		t.Errorf("text body altered the title")
	}
}

func TestRenderFailureReport(t *testing.T) {
	r := mustRenderer(t, "")
	d := sampleDigest()
	d.To = mail.Address{Name: "市政府督查室", Address: "ducha@example.gov.cn"}
	d.Entries = []notify.Entry{{Level: "failure", InstanceID: "minutes-31", Title: "第31次常务会议纪要签发", Unit: "市法制局",
		Note: "smtp RCPT fzj@example.gov.cn: SMTP error 550: no such user"}}
	_, text, _, err := r.Render(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"收件单位：市法制局", "失败原因：smtp RCPT fzj@example.gov.cn: SMTP error 550", "请核实"} {
		if !strings.Contains(text, want) {
			t.Errorf("failure report lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "duban done") {
		t.Errorf("failure report tells the office to reply to itself:\n%s", text)
	}
}

func TestRenderRejects(t *testing.T) {
	r := mustRenderer(t, "")
	d := sampleDigest()
	d.Entries = nil
	if _, _, _, err := r.Render(d); err == nil {
		t.Error("Render with no entries succeeded")
	}
	d = sampleDigest()
	d.Entries[1].Level = "urgent"
	if _, _, _, err := r.Render(d); err == nil || !strings.Contains(err.Error(), `"urgent"`) {
		t.Errorf("Render with an unknown level: %v", err)
	}
}

func TestRendererOverride(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "digest.subject.tmpl"), `{{.OfficeName}}提醒：{{len .Entries}}项`)
	r := mustRenderer(t, dir)
	subject, text, _, err := r.Render(sampleDigest())
	if err != nil {
		t.Fatal(err)
	}
	if subject != "市政府督查室提醒：2项" {
		t.Errorf("overridden subject = %q", subject)
	}
	if !strings.Contains(text, "第31次常务会议纪要签发") {
		t.Errorf("built-in text template not used")
	}
}

func TestRendererBadOverride(t *testing.T) {
	tests := []struct {
		file, body, want string
	}{
		{"digest.txt.tmpl", "{{.Title", "digest.txt.tmpl"},                    // parse error
		{"digest.html.tmpl", "<p>{{range .Entries}}</p>", "digest.html.tmpl"}, // unclosed range
		{"digest.subject.tmpl", "{{.Nope}}", "digest.subject.tmpl"},           // unknown field, caught by the dry run
		{"digest.txt.tmpl", "{{levelNam .Level}}", "digest.txt.tmpl"},         // unknown function
		{"digest.text.tmpl", "x", "unknown file"},                             // misspelt name
	}
	for _, tt := range tests {
		dir := t.TempDir()
		write(t, filepath.Join(dir, tt.file), tt.body)
		_, err := notify.NewRenderer(dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewRenderer with %s %q: error %v, want it to mention %q", tt.file, tt.body, err, tt.want)
		}
	}
	if _, err := notify.NewRenderer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("NewRenderer with a missing dir succeeded")
	}
}

func write(tb testing.TB, path, s string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		tb.Fatal(err)
	}
}

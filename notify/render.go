package notify

import (
	"embed"
	"fmt"
	htemplate "html/template"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	ttemplate "text/template"
	"time"
)

//go:embed templates/*.tmpl
var builtinTemplates embed.FS

// Template file names, built in under templates/ and overridable in the
// directory given to NewRenderer.
const (
	subjectTemplate = "digest.subject.tmpl"
	textTemplate    = "digest.txt.tmpl"
	htmlTemplate    = "digest.html.tmpl"
)

var templateNames = []string{subjectTemplate, textTemplate, htmlTemplate}

// Digest is everything one recipient gets in one pass.
type Digest struct {
	OfficeName, OfficeEmail string // the supervision office signing the mail
	To                      mail.Address
	Entries                 []Entry // already ordered by urgency by the caller
	// Corrections (更正) tell deadlines that moved since the recipient
	// was told them; they are a section of their own after the entries.
	Corrections []Correction
	Generated   time.Time
}

// Correction is one 更正 inside a Digest: an instance whose deadline or
// hard limit was recomputed (e.g. after a calendar change) after the
// recipient had been told it.
type Correction struct {
	InstanceID  string
	Title       string
	Unit        string // unit display name
	CoUnit      bool
	Deadline    string // the deadline now, formatted by the caller
	OldDeadline string // what the recipient was told, "" if unchanged
	Limit       string // the hard limit now, "" if none
	OldLimit    string // the hard limit told before, "" if unchanged
}

// Entry is one notice inside a Digest.
type Entry struct {
	// Level is "assigned", "reassigned" (改派, to the previous unit),
	// "reminder", "due", "overdue", "escalation", or
	// "failure" (a delivery-failure report to the office).
	Level                    string
	InstanceID               string
	Title, Doc, Requirements string
	Unit                     string // unit display name
	CoUnit                   bool   // this recipient is a co-unit (协办) of the item
	Deadline                 string // formatted by the caller, e.g. "2026年9月28日(星期一)24时前"
	Limit                    string // hard limit in the same form, "" if none
	Schedule                 string // for recurring items, e.g. "每周四12:00前", "" otherwise
	Provisional              bool   // Deadline or Limit is provisional (marked 暂定, SPEC §3); the templates explain it
	OverdueDays              int    // working days overdue (0 if not overdue)
	Late                     bool   // sent late after daemon downtime (catch-up)
	Note                     string // extra text, e.g. a failure reason
}

// levels maps each Level to its subject tag and its action hint.
var levels = map[string]struct{ name, hint string }{
	"assigned":   {"督办通知", "请按要求抓紧办理，并在办理时限前报送办理结果。"},
	"reassigned": {"改派通知", "请将已有的办理材料及时移交上述责任单位；此后本事项的通知将发给该单位。"},
	"reminder":   {"到期提醒", "该事项即将到期，请抓紧办理。"},
	"due":        {"今日到期", "该事项今日到期，请于时限前报送办理结果。"},
	// The due notice sent before the last day: for a deadline at or
	// before send_time (明日到期), or one on a day off (即将到期).
	"due_tomorrow": {"明日到期", "该事项明日到期，请于时限前报送办理结果。"},
	"due_soon":     {"即将到期", "该事项即将到期，请于时限前报送办理结果。"},
	"overdue":      {"逾期催办", "该事项已超过办理时限，请立即办理并书面说明逾期原因。"},
	"escalation":   {"问责预警", "该事项已超过最迟时限，已同时报告分管领导。"},
	"sheet":        {"督办事项通知单", "现发出督办事项通知单（见附件），请于限期内办结并书面报送办理结果；逾期未办结的，将按规定问责。"},
	"failure":      {"邮件投递失败", "请核实该单位的收件邮箱地址，更正后重新发送。"},
}

// levelOrder lists the levels in increasing urgency, failure last.
var levelOrder = []string{"assigned", "reassigned", "reminder", "due_soon", "due_tomorrow", "due", "overdue", "escalation", "sheet", "failure"}

// renderData is what the templates see: the Digest plus counts.
type renderData struct {
	Digest
	Count        int  // len(Entries)
	Corrected    int  // len(Corrections)
	OverdueCount int  // entries overdue or escalated
	FailureOnly  bool // every entry is a delivery-failure report
}

// funcs are available to every template.
var funcs = map[string]any{
	"levelName": func(level string) string { return levels[level].name },
	"levelHint": func(level string) string { return levels[level].hint },
	"cnIndex":   cnIndex,
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return formatDate(t)
	},
}

// Renderer renders digests with parsed zh-CN templates. It is safe for
// concurrent use.
type Renderer struct {
	subject *ttemplate.Template
	text    *ttemplate.Template
	html    *htemplate.Template
}

// NewRenderer parses the built-in templates, then replaces any of them with a
// file of the same name in dir, if dir is not empty: digest.subject.tmpl,
// digest.txt.tmpl (text/template) and digest.html.tmpl (html/template). Any
// other file in dir is an error, and so is a template that fails to parse or
// to render a sample digest; the error names the file.
func NewRenderer(dir string) (*Renderer, error) {
	src := make(map[string]string, len(templateNames))
	origin := make(map[string]string, len(templateNames))
	for _, name := range templateNames {
		b, err := builtinTemplates.ReadFile("templates/" + name)
		if err != nil {
			return nil, fmt.Errorf("built-in template %s: %w", name, err)
		}
		src[name], origin[name] = string(b), "built-in templates/"+name
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("template dir: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if !slices.Contains(templateNames, e.Name()) || e.IsDir() {
				return nil, fmt.Errorf("template dir: unknown file %s (allowed: %s)", path, strings.Join(templateNames, ", "))
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("template: %w", err)
			}
			src[e.Name()], origin[e.Name()] = string(b), path
		}
	}

	r := &Renderer{}
	var err error
	if r.subject, err = ttemplate.New(subjectTemplate).Funcs(funcs).Option("missingkey=error").Parse(src[subjectTemplate]); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", origin[subjectTemplate], err)
	}
	if r.text, err = ttemplate.New(textTemplate).Funcs(funcs).Option("missingkey=error").Parse(src[textTemplate]); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", origin[textTemplate], err)
	}
	if r.html, err = htemplate.New(htmlTemplate).Funcs(funcs).Option("missingkey=error").Parse(src[htmlTemplate]); err != nil {
		return nil, fmt.Errorf("parse template %s: %w", origin[htmlTemplate], err)
	}
	// Field names are checked only when a template runs: run them now, so a
	// typo fails start-up rather than the 09:00 send.
	for _, d := range sampleDigests() {
		if _, err := execute(r.subject, d); err != nil {
			return nil, fmt.Errorf("template %s: %w", origin[subjectTemplate], err)
		}
		if _, err := execute(r.text, d); err != nil {
			return nil, fmt.Errorf("template %s: %w", origin[textTemplate], err)
		}
		if _, err := execute(r.html, d); err != nil {
			return nil, fmt.Errorf("template %s: %w", origin[htmlTemplate], err)
		}
	}
	return r, nil
}

// Render returns the subject, plain-text body and HTML body for d. The
// subject is one line (at most 200 characters); the text body has no trailing
// spaces and no runs of blank lines. d must have at least one entry or
// correction, each entry with a known Level.
func (r *Renderer) Render(d Digest) (subject, text, html string, err error) {
	if len(d.Entries) == 0 && len(d.Corrections) == 0 {
		return "", "", "", fmt.Errorf("render digest for %s: no entries", d.To.Address)
	}
	for i, e := range d.Entries {
		if _, ok := levels[e.Level]; !ok {
			return "", "", "", fmt.Errorf("render digest for %s: entry %d (%s): unknown level %q", d.To.Address, i, e.InstanceID, e.Level)
		}
	}
	data := newRenderData(d)
	if subject, err = execute(r.subject, data); err != nil {
		return "", "", "", fmt.Errorf("render subject: %w", err)
	}
	if text, err = execute(r.text, data); err != nil {
		return "", "", "", fmt.Errorf("render text: %w", err)
	}
	if html, err = execute(r.html, data); err != nil {
		return "", "", "", fmt.Errorf("render html: %w", err)
	}
	return normalizeSubject(subject), tidyText(text), html, nil
}

// newRenderData computes the counts the templates use.
func newRenderData(d Digest) renderData {
	data := renderData{Digest: d, Count: len(d.Entries), Corrected: len(d.Corrections), FailureOnly: len(d.Entries) > 0}
	for _, e := range d.Entries {
		if e.OverdueDays > 0 || e.Level == "overdue" || e.Level == "escalation" {
			data.OverdueCount++
		}
		if e.Level != "failure" {
			data.FailureOnly = false
		}
	}
	return data
}

// execute runs t on data and returns the output.
func execute[T interface {
	*ttemplate.Template | *htemplate.Template
}](t T, data any) (string, error) {
	var b strings.Builder
	var err error
	switch t := any(t).(type) {
	case *ttemplate.Template:
		err = t.Execute(&b, data)
	case *htemplate.Template:
		err = t.Execute(&b, data)
	}
	return b.String(), err
}

// tidyText trims trailing spaces on each line, collapses runs of blank lines
// into one, trims blank lines at both ends, and ends with one newline.
func tidyText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" && (len(out) == 0 || out[len(out)-1] == "") {
			continue
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n") + "\n"
}

// cnIndex renders a 0-based index as a Chinese ordinal: 0 → 一, 9 → 十,
// 10 → 十一, 20 → 二十一; from 99 on it uses Arabic digits.
func cnIndex(i int) string {
	const digits = "〇一二三四五六七八九"
	d := []rune(digits)
	n := i + 1
	switch {
	case n <= 0 || n >= 100:
		return fmt.Sprint(n)
	case n < 10:
		return string(d[n])
	case n == 10:
		return "十"
	case n < 20:
		return "十" + string(d[n%10])
	case n%10 == 0:
		return string(d[n/10]) + "十"
	default:
		return string(d[n/10]) + "十" + string(d[n%10])
	}
}

// sampleDigests exercise every field and level, for the start-up check.
func sampleDigests() []renderData {
	at := time.Date(2026, 9, 29, 9, 0, 0, 0, time.UTC)
	var entries []Entry
	for _, level := range levelOrder {
		entries = append(entries, Entry{
			Level: level, InstanceID: "sample-1", Title: "示例事项", Doc: "示例〔2026〕1号",
			Requirements: "示例要求", Unit: "示例单位", CoUnit: true,
			Deadline: FormatDeadline(at, false, "24:00") + ProvisionalMark, Limit: FormatDeadline(at, true, ""),
			Schedule: "每周四12:00前", Provisional: true, OverdueDays: 2, Late: true, Note: "示例备注",
		})
	}
	corr := []Correction{{InstanceID: "sample-1", Title: "示例事项", Unit: "示例单位", CoUnit: true,
		Deadline: FormatDeadline(at, false, "24:00"), OldDeadline: FormatDeadline(at.AddDate(0, 0, -1), false, "24:00"),
		Limit: FormatDeadline(at, true, ""), OldLimit: FormatDeadline(at.AddDate(0, 0, -1), true, "")}}
	full := Digest{OfficeName: "示例督查室", OfficeEmail: "office@example.gov.cn",
		To: mail.Address{Name: "示例单位", Address: "unit@example.gov.cn"}, Entries: entries, Corrections: corr, Generated: at}
	bare := Digest{Entries: []Entry{{Level: "assigned", Title: "示例事项"}}}
	failure := Digest{Entries: []Entry{{Level: "failure"}, {Level: "failure"}}}
	corrOnly := Digest{Corrections: append(corr, Correction{Title: "示例事项二", Deadline: "示例时限"})}
	corrOne := Digest{Corrections: corr}
	return []renderData{newRenderData(full), newRenderData(bare), newRenderData(failure), newRenderData(corrOnly), newRenderData(corrOne)}
}

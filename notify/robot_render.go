package notify

import (
	"fmt"
	"strings"
)

// A group message is built once as lines of segments and then written
// in each vendor's format: 钉钉 and 企业微信 markdown, 飞书 rich text.

// seg is a piece of a line: text, optionally bold, or an @ of a person.
type seg struct {
	text string
	bold bool
	at   *Mention
}

type rline []seg

func txt(s string) seg  { return seg{text: s} }
func bold(s string) seg { return seg{text: s, bold: true} }

// mentioned reports whether an entry of this level @-s the unit's head:
// overdue and escalation notices (SPEC §13), and the notice carrying a
// 督办事项通知单 (SPEC §15), which ranks with escalation.
func mentioned(level string) bool {
	return level == "overdue" || level == "escalation" || level == "sheet"
}

// robotTitle is the message title: level summary, count, part, keyword.
func robotTitle(r *Robot, d *RobotDigest, idx []int, k, n int) string {
	var t string
	switch {
	case d.Test:
		t = "督办系统测试消息"
	default:
		t = fmt.Sprintf("督办提醒：%d项", len(d.Entries))
		if u := countUrgent(d); u > 0 {
			t = fmt.Sprintf("督办提醒：%d项，其中逾期%d项", len(d.Entries), u)
		}
		if n > 1 {
			t += fmt.Sprintf("（%d/%d）", k, n)
		}
	}
	if r.Keyword != "" && !strings.Contains(t, r.Keyword) {
		t = "【" + r.Keyword + "】" + t
	}
	return t
}

func countUrgent(d *RobotDigest) int {
	c := 0
	for _, e := range d.Entries {
		if mentioned(e.Level) {
			c++
		}
	}
	return c
}

// entryLines renders entry i: its heading line, then one line per fact.
func entryLines(i int, e RobotEntry) (head rline, facts []rline) {
	name := levels[e.Level].name
	if e.Level == "correction" {
		name = "更正"
	}
	if name == "" {
		name = e.Level
	}
	h := fmt.Sprintf("%d.【%s】%s", i+1, name, e.Title)
	if e.Late {
		h += "（补发）"
	}
	head = rline{bold(h)}
	add := func(label, v string) {
		if v != "" {
			facts = append(facts, rline{txt(label + "：" + v)})
		}
	}
	add("文号", e.Doc)
	unit := e.Unit
	if unit != "" && e.CoUnit {
		unit += "（协办）"
	}
	add("责任单位", unit)
	add("办理时限", e.Deadline)
	add("最迟时限", e.Limit)
	add("报送安排", e.Schedule)
	if e.OverdueDays > 0 {
		add("逾期情况", fmt.Sprintf("已逾期%d个工作日", e.OverdueDays))
	}
	add("备注", e.Note)
	if mentioned(e.Level) && e.Head != nil && (e.Head.Name != "" || e.Head.Mobile != "" || e.Head.UserID != "") {
		facts = append(facts, rline{txt("请"), seg{at: e.Head}, txt("督促办理。")})
	}
	return head, facts
}

// footerLines say how the unit reports back and link the read-only page.
func footerLines(r *Robot, d *RobotDigest) []rline {
	var out []rline
	if d.Test {
		out = append(out, rline{txt(fmt.Sprintf("这是群机器人 %s 的测试消息：收到即表示%s群机器人配置正确，今后督办提醒将发到本群。", r.Name, VendorName(r.Kind)))})
	} else {
		out = append(out, rline{txt("各单位负责人请通过督办邮件（或邮件中的链接）报送办理情况；群消息不含办理链接。")})
		if d.Link != "" {
			out = append(out, rline{txt("查看督办事项（只读）：" + d.Link)})
		}
	}
	sign := d.OfficeName
	if sign == "" {
		sign = "督查室"
	}
	if !d.Generated.IsZero() {
		sign += " " + formatDate(d.Generated)
	}
	return append(out, rline{txt(sign)})
}

// markdownLine writes l as markdown; at says how to write an @.
func markdownLine(l rline, at func(*Mention) string) string {
	var b strings.Builder
	for _, s := range l {
		switch {
		case s.at != nil:
			b.WriteString(at(s.at))
		case s.bold:
			b.WriteString("**" + mdEscape(s.text) + "**")
		default:
			b.WriteString(mdEscape(s.text))
		}
	}
	return b.String()
}

// mdEscape keeps text from opening markdown structure: a leading # or
// > and the emphasis and link characters.
func mdEscape(s string) string {
	r := strings.NewReplacer("*", "＊", "[", "［", "]", "］", "`", "｀", "<", "＜", ">", "＞", "\n", " ", "\r", " ")
	s = r.Replace(s)
	if strings.HasPrefix(s, "#") {
		s = "＃" + s[1:]
	}
	return s
}

// markdownText writes title, entries and footer as one markdown text.
func markdownText(r *Robot, d *RobotDigest, idx []int, k, n int, heading string, at func(*Mention) string) string {
	var b strings.Builder
	b.WriteString(heading + mdEscape(robotTitle(r, d, idx, k, n)) + "\n")
	for _, i := range idx {
		head, facts := entryLines(i, d.Entries[i])
		b.WriteString("\n" + markdownLine(head, at) + "\n")
		for _, f := range facts {
			b.WriteString("> " + markdownLine(f, at) + "\n")
		}
	}
	b.WriteString("\n")
	for _, f := range footerLines(r, d) {
		b.WriteString(markdownLine(f, at) + "\n\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// mentions are the heads @-ed by the entries idx, once each.
func mentions(d *RobotDigest, idx []int) []*Mention {
	var out []*Mention
	seen := map[string]bool{}
	for _, i := range idx {
		e := d.Entries[i]
		if !mentioned(e.Level) || e.Head == nil {
			continue
		}
		k := e.Head.Name + "|" + e.Head.Mobile + "|" + e.Head.UserID
		if !seen[k] {
			seen[k] = true
			out = append(out, e.Head)
		}
	}
	return out
}

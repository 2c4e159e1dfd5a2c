// Package sheetdoc renders a 督办事项通知单 (SPEC §15) as a Word file
// (.docx, A4, 红头) and as an HTML page that prints on one A4 page. Both
// come from the same View.
package sheetdoc

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"duban/tracker"
)

// Title is the document's title.
const Title = "督办事项通知单"

// View is what a sheet shows, every field already in words.
type View struct {
	Office     string // 红头 and signature: the office's name
	Number     string // 督〔2026〕3号
	Grade      string // 黄
	GradeLabel string // 重点督办
	Unit       string // 承办单位 (name)
	Matter     string // 督办事项: the item's title
	Doc        string // 文号
	Original   string // 原定办理时限
	Overdue    string // 逾期情况: 已逾期3个工作日 / 未逾期
	Demand     string // 督办要求
	Limit      string // 限期
	Contact    string // 联系人
	Date       string // 2026年10月12日, the issue day
	Withdrawn  bool
}

// Rows are the table's rows, label then value, in the order of SPEC §15.
func (v View) Rows() [][2]string {
	return [][2]string{
		{"督办事项", v.Matter},
		{"文号", cmp.Or(v.Doc, "—")},
		{"承办单位", v.Unit},
		{"原定办理时限", v.Original},
		{"逾期情况", v.Overdue},
		{"督办要求", v.Demand},
		{"限期", v.Limit},
		{"联系人", v.Contact},
	}
}

// GradeLine is the line under the title: 督办等级：黄色·重点督办.
func (v View) GradeLine() string { return "督办等级：" + v.Grade + "色·" + v.GradeLabel }

// Build gathers a sheet's view from the store: the item, the unit, the
// office and the original deadline the 逾期情况 is counted from.
func Build(tx tracker.Tx, env tracker.Env, sh *tracker.Sheet) (View, error) {
	office, err := tx.Office()
	if err != nil {
		return View{}, err
	}
	v := View{Office: cmp.Or(office.Name, "督查室"), Number: sh.Number, Grade: string(sh.Grade), GradeLabel: sh.Grade.Label(),
		Unit: sh.Unit, Matter: sh.Item, Limit: limitText(sh, env), Withdrawn: sh.Withdrawn}
	issued := sh.Issued.In(env.Loc)
	v.Date = fmt.Sprintf("%d年%d月%d日", issued.Year(), int(issued.Month()), issued.Day())
	if u, err := tx.Unit(sh.Unit); err == nil {
		v.Unit = cmp.Or(u.Name, u.ID)
	} else if !errors.Is(err, tracker.ErrNotFound) {
		return View{}, err
	}
	demand := sh.Note
	if it, err := tx.Item(sh.Item); err == nil {
		v.Matter, v.Doc = cmp.Or(it.Title, it.ID), it.Doc
		if demand == "" {
			demand = it.Requirements
		}
	} else if !errors.Is(err, tracker.ErrNotFound) {
		return View{}, err
	}
	v.Demand = cmp.Or(demand, "请于限期内办结，并将办理结果书面报送"+v.Office+"。")
	in, err := tx.Instance(sh.ID)
	if err != nil {
		return View{}, err
	}
	orig := in.Deadline
	if in.Original != nil {
		orig = *in.Original
	}
	v.Original = humanDay(orig, env)
	v.Overdue = "未逾期"
	if !sh.Issued.Before(orig.Due) {
		n := max(env.Cal.WorkdaysBetween(orig.LastDay, env.Today(sh.Issued)), 1)
		v.Overdue = fmt.Sprintf("已逾期%d个工作日", n)
	}
	v.Contact = v.Office
	if office.Email != "" {
		v.Contact += "（" + office.Email + "）"
	}
	return v, nil
}

// limitText is the 限期 in words: 2026年10月15日24时前（3个工作日）.
func limitText(sh *tracker.Sheet, env tracker.Env) string {
	s := humanDay(sh.Limit, env) + "前"
	if r, err := tracker.ParseRule(sh.Within); err == nil && r.Kind == tracker.RuleWorkdays {
		s += fmt.Sprintf("（%d个工作日内）", r.N)
	}
	return s
}

// humanDay writes a deadline as 2026年10月15日24时 (or 17:30, or the exact
// instant of a timed deadline).
func humanDay(dl tracker.Deadline, env tracker.Env) string {
	if dl.Timed {
		t := dl.Due.In(env.Loc)
		return fmt.Sprintf("%d年%d月%d日%s", t.Year(), int(t.Month()), t.Day(), t.Format("15:04"))
	}
	d := dl.LastDay
	end := env.DayEnd.String()
	if strings.HasSuffix(end, ":00") {
		end = strings.TrimPrefix(strings.TrimSuffix(end, ":00"), "0") + "时"
	}
	s := fmt.Sprintf("%d年%d月%d日%s", d.Year, int(d.Month), d.Day, end)
	if dl.Provisional {
		s += tracker.ProvisionalMark
	}
	return s
}

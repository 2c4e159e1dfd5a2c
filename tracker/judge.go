package tracker

import (
	"fmt"
	"strings"
	"time"
)

// Mention is a unit praised or criticised in the bulletin, with why.
type Mention struct {
	Unit     string `json:"unit"`
	UnitName string `json:"unit_name"`
	Reason   string `json:"reason"`
}

// countedInstance is one instance a monthly report counted: against which
// deadline, when it was done, and how it came out (on_time, not_yet_due,
// late or overdue, with the working days late).
type countedInstance struct {
	in       *Instance
	dl       Deadline
	doneAt   time.Time
	kind     string
	lateDays int
}

// DefaultPraiseMin is the default of config report.praise_min.
const DefaultPraiseMin = 3

// Judge fills the report's 表扬 and 批评 (SPEC §15) and each unit's sheet
// count: a unit is praised when at least praiseMin of its instances fell
// due in the month and every one was handled on time; criticised when an
// instance of it was overdue at the cutoff, or a 红 sheet was issued to it
// in the month. Withdrawn sheets do not count. Instances waiting for a
// unit are neither praised nor criticised.
func (r *Report) Judge(tx Tx, env Env, praiseMin int) error {
	if praiseMin < 1 {
		praiseMin = DefaultPraiseMin
	}
	from := r.From.At(0, env.Loc)
	sheets, err := SheetsBetween(tx, from, r.Cutoff, env.Loc)
	if err != nil {
		return err
	}
	count := make(map[string]int)
	red := make(map[string][]string)
	for _, s := range sheets {
		if s.Withdrawn {
			continue
		}
		count[s.Unit]++
		if s.Grade == GradeRed {
			red[s.Unit] = append(red[s.Unit], s.Number)
		}
	}
	r.Praise, r.Criticism = []Mention{}, []Mention{}
	r.Total.Sheets = 0
	for i := range r.Units {
		u := &r.Units[i]
		u.Sheets = count[u.Unit]
		r.Total.Sheets += u.Sheets
		if u.Unit == "" {
			continue
		}
		if u.Due >= praiseMin && u.OnTime == u.Due {
			r.Praise = append(r.Praise, Mention{u.Unit, u.UnitName, fmt.Sprintf("本月应办%d件，全部按时办结", u.Due)})
		}
		var why []string
		if u.Overdue > 0 {
			why = append(why, fmt.Sprintf("%d件逾期未办结，最长逾期%d个工作日", u.Overdue, u.MaxLateWorkdays))
		}
		if n := red[u.Unit]; len(n) > 0 {
			why = append(why, "被发出红色督办事项通知单（挂牌督办）"+strings.Join(n, "、"))
		}
		if len(why) > 0 {
			r.Criticism = append(r.Criticism, Mention{u.Unit, u.UnitName, strings.Join(why, "；")})
		}
	}
	return nil
}

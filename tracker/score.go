package tracker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Scoring is the 考核评分标准 of the tracking files (`scoring:`, SPEC §15).
// Deductions are negative, bonuses positive; LateCap bounds one instance's
// late-day deductions, EarlyCap a unit's early bonus over the period.
type Scoring struct {
	Base        float64           `json:"base"`
	Overdue     float64           `json:"overdue"`      // lead unit: overdue at the cutoff or done late
	OverdueCo   float64           `json:"overdue_co"`   // co-unit (协办): the same
	LateWorkday float64           `json:"late_workday"` // each working day late
	LateCap     float64           `json:"late_cap"`     // at most this much for late days, per instance
	Returned    float64           `json:"returned"`     // each 退回重办
	Sheet       map[Grade]float64 `json:"sheet"`        // each sheet issued on the instance, by grade
	Early       float64           `json:"early"`        // done a full working day early
	EarlyCap    float64           `json:"early_cap"`    // at most this much early bonus, per unit and period
	Source      string            `json:"source,omitempty"`
}

// DefaultScoring is the standard when the tracking files give none.
func DefaultScoring() Scoring {
	return Scoring{Base: 100, Overdue: -2, OverdueCo: -1, LateWorkday: -0.2, LateCap: -5, Returned: -3,
		Sheet: map[Grade]float64{GradeBlue: -1, GradeYellow: -3, GradeRed: -5}, Early: 0.5, EarlyCap: 5}
}

// metaScoring holds the imported scoring standard (JSON).
const metaScoring = "scoring"

// StoredScoring returns the scoring standard last imported, or the default.
func StoredScoring(tx Tx) (Scoring, error) {
	b, err := tx.Meta(metaScoring)
	if err != nil || b == nil {
		return DefaultScoring(), err
	}
	s := DefaultScoring()
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("meta %s: %w", metaScoring, err)
	}
	return s, nil
}

// PutScoring stores the scoring standard (nil: back to the default).
func PutScoring(tx Tx, s *Scoring) error {
	if s == nil {
		return tx.PutMeta(metaScoring, nil)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return tx.PutMeta(metaScoring, b)
}

// ScoreItem is one deduction or bonus: the instance, the fact, the points.
type ScoreItem struct {
	ID     string  `json:"id"`
	Fact   string  `json:"fact"`
	Points float64 `json:"points"`
}

// UnitScore is one unit's score over a period and every item of it.
type UnitScore struct {
	Unit     string      `json:"unit"`
	UnitName string      `json:"unit_name"`
	Score    float64     `json:"score"`
	Items    []ScoreItem `json:"items"`
}

// round2 rounds to hundredths, so that 0.2 × 3 shows as 0.6.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

func fmtPoints(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// returnedForRework reports whether e is a 退回重办: the office rejecting
// a completion the unit reported (review --reject).
func returnedForRework(e Event) bool {
	return e.Action == "review" && (e.To == string(StatusOpen) || e.To == "reject" || e.To == "rejected")
}

// Scores computes each unit's score over the months from..to (inclusive)
// by standard sc: each month as its bulletin counts it (the instances
// whose counted deadline falls in the month, judged at the month's end or
// at now), every point an item naming its instance and fact. Units come
// in the bulletin's order; instances waiting for a unit are not scored.
func Scores(tx Tx, env Env, sc Scoring, from, to Month, now time.Time) ([]UnitScore, error) {
	var out []UnitScore
	index := make(map[string]int)
	early := make(map[string]float64)
	for m := from; !to.First().Before(m.First()); m = m.Add(1) {
		rep, err := MonthlyReport(tx, env, m, "", now)
		if err != nil {
			return nil, err
		}
		for _, u := range rep.Units {
			if _, ok := index[u.Unit]; !ok && u.Unit != "" {
				index[u.Unit] = len(out)
				out = append(out, UnitScore{Unit: u.Unit, UnitName: u.UnitName, Score: sc.Base, Items: []ScoreItem{}})
			}
		}
		if err := rep.scoreInto(tx, env, sc, out, index, early); err != nil {
			return nil, err
		}
		if !now.After(m.Add(1).First().At(0, env.Loc)) {
			break // later months have not begun
		}
	}
	for i := range out {
		sum := sc.Base
		for _, it := range out[i].Items {
			sum += it.Points
		}
		out[i].Score = round2(sum)
	}
	return out, nil
}

// MonthScores applies sc to the report's own month and sets each unit
// row's Score (the bulletin's 考核得分 column).
func (r *Report) MonthScores(tx Tx, env Env, sc Scoring) error {
	var out []UnitScore
	index := make(map[string]int)
	for _, u := range r.Units {
		if u.Unit != "" {
			index[u.Unit] = len(out)
			out = append(out, UnitScore{Unit: u.Unit, UnitName: u.UnitName})
		}
	}
	if err := r.scoreInto(tx, env, sc, out, index, make(map[string]float64)); err != nil {
		return err
	}
	for i := range r.Units {
		if j, ok := index[r.Units[i].Unit]; ok {
			sum := sc.Base
			for _, it := range out[j].Items {
				sum += it.Points
			}
			v := round2(sum)
			r.Units[i].Score = &v
		}
	}
	return nil
}

// scoreInto adds the items of the report's counted instances to out;
// early holds each unit's early bonus so far (EarlyCap bounds it).
func (r *Report) scoreInto(tx Tx, env Env, sc Scoring, out []UnitScore, index map[string]int, early map[string]float64) error {
	for _, c := range r.counted {
		j, ok := index[c.in.Unit]
		if !ok {
			continue
		}
		items := &out[j].Items
		add := func(fact string, pts float64) {
			if pts != 0 {
				*items = append(*items, ScoreItem{ID: c.in.ID, Fact: fact, Points: round2(pts)})
			}
		}
		who := "承办"
		pts := sc.Overdue
		if c.in.Co {
			who, pts = "协办", sc.OverdueCo
		}
		cutoff := r.Cutoff.In(env.Loc).Format("2006-01-02 15:04")
		if r.Complete {
			cutoff = r.To.String() + " 月末"
		}
		switch c.kind {
		case EntryOverdue:
			add(fmt.Sprintf("%s逾期未办结（期限 %s，统计至 %s）", who, c.dl.Human(env), cutoff), pts)
		case EntryLate:
			add(fmt.Sprintf("%s逾期办结（期限 %s，办结于 %s）", who, c.dl.Human(env), c.doneAt.In(env.Loc).Format("2006-01-02 15:04")), pts)
		case "on_time":
			if n := env.Cal.WorkdaysBetween(env.Today(c.doneAt), c.dl.LastDay); n >= 1 && sc.Early != 0 {
				bonus := sc.Early
				if sc.EarlyCap > 0 {
					bonus = min(bonus, sc.EarlyCap-early[c.in.Unit])
				}
				if bonus > 0 {
					early[c.in.Unit] += bonus
					fact := fmt.Sprintf("提前办结（办结于 %s，期限最后一日 %s，提前%d个工作日）", c.doneAt.In(env.Loc).Format("2006-01-02 15:04"), c.dl.LastDay, n)
					if bonus < sc.Early {
						fact += fmt.Sprintf("，加分已达上限 %s", fmtPoints(sc.EarlyCap))
					}
					add(fact, bonus)
				}
			}
		}
		if c.kind == EntryOverdue || c.kind == EntryLate {
			late := float64(c.lateDays) * sc.LateWorkday
			fact := fmt.Sprintf("逾期%d个工作日，每个工作日 %s", c.lateDays, fmtPoints(sc.LateWorkday))
			if sc.LateCap < 0 && late < sc.LateCap {
				late = sc.LateCap
				fact += fmt.Sprintf("，扣分以 %s 为限", fmtPoints(sc.LateCap))
			}
			add(fact, late)
		}
		evs, err := tx.Events(c.in.ID)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if returnedForRework(e) {
				add("退回重办（"+e.At.In(env.Loc).Format("2006-01-02 15:04")+"）", sc.Returned)
			}
		}
		if c.in.Sheets > 0 {
			ss, err := sheetsOfInstance(tx, c.in, env)
			if err != nil {
				return err
			}
			for _, s := range ss {
				if !s.Withdrawn {
					add(fmt.Sprintf("督办事项通知单 %s（%s色·%s）", s.Number, s.Grade, s.Grade.Label()), sc.Sheet[s.Grade])
				}
			}
		}
	}
	return nil
}

// sheetsOfInstance returns the sheets issued on in, from its history.
func sheetsOfInstance(tx Tx, in *Instance, env Env) ([]Sheet, error) {
	years := map[int]bool{}
	evs, err := tx.Events(in.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		if e.Action == "sheet" {
			years[e.At.In(env.Loc).Year()] = true
		}
	}
	var out []Sheet
	for y := range years {
		ss, err := SheetsOf(tx, y)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			if s.ID == in.ID {
				out = append(out, s)
			}
		}
	}
	slices.SortFunc(out, func(a, b Sheet) int { return cmp.Or(cmp.Compare(a.Year, b.Year), cmp.Compare(a.Seq, b.Seq)) })
	return out, nil
}

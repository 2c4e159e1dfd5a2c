package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"duban/tracker"
)

// ScoreReport is the 考核 of a period: each unit's score by the scoring
// standard and every item of it.
type ScoreReport struct {
	Office   string
	From, To tracker.Month
	Scoring  tracker.Scoring
	Units    []tracker.UnitScore
}

// LoadScores computes the scores of the months from..to as of now by the
// stored scoring standard.
func LoadScores(tx tracker.Tx, env tracker.Env, from, to tracker.Month, now time.Time) (*ScoreReport, error) {
	office, err := tx.Office()
	if err != nil {
		return nil, err
	}
	sc, err := tracker.StoredScoring(tx)
	if err != nil {
		return nil, err
	}
	units, err := tracker.Scores(tx, env, sc, from, to, now)
	if err != nil {
		return nil, err
	}
	return &ScoreReport{Office: cmp.Or(office.Name, "督查室"), From: from, To: to, Scoring: sc, Units: units}, nil
}

// Title is e.g. 2026年10月督办工作考核得分 or 2026年10月至12月….
func (r *ScoreReport) Title() string {
	p := r.From.Chinese()
	if r.To != r.From {
		p += "至" + r.To.Chinese()
	}
	return p + "督办工作考核得分"
}

func formatPoints(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if v > 0 {
		s = "+" + s
	}
	return s
}

// StandardText is the scoring standard in words, for footers.
func StandardText(sc tracker.Scoring) string {
	return fmt.Sprintf("基础分%s；承办单位逾期（月末未办结或逾期办结）每件%s，协办单位每件%s；每逾期一个工作日%s，每件以%s为限；"+
		"退回重办每次%s；督办事项通知单 蓝%s、黄%s、红%s；提前一个工作日以上办结每件%s，每单位加分以%s为限。",
		strconv.FormatFloat(sc.Base, 'f', -1, 64), formatPoints(sc.Overdue), formatPoints(sc.OverdueCo), formatPoints(sc.LateWorkday),
		formatPoints(sc.LateCap), formatPoints(sc.Returned), formatPoints(sc.Sheet[tracker.GradeBlue]), formatPoints(sc.Sheet[tracker.GradeYellow]),
		formatPoints(sc.Sheet[tracker.GradeRed]), formatPoints(sc.Early), formatPoints(sc.EarlyCap))
}

// WriteJSON writes the array of {unit, unit_name, score, items}.
func (r *ScoreReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	units := r.Units
	if units == nil {
		units = []tracker.UnitScore{}
	}
	return enc.Encode(units)
}

// WriteTable writes the scores, then every item by unit, then the standard.
func (r *ScoreReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s\n%s\n\n", r.Title(), r.Office)
	rw := NewRowWriter(w, "table", []string{"单位", "得分", "扣分", "加分"})
	for _, u := range r.Units {
		minus, plus := Totals(u)
		rw.Row(nil, []string{u.UnitName, strconv.FormatFloat(u.Score, 'f', -1, 64), minus, plus})
	}
	if err := rw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n扣分与加分明细\n")
	rw = NewRowWriter(w, "table", []string{"单位", "事项", "事实", "分值"})
	for _, u := range r.Units {
		for _, it := range u.Items {
			rw.Row(nil, []string{u.UnitName, it.ID, it.Fact, formatPoints(it.Points)})
		}
	}
	if err := rw.Close(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n评分标准：%s\n", StandardText(r.Scoring))
	return err
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// Totals are a unit's deductions and bonuses summed, as the table shows
// them: "-24.6", "+0.5", "0".
func Totals(u tracker.UnitScore) (minus, plus string) {
	m, p := 0.0, 0.0
	for _, it := range u.Items {
		if it.Points < 0 {
			m += it.Points
		} else {
			p += it.Points
		}
	}
	return formatPoints(round2(m)), formatPoints(round2(p))
}

// FormatPoints shows points with their sign: "-2", "+0.5", "0".
func FormatPoints(v float64) string { return formatPoints(v) }

// WriteXLSX writes two sheets, 考核得分 and 扣分加分明细, and the standard.
func (r *ScoreReport) WriteXLSX(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	const scores, items = "考核得分", "扣分加分明细"
	if err := f.SetSheetName("Sheet1", scores); err != nil {
		return err
	}
	if _, err := f.NewSheet(items); err != nil {
		return err
	}
	set := func(sheet string, row int, vals ...any) error {
		for c, v := range vals {
			ref, _ := excelize.CoordinatesToCellName(c+1, row)
			if err := f.SetCellValue(sheet, ref, v); err != nil {
				return err
			}
		}
		return nil
	}
	if err := set(scores, 1, "单位", "得分"); err != nil {
		return err
	}
	for i, u := range r.Units {
		if err := set(scores, i+2, u.UnitName, u.Score); err != nil {
			return err
		}
	}
	if err := set(scores, len(r.Units)+3, "评分标准", StandardText(r.Scoring)); err != nil {
		return err
	}
	if err := set(items, 1, "单位", "事项", "事实", "分值"); err != nil {
		return err
	}
	row := 2
	for _, u := range r.Units {
		for _, it := range u.Items {
			if err := set(items, row, u.UnitName, it.ID, it.Fact, it.Points); err != nil {
				return err
			}
			row++
		}
	}
	for _, s := range []struct {
		name   string
		widths []float64
	}{{scores, []float64{24, 12}}, {items, []float64{24, 30, 80, 10}}} {
		for c, wd := range s.widths {
			col, _ := excelize.ColumnNumberToName(c + 1)
			if err := f.SetColWidth(s.name, col, col, wd); err != nil {
				return err
			}
		}
	}
	f.SetActiveSheet(0)
	return f.Write(w)
}

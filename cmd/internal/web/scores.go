package web

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"duban/cmd/internal/report"
	"duban/tracker"
)

// scoresView is the 考核 page: each unit's score over the period, and
// with ?unit= every deduction and bonus of that unit with its instance
// and fact (the figures of `duban report --kind score`).
type scoresView struct {
	From, To  string
	Title     string
	Office    string
	Months    []string
	Units     []scoreRow
	Unit      *scoreRow // the drill-down
	Standard  string
	Query     string // from=…&to=… for the links
	CanExport bool
}

type scoreRow struct {
	Unit, Name, Score, Minus, Plus string
	Items                          []scoreItem
}

type scoreItem struct {
	ID, Fact, Points string
	Minus            bool
}

// scores loads the report of ?from=YYYY-MM&to=YYYY-MM (default last
// month), keeping the units acc sees; the int is the HTTP status of an
// error.
func (s *Server) scores(r *http.Request, acc *tracker.Account) (*report.ScoreReport, int, error) {
	x := s.d.Expander()
	now := s.d.Now()
	from := tracker.MonthOf(x.Env.Today(now)).Add(-1)
	var err error
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = tracker.ParseMonth(v); err != nil {
			return nil, http.StatusBadRequest, err
		}
	}
	to := from
	if v := r.URL.Query().Get("to"); v != "" {
		if to, err = tracker.ParseMonth(v); err != nil {
			return nil, http.StatusBadRequest, err
		}
	}
	if to.First().Before(from.First()) {
		return nil, http.StatusBadRequest, errors.New("截止月份早于起始月份")
	}
	var doc *report.ScoreReport
	err = s.d.Store().View(func(tx tracker.Tx) error {
		if doc, err = report.LoadScores(tx, x.Env, from, to, now); err != nil {
			return err
		}
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		kept := doc.Units[:0:0]
		for _, u := range doc.Units {
			if sc.sees(u.Unit) {
				kept = append(kept, u)
			}
		}
		doc.Units = kept
		return nil
	})
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return doc, 0, nil
}

// scoresPage is GET /scores.
func (s *Server) scoresPage(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	doc, code, err := s.scores(r, acc)
	if err != nil {
		s.reportError(w, r, code, err)
		return
	}
	today := s.d.Expander().Env.Today(s.d.Now())
	v := scoresView{From: doc.From.String(), To: doc.To.String(), Title: doc.Title(), Office: doc.Office,
		Standard: report.StandardText(doc.Scoring), Query: "from=" + doc.From.String() + "&to=" + doc.To.String(), CanExport: acc.Role != tracker.RoleUnit}
	for i := range 12 {
		v.Months = append(v.Months, tracker.MonthOf(today).Add(-i).String())
	}
	want := r.URL.Query().Get("unit")
	for _, u := range doc.Units {
		row := scoreRow{Unit: u.Unit, Name: u.UnitName, Score: strconv.FormatFloat(u.Score, 'f', -1, 64)}
		row.Minus, row.Plus = report.Totals(u)
		for _, it := range u.Items {
			row.Items = append(row.Items, scoreItem{ID: it.ID, Fact: it.Fact, Points: report.FormatPoints(it.Points), Minus: it.Points < 0})
		}
		v.Units = append(v.Units, row)
		if u.Unit == want {
			v.Unit = &v.Units[len(v.Units)-1]
		}
	}
	if want != "" && v.Unit == nil {
		http.Error(w, "没有这个单位的考核得分", http.StatusNotFound)
		return
	}
	s.render(w, r, http.StatusOK, "scores", acc, v)
}

// scoresDownload is GET /scores.xlsx: the report's two sheets (scores,
// items) and the standard; not for unit accounts.
func (s *Server) scoresDownload(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	if acc.Role == tracker.RoleUnit {
		http.Error(w, "无权下载考核表", http.StatusForbidden)
		return
	}
	doc, code, err := s.scores(r, acc)
	if err != nil {
		s.reportError(w, r, code, err)
		return
	}
	var buf bytes.Buffer
	if err := doc.WriteXLSX(&buf); err != nil {
		s.serverError(w, r, err)
		return
	}
	attach(w, doc.Title()+".xlsx", "xlsx")
	w.Write(buf.Bytes())
}

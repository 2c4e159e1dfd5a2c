package web

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"

	"duban/cmd/internal/report"
	"duban/tracker"
	"duban/tracker/ledger"
)

type reportsView struct {
	Month, Week string
	Months      []string
	CanLedger   bool
}

// reportsPage links the bulletin (this month and the past ones), the
// weekly summary, and the downloads.
func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	x := s.d.Expander()
	today := x.Env.Today(s.d.Now())
	m := tracker.MonthOf(today).Add(-1)
	v := reportsView{Month: m.String(), Week: report.ISOWeek(report.WeekMonday(today)), CanLedger: acc.Role != tracker.RoleUnit}
	for i := range 12 {
		v.Months = append(v.Months, tracker.MonthOf(today).Add(-i).String())
	}
	s.render(w, r, http.StatusOK, "reports", acc, v)
}

// bulletin loads the monthly bulletin of ?month= (default: last month);
// a unit account sees its unit's.
func (s *Server) bulletin(r *http.Request, acc *tracker.Account) (*report.Bulletin, int, error) {
	x := s.d.Expander()
	now := s.d.Now()
	m := tracker.MonthOf(x.Env.Today(now)).Add(-1)
	if v := r.URL.Query().Get("month"); v != "" {
		var err error
		if m, err = tracker.ParseMonth(v); err != nil {
			return nil, http.StatusBadRequest, err
		}
	}
	unit := ""
	if acc.Role == tracker.RoleUnit {
		unit = acc.Unit
	}
	var doc *report.Bulletin
	err := s.d.Store().View(func(tx tracker.Tx) (err error) {
		doc, err = report.LoadBulletin(tx, x.Env, m, unit, now, s.d.Config().Report.PraiseMin)
		return err
	})
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return doc, 0, nil
}

// bulletinPage is the bulletin with its chart: the report's own HTML
// (the one mailed), under a CSP that allows its inline style only.
func (s *Server) bulletinPage(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	doc, code, err := s.bulletin(r, acc)
	if err != nil {
		s.reportError(w, r, code, err)
		return
	}
	var buf bytes.Buffer
	if err := doc.WriteHTML(&buf); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", reportCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// weeklyPage is the weekly summary (每周综合报告) of ?week=YYYY-Www
// (default: this week).
func (s *Server) weeklyPage(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	if acc.Role == tracker.RoleUnit {
		http.Error(w, "无权查看工作周报", http.StatusForbidden)
		return
	}
	x := s.d.Expander()
	now := s.d.Now()
	monday := report.WeekMonday(x.Env.Today(now))
	if v := r.URL.Query().Get("week"); v != "" {
		var err error
		if monday, err = report.ParseISOWeek(v); err != nil {
			s.reportError(w, r, http.StatusBadRequest, err)
			return
		}
	}
	var buf bytes.Buffer
	err := s.d.Store().View(func(tx tracker.Tx) error {
		wk, err := report.LoadWeekly(tx, x, monday, now)
		if err != nil {
			return err
		}
		return wk.WriteHTML(&buf)
	})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", reportCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// download passes the file format of a download route to h.
func (s *Server) download(h func(w http.ResponseWriter, r *http.Request, acc *tracker.Account, format string), format string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, acc *tracker.Account) { h(w, r, acc, format) }
}

// bulletinDownload is bulletin.xlsx or bulletin.html.
func (s *Server) bulletinDownload(w http.ResponseWriter, r *http.Request, acc *tracker.Account, format string) {
	doc, code, err := s.bulletin(r, acc)
	if err != nil {
		s.reportError(w, r, code, err)
		return
	}
	var buf bytes.Buffer
	if format == "xlsx" {
		err = doc.WriteXLSX(&buf)
	} else {
		err = doc.WriteHTML(&buf)
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	attach(w, doc.Month.Chinese()+"督办通报."+format, format)
	w.Write(buf.Bytes())
}

// ledgerDownload is the ledger (督办台账) as ledger.xlsx or ledger.csv,
// every instance the account sees; not for unit accounts.
func (s *Server) ledgerDownload(w http.ResponseWriter, r *http.Request, acc *tracker.Account, format string) {
	if acc.Role == tracker.RoleUnit {
		http.Error(w, "无权下载台账", http.StatusForbidden)
		return
	}
	x := s.d.Expander()
	now := s.d.Now()
	var buf bytes.Buffer
	err := s.d.Store().View(func(tx tracker.Tx) error {
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if !sc.all {
			return errLeaderLedger
		}
		if format == "csv" {
			cw, err := ledger.NewCSV(&buf)
			if err != nil {
				return err
			}
			if _, err := ledger.Export(tx, x, ledger.Filter{}, now, cw); err != nil {
				return err
			}
			return cw.Close()
		}
		xw, err := ledger.NewXLSX()
		if err != nil {
			return err
		}
		defer xw.Close()
		if _, err := ledger.Export(tx, x, ledger.Filter{}, now, xw); err != nil {
			return err
		}
		_, err = xw.WriteTo(&buf)
		return err
	})
	if errors.Is(err, errLeaderLedger) {
		http.Error(w, "台账仅供督查室下载", http.StatusForbidden)
		return
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	attach(w, "督办台账-"+now.In(x.Env.Loc).Format("20060102")+"."+format, format)
	w.Write(buf.Bytes())
}

var errLeaderLedger = errors.New("ledger: office roles only")

var contentTypes = map[string]string{
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"csv":  "text/csv; charset=utf-8",
	"html": "text/html; charset=utf-8",
	"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

// attach marks the answer a download named name (RFC 6266 filename*).
func attach(w http.ResponseWriter, name, format string) {
	w.Header().Set("Content-Type", contentTypes[format])
	w.Header().Set("Content-Disposition", `attachment; filename="duban.`+format+`"; filename*=UTF-8''`+url.PathEscape(name))
	w.Header().Set("Content-Security-Policy", reportCSP)
}

func (s *Server) reportError(w http.ResponseWriter, r *http.Request, code int, err error) {
	if code == http.StatusBadRequest {
		http.Error(w, "参数无效："+err.Error(), code)
		return
	}
	s.serverError(w, r, err)
}

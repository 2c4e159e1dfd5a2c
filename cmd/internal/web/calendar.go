package web

import (
	"errors"
	"net/http"
	"strconv"

	"duban/cmd/internal/calendar"
	"duban/tracker"
	"duban/tracker/calnotice"
)

// calendarView is the 工作日历 page: the year's grid for everyone; for
// office roles the notice form, and after 预览 what the notice changes
// (the preview of `duban calendar import`).
type calendarView struct {
	Year, Prev, Next int
	Source           string
	Provisional      bool
	Months           []calendar.Month
	Blocks           []calendar.Block
	CanImport        bool
	OK               string
	// The form and its preview.
	Notice            string
	Regional, Replace bool
	Refusals          []calnotice.Refusal
	Error             string
	Preview           *calendarPreview
}

type calendarPreview struct {
	Title, Kind string
	Warnings    []string
	Same        bool
	Sum         string
	Replaced    string
	Diff        []string
	Moves       []calendar.Move
	Resolved    int
	Corrections int
}

// calendarPage is GET /calendar?year=Y (default this year).
func (s *Server) calendarPage(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	v, err := s.calendarYear(r, acc, s.d.Expander().Env.Today(s.d.Now()).Year)
	if err != nil {
		http.Error(w, "参数无效："+err.Error(), http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("ok") != "" {
		v.OK = "通知已载入：期限已按新日历重新计算，更正随下一次发送寄出。"
	}
	s.render(w, r, http.StatusOK, "calendar", acc, v)
}

// calendarYear builds the page of ?year= (or def) on the calendar in use.
func (s *Server) calendarYear(r *http.Request, acc *tracker.Account, def int) (*calendarView, error) {
	year := def
	if y := r.FormValue("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 1949 || n > 2200 {
			return nil, errors.New("year 应为四位年份")
		}
		year = n
	}
	cal := s.d.Expander().Env.Cal
	return &calendarView{Year: year, Prev: year - 1, Next: year + 1, Source: calendar.Source(cal, year), Provisional: !cal.Known(year),
		Months: calendar.Grid(cal, year), Blocks: calendar.Blocks(calendar.DaysInEffect(cal, year)), CanImport: acc.Role.CanAct()}, nil
}

// calendarImport is POST /calendar/preview and /calendar/apply (office
// roles): the pasted notice through cmd/internal/calendar, the code of
// `duban calendar import`. A refused notice changes nothing; an applied
// one is handed to the daemon, which recomputes and mails the 更正.
func (s *Server) calendarImport(apply bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
		if !acc.Role.CanAct() {
			http.Error(w, "无权载入节假日通知："+acc.Role.Label()+"账户只能查看", http.StatusForbidden)
			return
		}
		x := s.d.Expander()
		now := s.d.Now()
		in := calendar.Import{Data: []byte(r.PostFormValue("notice")), Regional: r.PostFormValue("regional") != "",
			Replace: r.PostFormValue("replace") != "", Actor: acc.Name, At: now}
		v, err := s.calendarYear(r, acc, x.Env.Today(now).Year)
		if err != nil {
			http.Error(w, "参数无效："+err.Error(), http.StatusBadRequest)
			return
		}
		v.Notice, v.Regional, v.Replace = r.PostFormValue("notice"), in.Regional, in.Replace
		if len(in.Data) > calnotice.MaxSize {
			v.Error = "通知过长"
			s.render(w, r, http.StatusRequestEntityTooLarge, "calendar", acc, v)
			return
		}
		lowerX, err := s.d.Config().Expander() // embedded and calendar.files, without the notices
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		lower := lowerX.Env.Cal
		notice, _, err := calendar.Parse(in, x.Env.Today(now))
		if err != nil {
			s.calendarRefused(w, r, acc, v, err)
			return
		}
		if apply {
			cal, err := calendar.Apply(s.d.Store(), x, lower, s.d.Config().Location, in, now)
			if err == nil {
				err = s.d.SetCalendar(cal)
				if err != nil {
					s.serverError(w, r, err)
					return
				}
				http.Redirect(w, r, "/calendar?ok=1&year="+strconv.Itoa(notice.Year), http.StatusSeeOther)
				return
			}
			s.calendarRefused(w, r, acc, v, err)
			return
		}
		pv, err := calendar.Run(s.d.Store(), x, lower, s.d.Config().Location, in, now)
		if err != nil {
			s.calendarRefused(w, r, acc, v, err)
			return
		}
		n := pv.Plan.Notice
		p := &calendarPreview{Title: n.Title, Kind: calendar.KindText(n), Warnings: n.Warnings, Same: pv.Plan.Same,
			Moves: pv.Moves, Resolved: len(pv.Resolved), Corrections: pv.Corrections}
		if p.Title == "" {
			p.Title = strconv.Itoa(n.Year) + "年节假日安排"
		}
		if pv.Plan.Same {
			p.Sum = calendar.ShortSum(pv.Plan)
		} else {
			v.Year, v.Prev, v.Next = n.Year, n.Year-1, n.Year+1
			v.Source, v.Provisional = "预览："+p.Title+"（尚未载入）", false
			v.Months = calendar.Grid(pv.Cal, n.Year)
			v.Blocks = calendar.Blocks(pv.Plan.After)
			p.Diff = calendar.Diff(x.Env.Cal, pv.Cal, n.Year)
		}
		if rp := pv.Plan.Replaced; rp != nil {
			p.Replaced = "取代 " + s.timeText(rp.At) + " 由 " + rp.By + " 载入的" + strconv.Itoa(rp.Year) + "年通知"
		}
		v.Preview = p
		s.render(w, r, http.StatusOK, "calendar", acc, v)
	}
}

// calendarRefused shows the form again with the refusals, each quoting
// its line (422), or a --replace needed (409); other errors are 500.
func (s *Server) calendarRefused(w http.ResponseWriter, r *http.Request, acc *tracker.Account, v *calendarView, err error) {
	var ce *calnotice.Error
	var nr *calnotice.ErrNeedsReplace
	switch {
	case errors.As(err, &ce):
		v.Error = "通知无法载入，未做任何改动："
		v.Refusals = ce.Refusals
		s.render(w, r, http.StatusUnprocessableEntity, "calendar", acc, v)
	case errors.As(err, &nr):
		v.Error = strconv.Itoa(nr.Year) + "年的通知已于 " + s.timeText(nr.At) + " 由 " + nr.By + " 载入：要以这份通知取代它，请勾选“取代已载入的通知”"
		s.render(w, r, http.StatusConflict, "calendar", acc, v)
	case errors.Is(err, tracker.ErrInvalid):
		v.Error = "通知无法载入，未做任何改动：" + err.Error()
		s.render(w, r, http.StatusUnprocessableEntity, "calendar", acc, v)
	default:
		s.serverError(w, r, err)
	}
}

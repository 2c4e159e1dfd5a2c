package web

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"duban/cmd/internal/ops"
	"duban/cmd/internal/report"
	"duban/tracker"
)

type deadlineView struct {
	Label, When, Rule, Why string
	Provisional            bool
}

type historyView struct {
	At, Recorded, Action, Actor, Change, Note string
}

type planView struct {
	At, Step, Level, To string
}

type instanceView struct {
	*ops.ShowView
	StartText  string
	Deadlines  []deadlineView
	PlanRows   []planView
	HistRows   []historyView
	DoneAtText string
	Units      []option
	PlanMore   int      // notices of the plan not shown
	Forms      []string // the action forms shown
	Error, OK  string
	Form       map[string]string // the values of a refused form
	Sheet      *sheetPart        // the 督办事项通知单 issued, the form (sheets.go)
}

// planRowsShown is how many notices of the plan the page lists.
const planRowsShown = 20

// instancePage shows one instance: deadlines with their rules, plan,
// history with both times, and the action forms the account may use.
func (s *Server) instancePage(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	v, code, err := s.loadInstance(acc, r.PathValue("id"))
	if err != nil {
		s.pageError(w, r, acc, code, err)
		return
	}
	if ok := r.URL.Query().Get("ok"); ok != "" {
		v.OK = "已登记" + tracker.ActionLabel(ok)
		if ok == "sheet" {
			v.OK = "已签发督办事项通知单 " + r.URL.Query().Get("sheet")
		}
	}
	s.render(w, r, http.StatusOK, "instance", acc, v)
}

// pageError answers a page request that failed: 404 and 403 as text, the
// rest as a server error.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, acc *tracker.Account, code int, err error) {
	switch code {
	case http.StatusNotFound:
		http.Error(w, "没有这个督办事项", code)
	case http.StatusForbidden:
		http.Error(w, "无权查看或办理", code)
	default:
		s.serverError(w, r, err)
	}
}

// loadInstance builds the page of id if acc may see it; the int is the
// HTTP status of an error (404, 403, 500).
func (s *Server) loadInstance(acc *tracker.Account, id string) (*instanceView, int, error) {
	x := s.d.Expander()
	cfg := s.d.Config()
	now := s.d.Now()
	v := &instanceView{}
	code := http.StatusInternalServerError
	err := s.d.Store().View(func(tx tracker.Tx) error {
		sv, err := ops.Show(tx, x, id, now, cfg.Mail.Office)
		if errors.Is(err, tracker.ErrNotFound) {
			code = http.StatusNotFound
			return err
		}
		if err != nil {
			return err
		}
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if !sc.sees(sv.Unit) {
			code = http.StatusForbidden
			return errors.New("not in the account's scope")
		}
		v.ShowView = sv
		if acc.Role.CanAct() {
			return tx.Units(func(u *tracker.Unit) error {
				v.Units = append(v.Units, option{Value: u.ID, Label: u.Name + "（" + u.ID + "）", Selected: u.ID == sv.Unit})
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, code, err
	}
	env := x.Env
	dl := func(label string, d *tracker.Deadline) {
		if d != nil {
			v.Deadlines = append(v.Deadlines, deadlineView{Label: label, When: report.DeadlineCell(d.Human(env), d.Provisional),
				Rule: d.Rule, Why: d.Why, Provisional: d.Provisional})
		}
	}
	dl("办理时限", &v.Deadline)
	dl("原期限", v.Original)
	dl("最迟时限", v.LimitRule)
	dl("原最迟时限", v.OriginalLimit)
	v.StartText = s.timeText(v.Start)
	if v.DoneAt != nil {
		v.DoneAtText = s.timeText(*v.DoneAt)
	}
	for i, p := range v.Plan {
		if i == planRowsShown {
			v.PlanMore = len(v.Plan) - i
			break
		}
		step := strconv.Itoa(p.Step)
		if p.Rep > 0 {
			step += "#" + strconv.Itoa(p.Rep)
		}
		to := ""
		for i, a := range p.To {
			if i > 0 {
				to += "，"
			}
			to += a
		}
		v.PlanRows = append(v.PlanRows, planView{At: s.timeText(p.At), Step: step, Level: p.Level.Label(), To: to})
	}
	for _, e := range v.History {
		h := historyView{At: s.timeText(e.At), Recorded: s.timeText(e.Recorded()), Action: tracker.ActionLabel(e.Action),
			Actor: e.Actor, Note: e.Note}
		switch {
		case e.From != "" && e.To != "":
			h.Change = s.instant(e.From) + " → " + s.instant(e.To)
		case e.From != "":
			h.Change = "原 " + s.instant(e.From)
		case e.To != "":
			h.Change = "→ " + s.instant(e.To)
		}
		v.HistRows = append(v.HistRows, h)
	}
	for _, k := range ops.ActionKinds {
		if k == "review" && v.Status != tracker.StatusReview && v.ExtendRequest == nil {
			continue // nothing waits for the office's review
		}
		if mayAct(acc, k, v.Unit) {
			v.Forms = append(v.Forms, k)
		}
	}
	if v.Sheet, err = s.sheetsOf(acc, v.ID, v.Start.In(env.Loc).Year()); err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return v, 0, nil
}

// instant shows a status by its Chinese name and an RFC 3339 instant in
// the configured zone; anything else (a unit id) as it is.
func (s *Server) instant(val string) string {
	if tracker.ValidStatus(val) {
		return tracker.Status(val).Label()
	}
	t, err := time.Parse(time.RFC3339, val)
	if err != nil {
		return val
	}
	env := s.d.Expander().Env
	local := t.In(env.Loc)
	if env.DayEnd == 24*60 && local.Hour() == 0 && local.Minute() == 0 && local.Second() == 0 {
		return local.AddDate(0, 0, -1).Format("2006-01-02") + " 24:00" // a day deadline's end
	}
	return local.Format("2006-01-02 15:04")
}

// instanceAction records an action from the instance page's form, with
// the account as actor, through ops.Act (the CLI's code path), then
// shows the page again.
func (s *Server) instanceAction(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	id, kind := idAction(r)
	if kind == "sheet" {
		s.sheetAction(w, r, acc, id)
		return
	}
	req := ops.Request{Kind: kind, ID: id, Note: r.PostFormValue("note"), Reason: r.PostFormValue("reason"),
		To: r.PostFormValue("to"), Limit: r.PostFormValue("limit"), Unit: r.PostFormValue("unit"),
		Approve: r.PostFormValue("decision") == "approve", Reject: r.PostFormValue("decision") == "reject"}
	code, err := s.act(acc, &req)
	if err == nil {
		http.Redirect(w, r, "/instances/"+id+"?ok="+kind, http.StatusSeeOther)
		return
	}
	s.refused(w, r, acc, id, code, err, tracker.ActionLabel(kind)+"未登记：",
		map[string]string{"kind": kind, "note": req.Note, "reason": req.Reason, "to": req.To, "limit": req.Limit})
}

// refused answers a refused action form (code and err from the action):
// the instance page again with the error after prefix and the form's
// values, or 404/403/500 as the code says.
func (s *Server) refused(w http.ResponseWriter, r *http.Request, acc *tracker.Account, id string, code int, err error, prefix string, form map[string]string) {
	if code == http.StatusInternalServerError {
		s.serverError(w, r, err)
		return
	}
	v, vcode, verr := s.loadInstance(acc, id)
	if verr != nil {
		s.pageError(w, r, acc, vcode, verr)
		return
	}
	if code == http.StatusNotFound || code == http.StatusForbidden {
		s.pageError(w, r, acc, code, err)
		return
	}
	v.Error = prefix + message(err)
	v.Form = form
	s.render(w, r, code, "instance", acc, v)
}

// act checks that acc may record req and records it; the int is the
// HTTP status of an error: 400 bad flags, 403 not allowed, 404 no such
// instance, 409 refused in the instance's state.
func (s *Server) act(acc *tracker.Account, req *ops.Request) (int, error) {
	if _, _, err := req.Check(); err != nil {
		return http.StatusBadRequest, err
	}
	var unit string
	err := s.d.Store().View(func(tx tracker.Tx) error {
		in, err := tx.Instance(req.ID)
		if err != nil {
			return err
		}
		unit = in.Unit
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if !sc.sees(unit) {
			return tracker.ErrNotFound // do not tell what exists outside the scope
		}
		return nil
	})
	if err != nil {
		return statusOf(err), err
	}
	if !mayAct(acc, req.Kind, unit) {
		return http.StatusForbidden, errors.New("无权办理：" + acc.Role.Label() + "账户只能查看")
	}
	req.Actor = acc.Name
	req.Recorded = s.d.Now()
	if _, err := ops.Act(s.d.Store(), s.d.Expander(), *req); err != nil {
		return statusOf(err), err
	}
	s.d.Wake()
	return http.StatusOK, nil
}

// statusOf maps an error of the CLI's code path to an HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, tracker.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ops.ErrBadUsage), errors.Is(err, tracker.ErrBadRule):
		return http.StatusBadRequest
	case errors.Is(err, tracker.ErrInvalid):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// message is an error for people: without the "bad usage: " marker.
func message(err error) string {
	msg := err.Error()
	const p = "bad usage: "
	if len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

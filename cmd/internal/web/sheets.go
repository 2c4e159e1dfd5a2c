package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"duban/cmd/internal/ops"
	"duban/cmd/internal/sheetdoc"
	"duban/tracker"
)

// sheetPart is the instance page's 督办事项通知单 part: the sheets issued
// on the instance, and whether the account may issue one (office roles).
type sheetPart struct {
	CanIssue bool
	Sheets   []sheetLink
}

type sheetLink struct {
	Number, Path, Grade, Issued, Limit string
	Withdrawn                          bool
}

// sheetsOf lists the sheets issued on instance id (from the year it
// started to this year).
func (s *Server) sheetsOf(acc *tracker.Account, id string, start int) (*sheetPart, error) {
	p := &sheetPart{CanIssue: acc.Role.CanAct()}
	env := s.d.Expander().Env
	this := env.Today(s.d.Now()).Year
	if start < this-10 {
		start = this - 10 // no start (or a very old one): the last ten years
	}
	err := s.d.Store().View(func(tx tracker.Tx) error {
		for y := start; y <= this; y++ {
			ss, err := tracker.SheetsOf(tx, y)
			if err != nil {
				return err
			}
			for _, sh := range ss {
				if sh.ID == id {
					p.Sheets = append(p.Sheets, sheetLink{Number: sh.Number, Path: "/sheets/" + url.PathEscape(sh.Number),
						Grade: string(sh.Grade) + "·" + sh.Grade.Label(), Issued: s.timeText(sh.Issued),
						Limit: sh.Limit.Human(env), Withdrawn: sh.Withdrawn})
				}
			}
		}
		return nil
	})
	return p, err
}

// issueSheet checks that acc may issue a sheet on req.ID (office roles,
// within scope) and issues it through ops.IssueSheet, the CLI's code
// path; the int is the HTTP status of an error.
func (s *Server) issueSheet(acc *tracker.Account, req ops.SheetRequest) (*tracker.Sheet, int, error) {
	err := s.d.Store().View(func(tx tracker.Tx) error {
		in, err := tx.Instance(req.ID)
		if err != nil {
			return err
		}
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if !sc.sees(in.Unit) {
			return tracker.ErrNotFound // do not tell what exists outside the scope
		}
		return nil
	})
	if err != nil {
		return nil, statusOf(err), err
	}
	if !acc.Role.CanAct() {
		return nil, http.StatusForbidden, errors.New("无权签发督办事项通知单：" + acc.Role.Label() + "账户只能查看")
	}
	now := s.d.Now()
	sh, err := ops.IssueSheet(s.d.Store(), s.d.Expander(), req, acc.Name, s.d.Config().Sheets.Prefix, now, now)
	if err != nil {
		return nil, statusOf(err), err
	}
	s.d.Wake() // the daemon mails the sheet
	return sh, http.StatusOK, nil
}

// sheetAction is POST /instances/{id}/sheet from the instance page.
func (s *Server) sheetAction(w http.ResponseWriter, r *http.Request, acc *tracker.Account, id string) {
	req := ops.SheetRequest{ID: id, Grade: r.PostFormValue("grade"), Within: r.PostFormValue("within"), Note: r.PostFormValue("note")}
	sh, code, err := s.issueSheet(acc, req)
	if err == nil {
		http.Redirect(w, r, "/instances/"+id+"?ok=sheet&sheet="+url.QueryEscape(sh.Number), http.StatusSeeOther)
		return
	}
	s.refused(w, r, acc, id, code, err, "督办事项通知单未签发：",
		map[string]string{"kind": "sheet", "grade": req.Grade, "within": req.Within, "note": req.Note})
}

// apiSheet is POST /api/v1/instances/{id}/sheet with {grade, within,
// note}: the sheet issued, as `duban sheet --format json` prints it.
func (s *Server) apiSheet(w http.ResponseWriter, r *http.Request, acc *tracker.Account, id string) {
	req := ops.SheetRequest{}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		apiError(w, http.StatusBadRequest, "读取请求失败")
		return
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "请求体不是有效的 JSON 对象（可用键：grade、within、note）："+err.Error())
		return
	}
	req.ID = id
	sh, code, err := s.issueSheet(acc, req)
	if err != nil {
		if code == http.StatusInternalServerError {
			s.log.Error("api sheet", "id", id, "err", err)
			apiError(w, code, "内部错误")
			return
		}
		apiError(w, code, message(err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(sh)
}

// sheetDoc loads the sheet of {number} if acc sees its unit.
func (s *Server) sheetDoc(r *http.Request, acc *tracker.Account) (sheetdoc.View, int, error) {
	var v sheetdoc.View
	code := http.StatusInternalServerError
	err := s.d.Store().View(func(tx tracker.Tx) error {
		sh, err := tracker.SheetByNumber(tx, r.PathValue("number"))
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
		if !sc.sees(sh.Unit) {
			code = http.StatusNotFound // do not tell what exists outside the scope
			return tracker.ErrNotFound
		}
		v, err = sheetdoc.Build(tx, s.d.Expander().Env, sh)
		return err
	})
	return v, code, err
}

// sheetPage is GET /sheets/{number} (format html): the sheet as a page
// that prints on one A4 page (cmd/internal/sheetdoc's HTML, the one
// `duban sheet show --format html` writes), under the reports' CSP: its
// own inline style, no script of any kind. GET /sheets/{number}/docx
// (format docx) is the Word file.
func (s *Server) sheetPage(format string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
		v, code, err := s.sheetDoc(r, acc)
		if errors.Is(err, tracker.ErrNotFound) && code == http.StatusNotFound {
			http.Error(w, "没有这份督办事项通知单", code)
			return
		}
		var data []byte
		if err == nil {
			if format == "docx" {
				data, err = sheetdoc.DOCX(v)
			} else {
				data, err = sheetdoc.HTML(v)
			}
		}
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if format == "docx" {
			attach(w, v.Number+sheetdoc.Title+".docx", "docx")
		} else {
			w.Header().Set("Content-Security-Policy", reportCSP)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
		}
		w.Write(data)
	}
}

package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"duban/cmd/internal/ops"
	"duban/tracker"
)

// The JSON API (SPEC §10): the rows of `list`, the view of `show`, and
// the actions, over the same code as the CLI (cmd/internal/ops).

// apiList is GET /api/v1/instances: exactly what `list --format json`
// writes for the same filters (overdue, status, unit, item, due_within),
// restricted to the units the account sees.
func (s *Server) apiList(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	p := r.URL.Query()
	q := ops.ListQuery{Status: p.Get("status"), Unit: p.Get("unit"), Item: p.Get("item"), DueWithin: p.Get("due_within")}
	switch p.Get("overdue") {
	case "", "0", "false":
	case "1", "true":
		q.Overdue = true
	default:
		apiError(w, http.StatusBadRequest, "overdue 取 1 或 true（或 0、false）")
		return
	}
	x := s.d.Expander()
	now := s.d.Now()
	f, err := q.Filter(x, now)
	if err != nil {
		apiError(w, http.StatusBadRequest, message(err))
		return
	}
	var buf bytes.Buffer
	code := http.StatusInternalServerError
	err = s.d.Store().View(func(tx tracker.Tx) error {
		if err := f.Resolve(tx); err != nil {
			code = http.StatusBadRequest // a filter naming nothing: bad input, as in the CLI
			return err
		}
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if f.Unit != "" && !sc.sees(f.Unit) {
			code = http.StatusForbidden
			return errors.New("无权查看这个单位的督办事项")
		}
		rw := ops.ListWriter(&buf, "json")
		if err := ops.WriteList(tx, x, f, now, rw, func(row tracker.Row) bool { return sc.sees(row.Unit) }); err != nil {
			return err
		}
		return rw.Close()
	})
	if err != nil {
		if code == http.StatusInternalServerError {
			s.log.Error("api list", "err", err)
			apiError(w, code, "内部错误")
			return
		}
		apiError(w, code, message(err))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(buf.Bytes())
}

// apiShow is GET /api/v1/instances/{id}: what `show --format json` gives.
func (s *Server) apiShow(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	s.writeShow(w, http.StatusOK, acc, r.PathValue("id"))
}

func (s *Server) writeShow(w http.ResponseWriter, code int, acc *tracker.Account, id string) {
	var v *ops.ShowView
	err := s.d.Store().View(func(tx tracker.Tx) error {
		var err error
		if v, err = ops.Show(tx, s.d.Expander(), id, s.d.Now(), s.d.Config().Mail.Office); err != nil {
			return err
		}
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if !sc.sees(v.Unit) {
			return tracker.ErrNotFound
		}
		return nil
	})
	if errors.Is(err, tracker.ErrNotFound) {
		apiError(w, http.StatusNotFound, "没有督办事项 "+id)
		return
	}
	if err != nil {
		s.log.Error("api show", "id", id, "err", err)
		apiError(w, http.StatusInternalServerError, "内部错误")
		return
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		apiError(w, http.StatusInternalServerError, "内部错误")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// apiAction is POST /api/v1/instances/{id}/{action} with a JSON body
// keyed by the CLI's flag names (note, reason, to, limit, unit).
func (s *Server) apiAction(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	if id, kind := idAction(r); kind == "sheet" {
		s.apiSheet(w, r, acc, id)
		return
	}
	req := ops.Request{}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		apiError(w, http.StatusBadRequest, "读取请求失败")
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			apiError(w, http.StatusBadRequest, "请求体不是有效的 JSON 对象（可用键：note、reason、to、limit、unit、approve、reject）："+err.Error())
			return
		}
	}
	req.ID, req.Kind = idAction(r)
	code, err := s.act(acc, &req)
	if err != nil {
		if code == http.StatusInternalServerError {
			s.log.Error("api action", "id", req.ID, "action", req.Kind, "err", err)
			apiError(w, code, "内部错误")
			return
		}
		apiError(w, code, message(err))
		return
	}
	s.writeShow(w, http.StatusOK, acc, req.ID)
}

package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"duban/cmd/internal/importer"
	"duban/tracker"
	"duban/tracker/trackfile"
)

// FormSource names the 立项 form as the source of the items it creates
// (items from tracking files carry their file:line instead).
const FormSource = "立项表单"

// itemFields are the form's fields: the tracking file's item keys
// (SPEC §7), in the order of the form.
var itemFields = []string{"id", "title", "doc", "requirements", "unit", "units", "co_units", "co_due",
	"start", "due", "limit", "every", "from", "until", "policy"}

// listFields hold several ids, comma-separated in the form.
var listFields = map[string]bool{"units": true, "co_units": true}

type itemRow struct {
	ID, Title, Source string
	FromFile          bool
}

type itemNewView struct {
	Values   map[string]string
	Errors   []string
	Created  string
	Items    []itemRow
	Units    []option
	Policies []string
}

func (s *Server) itemNewPage(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	if !acc.Role.CanAct() {
		http.Error(w, "无权立项", http.StatusForbidden)
		return
	}
	v := &itemNewView{Values: map[string]string{}, Created: r.URL.Query().Get("created")}
	if err := s.loadItemChoices(v); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "item_new", acc, v)
}

// itemCreate validates the form as a tracking file with one item —
// trackfile.Load, so the rules and messages are the import's — and
// imports it with the account as actor. An item defined in a tracking
// file cannot be changed here: its file is its source.
func (s *Server) itemCreate(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	if !acc.Role.CanAct() {
		http.Error(w, "无权立项", http.StatusForbidden)
		return
	}
	v := &itemNewView{Values: map[string]string{}}
	for _, k := range itemFields {
		v.Values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	doc := itemYAML(v.Values)
	x := s.d.Expander()
	now := s.d.Now()
	err := s.d.Store().Update(func(tx tracker.Tx) error {
		if id := v.Values["id"]; id != "" {
			if it, err := tx.Item(id); err == nil && it.Source != "" && !strings.HasPrefix(it.Source, FormSource) {
				return &trackfile.Error{File: FormSource, Field: "id", Msg: "事项 " + id + " 由跟踪文件 " + it.Source + " 定义，只能在该文件中修改"}
			}
		}
		b, err := importer.Load(tx, x, []trackfile.File{{Name: FormSource, Data: doc}}, now)
		if err != nil {
			return err
		}
		_, err = x.Import(tx, b, now, acc.Name)
		return err
	})
	if err != nil {
		var fe *trackfile.Error
		var fes trackfile.Errors
		switch {
		case errors.As(err, &fes):
			for _, e := range fes {
				v.Errors = append(v.Errors, formMessage(e))
			}
		case errors.As(err, &fe):
			v.Errors = append(v.Errors, formMessage(fe))
		case errors.Is(err, tracker.ErrInvalid), errors.Is(err, tracker.ErrBadRule):
			v.Errors = append(v.Errors, err.Error())
		default:
			s.serverError(w, r, err)
			return
		}
		if err := s.loadItemChoices(v); err != nil {
			s.serverError(w, r, err)
			return
		}
		s.render(w, r, http.StatusBadRequest, "item_new", acc, v)
		return
	}
	s.d.Wake()
	http.Redirect(w, r, "/items/new?created="+v.Values["id"], http.StatusSeeOther)
}

// itemYAML writes the form's values as a tracking file with one item.
// Every value is a JSON string, which YAML reads as the same string.
func itemYAML(vals map[string]string) []byte {
	var b strings.Builder
	b.WriteString("items:\n")
	first := true
	for _, k := range itemFields {
		val := vals[k]
		if val == "" {
			continue
		}
		if first {
			b.WriteString("  - ")
			first = false
		} else {
			b.WriteString("    ")
		}
		b.WriteString(k)
		b.WriteString(": ")
		if listFields[k] {
			var ids []string
			for _, p := range strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == '，' || r == '、' || r == ' ' }) {
				ids = append(ids, p)
			}
			j, _ := json.Marshal(ids)
			b.Write(j)
		} else {
			j, _ := json.Marshal(val)
			b.Write(j)
		}
		b.WriteByte('\n')
	}
	if first {
		b.WriteString("  - {}\n")
	}
	return []byte(b.String())
}

// formMessage is a tracking-file error as the form shows it: the field
// (the form's field name, which is the file's key) and the message.
func formMessage(e *trackfile.Error) string {
	field := e.Field
	if i := strings.Index(field, "]."); strings.HasPrefix(field, "items[") && i > 0 {
		field = field[i+2:]
	}
	if field == "" || strings.HasPrefix(field, "items") {
		return e.Msg
	}
	return field + ": " + e.Msg
}

func (s *Server) loadItemChoices(v *itemNewView) error {
	return s.d.Store().View(func(tx tracker.Tx) error {
		if err := tx.Units(func(u *tracker.Unit) error {
			v.Units = append(v.Units, option{Value: u.ID, Label: u.Name})
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Policies(func(p *tracker.Policy) error {
			v.Policies = append(v.Policies, p.ID)
			return nil
		}); err != nil {
			return err
		}
		return tx.Items(func(it *tracker.Item) error {
			if len(v.Items) < 1000 {
				v.Items = append(v.Items, itemRow{ID: it.ID, Title: it.Title, Source: it.Source,
					FromFile: it.Source != "" && !strings.HasPrefix(it.Source, FormSource)})
			}
			return nil
		})
	})
}

package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"duban/tracker"
)

// viewNames are the pages, each templates/NAME.html inside
// templates/layout.html.
var viewNames = []string{"login", "board", "instance", "item_new", "reports", "calendar", "scores"}

var funcs = template.FuncMap{
	"statusLabel": func(s tracker.Status) string { return s.Label() },
	"actionLabel": tracker.ActionLabel,
	"levelLabel":  func(l tracker.Level) string { return l.Label() },
	"roleLabel":   func(r tracker.Role) string { return r.Label() },
	"add":         func(a, b int) int { return a + b },
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range viewNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/part_*.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web templates: %w", err)
		}
		pages[name] = t
	}
	return pages, nil
}

// layoutData is what layout.html gets: the account (nil on the login
// page), the page's title and its own data.
type layoutData struct {
	Acc   *tracker.Account
	Title string
	Nav   string
	Data  any
}

var pageTitles = map[string]string{"login": "登录", "board": "督办看板", "instance": "督办事项",
	"item_new": "立项", "reports": "报表", "calendar": "工作日历", "scores": "考核"}

// render executes a page into a buffer, then writes it with code: a
// template error becomes a 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, acc *tracker.Account, data any) {
	var buf bytes.Buffer
	if err := s.pages[name].Execute(&buf, layoutData{Acc: acc, Title: pageTitles[name], Nav: name, Data: data}); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// timeText formats an instant in the configured zone.
func (s *Server) timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.d.Config().Location).Format("2006-01-02 15:04")
}

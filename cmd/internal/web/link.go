package web

import (
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	attachfile "duban/cmd/internal/attach"
	"duban/cmd/internal/ops"
	"duban/cmd/internal/unitlink"
	"duban/tracker"
)

// The units' pages (SPEC §11): GET /r/<token> lists the instances of the
// mail the link came in, POST /r/<token> (multipart: instance, action,
// note, date, attachment…) records 签收, 反馈进展, 报结 or 申请延期, and
// GET /r/<token>/files/<hash> downloads an attachment of one of them.
// No account: the signed token is the credential. Tampered, expired and
// foreign-instance requests get a plain 4xx and change nothing.

// LinkRate is how many requests an address may make to the link pages a
// minute (SPEC §11: at least 30).
const LinkRate = 60

// linkActions maps the form's action to the tracker's.
var linkActions = map[string]string{"ack": "ack", "progress": "progress", "complete": "report", "extend": "extend_request"}

var linkActionNames = map[string]string{"ack": "签收", "progress": "反馈进展", "complete": "报结", "extend": "申请延期"}

// rateLimiter counts requests per address in a sliding minute.
type rateLimiter struct {
	mu   sync.Mutex
	hits map[string][]time.Time
}

var linkLimits sync.Map // *Server → *rateLimiter

func (s *Server) linkLimiter() *rateLimiter {
	l, _ := linkLimits.LoadOrStore(s, &rateLimiter{hits: map[string][]time.Time{}})
	return l.(*rateLimiter)
}

// allow records a request from addr at now and reports whether it is
// within LinkRate a minute.
func (l *rateLimiter) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.hits[addr][:0]
	for _, t := range l.hits[addr] {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	if len(recent) >= LinkRate {
		l.hits[addr] = recent
		return false
	}
	l.hits[addr] = append(recent, now)
	if len(l.hits) > 100000 { // a flood of addresses: forget the idle ones
		for k, v := range l.hits {
			if len(v) == 0 || now.Sub(v[len(v)-1]) >= time.Minute {
				delete(l.hits, k)
			}
		}
	}
	return true
}

// linkInstance is one instance on the link page.
type linkInstance struct {
	ID, Title, Unit, Deadline, Limit, Status, Light, LightLabel, Note string
	Open, MayAct, Acked                                               bool
	Extend                                                            string // pending request, shown
	Files                                                             []ops.Attachment
}

type linkView struct {
	Action    string
	Instances []linkInstance
	ReadOnly  bool
	Done      string // what was recorded
	Error     string
}

// linkOpen checks the token of r and the rate limit; on failure it has
// answered with a plain 4xx.
func (s *Server) linkOpen(w http.ResponseWriter, r *http.Request) (unitlink.Token, bool) {
	now := s.d.Now()
	if !s.linkLimiter().allow(clientAddr(r), now) {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "请求过于频繁，请稍后再试", http.StatusTooManyRequests)
		return unitlink.Token{}, false
	}
	secret, err := unitlink.Secret(s.d.Store())
	if err != nil {
		s.log.Error("link secret", "err", err)
		http.Error(w, "内部错误", http.StatusInternalServerError)
		return unitlink.Token{}, false
	}
	tok, err := unitlink.Verify(secret, r.PathValue("token"))
	if err != nil {
		http.Error(w, "链接无效：请使用督办通知邮件中的链接", http.StatusForbidden)
		return tok, false
	}
	err = s.d.Store().View(func(tx tracker.Tx) error { return unitlink.Check(tx, tok, now) })
	if errors.Is(err, unitlink.ErrExpired) {
		http.Error(w, "链接已过期：请使用最近一封督办通知邮件中的链接，或与督查室联系", http.StatusGone)
		return tok, false
	}
	if err != nil {
		s.log.Error("link check", "err", err)
		http.Error(w, "内部错误", http.StatusInternalServerError)
		return tok, false
	}
	return tok, true
}

// linkPage is GET /r/{token}.
func (s *Server) linkPage(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.linkOpen(w, r)
	if !ok {
		return
	}
	s.renderLink(w, r, http.StatusOK, tok, "", "")
}

func (s *Server) renderLink(w http.ResponseWriter, r *http.Request, code int, tok unitlink.Token, done, msg string) {
	v := linkView{Action: r.URL.Path, Done: done, Error: msg, ReadOnly: true}
	x := s.d.Expander()
	now := s.d.Now()
	err := s.d.Store().View(func(tx tracker.Tx) error {
		lights := newLighter(tx, x, now)
		for _, id := range tok.Instances {
			in, err := tx.Instance(id)
			if errors.Is(err, tracker.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			li := linkInstance{ID: in.ID, Title: in.Item, Unit: in.Unit, Status: in.Status.Label(),
				Deadline: in.Deadline.Human(x.Env), Note: in.Note, Open: in.Status == tracker.StatusOpen, Acked: !in.AckedAt.IsZero()}
			if in.Limit != nil {
				li.Limit = in.Limit.Human(x.Env)
			}
			if it, err := tx.Item(in.Item); err == nil {
				li.Title = it.Title
			}
			if u, err := tx.Unit(in.Unit); err == nil {
				li.Unit = u.Name
			}
			if in.Status.Active() {
				li.Light = lights.light(in)
				li.LightLabel = lightLabels[li.Light]
			}
			if in.ExtendRequest != nil && in.Status.Active() {
				li.Extend = in.ExtendRequest.To
			}
			if li.MayAct, err = unitlink.MayAct(tx, tok, in); err != nil {
				return err
			}
			li.MayAct = li.MayAct && li.Open
			if li.MayAct {
				v.ReadOnly = false
			}
			evs, err := tx.Events(in.ID)
			if err != nil {
				return err
			}
			li.Files = ops.Attachments(evs)
			v.Instances = append(v.Instances, li)
		}
		return nil
	})
	if err != nil {
		s.log.Error("link page", "err", err)
		http.Error(w, "内部错误", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := linkTemplate.Execute(w, v); err != nil {
		s.log.Error("link page", "err", err)
	}
}

// linkPost is POST /r/{token}: one action on one instance of the link,
// with any number of attachments. Files are received first and kept only
// when the action is recorded.
func (s *Server) linkPost(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.linkOpen(w, r)
	if !ok {
		return
	}
	cfg := s.d.Config()
	maxFile := cfg.Web.Attachments.MaxBytes()
	r.Body = http.MaxBytesReader(w, r.Body, 10*maxFile+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		http.Error(w, "请求格式不对：请用页面上的表单提交", http.StatusBadRequest)
		return
	}
	fields := map[string]string{}
	var files []*attachfile.Pending
	defer func() {
		for _, f := range files {
			f.Discard() // kept ones were moved away already
		}
	}()
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, "上传未完成或超过大小限制", http.StatusRequestEntityTooLarge)
			return
		}
		name := p.FormName()
		if name == "attachment" {
			if p.FileName() == "" {
				continue // an empty file input
			}
			f, err := s.attachments().Receive(p.FileName(), p, maxFile)
			if errors.Is(err, attachfile.ErrTooLarge) {
				http.Error(w, "附件 "+attachfile.CleanName(p.FileName())+" 超过 "+cfg.Web.Attachments.MaxSize, http.StatusRequestEntityTooLarge)
				return
			}
			if err != nil {
				s.log.Error("link upload", "err", err)
				http.Error(w, "内部错误", http.StatusInternalServerError)
				return
			}
			files = append(files, f)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, 64<<10))
		if err != nil {
			http.Error(w, "请求格式不对", http.StatusBadRequest)
			return
		}
		fields[name] = string(b)
	}
	id, action := fields["instance"], fields["action"]
	kind, known := linkActions[action]
	if !tok.Names(id) {
		http.Error(w, "这个链接不能办理该事项", http.StatusForbidden)
		return
	}
	if !known {
		http.Error(w, "未知的操作："+action, http.StatusBadRequest)
		return
	}
	var may bool
	err = s.d.Store().View(func(tx tracker.Tx) error {
		in, err := tx.Instance(id)
		if err != nil {
			return err
		}
		may, err = unitlink.MayAct(tx, tok, in)
		return err
	})
	if errors.Is(err, tracker.ErrNotFound) {
		http.Error(w, "没有这个督办事项", http.StatusNotFound)
		return
	}
	if err != nil {
		s.log.Error("link post", "err", err)
		http.Error(w, "内部错误", http.StatusInternalServerError)
		return
	}
	if !may {
		http.Error(w, "本链接只能查看，不能办理（由承办单位负责人或联系人办理）", http.StatusForbidden)
		return
	}
	now := s.d.Now()
	actor := "链接:" + tok.To
	req := ops.Request{Kind: kind, ID: id, Note: strings.TrimSpace(fields["note"]), Actor: actor, Recorded: now}
	if kind == "extend_request" {
		req.Reason, req.Note, req.To = req.Note, "", strings.TrimSpace(fields["date"])
	}
	if kind == "progress" && req.Note == "" && len(files) > 0 {
		req.Note = "报送材料" // files alone are progress too
	}
	if _, err := ops.Act(s.d.Store(), s.d.Expander(), req); err != nil {
		code := statusOf(err)
		if code == http.StatusInternalServerError {
			s.log.Error("link action", "id", id, "action", kind, "err", err)
			http.Error(w, "内部错误", code)
			return
		}
		s.renderLink(w, r, code, tok, "", linkActionNames[action]+"未登记："+message(err))
		return
	}
	for _, f := range files {
		if err := f.Keep(); err != nil {
			s.log.Error("link attachment", "id", id, "err", err)
			continue
		}
		if err := ops.Attach(s.d.Store(), id, f.Name, f.Hash, f.Size, actor, now); err != nil {
			s.log.Error("link attachment", "id", id, "err", err)
		}
	}
	s.d.Wake()
	done := linkActionNames[action] + "已登记"
	if len(files) > 0 {
		done += "，附件 " + strconv.Itoa(len(files)) + " 个"
	}
	if kind == "report" {
		done += "；督查室审核后办结"
	}
	s.renderLink(w, r, http.StatusOK, tok, done, "")
}

// linkFile is GET /r/{token}/files/{hash}: an attachment of an instance
// the link names, as a download.
func (s *Server) linkFile(w http.ResponseWriter, r *http.Request) {
	tok, ok := s.linkOpen(w, r)
	if !ok {
		return
	}
	s.serveAttachment(w, tok.Instances, r.PathValue("hash"))
}

// attachmentDownload is GET /files/{hash}/{id...} for workspace accounts
// that see the instance.
func (s *Server) attachmentDownload(w http.ResponseWriter, r *http.Request, acc *tracker.Account) {
	id := r.PathValue("id")
	err := s.d.Store().View(func(tx tracker.Tx) error {
		in, err := tx.Instance(id)
		if err != nil {
			return err
		}
		sc, err := scopeOf(tx, acc)
		if err != nil {
			return err
		}
		if !sc.sees(in.Unit) {
			return tracker.ErrNotFound
		}
		return nil
	})
	if err != nil {
		http.Error(w, "没有这个附件", http.StatusNotFound)
		return
	}
	s.serveAttachment(w, []string{id}, r.PathValue("hash"))
}

// serveAttachment sends the file hash if it is an attachment of one of
// ids: always as a download (never rendered in the page's origin).
func (s *Server) serveAttachment(w http.ResponseWriter, ids []string, hash string) {
	var found *ops.Attachment
	err := s.d.Store().View(func(tx tracker.Tx) error {
		for _, id := range ids {
			evs, err := tx.Events(id)
			if err != nil && !errors.Is(err, tracker.ErrNotFound) {
				return err
			}
			if a, ok := ops.HasAttachment(evs, hash); ok {
				found = &a
				return nil
			}
		}
		return nil
	})
	if err != nil || found == nil {
		http.Error(w, "没有这个附件", http.StatusNotFound)
		return
	}
	f, err := s.attachments().Open(found.Hash)
	if errors.Is(err, attachfile.ErrNotFound) {
		http.Error(w, "附件文件已不在", http.StatusNotFound)
		return
	}
	if err != nil {
		s.log.Error("attachment", "hash", found.Hash, "err", err)
		http.Error(w, "内部错误", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": found.Name}))
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	io.Copy(w, f)
}

// attachments is where the files are kept: the database with
// PostgreSQL, web.attachments.dir with bbolt.
func (s *Server) attachments() attachfile.Store {
	return attachfile.For(s.d.Store(), s.d.Config().Web.Attachments.Dir)
}

var linkTemplate = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>督办事项办理</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main>
<h1>督办事项办理</h1>
{{if .Done}}<p class="ok" id="done">{{.Done}}</p>{{end}}
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
{{if .ReadOnly}}<p>本页只供查看。</p>{{end}}
{{range .Instances}}
<section class="instance" id="i-{{.ID}}">
<h2>{{if .Light}}<span class="light {{.Light}}">{{.LightLabel}}</span>{{end}}{{.Title}}</h2>
<table>
<tr><th>事项编号</th><td>{{.ID}}</td></tr>
<tr><th>责任单位</th><td>{{.Unit}}</td></tr>
<tr><th>状态</th><td class="status">{{.Status}}{{if .Acked}}（已签收）{{end}}</td></tr>
<tr><th>办理时限</th><td>{{.Deadline}}</td></tr>
{{if .Limit}}<tr><th>最迟时限</th><td>{{.Limit}}</td></tr>{{end}}
{{if .Extend}}<tr><th>延期申请</th><td>申请延至 {{.Extend}}，待督查室审核</td></tr>{{end}}
{{if .Note}}<tr><th>最新进展</th><td>{{.Note}}</td></tr>{{end}}
{{if .Files}}<tr><th>附件</th><td>{{range .Files}}<a href="{{$.Action}}/files/{{.Hash}}" download>{{.Name}}</a> {{end}}</td></tr>{{end}}
</table>
{{if .MayAct}}
<div class="actions">
{{if not .Acked}}<form class="action ack" method="post" action="{{$.Action}}" enctype="multipart/form-data"><input type="hidden" name="instance" value="{{.ID}}"><h3>签收</h3><p>确认已收到本事项。</p><input type="hidden" name="action" value="ack"><button type="submit">签收</button></form>{{end}}
<form class="action progress" method="post" action="{{$.Action}}" enctype="multipart/form-data"><h3>反馈进展</h3><input type="hidden" name="instance" value="{{.ID}}"><input type="hidden" name="action" value="progress">
<label>进展情况 <textarea name="note" required></textarea></label><label>附件 <input type="file" name="attachment" multiple></label><button type="submit">提交进展</button></form>
<form class="action complete" method="post" action="{{$.Action}}" enctype="multipart/form-data"><h3>报结</h3><input type="hidden" name="instance" value="{{.ID}}"><input type="hidden" name="action" value="complete">
<label>办理结果 <textarea name="note"></textarea></label><label>附件 <input type="file" name="attachment" multiple></label><button type="submit">报结</button></form>
<form class="action extend" method="post" action="{{$.Action}}" enctype="multipart/form-data"><h3>申请延期</h3><input type="hidden" name="instance" value="{{.ID}}"><input type="hidden" name="action" value="extend">
<label>申请延至 <input type="date" name="date" required></label><label>理由 <textarea name="note" required></textarea></label><button type="submit">提交申请</button></form>
</div>
{{end}}
</section>
{{else}}<p>该链接所列事项已不存在。</p>{{end}}
</main></body></html>
`))

// Package robottest runs loopback HTTP servers that behave like the group
// robots' webhooks (钉钉, 企业微信 / 政务微信, 飞书) as their vendors document
// them, for tests, the way notify/smtptest runs an SMTP server: each
// checks the token, the vendor's signature (its own order of key and
// message, its timestamp unit, a timestamp at most an hour off the wall
// clock), the keyword, the size limit and the rate limit, and answers
// every error with HTTP 200 and the vendor's error code in the JSON body.
// It keeps the messages it accepted for the test to read.
package robottest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Token is the credential in the URLs the servers accept (access_token,
// key, hook path) unless Options.Token says otherwise.
const Token = "tok-0123456789abcdef"

// Options configure a Server.
type Options struct {
	Kind    string // dingtalk, wecom or feishu
	Token   string // default Token
	Secret  string // signing secret; "" accepts unsigned requests (钉钉, 飞书)
	Keyword string // every message must contain it when set
	// Now is the clock of the rate limit windows; nil: time.Now. The
	// signature's timestamp is always checked against the wall clock.
	Now func() time.Time
	// Unlimited switches the rate limit off (benchmarks of many robots
	// sharing one server).
	Unlimited bool
	// OnAccept, when set, runs after a message was recorded as accepted
	// and before the answer is written (n counts accepted messages from
	// 1): a test can kill the client there.
	OnAccept func(n int)
}

// Message is one accepted message.
type Message struct {
	At       time.Time // Options.Now when accepted
	Body     []byte    // the JSON body as posted
	Title    string    // 钉钉 markdown title, 飞书 post title
	Text     string    // the markdown text / content, or the post's text joined by lines (an @ as "@<user_id>")
	Mobiles  []string  // 钉钉 at.atMobiles
	Size     int       // bytes the vendor counts against its limit
	Requests int       // request number (from 1) that delivered it
}

// Rejection is one request answered with an error code.
type Rejection struct {
	Code int
	Msg  string
}

// Server is a running fake robot endpoint. Its methods are safe for
// concurrent use.
type Server struct {
	// URL is the webhook as the robot's settings would show it.
	URL  string
	srv  *httptest.Server
	opts Options

	mu           sync.Mutex
	accepted     []Message
	rejected     []Rejection
	requests     int
	blockedUntil time.Time
	busy         []int // codes to answer the next requests with
}

// Start starts a server for o.Kind on 127.0.0.1; it stops at the end of tb.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Token == "" {
		o.Token = Token
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{opts: o}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	switch o.Kind {
	case "dingtalk":
		s.URL = s.srv.URL + "/robot/send?access_token=" + o.Token
	case "wecom":
		s.URL = s.srv.URL + "/cgi-bin/webhook/send?key=" + o.Token
	case "feishu":
		s.URL = s.srv.URL + "/open-apis/bot/v2/hook/" + o.Token
	default:
		tb.Fatalf("robottest: unknown kind %q", o.Kind)
	}
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.accepted...)
}

// Rejections returns the error answers given so far.
func (s *Server) Rejections() []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Rejection(nil), s.rejected...)
}

// Requests counts the requests received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext answers the next len(codes) well-formed requests with these
// error codes (e.g. a "busy" or rate-limit code) instead of accepting them.
func (s *Server) FailNext(codes ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy = append(s.busy, codes...)
}

// maxSkew is how far a signature's timestamp may be from the wall clock
// (both vendors document one hour).
const maxSkew = time.Hour

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.requests++
	reqNo := s.requests
	code, msg, m := s.check(r, body)
	if code == 0 && len(s.busy) > 0 {
		code, msg = s.busy[0], "injected failure"
		s.busy = s.busy[1:]
	}
	var n int
	if code == 0 {
		m.At, m.Body, m.Requests = s.opts.Now(), body, reqNo
		s.accepted = append(s.accepted, m)
		n = len(s.accepted)
	} else {
		s.rejected = append(s.rejected, Rejection{code, msg})
	}
	s.mu.Unlock()
	if code == 0 && s.opts.OnAccept != nil {
		s.opts.OnAccept(n)
	}
	w.Header().Set("Content-Type", "application/json")
	var ans any
	switch s.opts.Kind {
	case "feishu":
		if code == 0 {
			ans = map[string]any{"code": 0, "msg": "success", "data": map[string]any{}, "StatusCode": 0, "StatusMessage": "success"}
		} else {
			ans = map[string]any{"code": code, "msg": msg, "data": map[string]any{}}
		}
	default:
		if code == 0 {
			msg = "ok"
		}
		ans = map[string]any{"errcode": code, "errmsg": msg}
	}
	json.NewEncoder(w).Encode(ans)
}

// check applies the vendor's rules to one request (s.mu held). It returns
// the error code and message, or 0 and the decoded message.
func (s *Server) check(r *http.Request, body []byte) (int, string, Message) {
	switch s.opts.Kind {
	case "dingtalk":
		return s.dingtalk(r, body)
	case "wecom":
		return s.wecom(r, body)
	}
	return s.feishu(r, body)
}

func hmacB64(key, msg string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// recent counts accepted messages in the window before now.
func (s *Server) recent(now time.Time, window time.Duration) int {
	c := 0
	for _, m := range s.accepted {
		if now.Sub(m.At) < window {
			c++
		}
	}
	return c
}

func (s *Server) dingtalk(r *http.Request, body []byte) (int, string, Message) {
	var m Message
	q := r.URL.Query()
	if r.URL.Path != "/robot/send" || q.Get("access_token") != s.opts.Token {
		return 300001, "token is not exist", m
	}
	now := s.opts.Now()
	if now.Before(s.blockedUntil) {
		return 130101, "send too fast, exceed 20 times per minute", m
	}
	if s.opts.Secret != "" {
		ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		if err != nil || q.Get("sign") == "" {
			return 310000, "sign not match, more: [https://open.dingtalk.com/document/robots/customize-robot-security-settings]", m
		}
		// Milliseconds: a seconds timestamp lies in 1970 and is stale.
		if d := time.Since(time.UnixMilli(ts)); d > maxSkew || d < -maxSkew {
			return 310000, "invalid timestamp", m
		}
		want := hmacB64(s.opts.Secret, fmt.Sprintf("%d\n%s", ts, s.opts.Secret))
		if !hmac.Equal([]byte(q.Get("sign")), []byte(want)) {
			return 310000, "sign not match", m
		}
	}
	if len(body) > 20000 {
		return 460101, "message too long, exceed 20000 bytes", m
	}
	var p struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"markdown"`
		Text struct {
			Content string `json:"content"`
		} `json:"text"`
		At struct {
			AtMobiles []string `json:"atMobiles"`
		} `json:"at"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return 40035, "缺少参数 json", m
	}
	switch p.MsgType {
	case "markdown":
		if p.Markdown.Title == "" || p.Markdown.Text == "" {
			return 40035, "缺少参数 markdown.title/text", m
		}
		m.Title, m.Text = p.Markdown.Title, p.Markdown.Text
	case "text":
		m.Text = p.Text.Content
	default:
		return 40035, "msgtype invalid", m
	}
	if s.opts.Keyword != "" && !strings.Contains(m.Title+m.Text, s.opts.Keyword) {
		return 310000, "keywords not in content", m
	}
	if !s.opts.Unlimited && s.recent(now, time.Minute) >= 20 {
		s.blockedUntil = now.Add(10 * time.Minute)
		return 130101, "send too fast, exceed 20 times per minute", m
	}
	m.Mobiles, m.Size = p.At.AtMobiles, len(body)
	return 0, "", m
}

func (s *Server) wecom(r *http.Request, body []byte) (int, string, Message) {
	var m Message
	q := r.URL.Query()
	if r.URL.Path != "/cgi-bin/webhook/send" || q.Get("key") != s.opts.Token {
		return 93000, "invalid webhook url, hint: [1733000000_1_abcdef]", m
	}
	var p struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Content string `json:"content"`
		} `json:"markdown"`
		Text struct {
			Content string `json:"content"`
		} `json:"text"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return 40008, "invalid message type", m
	}
	switch p.MsgType {
	case "markdown":
		if len(p.Markdown.Content) > 4096 {
			return 40058, "markdown.content exceed max length 4096", m
		}
		m.Text = p.Markdown.Content
	case "text":
		if len(p.Text.Content) > 2048 {
			return 40058, "text.content exceed max length 2048", m
		}
		m.Text = p.Text.Content
	default:
		return 40008, "invalid message type", m
	}
	if !s.opts.Unlimited && s.recent(s.opts.Now(), time.Minute) >= 20 {
		return 45009, "api freq out of limit", m
	}
	m.Size = len(m.Text)
	return 0, "", m
}

func (s *Server) feishu(r *http.Request, body []byte) (int, string, Message) {
	var m Message
	if r.URL.Path != "/open-apis/bot/v2/hook/"+s.opts.Token {
		return 19001, "param invalid: incoming webhook access token invalid", m
	}
	if len(body) > 20*1024 {
		return 9499, "request body too large", m
	}
	var p struct {
		Timestamp any    `json:"timestamp"`
		Sign      string `json:"sign"`
		MsgType   string `json:"msg_type"`
		Content   struct {
			Text string `json:"text"`
			Post map[string]struct {
				Title   string `json:"title"`
				Content [][]struct {
					Tag    string `json:"tag"`
					Text   string `json:"text"`
					UserID string `json:"user_id"`
				} `json:"content"`
			} `json:"post"`
		} `json:"content"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return 9499, "Bad Request", m
	}
	if s.opts.Secret != "" {
		tss, ok := p.Timestamp.(string) // a string of seconds
		ts, err := strconv.ParseInt(tss, 10, 64)
		if !ok || err != nil || p.Sign == "" {
			return 19021, "sign match fail or timestamp is not within one hour from current time", m
		}
		if d := time.Since(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
			return 19021, "sign match fail or timestamp is not within one hour from current time", m
		}
		want := hmacB64(fmt.Sprintf("%d\n%s", ts, s.opts.Secret), "")
		if !hmac.Equal([]byte(p.Sign), []byte(want)) {
			return 19021, "sign match fail or timestamp is not within one hour from current time", m
		}
	}
	switch p.MsgType {
	case "text":
		m.Text = p.Content.Text
	case "post":
		post, ok := p.Content.Post["zh_cn"]
		if !ok {
			return 9499, "Bad Request", m
		}
		m.Title = post.Title
		var lines []string
		for _, para := range post.Content {
			var b strings.Builder
			for _, el := range para {
				switch el.Tag {
				case "text":
					b.WriteString(el.Text)
				case "at":
					b.WriteString("@" + el.UserID)
				default:
					return 9499, "Bad Request: unknown tag " + el.Tag, m
				}
			}
			lines = append(lines, b.String())
		}
		m.Text = strings.Join(lines, "\n")
	default:
		return 9499, "Bad Request", m
	}
	if s.opts.Keyword != "" && !strings.Contains(m.Title+m.Text, s.opts.Keyword) {
		return 19024, "Key Words Not Found", m
	}
	now := s.opts.Now()
	if !s.opts.Unlimited && (s.recent(now, time.Second) >= 5 || s.recent(now, time.Minute) >= 100) {
		return 11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]", m
	}
	m.Size = len(body)
	return 0, "", m
}

package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Robot kinds (SPEC §13). 政务微信 is KindWeCom on its own host, Lark is
// KindFeishu on its own host.
const (
	KindDingTalk = "dingtalk"
	KindWeCom    = "wecom"
	KindFeishu   = "feishu"
)

// RobotKinds lists the kinds a robot may have.
var RobotKinds = []string{KindDingTalk, KindWeCom, KindFeishu}

// Robot posts messages to one work-group robot's webhook (自定义机器人 /
// 群机器人). It holds the signing secret: String and LogValue never show it
// nor the token in URL.
type Robot struct {
	Name    string // config name, e.g. mishu-group
	Kind    string // KindDingTalk, KindWeCom or KindFeishu
	URL     string // the webhook as the robot's settings show it (carries the token)
	Secret  string // signing secret (加签); "" when the robot has none
	Keyword string // put in every message when set (自定义关键词)
	// HTTP is the client used; nil: a client with a 30s timeout.
	HTTP *http.Client
	// Now is the wall clock read when a request is signed; nil: time.Now.
	// Vendors reject a stale timestamp, so it is the wall clock even when
	// the daemon runs a pass as of another time.
	Now func() time.Time
}

// String shows the robot with its URL masked and no secret.
func (r *Robot) String() string {
	return fmt.Sprintf("%s (%s %s)", r.Name, r.Kind, MaskURL(r.URL))
}

// LogValue logs the robot with its URL masked and no secret.
func (r *Robot) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", r.Name), slog.String("kind", r.Kind), slog.String("url", MaskURL(r.URL)))
}

// VendorName is the kind's Chinese name.
func VendorName(kind string) string {
	switch kind {
	case KindDingTalk:
		return "钉钉"
	case KindWeCom:
		return "企业微信"
	case KindFeishu:
		return "飞书"
	}
	return kind
}

// MaskURL returns u with its credential masked: the access_token or key
// query values (钉钉, 企业微信) and the hook token in the path (飞书).
func MaskURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "[unparsable url]"
	}
	q := p.Query()
	for _, k := range []string{"access_token", "key", "sign", "timestamp"} {
		if q.Has(k) {
			q.Set(k, "***")
		}
	}
	p.RawQuery = q.Encode()
	if i := strings.Index(p.Path, "/hook/"); i >= 0 {
		p.Path = p.Path[:i] + "/hook/***"
	}
	p.User = nil
	s := p.String()
	s = strings.ReplaceAll(s, "%2A%2A%2A", "***")
	return s
}

// Mention is someone to @ in a group: the unit's head on an overdue or
// escalation notice.
type Mention struct {
	Name   string
	Mobile string // 钉钉 atMobiles; 企业微信 names only (markdown @ needs UserID)
	UserID string // 企业微信 userid or 飞书 user id (im_id)
}

// RobotEntry is one notice in a group digest.
type RobotEntry struct {
	Entry
	// Head is the unit's head, @-ed on overdue and escalation entries;
	// nil for none.
	Head *Mention
}

// RobotDigest is what one group gets in one pass: its entries, most
// urgent first. A group message carries no personal link (SPEC §13).
type RobotDigest struct {
	OfficeName string
	Entries    []RobotEntry
	// Link is a read-only page of the units' instances; "" when the web
	// workspace is off.
	Link string
	// Test marks a test message (`duban robot test`): Entries are ignored.
	Test      bool
	Generated time.Time
}

// RobotMessage is one post to a robot: a part of a digest, within the
// vendor's size limit. Entries are the indexes of the digest entries it
// carries, so a caller can mark exactly those sent.
type RobotMessage struct {
	Kind    string
	Entries []int
	payload map[string]any // unsigned vendor body
	size    int            // bytes measured against the vendor's limit
}

// Size is the message's size as the vendor counts it against its limit.
func (m *RobotMessage) Size() int { return m.size }

// Body is the unsigned JSON body as it would be posted (飞书 adds the
// signature fields at send time).
func (m *RobotMessage) Body() []byte { return marshalJSON(m.payload) }

// Limits of the vendors (SPEC §13): the message size each accepts and
// how many messages a robot may post per window.
type Limits struct {
	MaxBytes int // body (钉钉, 飞书) or markdown content (企业微信) in bytes
	Rates    []Rate
}

// Rate is at most N messages in any Per.
type Rate struct {
	N   int
	Per time.Duration
}

// signReserve is room kept under a body limit for the signature fields
// added at send time.
const signReserve = 256

// KindLimits returns the vendor's limits for kind.
func KindLimits(kind string) Limits {
	switch kind {
	case KindDingTalk:
		return Limits{MaxBytes: 20000, Rates: []Rate{{20, time.Minute}}}
	case KindWeCom:
		return Limits{MaxBytes: 4096, Rates: []Rate{{20, time.Minute}}}
	case KindFeishu:
		return Limits{MaxBytes: 20 * 1000, Rates: []Rate{{5, time.Second}, {100, time.Minute}}}
	}
	return Limits{}
}

// Messages renders d as one or more messages, split at entry boundaries
// so that each is within the vendor's size limit (an entry too long on
// its own is cut). The keyword, when set, is in every message.
func (r *Robot) Messages(d RobotDigest) ([]*RobotMessage, error) {
	v, err := vendorFor(r.Kind)
	if err != nil {
		return nil, err
	}
	lim := KindLimits(r.Kind).MaxBytes
	if r.Kind != KindWeCom {
		lim -= signReserve
	}
	if d.Test {
		return []*RobotMessage{v.build(r, &d, nil, 1, 1)}, nil
	}
	// Greedy packing: a part takes entries while the rendered message
	// fits; part labels are sized for up to 999 parts.
	var parts [][]int
	var cur []int
	for i := range d.Entries {
		try := append(append([]int(nil), cur...), i)
		if m := v.build(r, &d, try, 999, 999); m.size <= lim || len(cur) == 0 {
			if m.size > lim { // one entry alone is too long: cut it
				d.Entries[i] = shorten(d.Entries[i])
				if m = v.build(r, &d, try, 999, 999); m.size > lim {
					return nil, fmt.Errorf("%w: 事项 %s 的群消息超过%s的长度上限 %d 字节", ErrInvalid, d.Entries[i].InstanceID, VendorName(r.Kind), lim)
				}
			}
			cur = try
			continue
		}
		parts = append(parts, cur)
		cur = []int{i}
	}
	if len(cur) > 0 {
		parts = append(parts, cur)
	}
	out := make([]*RobotMessage, len(parts))
	for k, p := range parts {
		out[k] = v.build(r, &d, p, k+1, len(parts))
	}
	return out, nil
}

// shorten cuts the free text of an entry that cannot fit a message alone.
func shorten(e RobotEntry) RobotEntry {
	cut := func(s string, n int) string {
		if rs := []rune(s); len(rs) > n {
			return string(rs[:n]) + "…"
		}
		return s
	}
	e.Title, e.Doc, e.Note = cut(e.Title, 200), cut(e.Doc, 60), cut(e.Note, 200)
	return e
}

// Send posts m, signed with the wall clock at this moment, and reads the
// vendor's answer from the JSON body. The error is a *RobotError for an
// answer with an error code (Temporary tells whether a retry with a fresh
// signature may succeed), or the transport's error (temporary).
func (r *Robot) Send(ctx context.Context, m *RobotMessage) error {
	v, err := vendorFor(r.Kind)
	if err != nil {
		return err
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	u, body, err := v.sign(r, m.payload, now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("robot %s: %w", r.Name, redactURLError(err, r.URL))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	client := r.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("robot %s: post to %s: %w", r.Name, MaskURL(r.URL), redactURLError(err, u))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("robot %s: read answer: %w", r.Name, err)
	}
	return answer(r, resp.StatusCode, b)
}

// redactURLError strips the raw URL (with its token) from a *url.Error.
func redactURLError(err error, raw string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, MaskURL(raw), ue.Err)
	}
	return err
}

// RobotError is a vendor's answer with an error code.
type RobotError struct {
	Robot     string // config name
	Kind      string
	Status    int // HTTP status
	Code      int // vendor code (errcode, code or StatusCode)
	Message   string
	Temporary bool // rate limit, busy or a server error: retry later, re-signed
	Cause     string
}

// Error states the vendor, code and message: "钉钉机器人 ducha-group 返回错误 310000：sign not match".
func (e *RobotError) Error() string {
	s := fmt.Sprintf("%s机器人 %s 返回错误 %d：%s", VendorName(e.Kind), e.Robot, e.Code, e.Message)
	if e.Code == 0 {
		s = fmt.Sprintf("%s机器人 %s 返回 HTTP %d：%s", VendorName(e.Kind), e.Robot, e.Status, e.Message)
	}
	if e.Cause != "" {
		s += "（" + e.Cause + "）"
	}
	return s
}

// answer judges a vendor's response.
func answer(r *Robot, status int, body []byte) error {
	var a struct {
		ErrCode    *int   `json:"errcode"`
		ErrMsg     string `json:"errmsg"`
		Code       *int   `json:"code"`
		Msg        string `json:"msg"`
		StatusCode *int   `json:"StatusCode"`
		StatusMsg  string `json:"StatusMessage"`
	}
	e := &RobotError{Robot: r.Name, Kind: r.Kind, Status: status}
	if err := json.Unmarshal(body, &a); err != nil || (a.ErrCode == nil && a.Code == nil && a.StatusCode == nil) {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
		// No JSON answer: a proxy or the vendor's front end. 5xx and 429
		// pass; anything else (404: a wrong URL) will not.
		e.Temporary = status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
		if status == http.StatusOK {
			e.Message, e.Temporary = "无法识别的应答："+e.Message, true
		}
		return e
	}
	switch {
	case a.ErrCode != nil:
		e.Code, e.Message = *a.ErrCode, a.ErrMsg
	case a.Code != nil:
		e.Code, e.Message = *a.Code, a.Msg
	default:
		e.Code, e.Message = *a.StatusCode, a.StatusMsg
	}
	if e.Code == 0 {
		return nil
	}
	e.Temporary, e.Cause = classify(r.Kind, e.Code)
	return e
}

// classify says whether a vendor code is worth a retry, and what it means.
// Codes, not messages: vendors reword their messages (DEPENDENCIES §10).
func classify(kind string, code int) (temporary bool, cause string) {
	switch kind {
	case KindDingTalk:
		switch code {
		case 130101, 410100:
			return true, "发送过快，机器人被限流"
		case -1:
			return true, "系统繁忙"
		case 310000:
			return false, "签名、关键词或IP地址不匹配"
		case 300001, 400013, 400101:
			return false, "access_token 无效"
		case 460101:
			return false, "消息过长"
		}
	case KindWeCom:
		switch code {
		case 45009:
			return true, "发送过快，机器人被限流"
		case -1:
			return true, "系统繁忙"
		case 93000, 40008:
			return false, "webhook 地址中的 key 无效"
		case 40058:
			return false, "消息过长"
		case 60020:
			return false, "IP地址不在可信列表"
		}
	case KindFeishu:
		switch code {
		case 11232:
			return true, "发送过快，机器人被限流"
		case 9499:
			return false, "消息过长或格式错误"
		case 19021:
			return false, "签名校验失败"
		case 19022:
			return false, "IP地址不在白名单"
		case 19024:
			return false, "关键词校验失败"
		case 19001:
			return false, "webhook 地址无效"
		}
	}
	return false, ""
}

// IsTemporaryRobotError reports whether err is worth a retry: a
// temporary vendor answer or a transport error; false for nil and for
// permanent vendor answers and invalid messages.
func IsTemporaryRobotError(err error) bool {
	if err == nil || errors.Is(err, ErrInvalid) {
		return false
	}
	var re *RobotError
	if errors.As(err, &re) {
		return re.Temporary
	}
	return true
}

// Explain says in Chinese what err means for robot name and what to do;
// "" for nil.
func Explain(name string, err error) string {
	if err == nil {
		return ""
	}
	var re *RobotError
	if !errors.As(err, &re) {
		return "无法连接群机器人 " + name + "：" + err.Error() + "。请检查网络、代理和 robots." + name + ".url。"
	}
	key := "robots." + name
	vendor := fmt.Sprintf("（%s返回 %d：%s）", VendorName(re.Kind), re.Code, re.Message)
	switch {
	case re.Code == 0:
		return fmt.Sprintf("群机器人地址无效（HTTP %d）：请核对 %s.url 是否与群机器人设置中的 webhook 地址一致。%s", re.Status, key, vendor)
	case re.Temporary:
		return "群机器人暂时拒绝（" + re.Cause + "），稍后会自动重试。" + vendor
	}
	switch re.Kind {
	case KindDingTalk:
		switch re.Code {
		case 310000:
			return fmt.Sprintf("签名、关键词或IP不匹配：加签的机器人请在 %s.secret（或环境变量 DUBAN_ROBOTS_<名称>_SECRET）填写“加签”密钥；设置了自定义关键词的，请在 %s.keyword 填写群机器人设置的关键词；设置了IP地址段的，请加入本机出口IP。%s", key, key, vendor)
		case 300001, 400013, 400101:
			return "access_token 无效：请从群机器人设置中重新复制 webhook 地址填入 " + key + ".url。" + vendor
		}
	case KindWeCom:
		switch re.Code {
		case 93000, 40008:
			return "webhook 地址无效：请从群机器人设置中重新复制 webhook 地址（含 key）填入 " + key + ".url。" + vendor
		case 60020:
			return "IP地址不在可信列表：请在企业微信管理后台把本机出口IP加入可信IP。" + vendor
		}
	case KindFeishu:
		switch re.Code {
		case 19021:
			return fmt.Sprintf("签名校验失败：请在 %s.secret（或环境变量 DUBAN_ROBOTS_<名称>_SECRET）填写群机器人“签名校验”中的密钥，并确认本机时钟准确。%s", key, vendor)
		case 19024:
			return fmt.Sprintf("关键词不匹配：请在 %s.keyword 填写群机器人设置的关键词。%s", key, vendor)
		case 19022:
			return "IP地址不在白名单：请在群机器人安全设置中加入本机出口IP。" + vendor
		case 19001:
			return "webhook 地址无效：请从群机器人设置中重新复制 webhook 地址填入 " + key + ".url。" + vendor
		}
	}
	return "群机器人拒绝了消息（" + re.Cause + "）。" + vendor
}

// vendor builds and signs one vendor's bodies.
type vendor interface {
	// build renders the entries idx of d as part k of n.
	build(r *Robot, d *RobotDigest, idx []int, k, n int) *RobotMessage
	// sign returns the URL and body to post, signed at now.
	sign(r *Robot, payload map[string]any, now time.Time) (string, []byte, error)
}

func vendorFor(kind string) (vendor, error) {
	switch kind {
	case KindDingTalk:
		return dingtalk{}, nil
	case KindWeCom:
		return wecom{}, nil
	case KindFeishu:
		return feishu{}, nil
	}
	return nil, fmt.Errorf("%w: unknown robot kind %q (want dingtalk, wecom or feishu)", ErrInvalid, kind)
}

// hmacBase64 is base64(HMAC-SHA256(key, msg)).
func hmacBase64(key, msg string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// DingTalkSign is 钉钉's signature for a millisecond timestamp:
// base64(HMAC-SHA256(key = secret, message = "<ms>\n<secret>")), before
// URL encoding.
func DingTalkSign(ms int64, secret string) string {
	return hmacBase64(secret, fmt.Sprintf("%d\n%s", ms, secret))
}

// FeishuSign is 飞书's signature for a timestamp in seconds:
// base64(HMAC-SHA256(key = "<s>\n<secret>", message = empty)).
func FeishuSign(sec int64, secret string) string {
	return hmacBase64(fmt.Sprintf("%d\n%s", sec, secret), "")
}

// marshalJSON encodes v without HTML escaping (a vendor counts bytes; <
// and > stay one byte each).
func marshalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("notify: robot body does not encode: " + err.Error())
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

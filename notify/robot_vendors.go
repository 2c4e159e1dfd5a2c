package notify

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// dingtalk is 钉钉's custom robot: markdown with a title, @ by mobile
// (atMobiles, and "@mobile" in the text), signed in the query.
type dingtalk struct{}

func (dingtalk) build(r *Robot, d *RobotDigest, idx []int, k, n int) *RobotMessage {
	at := func(m *Mention) string {
		if m.Mobile != "" {
			return "@" + m.Mobile
		}
		return mdEscape(m.Name)
	}
	var mobiles []string
	for _, m := range mentions(d, idx) {
		if m.Mobile != "" {
			mobiles = append(mobiles, m.Mobile)
		}
	}
	p := map[string]any{
		"msgtype": "markdown",
		"markdown": map[string]any{
			"title": robotTitle(r, d, idx, k, n),
			"text":  markdownText(r, d, idx, k, n, "#### ", at),
		},
	}
	if len(mobiles) > 0 {
		p["at"] = map[string]any{"atMobiles": mobiles, "isAtAll": false}
	}
	return &RobotMessage{Kind: KindDingTalk, Entries: idx, payload: p, size: len(marshalJSON(p))}
}

// sign adds timestamp (ms) and sign to the query when the robot has a secret.
func (dingtalk) sign(r *Robot, payload map[string]any, now time.Time) (string, []byte, error) {
	body := marshalJSON(payload)
	if r.Secret == "" {
		return r.URL, body, nil
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return "", nil, fmt.Errorf("%w: robot %s: bad url %s", ErrInvalid, r.Name, MaskURL(r.URL))
	}
	ms := now.UnixMilli()
	q := u.Query()
	q.Set("timestamp", strconv.FormatInt(ms, 10))
	q.Set("sign", DingTalkSign(ms, r.Secret))
	u.RawQuery = q.Encode()
	return u.String(), body, nil
}

// wecom is 企业微信's group robot (and 政务微信's on its own host):
// markdown, @ by userid (<@userid>), no signature: the key in the URL is
// the credential.
type wecom struct{}

func (wecom) build(r *Robot, d *RobotDigest, idx []int, k, n int) *RobotMessage {
	at := func(m *Mention) string {
		if m.UserID != "" {
			return "<@" + m.UserID + ">"
		}
		return mdEscape(m.Name)
	}
	text := markdownText(r, d, idx, k, n, "### ", at)
	p := map[string]any{"msgtype": "markdown", "markdown": map[string]any{"content": text}}
	return &RobotMessage{Kind: KindWeCom, Entries: idx, payload: p, size: len(text)}
}

func (wecom) sign(r *Robot, payload map[string]any, _ time.Time) (string, []byte, error) {
	return r.URL, marshalJSON(payload), nil
}

// feishu is 飞书's (and Lark's) custom bot: rich text post, @ by user id
// only, signed in the body.
type feishu struct{}

func (feishu) build(r *Robot, d *RobotDigest, idx []int, k, n int) *RobotMessage {
	var content [][]map[string]any
	para := func(l rline) {
		var els []map[string]any
		for _, s := range l {
			switch {
			case s.at != nil && s.at.UserID != "":
				els = append(els, map[string]any{"tag": "at", "user_id": s.at.UserID})
			case s.at != nil:
				els = append(els, map[string]any{"tag": "text", "text": s.at.Name})
			default:
				els = append(els, map[string]any{"tag": "text", "text": s.text})
			}
		}
		content = append(content, els)
	}
	for _, i := range idx {
		head, facts := entryLines(i, d.Entries[i])
		para(head)
		for _, f := range facts {
			f = append(rline(nil), f...)
			if f[0].at == nil {
				f[0].text = "　　" + f[0].text
			}
			para(f)
		}
	}
	for _, f := range footerLines(r, d) {
		para(f)
	}
	p := map[string]any{
		"msg_type": "post",
		"content": map[string]any{"post": map[string]any{"zh_cn": map[string]any{
			"title":   robotTitle(r, d, idx, k, n),
			"content": content,
		}}},
	}
	return &RobotMessage{Kind: KindFeishu, Entries: idx, payload: p, size: len(marshalJSON(p))}
}

// sign adds timestamp (seconds, a string) and sign to the body.
func (feishu) sign(r *Robot, payload map[string]any, now time.Time) (string, []byte, error) {
	if r.Secret == "" {
		return r.URL, marshalJSON(payload), nil
	}
	sec := now.Unix()
	signed := make(map[string]any, len(payload)+2)
	for k, v := range payload {
		signed[k] = v
	}
	signed["timestamp"] = strconv.FormatInt(sec, 10)
	signed["sign"] = FeishuSign(sec, r.Secret)
	return r.URL, marshalJSON(signed), nil
}

package notify_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"duban/notify"
	"duban/notify/robottest"
)

// robotDigest is one group's digest: an escalation, an overdue item
// whose head has a mobile and an im_id, a provisional deadline and an
// assigned item.
func robotDigest() notify.RobotDigest {
	head := &notify.Mention{Name: "周科长", Mobile: "13800000001", UserID: "ou_zhou"}
	return notify.RobotDigest{
		OfficeName: "市政府督查室",
		Generated:  time.Date(2026, 10, 9, 9, 0, 0, 0, shanghai),
		Entries: []notify.RobotEntry{
			{Entry: notify.Entry{Level: "escalation", InstanceID: "minutes-31", Title: "第31次常务会议纪要签发", Doc: "洛政办〔2026〕31号",
				Unit: "市政府办公室秘书科", Deadline: "2026年9月29日(星期二)24时前", Limit: "2026年10月9日(星期五)24时前（暂定）", OverdueDays: 3}, Head: head},
			{Entry: notify.Entry{Level: "overdue", InstanceID: "weekly-cases/mishu/2026-10-08", Title: "执行难案件进展周报",
				Unit: "市政府办公室秘书科", Deadline: "2026年10月8日(星期四)12:00前", Schedule: "每周四12:00前", OverdueDays: 1}, Head: head},
			{Entry: notify.Entry{Level: "assigned", InstanceID: "law-2027", Title: "2027年立法计划建议", Doc: "洛政办〔2026〕40号",
				Unit: "市法制局", CoUnit: true, Deadline: "2027年1月15日(星期五)24时前（暂定）"}},
		},
	}
}

func robotFor(kind string, srv *robottest.Server, secret, keyword string) *notify.Robot {
	return &notify.Robot{Name: "mishu-group", Kind: kind, URL: srv.URL, Secret: secret, Keyword: keyword}
}

// TestRobotGoldenBodies shows what each vendor's group sees for one
// digest: the unsigned body, pretty-printed, and the text the server
// decoded from it.
func TestRobotGoldenBodies(t *testing.T) {
	for _, kind := range notify.RobotKinds {
		t.Run(kind, func(t *testing.T) {
			srv := robottest.Start(t, robottest.Options{Kind: kind, Secret: "SEC-test", Keyword: "督办"})
			r := robotFor(kind, srv, "SEC-test", "督办")
			d := robotDigest()
			d.Link = "https://duban.example.gov.cn/units/mishu"
			msgs, err := r.Messages(d)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 1 {
				t.Fatalf("%d messages for a 3-entry digest, want 1", len(msgs))
			}
			if err := r.Send(t.Context(), msgs[0]); err != nil {
				t.Fatal(err)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("server accepted %d messages, rejected %v", len(got), srv.Rejections())
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, msgs[0].Body(), "", "  "); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, "robot-"+kind+".golden", pretty.String()+"\n\n---- 群内看到的文字 ----\n"+got[0].Title+"\n"+got[0].Text+"\n")
			text := got[0].Title + got[0].Text
			for _, want := range []string{"问责预警", "逾期催办", "督办通知", "洛政办〔2026〕31号", "（暂定）", "已逾期3个工作日", "市政府办公室秘书科", "市法制局（协办）", "督办", d.Link} {
				if !strings.Contains(text, want) {
					t.Errorf("message lacks %q", want)
				}
			}
			switch kind {
			case notify.KindDingTalk:
				if len(got[0].Mobiles) != 1 || got[0].Mobiles[0] != "13800000001" || !strings.Contains(text, "@13800000001") {
					t.Errorf("钉钉 @: atMobiles %v; text has @mobile: %v", got[0].Mobiles, strings.Contains(text, "@13800000001"))
				}
			case notify.KindWeCom:
				if !strings.Contains(text, "<@ou_zhou>") {
					t.Error("企业微信 message does not @ the head's userid")
				}
			case notify.KindFeishu:
				if !strings.Contains(text, "@ou_zhou") {
					t.Error("飞书 post has no at element for the head's user id")
				}
			}
			// Ranked as given: the escalation before the assigned item.
			if strings.Index(text, "问责预警") > strings.Index(text, "督办通知】") {
				t.Error("escalation is not before the assigned item")
			}
		})
	}
}

// TestRobotSignatureChecks: each vendor's server accepts the client's
// signature and rejects a wrong secret, a stale timestamp, and the other
// vendor's order of key and message; the errors are permanent with the
// vendor's code.
func TestRobotSignatureChecks(t *testing.T) {
	for _, kind := range []string{notify.KindDingTalk, notify.KindFeishu} {
		t.Run(kind, func(t *testing.T) {
			srv := robottest.Start(t, robottest.Options{Kind: kind, Secret: "SEC-right"})
			d := robotDigest()
			send := func(r *notify.Robot) error {
				msgs, err := r.Messages(d)
				if err != nil {
					t.Fatal(err)
				}
				return r.Send(t.Context(), msgs[0])
			}
			wantCode := map[string]int{notify.KindDingTalk: 310000, notify.KindFeishu: 19021}[kind]
			if err := send(robotFor(kind, srv, "SEC-right", "")); err != nil {
				t.Fatalf("right secret: %v", err)
			}
			check := func(what string, err error) {
				t.Helper()
				var re *notify.RobotError
				if !asRobotError(err, &re) || re.Code != wantCode || re.Temporary || notify.IsTemporaryRobotError(err) {
					t.Errorf("%s: got %v, want permanent code %d", what, err, wantCode)
				}
				if !notify.IsPermanent(err) {
					t.Errorf("%s: IsPermanent is false for %v", what, err)
				}
			}
			check("wrong secret", send(robotFor(kind, srv, "SEC-wrong", "")))
			stale := robotFor(kind, srv, "SEC-right", "")
			stale.Now = func() time.Time { return time.Now().Add(-61 * time.Minute) }
			check("stale timestamp", send(stale))
			// The right HMAC in the wrong unit (ms for 飞书, s for 钉钉):
			// the timestamp is then decades off.
			skewed := robotFor(kind, srv, "SEC-right", "")
			if kind == notify.KindDingTalk {
				skewed.Now = func() time.Time { return time.UnixMilli(time.Now().Unix()) } // seconds sent where ms are due
			} else {
				skewed.Now = func() time.Time { return time.Unix(time.Now().UnixMilli(), 0) }
			}
			check("timestamp in the other unit", send(skewed))
			if len(srv.Messages()) != 1 {
				t.Errorf("server accepted %d messages, want only the rightly signed one", len(srv.Messages()))
			}
		})
	}
	// The other order: 飞书's (key = "<ts>\n<secret>", empty message)
	// is not 钉钉's (key = secret, message = "<ts>\n<secret>").
	ms := time.Now().UnixMilli()
	if notify.DingTalkSign(ms, "s") == notify.FeishuSign(ms, "s") {
		t.Fatal("the two vendors' signatures coincide")
	}
	srv := robottest.Start(t, robottest.Options{Kind: notify.KindDingTalk, Secret: "s"})
	resp, err := postJSON(fmt.Sprintf("%s&timestamp=%d&sign=%s", srv.URL, ms, urlQuery(notify.FeishuSign(ms, "s"))), `{"msgtype":"text","text":{"content":"x"}}`)
	if err != nil || !strings.Contains(resp, "310000") {
		t.Errorf("钉钉 server took 飞书's order: %s %v", resp, err)
	}
}

// TestRobotErrorClassification: rate limit and busy answers are
// temporary; a bad token, keyword or oversize body permanent, with code.
func TestRobotErrorClassification(t *testing.T) {
	cases := []struct {
		kind      string
		code      int
		temporary bool
	}{
		{notify.KindDingTalk, 130101, true}, {notify.KindDingTalk, -1, true}, {notify.KindDingTalk, 310000, false}, {notify.KindDingTalk, 300001, false},
		{notify.KindWeCom, 45009, true}, {notify.KindWeCom, 93000, false}, {notify.KindWeCom, 40058, false},
		{notify.KindFeishu, 11232, true}, {notify.KindFeishu, 19024, false}, {notify.KindFeishu, 9499, false},
	}
	for _, c := range cases {
		srv := robottest.Start(t, robottest.Options{Kind: c.kind})
		srv.FailNext(c.code)
		r := robotFor(c.kind, srv, "", "")
		msgs, _ := r.Messages(robotDigest())
		err := r.Send(t.Context(), msgs[0])
		var re *notify.RobotError
		if !asRobotError(err, &re) || re.Code != c.code || re.Temporary != c.temporary {
			t.Errorf("%s %d: got %v (temporary %v), want temporary %v", c.kind, c.code, err, re != nil && re.Temporary, c.temporary)
		}
		if !strings.Contains(err.Error(), fmt.Sprint(c.code)) {
			t.Errorf("%s %d: error %q does not name the code", c.kind, c.code, err)
		}
	}
	// A wrong token, a missing keyword: the servers' own answers.
	srv := robottest.Start(t, robottest.Options{Kind: notify.KindFeishu, Keyword: "急件"})
	r := robotFor(notify.KindFeishu, srv, "", "")
	msgs, _ := r.Messages(robotDigest())
	err := r.Send(t.Context(), msgs[0])
	if expl := notify.Explain("mishu-group", err); !strings.Contains(expl, "关键词不匹配：请在 robots.mishu-group.keyword 填写群机器人设置的关键词") {
		t.Errorf("keyword failure explained as %q (%v)", expl, err)
	}
	w := robottest.Start(t, robottest.Options{Kind: notify.KindWeCom})
	bad := &notify.Robot{Name: "g", Kind: notify.KindWeCom, URL: strings.Replace(w.URL, robottest.Token, "wrong", 1)}
	msgs, _ = bad.Messages(robotDigest())
	err = bad.Send(t.Context(), msgs[0])
	if notify.IsTemporaryRobotError(err) || !strings.Contains(err.Error(), "93000") {
		t.Errorf("bad key: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error shows the token: %v", err)
	}
}

// TestRobotSplitsAtEntryBoundaries: a 200-entry digest becomes parts
// within each vendor's limit, every entry in exactly one part, all
// accepted by the server's size check.
func TestRobotSplitsAtEntryBoundaries(t *testing.T) {
	for _, kind := range notify.RobotKinds {
		d := robotDigest()
		base := d.Entries[0]
		d.Entries = nil
		for i := range 200 {
			e := base
			e.InstanceID, e.Title = fmt.Sprintf("case-%03d", i), fmt.Sprintf("第%03d号督办事项：关于推进重点项目建设进度的督查", i)
			d.Entries = append(d.Entries, e)
		}
		r := &notify.Robot{Name: "g", Kind: kind}
		msgs, err := r.Messages(d)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int, 200)
		for _, m := range msgs {
			if m.Size() > notify.KindLimits(kind).MaxBytes {
				t.Errorf("%s: part of %d bytes, limit %d", kind, m.Size(), notify.KindLimits(kind).MaxBytes)
			}
			for _, i := range m.Entries {
				seen[i]++
				if !strings.Contains(string(m.Body()), fmt.Sprintf("第%03d号", i)) {
					t.Errorf("%s: entry %d not in its part", kind, i)
				}
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Errorf("%s: entry %d in %d parts", kind, i, n)
			}
		}
		t.Logf("%s: 200 entries in %d parts", kind, len(msgs))
	}
}

// TestRobotNeverLogsSecrets: the robot's String and LogValue mask the
// token and omit the secret.
func TestRobotNeverLogsSecrets(t *testing.T) {
	r := &notify.Robot{Name: "g", Kind: notify.KindDingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=TOKEN123", Secret: "SECxyz"}
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "robot", r)
	out := b.String() + r.String() + fmt.Sprint(r) + notify.MaskURL("https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN123")
	if strings.Contains(out, "TOKEN123") || strings.Contains(out, "SECxyz") {
		t.Errorf("secret or token printed: %s", out)
	}
	if !strings.Contains(out, "access_token=***") {
		t.Errorf("masked URL not shown: %s", out)
	}
	// A transport error names the URL masked, and is temporary.
	srv := robottest.Start(t, robottest.Options{Kind: notify.KindDingTalk, Secret: "SECxyz"})
	srv.Close()
	down := &notify.Robot{Name: "g", Kind: notify.KindDingTalk, URL: srv.URL, Secret: "SECxyz"}
	msgs, _ := down.Messages(robotDigest())
	err := down.Send(t.Context(), msgs[0])
	if err == nil || strings.Contains(err.Error(), robottest.Token) || strings.Contains(err.Error(), "sign=") && !strings.Contains(err.Error(), "sign=***") || !notify.IsTemporaryRobotError(err) {
		t.Errorf("transport error: %v (temporary %v)", err, notify.IsTemporaryRobotError(err))
	}
}

func asRobotError(err error, re **notify.RobotError) bool { return errors.As(err, re) }

func urlQuery(s string) string { return url.QueryEscape(s) }

func postJSON(u, body string) (string, error) {
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"duban/notify/robottest"
)

// `duban robot test NAME` posts one test message and explains the
// vendor's answer in Chinese; it never prints the token or the secret.
func TestRobotTestCommandExplainsTheVendorsAnswer(t *testing.T) {
	e := newTestEnv(t)
	ding := robottest.Start(t, robottest.Options{Kind: "dingtalk", Secret: "SEC-ding"})
	lark := robottest.Start(t, robottest.Options{Kind: "feishu", Secret: "SEC-lark", Keyword: "急件"})
	wecom := robottest.Start(t, robottest.Options{Kind: "wecom"})
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf("robots:\n  mishu-group: {kind: dingtalk, url: %q}\n  fzj-group: {kind: feishu, url: %q, keyword: 督办}\n  cz-group: {kind: wecom, url: %q}\n",
		ding.URL, lark.URL, strings.Replace(wecom.URL, robottest.Token, "wrong-key", 1))...)
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DUBAN_ROBOTS_MISHU_GROUP_SECRET", "SEC-ding")
	t.Setenv("DUBAN_ROBOTS_FZJ_GROUP_SECRET", "SEC-lark")

	code, out, stderr := e.run("robot", "test", "mishu-group")
	if code != 0 || !strings.Contains(out, "测试消息已送达") || len(ding.Messages()) != 1 || !strings.Contains(ding.Messages()[0].Text, "测试消息") {
		t.Errorf("钉钉 test: exit %d\n%s%s\naccepted %d, refused %v", code, out, stderr, len(ding.Messages()), ding.Rejections())
	}
	code, out, _ = e.run("robot", "test", "fzj-group")
	if code != 1 || !strings.Contains(out, "关键词不匹配：请在 robots.fzj-group.keyword 填写群机器人设置的关键词") || !strings.Contains(out, "19024") {
		t.Errorf("飞书 keyword mismatch: exit %d\n%s", code, out)
	}
	code, out, _ = e.run("robot", "test", "cz-group")
	if code != 1 || !strings.Contains(out, "webhook 地址无效") || !strings.Contains(out, "93000") || strings.Contains(out, "wrong-key") {
		t.Errorf("企业微信 bad key: exit %d\n%s", code, out)
	}
	code, _, stderr = e.run("robot", "test", "nosuch")
	if code != 2 || !strings.Contains(stderr, "没有名为 nosuch 的群机器人") || !strings.Contains(stderr, "mishu-group") {
		t.Errorf("unknown robot: exit %d\n%s", code, stderr)
	}
	for _, c := range [][]string{{"robot", "test", "mishu-group"}, {"robot", "test", "fzj-group"}} {
		_, out, stderr := e.run(c...)
		if s := out + stderr; strings.Contains(s, "SEC-") || strings.Contains(s, robottest.Token) {
			t.Errorf("robot test printed a secret or token:\n%s", s)
		}
	}
}

package config_test

import (
	"fmt"
	"strings"
	"testing"

	"duban/cmd/internal/config"
)

func TestRobotsLoadWithSecretsFromTheEnvironment(t *testing.T) {
	clearEnv(t)
	p := mustWrite(t, "duban.yaml", `robots:
  mishu-group: {kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=abc", keyword: 督办}
  ducha_group:
    kind: wecom
    url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1
  lark: {kind: feishu, url: "https://open.larksuite.com/open-apis/bot/v2/hook/h", secret: in-file}
`)
	t.Setenv("DUBAN_ROBOTS_MISHU_GROUP_SECRET", "SECfromenv")
	t.Setenv("DUBAN_ROBOTS_DUCHA_GROUP_URL", "https://gov.example.cn/cgi-bin/webhook/send?key=k2")
	c := mustLoad(t, p)
	if got := c.Robots["mishu-group"]; got.Kind != "dingtalk" || string(got.Secret) != "SECfromenv" || got.Keyword != "督办" {
		t.Errorf("mishu-group = %+v (secret %q)", got, string(got.Secret))
	}
	if got := c.Robots["ducha_group"]; string(got.URL) != "https://gov.example.cn/cgi-bin/webhook/send?key=k2" {
		t.Errorf("ducha_group url %q, want the environment's", string(got.URL))
	}
	if got := c.Robots["lark"]; string(got.Secret) != "in-file" {
		t.Errorf("lark secret %q", string(got.Secret))
	}
	if s := fmt.Sprintf("%v %+v", c.Robots, c.Robots); strings.Contains(s, "SECfromenv") || strings.Contains(s, "access_token=abc") {
		t.Errorf("robots print their secret or token: %s", s)
	}
	if config.RobotEnvName("mishu-group", "SECRET") != "DUBAN_ROBOTS_MISHU_GROUP_SECRET" {
		t.Error(config.RobotEnvName("mishu-group", "SECRET"))
	}
}

func TestRobotsValidationNamesFileLineAndKey(t *testing.T) {
	clearEnv(t)
	p := mustWrite(t, "duban.yaml", `db: duban.db
robots:
  a: {kind: dingtalk, url: "https://oapi.dingtalk.com/robot/send?access_token=x"}
  b: {kind: slack, url: "https://x"}
  c: {kind: wecom, url: "https://q/cgi-bin/webhook/send?key=k", secret: s}
  d: {kind: feishu}
  e: {kind: feishu, url: "ftp://x"}
`)
	_, err := config.Load(p)
	if err == nil {
		t.Fatal("bad robots accepted")
	}
	for _, want := range []string{
		"line 4: robots.b.kind: must be dingtalk, wecom or feishu (got \"slack\")",
		"line 5: robots.c.secret: must be empty for kind wecom",
		"line 6: robots.d.url: required",
		"DUBAN_ROBOTS_D_URL",
		"line 7: robots.e.url: must be the robot's webhook",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "robots.a") {
		t.Errorf("good robot reported: %v", err)
	}
	p = mustWrite(t, "duban.yaml", "robots:\n  f: {kind: dingtalk, url: \"https://x\", sceret: typo}\n")
	if _, err := config.Load(p); err == nil || !strings.Contains(err.Error(), "line 2: unknown key robots.f.sceret") {
		t.Errorf("typo in a robot: %v", err)
	}
}

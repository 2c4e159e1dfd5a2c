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

// The tracking files point units at robots (an unknown one is an import
// error with file:line); serve posts each unit's digest into its group
// with the head @-ed, and a robot the vendor refuses is listed by
// `outbox --failed` with the vendor's code while the other group gets
// its message.
func TestServePostsToWorkGroupsNamedInTrackingFiles(t *testing.T) {
	e := newTestEnv(t)
	ding := robottest.Start(t, robottest.Options{Kind: "dingtalk", Secret: "SEC-ding", Keyword: "督办"})
	lark := robottest.Start(t, robottest.Options{Kind: "feishu", Secret: "SEC-lark"})
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf("robots:\n  mishu-group: {kind: dingtalk, url: %q, keyword: 督办}\n  fzj-group: {kind: feishu, url: %q}\n", ding.URL, lark.URL)...)
	if err := os.WriteFile(e.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DUBAN_ROBOTS_MISHU_GROUP_SECRET", "SEC-ding")
	t.Setenv("DUBAN_ROBOTS_FZJ_GROUP_SECRET", "SEC-wrong")
	units := `office: {name: 市政府督查室, email: ducha@example.gov.cn}
people:
  - {id: zhou, name: 周科长, email: zhou@example.gov.cn, mobile: "13800000001"}
  - {id: wang, name: 王冠标, email: wang@example.gov.cn, im_id: ou_wang}
units:
  - {id: mishu, name: 市政府办公室秘书科, head: zhou, robot: mishu-group}
  - {id: fzj, name: 市法制局, head: wang, robot: fzj-group}
policies:
  - id: standard
    steps:
      - {at: 0, to: [unit, group], level: due}
      - {at: +1wd, every: 1wd, to: [unit, group], level: overdue}
items:
  - {id: m1, title: 第31次常务会议纪要签发, doc: 洛政办〔2026〕31号, unit: mishu, start: 2026-09-01, due: 2026-09-10, policy: standard}
  - {id: f1, title: 规范性文件备案审查, unit: fzj, start: 2026-09-01, due: 2026-09-10, policy: standard}
`
	bad := e.writeTemp("bad.yaml", strings.Replace(units, "robot: fzj-group", "robot: fzj-grp", 1))
	code, _, stderr := e.run("import", bad, "--at", "2026-09-01 08:00")
	if code != 2 || !strings.Contains(stderr, "bad.yaml:7") || !strings.Contains(stderr, "units[1].robot") || !strings.Contains(stderr, "fzj-grp") {
		t.Errorf("unknown robot: exit %d\n%s", code, stderr)
	}
	e.mustRun("import", e.writeTemp("units.yaml", units), "--at", "2026-09-01 08:00")
	e.mustRun("serve", "--once", "--at", "2026-09-14 09:00")
	msgs := ding.Messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "逾期催办") || !strings.Contains(msgs[0].Text, "@13800000001") || !strings.Contains(msgs[0].Text, "第31次常务会议纪要签发") {
		t.Fatalf("钉钉 group: %d messages, refused %v\n%v", len(msgs), ding.Rejections(), msgs)
	}
	if len(lark.Messages()) != 0 || len(lark.Rejections()) != 1 {
		t.Errorf("飞书 with a wrong secret: %d accepted, %v refused", len(lark.Messages()), lark.Rejections())
	}
	var failed []servedOutboxRow
	for _, r := range e.outbox("--failed") {
		if r.To == "robot:fzj-group" && strings.Contains(r.LastError, "19021") {
			failed = append(failed, r)
		}
	}
	if len(failed) != 1 {
		t.Errorf("outbox --failed does not list the 飞书 failure with its code: %+v", e.outbox("--failed"))
	}
	if table := e.mustRun("outbox", "--failed"); !strings.Contains(table, "群机器人 fzj-group") || !strings.Contains(table, "19021") {
		t.Errorf("outbox --failed table:\n%s", table)
	}
	e.mustRun("serve", "--once", "--at", "2026-09-14 09:01")
	if len(ding.Messages()) != 1 {
		t.Errorf("a second pass posted again: %d messages", len(ding.Messages()))
	}
}

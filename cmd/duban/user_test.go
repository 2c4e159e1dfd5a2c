package main

import (
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/account"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// TestUserCommands: add (random password printed once, or from stdin),
// list, passwd, token (printed alone), remove; bad input exits 2.
func TestUserCommands(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	out := e.mustRun("user", "add", "zhang", "--role", "office")
	if !strings.Contains(out, "已添加账户 zhang（督查室）") || !strings.Contains(out, "初始密码（只显示这一次）：") {
		t.Fatalf("user add printed %q", out)
	}
	pw := strings.TrimSpace(out[strings.LastIndex(out, "：")+len("："):])
	if len(pw) != 16 {
		t.Fatalf("random password %q, want 16 characters", pw)
	}
	code, _, stderr := e.run("user", "add", "wu", "--role", "unit")
	if code != 2 || !strings.Contains(stderr, "--unit") {
		t.Errorf("unit account without --unit: exit %d, %q", code, stderr)
	}
	code, _, stderr = e.run("user", "add", "wu", "--role", "unit", "--unit", "nosuch")
	if code != 2 || !strings.Contains(stderr, `单位 "nosuch" 不存在`) {
		t.Errorf("unknown unit: exit %d, %q", code, stderr)
	}
	e.mustRun("user", "add", "li", "--role", "leader", "--person", "li")
	code, _, stderr = e.run("user", "add", "zhang", "--role", "office")
	if code != 2 || !strings.Contains(stderr, "已存在") {
		t.Errorf("duplicate: exit %d, %q", code, stderr)
	}
	list := e.mustRun("user", "list")
	for _, want := range []string{"zhang", "督查室", "li", "领导"} {
		if !strings.Contains(list, want) {
			t.Errorf("user list lacks %q:\n%s", want, list)
		}
	}
	tok := strings.TrimSpace(e.mustRun("user", "token", "zhang"))
	if !strings.HasPrefix(tok, "dbt_") || strings.ContainsAny(tok, " \n") {
		t.Errorf("token printed %q", tok)
	}
	e.mustRun("user", "passwd", "zhang")

	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = st.Update(func(tx tracker.Tx) error {
		if _, _, err := account.Login(tx, "zhang", pw, now); err != account.ErrBadLogin {
			t.Errorf("old password after passwd: %v, want ErrBadLogin", err)
		}
		a, err := account.ByToken(tx, tok)
		if err != nil || a.Name != "zhang" || a.Role != tracker.RoleOffice {
			t.Errorf("ByToken = %+v, %v", a, err)
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	e.mustRun("user", "remove", "zhang")
	if code, _, _ := e.run("user", "remove", "zhang"); code != 2 {
		t.Errorf("removing an unknown account: exit %d, want 2", code)
	}
	if list := e.mustRun("user", "list"); strings.Contains(list, "zhang") {
		t.Errorf("removed account still listed:\n%s", list)
	}
}

// TestUserPasswordStdin: --password-stdin reads the first line; nothing
// is printed but the confirmation.
func TestUserPasswordStdin(t *testing.T) {
	e := newTestEnv(t)
	var out, errb strings.Builder
	a := &app{stdout: &out, stderr: &errb, cwd: e.dir, actor: "test", stdin: strings.NewReader("a-long-password\nignored\n")}
	if code := a.execute(t.Context(), []string{"user", "add", "wu", "--role", "office", "--password-stdin", "--config", e.config}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String(), "密码") {
		t.Errorf("printed a password: %q", out.String())
	}
	a = &app{stdout: &out, stderr: &errb, cwd: e.dir, actor: "test", stdin: strings.NewReader("")}
	if code := a.execute(t.Context(), []string{"user", "passwd", "wu", "--password-stdin", "--config", e.config}); code != 2 {
		t.Errorf("empty stdin: exit %d, want 2", code)
	}
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_ = st.Update(func(tx tracker.Tx) error {
		if _, _, err := account.Login(tx, "wu", "a-long-password", time.Now()); err != nil {
			t.Errorf("login with the password from stdin: %v", err)
		}
		return nil
	})
}

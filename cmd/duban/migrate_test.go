package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/account"
	"duban/cmd/internal/attach"
	"duban/cmd/internal/ops"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/pgtest"
)

// sumsOf returns the KindSum of every bucket of the bbolt file at path.
func sumsOf(t *testing.T, path string) map[string]kvstore.KindSum {
	t.Helper()
	db, err := boltkv.Open(path, time.Second, true)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	sums, err := kvstore.Sums(db)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]kvstore.KindSum{}
	for _, s := range sums {
		out[s.Bucket] = s
	}
	return out
}

// realDatabase fills e's database by real commands: the worked example
// imported, a scheduler pass sending with the file transport, an
// account, a session, and an attachment received like an upload.
func realDatabase(t *testing.T, e *testEnv) (attDir string) {
	t.Helper()
	e.importExample()
	e.mustRun("serve", "--once", "--at", "2026-10-09 10:00")
	e.mustRun("user", "add", "zhang", "--role", "office")
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 10, 9, 10, 0, 0, 0, time.UTC)
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := account.NewToken(tx, "zhang", now)
		if err != nil {
			return err
		}
		at, err := tracker.Accounts(tx)
		if err != nil {
			return err
		}
		return at.PutSession(&tracker.Session{ID: account.HashSecret("s"), Account: "zhang", Created: now, Expires: now.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	attDir = filepath.Join(e.dir, "attachments")
	p, err := attach.Dir(attDir).Receive("落实情况.pdf", strings.NewReader(strings.Repeat("材料", 300_000)), 20<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Keep(); err != nil {
		t.Fatal(err)
	}
	if err := ops.Attach(st, "minutes-31", p.Name, p.Hash, p.Size, "链接:test", now); err != nil {
		t.Fatal(err)
	}
	return attDir
}

// TestMigrateRoundTrip: a database built by real commands goes into
// PostgreSQL and back, and every bucket comes back byte-identical (equal
// digests), the attachment too; the verification table says so kind by
// kind. A target that is not empty is refused. On PostgreSQL, backup
// writes a bbolt file of the same buckets plus the attachments, which
// migrate restores into another database.
func TestMigrateRoundTrip(t *testing.T) {
	pg, pg2 := pgtest.URL(t), pgtest.URL(t)
	e := newTestEnv(t)
	attDir := realDatabase(t, e)
	orig := sumsOf(t, e.db)
	for _, b := range []string{"instances", "history", "outbox", "users", "sessions", "tokens"} {
		if orig[b].Keys == 0 {
			t.Fatalf("the test database has no %s", b)
		}
	}

	out := e.mustRun("migrate", "--to", pg)
	if !strings.Contains(out, "办理记录 history") || !strings.Contains(out, "附件 attachments") ||
		strings.Contains(out, "不一致") || !strings.Contains(out, "逐类核对一致") {
		t.Errorf("migrate said:\n%s", out)
	}
	if code, _, errs := e.run("migrate", "--to", pg); code != 2 || !strings.Contains(errs, "只能迁移到空数据库") {
		t.Errorf("migrate into a database that is not empty: exit %d, %s", code, errs)
	}

	back, backAtt := filepath.Join(t.TempDir(), "back.db"), filepath.Join(t.TempDir(), "att")
	e.mustRun("migrate", "--from", pg, "--to", back, "--attachments", backAtt)
	got := sumsOf(t, back)
	if len(got) != len(orig) {
		t.Errorf("back: %d buckets, want %d", len(got), len(orig))
	}
	for name, s := range orig {
		if got[name] != s {
			t.Errorf("bucket %s: %+v back, want %+v", name, got[name], s)
		}
	}
	sameFiles(t, attDir, backAtt)
	if code, _, errs := e.run("migrate", "--from", pg, "--to", back, "--attachments", t.TempDir()); code != 2 || !strings.Contains(errs, "已存在") {
		t.Errorf("migrate onto an existing file: exit %d, %s", code, errs)
	}
	if code, _, errs := e.run("migrate", "--from", pg, "--to", back+"2", "--attachments", backAtt); code != 2 || !strings.Contains(errs, "已有 1 个附件") {
		t.Errorf("migrate into an attachments directory that is not empty: exit %d, %s", code, errs)
	}
	if _, err := os.Stat(back + "2"); err == nil {
		t.Error("a refused migrate created its target")
	}

	// backup on PostgreSQL: a bbolt file with the attachments inside.
	bk := filepath.Join(t.TempDir(), "pg-backup.db")
	if out := e.mustRun("--db", pg, "backup", bk); !strings.Contains(out, "已备份到") {
		t.Errorf("backup said %q", out)
	}
	assertMode0600(t, bk)
	bs := sumsOf(t, bk)
	for name, s := range orig {
		if bs[name] != s {
			t.Errorf("backup: bucket %s differs", name)
		}
	}
	if bs[string(attach.Bucket)].Keys < 2 {
		t.Errorf("backup: attachments bucket %+v, want the file's meta and chunks", bs[string(attach.Bucket)])
	}
	// restore it, and read it back once more.
	e.mustRun("migrate", "--from", bk, "--to", pg2, "--attachments", filepath.Join(t.TempDir(), "none"))
	back2, back2Att := filepath.Join(t.TempDir(), "back2.db"), filepath.Join(t.TempDir(), "att2")
	e.mustRun("migrate", "--from", pg2, "--to", back2, "--attachments", back2Att)
	got2 := sumsOf(t, back2)
	for name, s := range orig {
		if got2[name] != s {
			t.Errorf("restored backup: bucket %s differs", name)
		}
	}
	sameFiles(t, attDir, back2Att)
	if out := e.mustRun("--db", pg2, "show", "minutes-31"); !strings.Contains(out, "落实情况.pdf") {
		t.Errorf("show on the restored database:\n%s", out)
	}
}

// sameFiles fails unless directories a and b hold the same files.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	ea, _ := os.ReadDir(a)
	eb, _ := os.ReadDir(b)
	if len(ea) == 0 || len(ea) != len(eb) {
		t.Fatalf("%s has %d files, %s %d", a, len(ea), b, len(eb))
	}
	for i := range ea {
		da, _ := os.ReadFile(filepath.Join(a, ea[i].Name()))
		db, err := os.ReadFile(filepath.Join(b, eb[i].Name()))
		if ea[i].Name() != eb[i].Name() || err != nil || string(da) != string(db) {
			t.Errorf("file %s differs from %s", ea[i].Name(), eb[i].Name())
		}
	}
}

// TestMigrateRefusesHeldSource: a bbolt file held by a running process
// (the daemon) is not copied; nothing is written to the target.
func TestMigrateRefusesHeldSource(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, errs := e.run("migrate", "--to", "postgres://duban@db.invalid/duban")
	if code != 1 || !strings.Contains(errs, "请先停止 duban serve") {
		t.Errorf("exit %d, %s", code, errs)
	}
	to := filepath.Join(t.TempDir(), "x.db")
	if code, _, errs := e.run("migrate", "--from", e.db, "--to", to); code != 2 || !strings.Contains(errs, "一端须是 bbolt 文件") {
		t.Errorf("file to file: exit %d, %s", code, errs)
	}
	if code, _, errs := e.run("migrate", "--to", "postgres://duban:Secr3t@db.invalid/duban"); code != 2 || strings.Contains(errs, "Secr3t") {
		t.Errorf("a URL with a password: exit %d, %s", code, errs)
	}
}

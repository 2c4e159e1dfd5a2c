package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"duban/tracker"
	"duban/tracker/kvstore"
)

// instancesOf reads every instance of the database at path, by id,
// after checking the file (bbolt's check and the indexes).
func instancesOf(t *testing.T, path string) map[string]tracker.Instance {
	t.Helper()
	st, err := kvstore.OpenReadOnly(path, time.Second)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Errorf("%s fails its check: %v", path, err)
	}
	out := make(map[string]tracker.Instance)
	if err := st.View(func(tx tracker.Tx) error {
		return tx.Instances(func(in *tracker.Instance) error { out[in.ID] = *in; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func assertMode0600(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
}

// noTempFiles fails if a backup left a temporary file in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestBackupWithoutDaemonAndRestore: with no daemon the CLI copies the
// database itself; the copy is the database, key for key, and restoring
// it (copying it back with the daemon stopped) brings the old state back.
func TestBackupWithoutDaemonAndRestore(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	dst := filepath.Join(t.TempDir(), "backup.db")
	out := e.mustRun("backup", dst)
	if !strings.Contains(out, "已备份到") || !strings.Contains(out, "直接读取数据库") {
		t.Errorf("backup said %q", out)
	}
	assertMode0600(t, dst)
	if d := diffDumps(dumpDB(t, e.db), dumpDB(t, dst)); len(d) > 0 {
		t.Errorf("the copy differs from the database in %d keys, e.g. %q", len(d), d[:min(len(d), 5)])
	}
	if got, want := instancesOf(t, dst), instancesOf(t, e.db); len(got) != len(want) || len(got) < 20 || got["minutes-31"].Status != tracker.StatusOpen {
		t.Errorf("the copy has %d instances (the database %d), minutes-31 %q", len(got), len(want), got["minutes-31"].Status)
	}

	// Refused: the database itself (also by another spelling), and a
	// directory that does not exist. Neither leaves anything behind.
	hash := e.dbHash()
	for _, p := range []string{e.db, filepath.Join(e.dir, ".", "duban.db")} {
		if code, _, errs := e.run("backup", p); code != 2 || !strings.Contains(errs, "就是数据库本身") {
			t.Errorf("backup onto %s: exit %d, %q; want 2", p, code, errs)
		}
	}
	if code, _, errs := e.run("backup", filepath.Join(e.dir, "nosuch", "b.db")); code != 1 || !strings.Contains(errs, "备份失败") {
		t.Errorf("backup into a missing directory: exit %d, %q; want 1", code, errs)
	}
	if e.dbHash() != hash {
		t.Error("a refused backup changed the database")
	}
	noTempFiles(t, e.dir)
	noTempFiles(t, filepath.Dir(dst))

	// Restore, as the README says: with the daemon stopped, copy the
	// backup over the database.
	e.mustRun("done", "minutes-31", "--at", "2026-09-28 11:00")
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.list("--status", "all")["minutes-31"]; r.Status != "open" {
		t.Errorf("after the restore minutes-31 is %s, want open (as backed up)", r.Status)
	}
}

// TestBackupThroughRunningDaemon: while the daemon runs (and commands
// change the database through it), backup streams a copy from the
// daemon's open database; the copy opens, passes its check and has the
// instances the database has.
func TestBackupThroughRunningDaemon(t *testing.T) {
	e := daemonEnv(t, "worked-2026.yaml")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	var serveErr bytes.Buffer
	go func() { done <- run(ctx, []string{"serve", "--config", e.config}, &bytes.Buffer{}, &serveErr) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exit %d: %s", code, serveErr.String())
			}
		}
	}
	defer stop()
	waitForSocket(t, shortSocket(t, e.dir))

	// Writers through the socket while the backups run.
	var wg sync.WaitGroup
	quit := make(chan struct{})
	var writes int
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-quit:
				writes = i
				return
			default:
			}
			if code, _, errs := e.run("progress", "minutes-31", "--note", fmt.Sprint("进展", i)); code != 0 {
				t.Errorf("progress through the daemon: exit %d %s", code, errs)
				return
			}
		}
	})
	dir := t.TempDir()
	var copies []string
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("b%d.db", i))
		out := e.mustRun("backup", p)
		if !strings.Contains(out, "经守护进程") {
			t.Errorf("backup %d did not go through the daemon: %q", i, out)
		}
		copies = append(copies, p)
	}
	close(quit)
	wg.Wait()
	if code, _, errs := e.run("backup", e.db); code != 2 || !strings.Contains(errs, "就是数据库本身") {
		t.Errorf("backup onto the live database through the daemon: exit %d, %q; want 2", code, errs)
	}
	stop()
	t.Logf("%d progress notes written during the backups", writes)

	live := instancesOf(t, e.db)
	if len(live) == 0 {
		t.Fatal("the daemon loaded nothing")
	}
	for _, p := range copies {
		assertMode0600(t, p)
		got := instancesOf(t, p)
		if len(got) != len(live) {
			t.Errorf("%s has %d instances, the database %d", p, len(got), len(live))
		}
		for id, in := range live {
			g, ok := got[id]
			if !ok || g.Status != in.Status || !g.Deadline.Due.Equal(in.Deadline.Due) {
				t.Errorf("%s: instance %s is %+v, want %+v", filepath.Base(p), id, g.Status, in.Status)
			}
		}
	}
	noTempFiles(t, dir)
}

// TestSaveBackupKeepsNoBrokenCopy: a copy cut short (a daemon that died
// mid-stream) fails its check and is not kept.
func TestSaveBackupKeepsNoBrokenCopy(t *testing.T) {
	e := newTestEnv(t)
	e.importExample()
	st, err := kvstore.Open(e.db, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var full bytes.Buffer
	_, err = st.WriteTo(&full)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "cut.db")
	for _, cut := range []int{full.Len() / 2, full.Len() - 4096, 4096 * 3} {
		_, err = kvstore.SaveBackup(dst, e.db, func(w io.Writer) (int64, error) {
			n, err := w.Write(full.Bytes()[:cut])
			return int64(n), err
		})
		if err == nil {
			t.Fatalf("a copy cut at %d of %d bytes was accepted", cut, full.Len())
		}
		if _, serr := os.Stat(dst); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("the truncated copy was kept: %v", serr)
		}
	}
	// The whole copy is accepted.
	if _, err := kvstore.SaveBackup(dst, e.db, func(w io.Writer) (int64, error) { return full.WriteTo(w) }); err != nil {
		t.Fatalf("the whole copy: %v", err)
	}
	noTempFiles(t, filepath.Dir(dst))
}

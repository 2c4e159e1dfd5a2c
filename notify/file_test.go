package notify_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duban/notify"
)

func TestFileSender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "outbox") // missing: created
	f, err := notify.NewFileSender(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("outbox mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	m := sampleMessage()
	if err := f.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	path := f.Path(m.Key)
	if filepath.Dir(path) != dir || !strings.HasSuffix(path, ".eml") {
		t.Errorf("Path(%q) = %q", m.Key, path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkSampleDecodes(t, data)

	// The same notice again overwrites; another notice adds a file.
	m.Subject = "【逾期催办】第31次常务会议纪要签发（逾期3个工作日）"
	if err := f.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if got := mustParseMail(t, mustRead(t, path)).Subject; got != m.Subject {
		t.Errorf("after resend Subject = %q, want %q", got, m.Subject)
	}
	if n := len(emlFiles(t, dir)); n != 1 {
		t.Errorf("%d files after resending one notice, want 1", n)
	}
	other := sampleMessage()
	other.Key = "minutes-31|3|0"
	if err := f.Send(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("outbox holds %v, want two .eml files and no temporary files", entries)
	}
}

func TestFileSenderRejectsInvalid(t *testing.T) {
	dir := t.TempDir()
	f, err := notify.NewFileSender(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := sampleMessage()
	m.To, m.Cc = nil, nil
	if err := f.Send(t.Context(), m); !errors.Is(err, notify.ErrInvalid) || !notify.IsPermanent(err) {
		t.Errorf("Send with no recipients: %v", err)
	}
	if n := len(emlFiles(t, dir)); n != 0 {
		t.Errorf("%d files written for an invalid message", n)
	}
}

func TestFileSenderPath(t *testing.T) {
	f, err := notify.NewFileSender(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, key := range []string{"minutes-31|2|0", "minutes-31|2|1", "../../etc/passwd", ".hidden", "督办/事项|1|0", strings.Repeat("k", 500)} {
		p := f.Path(key)
		base := filepath.Base(p)
		if filepath.Dir(p) != filepath.Clean(filepath.Dir(p)) || strings.HasPrefix(base, ".") || strings.ContainsAny(base, "/\\|") || len(base) > 100 {
			t.Errorf("Path(%q) = %q", key, p)
		}
		if prev, ok := seen[base]; ok {
			t.Errorf("keys %q and %q share file %s", prev, key, base)
		}
		seen[base] = key
	}
	if got := filepath.Base(f.Path("minutes-31|2|0")); !strings.HasPrefix(got, "minutes-31_2_0-") {
		t.Errorf("Path keeps no readable key: %s", got)
	}
}

func TestNewFileSenderNotADirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	write(t, path, "x")
	if _, err := notify.NewFileSender(path); err == nil {
		t.Error("NewFileSender on a regular file succeeded")
	}
}

func emlFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

package attach_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"duban/cmd/internal/attach"
)

// TestReceiveKeepAndLimit: a file is kept under its content hash (twice
// the same content is one file); over the limit nothing is left; names
// lose their directories.
func TestReceiveKeepAndLimit(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		p, err := attach.Receive(dir, `C:\材料\结果.pdf`, strings.NewReader("0123456789"), 10)
		if err != nil {
			t.Fatal(err)
		}
		if p.Name != "结果.pdf" || p.Size != 10 || !strings.HasPrefix(p.Hash, "sha256:") {
			t.Fatalf("pending: %+v", p)
		}
		if err := p.Keep(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := attach.Receive(dir, "big.bin", strings.NewReader("01234567890"), 10); !errors.Is(err, attach.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || len(ents[0].Name()) != 64 {
		t.Fatalf("files kept: %v", ents)
	}
	if _, err := attach.Path(dir, "sha256:../../etc/passwd"); err == nil {
		t.Error("Path accepted a path")
	}
	if p, _ := attach.Path(dir, "sha256:"+ents[0].Name()); filepath.Dir(p) != dir {
		t.Errorf("Path = %s", p)
	}
}

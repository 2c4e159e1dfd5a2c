// Package attach keeps the files units send with their reports (SPEC
// §11): under one directory, each named by the SHA-256 of its content
// (the same file sent twice is kept once), at most a configured size.
// An instance's attachments are events of its history (action
// "attachment", Note the file name, To "sha256:<hex>"), recorded by
// ops.Attach.
package attach

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrTooLarge is returned for a file over the size limit.
var ErrTooLarge = errors.New("附件超过大小限制")

// Pending is a file received and hashed but not yet kept: Keep moves it
// into place, Discard removes it.
type Pending struct {
	Name string // the file name the sender gave, without directories
	Hash string // "sha256:<hex>"
	Size int64
	tmp  string
	dir  string
}

// Receive copies r (the file called name) into a temporary file in dir,
// hashing it; more than max bytes is ErrTooLarge and leaves nothing.
func Receive(dir, name string, r io.Reader, max int64) (*Pending, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > max {
		err = ErrTooLarge
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	return &Pending{Name: CleanName(name), Hash: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n, tmp: f.Name(), dir: dir}, nil
}

// Keep moves the file to its content-hash name.
func (p *Pending) Keep() error {
	dst, err := Path(p.dir, p.Hash)
	if err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return os.Remove(p.tmp) // the same content is kept already
	}
	return os.Rename(p.tmp, dst)
}

// Discard removes the temporary file.
func (p *Pending) Discard() { os.Remove(p.tmp) }

var hashRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Path returns the file of hash ("sha256:<hex>") under dir.
func Path(dir, hash string) (string, error) {
	if !hashRE.MatchString(hash) {
		return "", fmt.Errorf("not an attachment hash: %q", hash)
	}
	return filepath.Join(dir, strings.TrimPrefix(hash, "sha256:")), nil
}

// CleanName keeps the last element of a file name, without control
// characters; "附件" when nothing is left.
func CleanName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, name)
	if name == "" || name == "." || name == "/" {
		return "附件"
	}
	return name
}

// Package attach keeps the files units send with their reports (SPEC
// §11, §14), each named by the SHA-256 of its content (the same file sent
// twice is kept once), at most a configured size. Two places keep them,
// behind Store: a directory (Dir, with a bbolt database: web.attachments.dir)
// and the database itself (InDB, with PostgreSQL: every node sees them).
// An instance's attachments are events of its history (action
// "attachment", Note the file name, To "sha256:<hex>"), recorded by
// ops.Attach once the file is kept.
package attach

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"duban/tracker/kvstore/kv"
)

// ErrTooLarge is returned for a file over the size limit.
var ErrTooLarge = errors.New("附件超过大小限制")

// ErrNotFound is returned (wrapped) by Open for a hash not kept; it
// matches fs.ErrNotExist too.
var ErrNotFound = fmt.Errorf("附件不存在：%w", fs.ErrNotExist)

// Store keeps attachments by content hash.
type Store interface {
	// Receive copies r (the file called name) aside, hashing it; more
	// than max bytes is ErrTooLarge and leaves nothing. The file is kept
	// only by Pending.Keep.
	Receive(name string, r io.Reader, max int64) (*Pending, error)
	// Open returns the content of hash ("sha256:<hex>"); ErrNotFound
	// when it is not kept.
	Open(hash string) (io.ReadCloser, error)
	// Hashes returns the hash of every file kept, in byte order.
	Hashes() ([]string, error)
	// String says where the files are, for messages.
	String() string
}

// Engine is what For asks of a store to find its database: kvstore.Store
// has both methods.
type Engine interface {
	KV() kv.DB
	Engine() string // "bbolt" | "postgres"
}

// For returns where the attachments of store st are kept: in its
// database when that is PostgreSQL, else under dir.
func For(st any, dir string) Store {
	if e, ok := st.(Engine); ok && e.Engine() == "postgres" {
		return InDB(e.KV())
	}
	return Dir(dir)
}

// Pending is a file received and hashed but not yet kept: Keep moves it
// into place, Discard removes it.
type Pending struct {
	Name string // the file name the sender gave, without directories
	Hash string // "sha256:<hex>"
	Size int64
	tmp  string
	keep func(p *Pending) error
}

// Keep keeps the file under its hash; keeping one already kept is not an
// error. The temporary file is gone afterwards either way.
func (p *Pending) Keep() error {
	err := p.keep(p)
	p.Discard()
	return err
}

// Discard removes the temporary file (nothing after Keep).
func (p *Pending) Discard() { os.Remove(p.tmp) }

// receive copies r into a new temporary file in dir ("" the system's),
// hashing it.
func receive(dir, name string, r io.Reader, max int64, keep func(*Pending) error) (*Pending, error) {
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
	return &Pending{Name: CleanName(name), Hash: "sha256:" + hex.EncodeToString(h.Sum(nil)), Size: n, tmp: f.Name(), keep: keep}, nil
}

// Dir keeps attachments as files under a directory, each named by the
// hex of its hash.
type Dir string

// Receive implements Store: the temporary file is in the directory.
func (d Dir) Receive(name string, r io.Reader, max int64) (*Pending, error) {
	if err := os.MkdirAll(string(d), 0o750); err != nil {
		return nil, err
	}
	return receive(string(d), name, r, max, func(p *Pending) error {
		dst, err := Path(string(d), p.Hash)
		if err != nil {
			return err
		}
		if _, err := os.Stat(dst); err == nil {
			return nil // the same content is kept already
		}
		return os.Rename(p.tmp, dst)
	})
}

// Open implements Store.
func (d Dir) Open(hash string) (io.ReadCloser, error) {
	path, err := Path(string(d), hash)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", hash, ErrNotFound)
	}
	return f, err
}

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Hashes implements Store: the files named by a hash (not temporary
// files), in byte order. A directory that does not exist has none.
func (d Dir) Hashes() ([]string, error) {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents { // ReadDir sorts by name
		if e.Type().IsRegular() && hexRE.MatchString(e.Name()) {
			out = append(out, "sha256:"+e.Name())
		}
	}
	return out, nil
}

func (d Dir) String() string { return string(d) }

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

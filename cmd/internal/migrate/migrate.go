// Package migrate copies a duban database between a bbolt file and
// PostgreSQL (SPEC §14: `duban migrate`): every bucket, key, value and
// sequence through kvstore.Copy, and the attachments from where one
// engine keeps them to where the other does (files under
// web.attachments.dir with bbolt, the database's attachments bucket with
// PostgreSQL); then it verifies the copy, kind by kind, by the count and
// a SHA-256 digest of both sides. A copy that fails or does not verify
// is removed: the target is left as it was found (empty).
package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"time"

	"duban/cmd/internal/attach"
	"duban/cmd/internal/config"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgkv"
)

// Errors of Run, wrapped with the details.
var (
	// ErrUsage: not one bbolt file and one PostgreSQL URL, or the same
	// database twice, or no source database.
	ErrUsage = errors.New("迁移参数不对")
	// ErrNotEmpty: the target (database, file or attachments directory)
	// holds something already.
	ErrNotEmpty = errors.New("目标不是空的")
	// ErrInUse: the source is in use (a daemon holds the bbolt file).
	ErrInUse = errors.New("源数据库正在使用")
	// ErrMismatch: the verification found a kind that differs.
	ErrMismatch = errors.New("副本与源不一致")
)

// Options say what to copy where.
type Options struct {
	From, To string // a bbolt file path and a PostgreSQL URL, either way
	// AttachDir is the attachments directory of the bbolt side: read
	// when copying to PostgreSQL, written (it must have no attachment
	// yet) when copying to a file.
	AttachDir string
	// LockTimeout bounds the wait for the bbolt file's lock.
	LockTimeout time.Duration
	// BeforeVerify, for tests, runs on the target between the copy and
	// the verification (to corrupt it).
	BeforeVerify func(target kv.DB) error
}

// Kind is one row of the verification: a bucket, or the attachments.
type Kind struct {
	Name     string // bucket name, or "attachments"
	Src, Dst *Sum   // nil: that side has none
}

// Sum is one side's count and digest of a kind.
type Sum struct {
	Count  int64
	Digest [sha256.Size]byte
}

// Equal reports whether both sides have the kind with the same sum.
func (k Kind) Equal() bool { return k.Src != nil && k.Dst != nil && *k.Src == *k.Dst }

// Result is what Run did.
type Result struct {
	Kinds []Kind
	// OK is true when every kind is equal (the copy is kept).
	OK bool
}

// Run copies o.From into o.To and verifies the copy. A verification that
// fails returns the Result (to show) and an error wrapping ErrMismatch;
// in every failure the target is cleared (PostgreSQL), removed (a bbolt
// file) and the attachment files written are removed.
func Run(ctx context.Context, o Options) (*Result, error) {
	fromURL, toURL := kvstore.IsURL(o.From), kvstore.IsURL(o.To)
	switch {
	case o.From == "" || o.To == "":
		return nil, fmt.Errorf("%w: 需要源数据库和目标（--to）", ErrUsage)
	case fromURL == toURL:
		return nil, fmt.Errorf("%w: 一端须是 bbolt 文件，另一端是 postgres:// URL", ErrUsage)
	case fromURL && o.AttachDir == "":
		return nil, fmt.Errorf("%w: 没有附件目录（--attachments）", ErrUsage)
	}
	for _, db := range []string{o.From, o.To} {
		if err := config.CheckDB(db); err != nil { // no password in a URL, so messages may show it
			return nil, fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	var src, dst kv.DB
	var err error
	if fromURL {
		src, err = openSourceURL(ctx, o.From)
	} else {
		src, err = openFile(o.From, o.LockTimeout)
	}
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if err := isDuban(src); err != nil {
		return nil, err
	}

	if toURL {
		if dst, err = openURL(ctx, o.To); err != nil {
			return nil, err
		}
		if empty, err := kvstore.IsEmpty(dst); err != nil || !empty {
			dst.Close()
			if err == nil {
				err = fmt.Errorf("%w: %s 里已有数据，只能迁移到空数据库", ErrNotEmpty, o.To)
			}
			return nil, err
		}
	} else {
		if _, err := os.Lstat(o.To); err == nil {
			return nil, fmt.Errorf("%w: 目标文件 %s 已存在", ErrNotEmpty, o.To)
		}
		if hs, err := attach.Dir(o.AttachDir).Hashes(); err != nil || len(hs) > 0 {
			if err == nil {
				err = fmt.Errorf("%w: 附件目录 %s 里已有 %d 个附件（用 --attachments 另选一个空目录）", ErrNotEmpty, o.AttachDir, len(hs))
			}
			return nil, err
		}
		if dst, err = openNewFile(o.To); err != nil {
			return nil, err
		}
	}

	m := &run{o: o, src: src, dst: dst, toFile: !toURL}
	res, err := m.copyAndVerify()
	if err == nil {
		m.dst = nil // closed, verified: a file that fails to close is removed
		if err = dst.Close(); err != nil && toURL {
			return res, fmt.Errorf("关闭目标：%w", err) // the copy is in and verified
		}
	}
	if err != nil {
		m.undo()
		return res, fmt.Errorf("%w（目标已清除）", err)
	}
	return res, nil
}

type run struct {
	o        Options
	src, dst kv.DB
	toFile   bool
	written  []string // attachment files written (toFile)
}

func (m *run) copyAndVerify() (*Result, error) {
	// The attachments travel as attachments, not as a bucket: with a
	// file they become files.
	copied, err := kvstore.Copy(m.dst, m.src, kvstore.CopyOptions{Skip: [][]byte{attach.Bucket}})
	if errors.Is(err, kvstore.ErrNotEmpty) {
		err = fmt.Errorf("%w: %w", ErrNotEmpty, err)
	}
	if err != nil {
		return nil, fmt.Errorf("复制：%w", err)
	}
	from, to := m.attachStores()
	if err := m.copyAttachments(from, to); err != nil {
		return nil, fmt.Errorf("复制附件：%w", err)
	}
	if m.o.BeforeVerify != nil {
		if err := m.o.BeforeVerify(m.dst); err != nil {
			return nil, err
		}
	}

	// Verify: the source's sums are those of the snapshot copied; the
	// target's are read anew.
	target, err := kvstore.Sums(m.dst)
	if err != nil {
		return nil, fmt.Errorf("核对：%w", err)
	}
	target = slices.DeleteFunc(target, func(s kvstore.KindSum) bool { return s.Bucket == string(attach.Bucket) })
	rows, _ := kvstore.Compare(copied, target)
	res := &Result{OK: true}
	for _, r := range rows {
		res.Kinds = append(res.Kinds, Kind{Name: r.Bucket, Src: bucketSum(r.Src), Dst: bucketSum(r.Dst)})
	}
	srcAtt, err := attachSum(from...)
	if err != nil {
		return nil, fmt.Errorf("核对源附件：%w", err)
	}
	dstAtt, err := attachSum(to)
	if err != nil {
		return nil, fmt.Errorf("核对目标附件：%w", err)
	}
	res.Kinds = append(res.Kinds, Kind{Name: string(attach.Bucket), Src: srcAtt, Dst: dstAtt})
	for _, k := range res.Kinds {
		res.OK = res.OK && k.Equal()
	}
	if !res.OK {
		return res, ErrMismatch
	}
	return res, nil
}

// attachStores returns where the attachments are on either side. A bbolt
// source may have both: files, and a bucket (a PostgreSQL backup).
func (m *run) attachStores() (from []attach.Store, to attach.Store) {
	if m.toFile {
		return []attach.Store{attach.InDB(m.src)}, attach.Dir(m.o.AttachDir)
	}
	from = []attach.Store{attach.InDB(m.src)}
	if m.o.AttachDir != "" {
		from = append(from, attach.Dir(m.o.AttachDir))
	}
	return from, attach.InDB(m.dst)
}

// copyAttachments copies every attachment of from into to. Each is
// received like an upload, so its content is hashed again and must
// match its name.
func (m *run) copyAttachments(from []attach.Store, to attach.Store) error {
	seen := map[string]bool{}
	for _, s := range from {
		hs, err := s.Hashes()
		if err != nil {
			return err
		}
		for _, h := range hs {
			if seen[h] {
				continue
			}
			seen[h] = true
			if err := m.copyAttachment(s, to, h); err != nil {
				return fmt.Errorf("%s: %w", h, err)
			}
		}
	}
	return nil
}

func (m *run) copyAttachment(from, to attach.Store, h string) error {
	r, err := from.Open(h)
	if err != nil {
		return err
	}
	defer r.Close()
	p, err := to.Receive(h, r, math.MaxInt64-1)
	if err != nil {
		return err
	}
	if p.Hash != h {
		p.Discard()
		return fmt.Errorf("内容的哈希是 %s，与名称不符", p.Hash)
	}
	if err := p.Keep(); err != nil {
		return err
	}
	if m.toFile {
		path, _ := attach.Path(m.o.AttachDir, h)
		m.written = append(m.written, path)
	}
	return nil
}

// undo removes what a failed run wrote.
func (m *run) undo() {
	for _, p := range m.written {
		_ = os.Remove(p)
	}
	if m.toFile {
		if m.dst != nil {
			_ = m.dst.Close()
		}
		_ = os.Remove(m.o.To)
		return
	}
	if m.dst != nil {
		_ = kvstore.Clear(m.dst)
		_ = m.dst.Close()
	}
}

func bucketSum(s *kvstore.KindSum) *Sum {
	if s == nil {
		return nil
	}
	// The bucket's digest covers its sequence too.
	return &Sum{Count: s.Keys, Digest: s.Digest}
}

// attachSum is the count and digest of the attachments of stores (their
// union): a SHA-256 over each hash, in order, and the SHA-256 of the
// content read back. A file whose content no longer matches its name
// changes the digest.
func attachSum(stores ...attach.Store) (*Sum, error) {
	where := map[string]attach.Store{}
	var all []string
	for _, s := range stores {
		hs, err := s.Hashes()
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if where[h] == nil {
				where[h] = s
				all = append(all, h)
			}
		}
	}
	slices.Sort(all)
	sum := &Sum{}
	d := sha256.New()
	for _, h := range all {
		c, err := contentHash(where[h], h)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h, err)
		}
		io.WriteString(d, h+" sha256:"+hex.EncodeToString(c)+"\n")
		sum.Count++
	}
	d.Sum(sum.Digest[:0])
	return sum, nil
}

func contentHash(s attach.Store, h string) ([]byte, error) {
	r, err := s.Open(h)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	c := sha256.New()
	if _, err := io.Copy(c, r); err != nil {
		return nil, err
	}
	return c.Sum(nil), nil
}

// isDuban checks that db is a duban database (it has the meta bucket).
func isDuban(db kv.DB) error {
	return db.View(func(tx kv.Tx) error {
		if tx.Bucket([]byte("meta")) == nil {
			return fmt.Errorf("%w: 源不是 duban 数据库（没有 meta）", ErrUsage)
		}
		return nil
	})
}

// openFile opens the source bbolt file read-only: a shared lock that a
// running daemon (holding the file) keeps us from, and that keeps a
// daemon from starting while we copy.
func openFile(path string, timeout time.Duration) (kv.DB, error) {
	db, err := boltkv.Open(path, timeout, true)
	switch {
	case errors.Is(err, boltkv.ErrLocked):
		return nil, fmt.Errorf("%w: %s 被另一进程占用（请先停止 duban serve）：%w", ErrInUse, path, err)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: 没有数据库 %s", ErrUsage, path)
	case err != nil:
		return nil, fmt.Errorf("打开 %s：%w", path, err)
	}
	return db, nil
}

// openNewFile creates the target bbolt file.
func openNewFile(path string) (kv.DB, error) {
	db, err := boltkv.Open(path, time.Second, false)
	if err != nil {
		return nil, fmt.Errorf("创建 %s：%w", path, err)
	}
	return db, nil
}

// openURL opens the PostgreSQL database at url (creating duban's tables
// in an empty one).
func openURL(ctx context.Context, url string) (kv.DB, error) {
	db, err := pgkv.Open(ctx, url, pgkv.Options{})
	if err != nil {
		return nil, fmt.Errorf("打开 %s：%w", url, err)
	}
	return db, nil
}

// openSourceURL opens the source database, refusing it while a node
// holds the leader lease: the daemons must be stopped, or what they do
// after the snapshot is lost with the switch.
func openSourceURL(ctx context.Context, url string) (kv.DB, error) {
	db, err := pgkv.Open(ctx, url, pgkv.Options{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("打开 %s：%w", url, err)
	}
	l, err := pgkv.ReadLease(ctx, db.Pool())
	if err == nil && l.Held() {
		err = fmt.Errorf("%w: 节点 %s 正持有领导租约（任期 %d，至 %s），请先停止所有 duban serve 节点",
			ErrInUse, l.Holder, l.Term, l.ExpiresAt.Format(time.RFC3339))
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

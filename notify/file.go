package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// FileSender writes each message as one .eml file in a directory: the file
// transport for a test install, or for an office that forwards mail by hand.
// The file name is derived from the message Key, so sending the same notice
// again overwrites its file instead of adding a copy.
type FileSender struct {
	dir string
}

// NewFileSender returns a sender writing into dir, creating it with mode
// 0700 if it is missing.
func NewFileSender(dir string) (*FileSender, error) {
	if dir == "" {
		return nil, errors.New("outbox directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("outbox %s is not a directory", dir)
	}
	return &FileSender{dir: dir}, nil
}

// Path returns the file a message with this key is written to: the key with
// unsafe characters replaced by "_" (cut to 64 bytes), a hash of the full key,
// and ".eml", e.g. "minutes-31_2_0-e767c220808830d9.eml".
func (f *FileSender) Path(key string) string {
	var b strings.Builder
	for i := 0; i < len(key) && b.Len() < 64; i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && b.Len() > 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	return filepath.Join(f.dir, b.String()+"-"+keyHash(key)[:16]+".eml")
}

// Send validates m and writes it atomically (temporary file, fsync, rename,
// directory fsync) with mode 0600.
func (f *FileSender) Send(ctx context.Context, m *Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", m.Key, err)
	}
	data, err := m.Bytes()
	if err != nil {
		return err
	}
	return writeFileAtomic(f.Path(m.Key), data)
}

// Close does nothing; it exists to satisfy Sender.
func (f *FileSender) Close() error { return nil }

// writeFileAtomic replaces path with data so that readers see the old file
// or the new one, never a partial one, even after a crash.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".tmp-*.eml") // mode 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync outbox: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync outbox: %w", err)
	}
	return nil
}

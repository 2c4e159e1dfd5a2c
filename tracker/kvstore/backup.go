package kvstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"time"

	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/kv"
)

// Backup writes a consistent copy of the database to path (mode 0600)
// while the store stays in use: see SaveBackup. The copy is a bbolt file
// on every engine: of another engine (PostgreSQL), every bucket as of one
// read transaction, copied by Copy (attachments kept in the database
// included) — a complete duban database that migrate restores.
func (s *Store) Backup(path string) (int64, error) {
	if s.engine == EngineBolt {
		return SaveBackup(path, s.path, s.WriteTo)
	}
	return saveFile(path, "", func(f *os.File) (int64, error) {
		db, err := boltkv.Open(f.Name(), time.Second, false)
		if err != nil {
			return 0, err
		}
		_, err = Copy(db, s.db, CopyOptions{})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, err
		}
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	})
}

// WriteTo writes a consistent copy of the database to w from one read
// transaction (bbolt's Tx.WriteTo): updates go on meanwhile and are not
// in the copy. It implements io.WriterTo.
func (s *Store) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := s.Snapshot(func(_ int64, src io.WriterTo) error {
		var err error
		n, err = src.WriteTo(w)
		return err
	})
	return n, err
}

// Snapshot calls fn with a consistent copy of the database: src writes
// it, size bytes, from a read transaction that stays open until fn
// returns. Keep fn short: a write that has to grow the file's mapping
// waits for the read transaction to end. Only a bbolt store has a file
// to copy: on another engine it fails with ErrNotFile.
func (s *Store) Snapshot(fn func(size int64, src io.WriterTo) error) error {
	return s.db.View(func(tx kv.Tx) error {
		bt, ok := tx.(*boltkv.Tx)
		if !ok {
			return fmt.Errorf("snapshot of a %s database: %w", s.engine, ErrNotFile)
		}
		return fn(bt.Size(), bt)
	})
}

// ErrNotFile is returned (wrapped) by Snapshot, WriteTo and Backup of a
// store that is not a bbolt file.
var ErrNotFile = errors.New("the database is not a bbolt file")

// SaveBackup writes the copy of a database that write produces to path,
// so that path never holds a partial or broken copy: write goes to a
// temporary file (mode 0600) in path's directory, which is synced,
// opened as a database and checked (bbolt's consistency check and the
// indexes), then renamed over path; the directory is synced last.
// Writing onto live, the database being copied, is refused (ErrLiveDB).
// It returns the size of the copy.
func SaveBackup(path, live string, write func(io.Writer) (int64, error)) (int64, error) {
	return saveFile(path, live, func(f *os.File) (int64, error) { return write(f) })
}

// saveFile is SaveBackup with fill writing the temporary file f (by its
// name, if it likes); live "" is no database file.
func saveFile(path, live string, fill func(f *os.File) (int64, error)) (int64, error) {
	if live != "" && SameFile(path, live) {
		return 0, fmt.Errorf("backup to %s: %w", path, ErrLiveDB)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	tmp := f.Name()
	n, err := fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = checkCopy(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, fmt.Errorf("backup to %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // make the rename durable; not every file system can
		_ = d.Close()
	}
	return n, nil
}

// ErrLiveDB is returned (wrapped) by SaveBackup for a backup onto the
// database it copies.
var ErrLiveDB = errors.New("that is the database itself")

// checkCopy opens the database copy at path read-only and checks it.
func checkCopy(path string) error {
	if err := checkSize(path); err != nil {
		return err
	}
	c, err := OpenReadOnly(path, time.Second)
	if err != nil {
		return fmt.Errorf("the copy does not open: %w", err)
	}
	err = c.Check()
	if cerr := c.Close(); err == nil && cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("the copy fails its check: %w", err)
	}
	return nil
}

// SameFile reports whether paths a and b name the same file (after
// cleaning, or through a link).
func SameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// checkSize checks that the bbolt file at path is as long as its meta
// pages say, before bbolt maps it: bbolt reads a page past the end of a
// truncated file through its memory map, which is a SIGBUS, not an error.
// A meta page (bbolt's internal/common Meta after a 16-byte page header)
// holds magic, version, page size, flags, root bucket (16 bytes),
// freelist, high-water page id, txid and an FNV-64a checksum of the
// fields before it, little-endian.
func checkSize(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	const hdr, sumAt = 16, 56 // page header; checksum offset in the meta
	meta := func(off int64) (pageSize, pgid uint64, ok bool) {
		b := make([]byte, hdr+sumAt+8)
		if _, err := f.ReadAt(b, off); err != nil {
			return 0, 0, false
		}
		m := b[hdr:]
		h := fnv.New64a()
		h.Write(m[:sumAt])
		le := binary.LittleEndian
		if le.Uint32(m[0:]) != 0xED0CDAED || h.Sum64() != le.Uint64(m[sumAt:]) {
			return 0, 0, false
		}
		return uint64(le.Uint32(m[8:])), le.Uint64(m[40:]), true
	}
	var need uint64
	ps, pgid, ok0 := meta(0)
	if ok0 {
		need = pgid * ps
	}
	for _, ps1 := range []uint64{ps, uint64(os.Getpagesize()), 4096} {
		if ps1 == 0 {
			continue
		}
		if ps2, pgid, ok := meta(int64(ps1)); ok && ps2 == ps1 {
			need = max(need, pgid*ps2)
			ok0 = true
			break
		}
	}
	switch {
	case !ok0:
		return errors.New("the copy is not a bbolt database (no valid meta page)")
	case uint64(fi.Size()) < need:
		return fmt.Errorf("the copy is truncated: %d of %d bytes", fi.Size(), need)
	}
	return nil
}

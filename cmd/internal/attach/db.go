package attach

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"duban/tracker/kvstore/kv"
)

// Bucket is the kv bucket that keeps attachments in the database.
//
// A file of hash sha256:<hex> is one key "<hex>" (64 bytes) whose value
// is its meta ({"size":N,"chunks":M}) and M keys "<hex>" + a 4-byte
// big-endian chunk number holding ChunkSize bytes each (the last one the
// rest). The meta sorts before the chunks and is written with them in one
// transaction: a file is there, whole, or not at all.
var Bucket = []byte("attachments")

// ChunkSize is the size of a stored chunk (256 KiB).
const ChunkSize = 256 << 10

type dbMeta struct {
	Size   int64  `json:"size"`
	Chunks uint32 `json:"chunks"`
}

// DB keeps attachments in a database's bucket Bucket.
type DB struct{ db kv.DB }

// InDB returns the attachments kept in db.
func InDB(db kv.DB) *DB { return &DB{db: db} }

// Receive implements Store: the temporary file is in the system's
// temporary directory.
func (d *DB) Receive(name string, r io.Reader, max int64) (*Pending, error) {
	return receive("", name, r, max, d.keep)
}

// keep writes p's file as chunks, in one transaction, unless the hash is
// kept already (content-addressed: writing it again changes nothing, so
// it may come before the record that names it).
func (d *DB) keep(p *Pending) error {
	f, err := os.Open(p.tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	return d.Put(p.Hash, p.Size, f)
}

// Put keeps size bytes of r as the file of hash. The caller vouches
// that hash is the content's (Receive hashes it; migrate compares).
func (d *DB) Put(hash string, size int64, r io.Reader) error {
	key, err := metaKey(hash)
	if err != nil {
		return err
	}
	return d.db.Update(nil, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(Bucket)
		if err != nil {
			return err
		}
		if b.Get(key) != nil {
			return nil
		}
		chunks := uint32((size + ChunkSize - 1) / ChunkSize)
		for n := range chunks {
			chunk := make([]byte, min(size-int64(n)*ChunkSize, ChunkSize))
			if _, err := io.ReadFull(r, chunk); err != nil {
				return fmt.Errorf("attachment %s: %w", hash, err)
			}
			if err := b.Put(chunkKey(key, n), chunk); err != nil {
				return err
			}
		}
		meta, _ := json.Marshal(dbMeta{Size: size, Chunks: chunks})
		return b.Put(key, meta)
	})
}

// Open implements Store. The content is read a chunk at a time, each in
// a transaction of its own (a kept file never changes).
func (d *DB) Open(hash string) (io.ReadCloser, error) {
	key, err := metaKey(hash)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var m dbMeta
	err = d.db.View(func(tx kv.Tx) error {
		var v []byte
		if b := tx.Bucket(Bucket); b != nil {
			v = b.Get(key)
		}
		if v == nil {
			return fmt.Errorf("%s: %w", hash, ErrNotFound)
		}
		return json.Unmarshal(v, &m)
	})
	if err != nil {
		return nil, err
	}
	return &chunkReader{d: d, key: key, meta: m}, nil
}

// Hashes implements Store.
func (d *DB) Hashes() ([]string, error) {
	var out []string
	err := d.db.View(func(tx kv.Tx) error {
		b := tx.Bucket(Bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) == 64 {
				out = append(out, "sha256:"+string(k))
			}
		}
		return nil
	})
	return out, err
}

func (d *DB) String() string { return "数据库（" + string(Bucket) + "）" }

func metaKey(hash string) ([]byte, error) {
	if !hashRE.MatchString(hash) {
		return nil, fmt.Errorf("not an attachment hash: %q", hash)
	}
	return []byte(strings.TrimPrefix(hash, "sha256:")), nil
}

func chunkKey(meta []byte, n uint32) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(meta), n)
}

// chunkReader reads a file's chunks in order.
type chunkReader struct {
	d    *DB
	key  []byte
	meta dbMeta
	next uint32
	buf  []byte
	read int64
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.meta.Chunks {
			if r.read != r.meta.Size {
				return 0, fmt.Errorf("attachment sha256:%s: %d of %d bytes stored", r.key, r.read, r.meta.Size)
			}
			return 0, io.EOF
		}
		err := r.d.db.View(func(tx kv.Tx) error {
			v := tx.Bucket(Bucket).Get(chunkKey(r.key, r.next))
			if v == nil {
				return fmt.Errorf("attachment sha256:%s: chunk %d missing", r.key, r.next)
			}
			r.buf = bytes.Clone(v)
			return nil
		})
		if err != nil {
			return 0, err
		}
		r.next++
		r.read += int64(len(r.buf))
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

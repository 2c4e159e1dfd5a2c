// Package kvstore implements tracker.Store on an ordered, transactional
// key-value engine: a bbolt file (the default), or PostgreSQL.
//
// # Layout
//
// Every value is JSON (encoding/json). The buckets are:
//
//   - meta: small named values; schema_version holds the decimal schema
//     version (currently "2") and is written when the file is created.
//     Open migrates an older file in one transaction (schema 1 kept the
//     due index values empty); OpenReadOnly reads it as it is.
//   - office: the single key "office".
//   - people, units, policies, items, instances: keyed by id.
//   - history: key = instance id + 0x00 + 8-byte big-endian sequence
//     (the bucket's NextSequence), so an instance's events sort together
//     and in the order they were appended.
//   - due: the deadline index of active instances. Key = 8-byte big-endian
//     Deadline.Due in Unix seconds (UTC, sign bit flipped so that times
//     before 1970 still sort first) + instance id; the value is what a
//     list row shows of the instance and its item (entry.go), so that a
//     list reads this bucket alone. PutInstance and PutItem keep it in
//     step in the same transaction.
//   - assigned: the same for AssignedAt, of active instances that have one.
//   - users, sessions, tokens: workspace accounts by name, sessions and
//     API tokens by the SHA-256 of their secret (accounts.go).
//
// The layout is the same on every engine (kv): a bbolt file holds the
// buckets as bbolt buckets, PostgreSQL as rows of pgkv's duban_kv table.
//
// # Caveats
//
// bbolt allows one read-write process or many read-only ones: Open and
// OpenReadOnly always use a lock timeout and fail with ErrLocked rather
// than hang. PostgreSQL has no such lock: every node opens the database,
// and its Updates take turns (pgkv); a leader fences its Updates with the
// lease's term through Fenced.
//
// Do not begin a transaction inside another in the same goroutine: bbolt
// may deadlock (an Update waits for Views to finish when it remaps), and
// on PostgreSQL an Update inside an Update waits for itself.
//
// A bbolt commit always writes a new freelist page and a new meta page,
// even when the transaction changed nothing. Update therefore rolls back,
// instead of committing, a transaction that wrote nothing, and the Put
// methods skip writes that would store the bytes already stored, so an
// idempotent re-import leaves the file byte-for-byte unchanged.
package kvstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	fastjson "github.com/goccy/go-json"

	"duban/tracker"
	"duban/tracker/kvstore/boltkv"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgkv"
)

// SchemaVersion is the layout version this package reads and writes.
const SchemaVersion = 2

// ErrLocked is returned (wrapped) by Open and OpenReadOnly when another
// process holds the database lock for longer than the timeout.
var ErrLocked = boltkv.ErrLocked

// Engine names, as (*Store).Engine returns them.
const (
	EngineBolt     = "bbolt"
	EnginePostgres = "postgres"
)

// Bucket names. The order matches the bucket index constants below.
var bucketNames = [...][]byte{
	bMeta:      []byte("meta"),
	bOffice:    []byte("office"),
	bPeople:    []byte("people"),
	bUnits:     []byte("units"),
	bPolicies:  []byte("policies"),
	bItems:     []byte("items"),
	bInstances: []byte("instances"),
	bHistory:   []byte("history"),
	bDue:       []byte("due"),
	bAssigned:  []byte("assigned"),
	bWake:      []byte("wake"),
	bOutbox:    []byte("outbox"),
	bQueue:     []byte("queue"),
	bUsers:     []byte("users"),
	bSessions:  []byte("sessions"),
	bTokens:    []byte("tokens"),
}

const (
	bMeta = iota
	bOffice
	bPeople
	bUnits
	bPolicies
	bItems
	bInstances
	bHistory
	bDue
	bAssigned
	bWake
	bOutbox
	bQueue
	bUsers
	bSessions
	bTokens
	numBuckets
)

var (
	keySchemaVersion = []byte("schema_version")
	keyOffice        = []byte("office")
)

// Store is a tracker.Store over a kv engine. It is safe for concurrent
// use: the engine serialises Update transactions and runs View
// transactions in parallel with them.
type Store struct {
	db     kv.DB
	path   string // the file, or the URL without its password
	engine string // "bbolt" or "postgres"
}

var _ tracker.Store = (*Store)(nil)

// Open opens the database db: a bbolt file at path db (created if
// needed, mode 0600), or the PostgreSQL database at the URL db (IsURL),
// whose tables are created or migrated at open. On a bbolt file it never
// hangs: if another process holds the lock it fails after timeout with
// an error wrapping ErrLocked; a timeout <= 0 means a single attempt.
// PostgreSQL has no such lock (every node opens it): connecting may take
// up to pgkv's connect timeout, whatever timeout says. Opening a database
// written by a newer schema version fails.
func Open(db string, timeout time.Duration) (*Store, error) {
	return open(db, timeout, false)
}

// OpenReadOnly opens an existing database read-only. A bbolt file is
// opened with a shared lock that lets other readers in but keeps a writer
// (the daemon) out while it is held: it fails with an error wrapping
// ErrLocked after timeout if a writer holds the lock, and with one
// wrapping fs.ErrNotExist if the file does not exist. A PostgreSQL
// database is read by a handle whose Updates fail, while other nodes
// write on (each View is a snapshot); its schema must be current. Update
// transactions on the returned Store fail with kv.ErrTxNotWritable.
func OpenReadOnly(db string, timeout time.Duration) (*Store, error) {
	return open(db, timeout, true)
}

func open(path string, timeout time.Duration, readOnly bool) (*Store, error) {
	if IsURL(path) {
		return openPostgres(path, readOnly)
	}
	db, err := boltkv.Open(path, timeout, readOnly)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, unwrapPath(err, path))
	}
	s := &Store{db: db, path: path, engine: EngineBolt}
	if err := s.init(readOnly); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return s, nil
}

// IsURL reports whether db names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a bbolt file.
func IsURL(db string) bool {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if len(db) >= len(scheme) && strings.EqualFold(db[:len(scheme)], scheme) {
			return true
		}
	}
	return false
}

// redactURL returns the URL db without a password, in its user info or
// in its query, so that it can be shown and logged.
func redactURL(db string) string {
	u, err := url.Parse(db)
	if err != nil {
		scheme, _, _ := strings.Cut(db, "://")
		return scheme + "://…" // what does not parse is not shown
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// openPostgres opens the PostgreSQL database at url through pgkv.
func openPostgres(url string, readOnly bool) (*Store, error) {
	shown := redactURL(url)
	db, err := pgkv.Open(context.Background(), url, pgkv.Options{ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", shown, err)
	}
	s := &Store{db: db, path: shown, engine: EnginePostgres}
	if err := s.init(readOnly); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", shown, err)
	}
	return s, nil
}

// unwrapPath drops the *fs.PathError around err if it names path, which
// the caller's message already does.
func unwrapPath(err error, path string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Err
	}
	return err
}

// init checks the schema version, creates the buckets of a new file and
// migrates an older one (not when readOnly). It writes nothing to a file
// that is already initialised and current.
func (s *Store) init(readOnly bool) error {
	var missing bool
	version := SchemaVersion
	err := s.db.View(func(tx kv.Tx) error {
		meta := tx.Bucket(bucketNames[bMeta])
		if meta == nil {
			empty := true
			_ = tx.ForEachBucket(func([]byte) error {
				empty = false
				return errors.New("stop")
			})
			if !empty {
				return errors.New("not a duban database: no meta bucket")
			}
			missing = true
			return nil
		}
		var err error
		if version, err = checkVersion(meta.Get(keySchemaVersion)); err != nil {
			return err
		}
		for _, name := range bucketNames {
			if tx.Bucket(name) == nil {
				missing = true
			}
		}
		return nil
	})
	if err != nil || !missing && version == SchemaVersion {
		return err
	}
	if readOnly {
		if missing {
			return errors.New("database is not initialised (open it read-write once)")
		}
		return nil // an older schema, read as it is
	}
	return s.db.Update(nil, func(tx kv.Tx) error {
		for _, name := range bucketNames {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketNames[bMeta])
		if meta.Get(keySchemaVersion) != nil && version < 2 {
			if err := migrateDueEntries(tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", version, SchemaVersion, err)
			}
		}
		if meta.Get(keySchemaVersion) == nil || version < SchemaVersion {
			return meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion)))
		}
		return nil
	})
}

// migrateDueEntries rebuilds the due index with the values that schema 1
// left empty. It reads the instances and items in key order (a lookup
// per entry, at random places in the file, took 44 s at a million active
// instances), then writes the index anew in key order, like a bulk load.
func migrateDueEntries(btx kv.Tx) error {
	type entry struct{ key, val []byte }
	var es []entry
	items := btx.Bucket(bucketNames[bItems]).Cursor()
	var it itemText
	var itID []byte
	c := btx.Bucket(bucketNames[bInstances]).Cursor()
	for id, v := c.First(); id != nil; id, v = c.Next() {
		var in tracker.Instance
		if err := unmarshal(v, &in); err != nil {
			return fmt.Errorf("decode instance %q: %w", id, err)
		}
		if !in.Status.Listed() {
			continue
		}
		if string(itID) != in.Item { // an item's instances are neighbours
			itID, it = []byte(in.Item), itemText{}
			if k, iv := items.Seek(itID); bytes.Equal(k, itID) {
				if err := unmarshal(iv, &it); err != nil {
					return fmt.Errorf("decode item %q: %w", k, err)
				}
				it.found = true
			}
		}
		key := make([]byte, 8+len(id))
		putTime(key, in.Deadline.Due)
		copy(key[8:], id)
		es = append(es, entry{key, appendEntry(nil, &in, it.Title, it.Doc, it.found)})
	}
	slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	if err := btx.DeleteBucket(bucketNames[bDue]); err != nil {
		return fmt.Errorf("drop the due index: %w", err)
	}
	due, err := btx.CreateBucketIfNotExists(bucketNames[bDue])
	if err != nil {
		return fmt.Errorf("create the due index: %w", err)
	}
	due.SetFillPercent(1.0)
	for _, e := range es {
		if err := due.Put(e.key, e.val); err != nil {
			return fmt.Errorf("write the due index: %w", err)
		}
	}
	return nil
}

// checkVersion parses a stored schema version and rejects a newer one.
func checkVersion(v []byte) (int, error) {
	if v == nil {
		return 0, errors.New("schema version missing")
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("invalid schema version %q", v)
	}
	if n > SchemaVersion {
		return 0, fmt.Errorf("schema version %d is newer than this program supports (%d): upgrade duban", n, SchemaVersion)
	}
	return n, nil
}

// Path returns the path of the database file, or the URL of the
// PostgreSQL database without its password.
func (s *Store) Path() string { return s.path }

// Engine returns the engine the store is on: EngineBolt or EnginePostgres.
func (s *Store) Engine() string { return s.engine }

// KV returns the engine under the store, for what works on buckets and
// keys rather than on the domain (migrate, backup, attachments). Keep to
// the rules of kv and to buckets that this package does not own.
func (s *Store) KV() kv.DB { return s.db }

// Close releases the database and its lock. It waits for running
// transactions to finish.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.path, err)
	}
	return nil
}

// View runs fn in a read-only transaction. Write methods of the Tx fail.
func (s *Store) View(fn func(tracker.Tx) error) error {
	return s.db.View(func(ktx kv.Tx) error {
		t := newTxn(ktx)
		if err := fn(t); err != nil {
			return err
		}
		return t.err
	})
}

// Update runs fn in a read-write transaction and commits it if fn returns
// nil; otherwise nothing fn wrote is kept and fn's error is returned.
// A transaction in which fn wrote nothing is rolled back rather than
// committed, so that it leaves the file untouched.
func (s *Store) Update(fn func(tracker.Tx) error) error {
	return s.update(nil, fn)
}

// errNoWrite rolls back an Update in which nothing was written.
var errNoWrite = errors.New("kvstore: nothing written")

func (s *Store) update(fence *kv.Fence, fn func(tracker.Tx) error) error {
	err := s.db.Update(fence, func(ktx kv.Tx) error {
		t := newTxn(ktx)
		if err := fn(t); err != nil {
			return err
		}
		if t.err != nil {
			return t.err
		}
		if !t.dirty {
			return errNoWrite
		}
		return t.flushAll()
	})
	if errors.Is(err, errNoWrite) {
		return nil
	}
	return err
}

// Fenced returns the store with every Update fenced by f: it commits only
// while the leader lease is held by f.Holder under f.Term, and fails with
// an error wrapping kv.ErrFenced otherwise (on bbolt the fence always
// holds). An Update that writes nothing commits nothing, so it does not
// check the fence. View is the store's. Close does nothing: the store
// stays open for its owner to close.
func (s *Store) Fenced(f kv.Fence) tracker.Store { return &fenced{s: s, f: f} }

type fenced struct {
	s *Store
	f kv.Fence
}

func (f *fenced) View(fn func(tracker.Tx) error) error { return f.s.View(fn) }

func (f *fenced) Update(fn func(tracker.Tx) error) error {
	fence := f.f
	return f.s.update(&fence, fn)
}

func (f *fenced) Close() error { return nil }

// KV and Engine are the store's: attach.For finds the database of the
// attachments by them, fenced or not.
func (f *fenced) KV() kv.DB      { return f.s.KV() }
func (f *fenced) Engine() string { return f.s.Engine() }

// Check runs the engine's consistency check (bbolt's), then checks that
// the due and assigned indexes name exactly the instances they should,
// under the right times. It returns every problem found, joined, or nil.
func (s *Store) Check() error {
	var errs []error
	err := s.db.View(func(tx kv.Tx) error {
		if bt, ok := tx.(*boltkv.Tx); ok {
			errs = append(errs, bt.Check()...)
		}
		if len(errs) > 0 {
			return nil // the index check would walk a broken tree
		}
		errs = append(errs, checkIndexes(tx)...)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// unmarshal decodes a stored value. Values are written with encoding/json
// (its output is the file format, and omitzero keeps it small); they are
// read with goccy/go-json, which decodes the same JSON into the same
// structs about twice as fast: every list, pass and report decodes
// thousands of instances.
func unmarshal(data []byte, v any) error { return fastjson.Unmarshal(data, v) }

// Package pgkv is the PostgreSQL engine of kv: every bucket's keys and
// values in one table, duban_kv (bucket, key, value), whose B-tree primary
// key gives bbolt's byte order and range scans (schema.go).
//
// # Transactions
//
// An Update begins, locks the one row of duban_lock (SELECT … FOR UPDATE)
// and reads the bucket catalog, in one round trip; from then on no other
// Update of any node runs, so READ COMMITTED reads see the latest
// committed state and stay valid to the end. Writes are buffered in the
// transaction (an ordered in-memory overlay that Get and cursors read
// through) and written in key order, a few statements per bucket: in the
// background while the transaction goes on, once a bucket holds asyncRows
// unwritten writes (a goroutine sends them; every other use of the
// session waits for it first), and the rest at commit in one pipelined
// round trip. With a fence, the lease row is read
// FOR SHARE just before COMMIT: a takeover (an UPDATE of that row) waits
// for the commit, or the commit sees the new term and rolls back with
// kv.ErrFenced.
//
// A View is a REPEATABLE READ READ ONLY transaction: one snapshot, taken
// at its first statement, for all its reads. Get is one round trip;
// cursors read ranges of rows, more rows per query the further they go.
//
// # Connections
//
// Each session sets idle_in_transaction_session_timeout (Options): a node
// that stops between two statements of an Update (SIGSTOP, a hung
// process) would otherwise hold duban_lock and block every writer of
// every node; with the timeout the server ends that session, the lock is
// released and the stopped node's transaction fails. Servers without the
// setting (some PostgreSQL-derived databases) ignore it.
//
// The password comes from the URL's environment as pgx reads it (PGPASSWORD,
// a .pgpass file) or, when set, from DUBAN_DB_PASSWORD. It is never
// logged: errors name the host, user and database only.
package pgkv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"duban/tracker/kvstore/kv"
)

// PasswordEnv names the environment variable that, when set, gives the
// database password (overriding PGPASSWORD and .pgpass).
const PasswordEnv = "DUBAN_DB_PASSWORD"

// DefaultIdleInTxTimeout is the default idle_in_transaction_session_timeout.
// No transaction of duban waits that long between two statements; a
// stopped node's lock is released by then, before a standby's lease
// takeover (TTL 15 s) needs it.
const DefaultIdleInTxTimeout = 10 * time.Second

// MaxKeySize is pgkv's limit on key length, smaller than kv.MaxKeySize:
// a PostgreSQL B-tree entry (bucket and key) holds at most about 2.7 KB.
// Longer keys fail with kv.ErrKeyTooLarge. Bucket names are limited to
// MaxBucketNameSize for the same reason.
const (
	MaxKeySize        = 2048
	MaxBucketNameSize = 256
	// MaxValueSize is PostgreSQL's limit on a bytea value (1 GiB),
	// smaller than kv.MaxValueSize.
	MaxValueSize = 1<<30 - 1
)

// ErrSchemaNewer is returned by Open for a database whose tables were
// made by a newer duban.
var ErrSchemaNewer = errors.New("the database's schema is newer than this duban's: upgrade duban")

// ErrNotInitialised is returned by Open with ReadOnly for a database
// that has no duban tables yet, or tables of an older schema.
var ErrNotInitialised = errors.New("the database has no current duban schema (open it read-write once)")

// Options tune Open. The zero value is good for a node.
type Options struct {
	// ReadOnly opens without migrating the schema (it must be current)
	// and makes every Update fail with kv.ErrTxNotWritable.
	ReadOnly bool
	// MaxConns limits the pool (0: pgxpool's default, max(4, CPUs)).
	MaxConns int32
	// ConnectTimeout bounds Open's first connection (0: 30 s).
	ConnectTimeout time.Duration
	// IdleInTxTimeout is each session's idle_in_transaction_session_timeout
	// (0: DefaultIdleInTxTimeout; negative: leave the server's setting).
	IdleInTxTimeout time.Duration
	// Logger receives the engine's few messages (nil: slog.Default()).
	Logger *slog.Logger
}

// DB is an open PostgreSQL database. It implements kv.DB and is safe for
// concurrent use.
type DB struct {
	pool     *pgxpool.Pool
	readOnly bool
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc
}

var _ kv.DB = (*DB)(nil)

// Open connects to the database at url (postgres:// or postgresql://),
// applies pending schema migrations (one node does, under a lock, when
// several start at once) and returns the engine.
func Open(ctx context.Context, url string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err) // pgx masks the password
	}
	if pw := os.Getenv(PasswordEnv); pw != "" {
		cfg.ConnConfig.Password = pw
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	idle := o.IdleInTxTimeout
	if idle == 0 {
		idle = DefaultIdleInTxTimeout
	}
	if idle > 0 {
		set := fmt.Sprintf("SET idle_in_transaction_session_timeout = %d", idle.Milliseconds())
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			if _, err := c.Exec(ctx, set); err != nil {
				// A server without the setting (before 9.6, or a
				// derivative) keeps its sessions as they are.
				log.Debug("postgres: idle_in_transaction_session_timeout not set", "err", err)
			}
			return nil
		}
	}
	target := fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(octx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %w", target, err)
	}
	if err := migrate(octx, pool, o.ReadOnly); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres %s: %w", target, err)
	}
	dctx, dcancel := context.WithCancel(context.Background())
	return &DB{pool: pool, readOnly: o.ReadOnly, log: log, ctx: dctx, cancel: dcancel}, nil
}

// Pool returns the connection pool (the leader lease runs on it).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close ends running statements and closes every connection.
func (db *DB) Close() error {
	db.cancel()
	db.pool.Close()
	return nil
}

// View runs fn in a REPEATABLE READ READ ONLY transaction.
func (db *DB) View(fn func(kv.Tx) error) error {
	return db.run(false, fn, func(t *txn) error { return t.end("COMMIT") })
}

// Update runs fn in a serialised read-write transaction (see the package
// comment) and commits it if fn returns nil and fence, when not nil,
// still holds.
func (db *DB) Update(fence *kv.Fence, fn func(kv.Tx) error) error {
	if db.readOnly {
		return kv.ErrTxNotWritable
	}
	return db.run(true, fn, func(t *txn) error { return t.commit(fence) })
}

// run begins a transaction, runs fn in it and ends it with end, unless fn
// failed or the transaction was poisoned: then the engine's error (which
// explains fn's) or fn's is returned and the transaction rolled back.
func (db *DB) run(writable bool, fn func(kv.Tx) error, end func(*txn) error) error {
	t, err := db.begin(writable)
	if err != nil {
		return err
	}
	defer t.release()
	err = fn(t)
	if t.err != nil {
		return t.err
	}
	if err != nil {
		return err
	}
	return end(t)
}

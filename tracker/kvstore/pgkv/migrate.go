package pgkv

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaVersion is the schema this package reads and writes: the last
// migration.
var SchemaVersion = len(migrations) - 1

// migrate brings the database's schema to SchemaVersion. duban_schema
// (one row: id 1, version) is the migrator's own table, created with the
// first migration in one transaction. Nodes that start at once serialise
// on its row (SELECT … FOR UPDATE); two that both find no table race to
// create it, and the loser (SQLSTATE 42P07 or 23505, after the winner's
// commit) reads again.
func migrate(ctx context.Context, pool *pgxpool.Pool, readOnly bool) error {
	// The common case, a current schema, reads the version without a
	// transaction or a lock (a lock is a write: a WAL flush per start).
	var version int
	err := pool.QueryRow(ctx, `SELECT version FROM duban_schema WHERE id = 1`).Scan(&version)
	switch {
	case err == nil && version == SchemaVersion:
		return nil
	case err == nil && version > SchemaVersion:
		return fmt.Errorf("%w (schema %d, this duban knows %d)", ErrSchemaNewer, version, SchemaVersion)
	case err != nil && !undefinedTable(err) && !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("read schema version: %w", err)
	}
	for range 5 {
		err = migrateOnce(ctx, pool, readOnly)
		if !concurrentCreate(err) {
			return err
		}
	}
	return err
}

func concurrentCreate(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "23505")
}

func undefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42P01"
}

func migrateOnce(ctx context.Context, pool *pgxpool.Pool, readOnly bool) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	lock := " FOR UPDATE"
	if readOnly {
		lock = ""
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	version := 0
	err = tx.QueryRow(ctx, `SELECT version FROM duban_schema WHERE id = 1`+lock).Scan(&version)
	switch {
	case undefinedTable(err):
		_ = tx.Rollback(ctx)
		if readOnly {
			return ErrNotInitialised
		}
		if tx, err = conn.Begin(ctx); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `CREATE TABLE duban_schema (id integer PRIMARY KEY, version integer NOT NULL)`); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `INSERT INTO duban_schema (id, version) VALUES (1, 0)`); err != nil {
			return err
		}
	case errors.Is(err, pgx.ErrNoRows):
		return errors.New("duban_schema has no row: not a duban database")
	case err != nil:
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("%w (schema %d, this duban knows %d)", ErrSchemaNewer, version, SchemaVersion)
	case version == SchemaVersion:
		return tx.Commit(ctx)
	case readOnly:
		return fmt.Errorf("%w: schema %d, want %d", ErrNotInitialised, version, SchemaVersion)
	}
	for v := version + 1; v <= SchemaVersion; v++ {
		// No arguments: the simple protocol, which runs several statements.
		if _, err = tx.Exec(ctx, migrations[v]); err != nil {
			return fmt.Errorf("schema migration %d: %w", v, err)
		}
	}
	if _, err = tx.Exec(ctx, `UPDATE duban_schema SET version = $1 WHERE id = 1`, SchemaVersion); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

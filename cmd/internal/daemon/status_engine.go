package daemon

import (
	"context"
	"errors"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"duban/cmd/internal/config"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/pgkv"
)

// poolOf returns the connection pool of a store on PostgreSQL, nil for a
// bbolt file.
func poolOf(st *kvstore.Store) *pgxpool.Pool {
	if db, ok := st.KV().(*pgkv.DB); ok {
		return db.Pool()
	}
	return nil
}

// readLease reads the lease row of a PostgreSQL store.
func readLease(ctx context.Context, st *kvstore.Store) (leaseRow, error) {
	pool := poolOf(st)
	if pool == nil {
		return leaseRow{}, errors.New("no leader lease: the store is not PostgreSQL")
	}
	i, err := pgkv.ReadLease(ctx, pool)
	if err != nil {
		return leaseRow{}, err
	}
	return leaseRow{holder: i.Holder, term: i.Term, expires: i.ExpiresAt, now: i.DBNow}, nil
}

// LeaseFor returns the leader lease of node on st when st is shared by
// several nodes (PostgreSQL), with cluster's TTL and renewal; nil for a
// bbolt file, which one process holds.
func LeaseFor(st *kvstore.Store, node string, cluster config.ClusterConfig, logger *slog.Logger) Lease {
	pool := poolOf(st)
	if pool == nil {
		return nil
	}
	return pgLease{pgkv.NewLease(pool, node, pgkv.LeaseOptions{TTL: cluster.LeaseTTL, Renew: cluster.Renew, Logger: logger})}
}

// pgLease adapts pgkv.Lease to Lease.
type pgLease struct{ *pgkv.Lease }

func (l pgLease) Run(ctx context.Context, changed func()) {
	l.Lease.Run(ctx, func(pgkv.LeaseState) { changed() })
}

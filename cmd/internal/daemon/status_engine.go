package daemon

import (
	"context"
	"errors"

	"duban/tracker/kvstore"
)

// engineOf is the engine of st. (Until kvstore.Store.Engine lands: bbolt.)
func engineOf(st *kvstore.Store) string { return EngineBolt }

// readLease reads the lease row of a PostgreSQL store.
func readLease(ctx context.Context, st *kvstore.Store) (leaseRow, error) {
	return leaseRow{}, errors.New("no lease on this store")
}

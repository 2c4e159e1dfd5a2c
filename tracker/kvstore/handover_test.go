package kvstore_test

import (
	"testing"

	"duban/tracker/kvstore"
)

// TestSmallHandOver runs the tests that write during scans, roll back
// and write at random with every buffered write handed to the engine at
// once (on PostgreSQL; bbolt does not hand over): the engine sees the
// writes in the middle of scans and of multi-bucket updates.
func TestSmallHandOver(t *testing.T) {
	defer kvstore.SetHandOver(1)()
	for name, test := range map[string]func(*testing.T, *kvstore.Store){
		"DueBeforeWritesDuringScan": testDueBeforeWritesDuringScan,
		"RandomOperations":          testRandomOperations,
		"ReadYourWrites":            testReadYourWrites,
		"UpdateRollback":            testUpdateRollback,
		"PutInstanceIndex":          testPutInstanceIndex,
		"DueEntriesCoverRows":       testDueEntriesCoverRows,
		"Outbox":                    testOutbox,
		"ScanReadsAhead":            testScanReadsAhead,
	} {
		t.Run(name, func(t *testing.T) { eachEngine(t, test) })
	}
}

package kvstore_test

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"duban/tracker/kvstore"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgtest"
)

// engine gives a test a fresh, empty database of one engine: a bbolt
// path in a temporary directory, or the URL of an empty PostgreSQL
// database (the test is skipped without DUBAN_TEST_PG, fails under CI).
type engine struct {
	name string
	db   func(tb testing.TB) string
}

var engines = []engine{
	{kvstore.EngineBolt, func(tb testing.TB) string { return filepath.Join(tb.TempDir(), "duban.db") }},
	{kvstore.EnginePostgres, func(tb testing.TB) string { return pgtest.URL(tb) }},
}

// eachEngine runs test once per engine, as subtests named after it, each
// on a fresh store whose cleanup runs Check and closes it.
func eachEngine(t *testing.T, test func(t *testing.T, s *kvstore.Store)) {
	t.Helper()
	eachEngineDB(t, func(t *testing.T, db string) { test(t, mustOpenPath(t, db)) })
}

// eachEngineDB runs test once per engine, as subtests, with the path or
// URL of a fresh database, for tests that open and reopen it.
func eachEngineDB(t *testing.T, test func(t *testing.T, db string)) {
	t.Helper()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { test(t, e.db(t)) })
	}
}

// rawUpdate changes the database db behind the store's back: fn runs in
// one engine transaction, with the store closed before and after.
func rawUpdate(tb testing.TB, db string, fn func(tx kv.Tx) error) {
	tb.Helper()
	s, err := kvstore.Open(db, time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	err = s.KV().Update(nil, fn)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// dbSum is a digest of what s holds: of the whole file on bbolt (so that
// "unchanged" means byte for byte), of every bucket's sequence, keys and
// values on another engine.
func dbSum(tb testing.TB, s *kvstore.Store) [32]byte {
	tb.Helper()
	if s.Engine() == kvstore.EngineBolt {
		return fileSum(tb, s.Path())
	}
	h := sha256.New()
	err := s.KV().View(func(tx kv.Tx) error {
		return tx.ForEachBucket(func(name []byte) error {
			b := tx.Bucket(name)
			fmt.Fprintf(h, "bucket %q %d\n", name, b.Sequence())
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				fmt.Fprintf(h, "%q=%q\n", k, v)
			}
			return nil
		})
	})
	if err != nil {
		tb.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

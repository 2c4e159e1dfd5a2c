package pgkv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/kvtest"
	"duban/tracker/kvstore/pgtest"
)

func open(t testing.TB, url string, o Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return db
}

// sql runs statements on url's database outside any pgkv handle.
func sql(t testing.TB, url, q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestConformance(t *testing.T) { runConformance(t) }

func runConformance(t *testing.T) {
	var urls sync.Map // *DB → URL of its database
	kvtest.Run(t, func(t *testing.T) kv.DB {
		url := pgtest.URL(t)
		db := open(t, url, Options{})
		urls.Store(db, url)
		return db
	}, kvtest.Options{
		Reopen: func(t *testing.T, db kv.DB) kv.DB {
			url, _ := urls.Load(db)
			return open(t, url.(string), Options{})
		},
		SetLease: func(t *testing.T, db kv.DB, holder string, term int64) {
			url, _ := urls.Load(db)
			sql(t, url.(string), `UPDATE duban_lease SET holder = $1, term = $2, expires_at = now() + interval '1 minute' WHERE name = 'leader'`, holder, term)
		},
		Kill: func(t *testing.T, db kv.DB, tx kv.Tx) {
			url, _ := urls.Load(db)
			killBackend(t, url.(string), tx.(*txn).conn.Conn().PgConn().PID())
		},
	})
}

// killBackend terminates a backend and waits until it is gone.
func killBackend(t testing.TB, url string, pid uint32) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)); err != nil {
		t.Fatal(err)
	}
	for range 500 {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, int32(pid)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("backend %d still there", pid)
}

// Several nodes starting at once on an empty database: one creates the
// tables, all open.
func TestMigrateConcurrentStart(t *testing.T) {
	url := pgtest.URL(t)
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	dbs := make([]*DB, nodes)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dbs[i], errs[i] = Open(context.Background(), url, Options{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	var version, locks, leases int
	ctx := context.Background()
	if err := dbs[0].pool.QueryRow(ctx, `SELECT (SELECT version FROM duban_schema), (SELECT count(*) FROM duban_lock), (SELECT count(*) FROM duban_lease)`).Scan(&version, &locks, &leases); err != nil {
		t.Fatal(err)
	}
	if version != SchemaVersion || locks != 1 || leases != 1 {
		t.Fatalf("schema %d (want %d), %d lock rows, %d lease rows: a migration ran twice or not at all", version, SchemaVersion, locks, leases)
	}
	// Each node works on the shared tables.
	for i, db := range dbs {
		if err := db.Update(nil, func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put(fmt.Appendf(nil, "node%d", i), []byte("x"))
		}); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	if err := dbs[0].View(func(tx kv.Tx) error {
		n := 0
		c := tx.Bucket([]byte("b")).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		if n != nodes {
			t.Errorf("%d keys, want %d", n, nodes)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateRefusesNewerSchema(t *testing.T) {
	url := pgtest.URL(t)
	open(t, url, Options{}).Close()
	sql(t, url, `UPDATE duban_schema SET version = version + 1`)
	_, err := Open(context.Background(), url, Options{})
	if !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaNewer", err)
	}
	_, err = Open(context.Background(), url, Options{ReadOnly: true})
	if !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("read-only Open of a newer schema: %v, want ErrSchemaNewer", err)
	}
}

func TestReadOnly(t *testing.T) {
	url := pgtest.URL(t)
	if _, err := Open(context.Background(), url, Options{ReadOnly: true}); !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("read-only Open of an empty database: %v, want ErrNotInitialised", err)
	}
	var n int
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("read-only Open created %d tables (%v)", n, err)
	}
	rw := open(t, url, Options{})
	defer rw.Close()
	if err := rw.Update(nil, func(tx kv.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("b"))
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	ro := open(t, url, Options{ReadOnly: true})
	defer ro.Close()
	if err := ro.Update(nil, func(kv.Tx) error { return nil }); !errors.Is(err, kv.ErrTxNotWritable) {
		t.Fatalf("Update of a read-only handle: %v", err)
	}
	if err := ro.View(func(tx kv.Tx) error {
		if v := tx.Bucket([]byte("b")).Get([]byte("k")); string(v) != "v" {
			t.Errorf("read-only handle reads %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A node stopped inside an Update (SIGSTOP) holds duban_lock; the
// session's idle_in_transaction_session_timeout ends it, so other
// writers go on and the stopped transaction keeps nothing.
func TestIdleInTransactionReleasesLock(t *testing.T) {
	url := pgtest.URL(t)
	stopped := open(t, url, Options{IdleInTxTimeout: 300 * time.Millisecond})
	defer stopped.Close()
	other := open(t, url, Options{})
	defer other.Close()
	inside, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- stopped.Update(nil, func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("stopped"), []byte("x")); err != nil {
				return err
			}
			close(inside)
			<-resume // the process is stopped here
			return nil
		})
	}()
	<-inside
	start := time.Now()
	err := other.Update(nil, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte("other"), []byte("y"))
	})
	waited := time.Since(start)
	close(resume)
	if err != nil {
		t.Fatalf("the other writer: %v", err)
	}
	if waited < 250*time.Millisecond {
		t.Fatalf("the other writer did not wait for the lock (%v): Updates are not serialised", waited)
	}
	if err := <-done; err == nil {
		t.Fatal("the stopped node's Update committed after its session was ended")
	}
	t.Logf("the other writer waited %v", waited.Round(time.Millisecond))
	if err := other.View(func(tx kv.Tx) error {
		b := tx.Bucket([]byte("b"))
		if b.Get([]byte("stopped")) != nil || string(b.Get([]byte("other"))) != "y" {
			t.Errorf("stopped = %q, other = %q", b.Get([]byte("stopped")), b.Get([]byte("other")))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordFromEnvironment(t *testing.T) {
	base := pgtest.Require(t)
	// The test cluster trusts local connections, so a wrong password
	// cannot be refused here: check that it is used and never shown.
	t.Setenv(PasswordEnv, "s3cret-pw")
	db := open(t, pgtest.URL(t), Options{})
	defer db.Close()
	if pw := db.pool.Config().ConnConfig.Password; pw != "s3cret-pw" {
		t.Fatalf("password %q, want the one from %s", pw, PasswordEnv)
	}
	_, err := Open(context.Background(), strings.Replace(base, "/postgres?", "/no_such_db?", 1), Options{ConnectTimeout: 5 * time.Second})
	if err == nil {
		t.Fatal("Open of a missing database succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error shows the password: %v", err)
	}
	_, err = Open(context.Background(), "postgres://duban:urlpw@/x?host=/nonexistent&connect_timeout=1", Options{ConnectTimeout: 2 * time.Second})
	if err == nil || strings.Contains(err.Error(), "urlpw") || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error of a URL with a password: %v", err)
	}
}

// TestConformanceSmallBatches runs the suite with tiny statement chunks,
// range reads and overlay: every flush and read path runs many times.
func TestConformanceSmallBatches(t *testing.T) {
	defer func(a, b, c, d, e, f, g, h int) {
		chunkRows, copyRows, flushAtWrite, firstRows, maxRows, lastRows, probeAfter, asyncRows = a, b, c, d, e, f, g, h
	}(chunkRows, copyRows, flushAtWrite, firstRows, maxRows, lastRows, probeAfter, asyncRows)
	chunkRows, copyRows, flushAtWrite, firstRows, maxRows, lastRows, probeAfter, asyncRows = 3, 5, 7, 1, 4, 1, 2, 2
	runConformance(t)
}

// TestBackgroundFlush writes more than asyncRows keys into two buckets,
// with reads in between (each waits for the writes in flight): a rolled
// back or fenced Update leaves nothing, a committed one every value.
func TestBackgroundFlush(t *testing.T) {
	defer func(a int) { asyncRows = a }(asyncRows)
	asyncRows = 16
	url := pgtest.URL(t)
	db := open(t, url, Options{})
	defer db.Close()
	names := [][]byte{[]byte("a"), []byte("b")}
	if err := db.Update(nil, func(tx kv.Tx) error {
		for _, n := range names {
			b, err := tx.CreateBucketIfNotExists(n)
			if err != nil {
				return err
			}
			// Stored keys, so that the writes below update and delete.
			for i := 0; i < 300; i += 3 {
				if err := b.Put(fmt.Appendf(nil, "k%04d", i), []byte("old")); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	write := func(tx kv.Tx) error {
		for i := range 300 {
			for _, n := range names {
				b := tx.Bucket(n)
				k := fmt.Appendf(nil, "k%04d", i)
				var err error
				if i%5 == 0 {
					err = b.Delete(k)
				} else {
					err = b.Put(k, fmt.Appendf(nil, "new%d", i))
				}
				if err != nil {
					return err
				}
				// A read of a key not yet known: a round trip.
				if got := b.Get(fmt.Appendf(nil, "k%04d", 299-i)); i < 150 && (299-i)%3 == 0 && (299-i)%5 != 0 && string(got) != "old" {
					return fmt.Errorf("Get k%04d = %q mid-transaction, want old", 299-i, got)
				}
			}
			if i == 200 {
				if k, _ := tx.Bucket(names[0]).Cursor().Seek([]byte("k0199")); string(k) != "k0199" {
					return fmt.Errorf("Seek k0199 = %q", k)
				}
			}
		}
		return nil
	}
	dump := func() map[string]string {
		m := map[string]string{}
		if err := db.View(func(tx kv.Tx) error {
			for _, n := range names {
				c := tx.Bucket(n).Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					m[string(n)+"/"+string(k)] = string(v)
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := dump()
	errStop := errors.New("stop")
	if err := db.Update(nil, func(tx kv.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		return errStop
	}); !errors.Is(err, errStop) {
		t.Fatalf("rolled back Update: %v", err)
	}
	sql(t, url, `UPDATE duban_lease SET holder = 'other', term = 7 WHERE name = 'leader'`)
	if err := db.Update(&kv.Fence{Holder: "me", Term: 7}, write); !errors.Is(err, kv.ErrFenced) {
		t.Fatalf("fenced Update: %v, want kv.ErrFenced", err)
	}
	if got := dump(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("a rolled back Update changed the database:\n%v\nwant\n%v", got, before)
	}
	if err := db.Update(nil, write); err != nil {
		t.Fatal(err)
	}
	got := dump()
	want := map[string]string{}
	for _, n := range names {
		for i := range 300 {
			if i%5 != 0 {
				want[fmt.Sprintf("%s/k%04d", n, i)] = fmt.Sprintf("new%d", i)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after commit:\n%v\nwant\n%v", got, want)
	}
}

// TestLastAfterPrefetch reads a bucket's last keys ahead, then asks for
// its last key: the answer counts the keys read (with the transaction's
// values) and needs no paging back through them.
func TestLastAfterPrefetch(t *testing.T) {
	db := open(t, pgtest.URL(t), Options{})
	defer db.Close()
	name := []byte("b")
	if err := db.Update(nil, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(name)
		if err != nil {
			return err
		}
		for i := range 2000 {
			if err := b.Put(fmt.Appendf(nil, "k%04d", i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(nil, func(tx kv.Tx) error {
		b := tx.Bucket(name)
		var keys [][]byte
		for i := 1000; i < 2000; i++ {
			keys = append(keys, fmt.Appendf(nil, "k%04d", i))
		}
		kv.Prefetch(b, keys)
		if k, v := b.Cursor().Last(); string(k) != "k1999" || string(v) != "v" {
			return fmt.Errorf("Last = %q %q, want k1999 v", k, v)
		}
		if err := b.Put([]byte("k1999"), []byte("w")); err != nil {
			return err
		}
		if k, v := b.Cursor().Last(); string(k) != "k1999" || string(v) != "w" {
			return fmt.Errorf("Last after a Put = %q %q, want k1999 w", k, v)
		}
		if err := b.Delete([]byte("k1999")); err != nil {
			return err
		}
		c := b.Cursor()
		if k, v := c.Last(); string(k) != "k1998" || string(v) != "v" {
			return fmt.Errorf("Last after a Delete = %q %q, want k1998 v", k, v)
		}
		if k, _ := c.Next(); k != nil {
			return fmt.Errorf("Next after Last = %q", k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

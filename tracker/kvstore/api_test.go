package kvstore_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/kv"
	"duban/tracker/kvstore/pgtest"
)

func TestIsURL(t *testing.T) {
	for db, want := range map[string]bool{
		"postgres://u@db.example/duban":                   true,
		"postgresql://u@db.example/duban":                 true,
		"POSTGRES://db/duban":                             true,
		"postgres:///postgres?host=/tmp/duban-pg&user=du": true,
		"duban.db":                   false,
		"/var/lib/duban/postgres.db": false,
		"postgres:/x":                false,
		"mysql://u@db.example/duban": false,
		"./postgres://not-a-url.db":  false,
		"":                           false,
	} {
		if got := kvstore.IsURL(db); got != want {
			t.Errorf("IsURL(%q) = %v, want %v", db, got, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://duban:s3cret@db.example:5432/duban?sslmode=require": "postgres://duban@db.example:5432/duban?sslmode=require",
		"postgres://duban@db.example/duban":                             "postgres://duban@db.example/duban",
		"postgres:///postgres?host=/tmp/duban-pg&user=duban":            "postgres:///postgres?host=/tmp/duban-pg&user=duban",
		"postgresql://db/duban?user=duban&password=s3cret":              "postgresql://db/duban?user=duban",
		"postgres://duban:s3cret@db.example:bad/duban":                  "postgres://…",
	} {
		if got := kvstore.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Ensure that Engine, Path and KV describe the store.
func TestEngineAndPath(t *testing.T) {
	eachEngineDB(t, func(t *testing.T, db string) {
		s := mustOpenPath(t, db)
		want := kvstore.EngineBolt
		if kvstore.IsURL(db) {
			want = kvstore.EnginePostgres
		}
		if got := s.Engine(); got != want {
			t.Errorf("Engine() = %q, want %q", got, want)
		}
		if got := s.Path(); got != db {
			t.Errorf("Path() = %q, want %q", got, db)
		}
		// KV is the engine the store writes to
		mustUpdate(t, s, func(tx tracker.Tx) error { return tx.PutMeta("k", []byte("v")) })
		if err := s.KV().View(func(tx kv.Tx) error {
			if v := tx.Bucket([]byte("meta")).Get([]byte("k")); string(v) != "v" {
				t.Errorf("KV meta k = %q, want v", v)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// setLease makes holder the leader under term in the PostgreSQL database
// at db, for a minute.
func setLease(tb testing.TB, db, holder string, term int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE duban_lease SET holder = $1, term = $2, expires_at = now() + interval '1 minute' WHERE name = 'leader'`, holder, term); err != nil {
		tb.Fatal(err)
	}
}

// Ensure that a Fenced store commits while its fence holds and, on
// PostgreSQL, keeps nothing and fails with kv.ErrFenced once another node
// took the lease over; bbolt ignores the fence. View is unchanged.
func TestFenced(t *testing.T) {
	eachEngineDB(t, func(t *testing.T, db string) {
		s := mustOpenPath(t, db)
		pg := s.Engine() == kvstore.EnginePostgres
		f := kv.Fence{Holder: "n1", Term: 7}
		if pg {
			setLease(t, db, "n1", 7)
		}
		office := func() string {
			var o tracker.Office
			mustView(t, s.Fenced(f), func(tx tracker.Tx) (err error) { o, err = tx.Office(); return err })
			return o.Name
		}
		fs := s.Fenced(f)
		if err := fs.Update(func(tx tracker.Tx) error { return tx.PutOffice(tracker.Office{Name: "甲"}) }); err != nil {
			t.Fatalf("fenced Update under the lease: %v", err)
		}
		if got := office(); got != "甲" {
			t.Fatalf("office = %q, want 甲", got)
		}
		if pg {
			setLease(t, db, "n2", 8) // taken over
		}
		err := fs.Update(func(tx tracker.Tx) error { return tx.PutOffice(tracker.Office{Name: "乙"}) })
		want := "乙"
		if pg {
			want = "甲"
			if !errors.Is(err, kv.ErrFenced) {
				t.Errorf("fenced Update after a takeover: err = %v, want ErrFenced", err)
			}
		} else if err != nil {
			t.Errorf("fenced Update on bbolt: %v", err)
		}
		if got := office(); got != want {
			t.Errorf("office = %q, want %q", got, want)
		}
		// writing nothing commits nothing: no error, fenced or not
		if err := fs.Update(func(tx tracker.Tx) error { _, err := tx.Office(); return err }); err != nil {
			t.Errorf("fenced Update that writes nothing: %v", err)
		}
		if err := fs.Close(); err != nil {
			t.Errorf("Close of the fenced view: %v", err)
		}
		mustUpdate(t, s, func(tx tracker.Tx) error { return tx.PutMeta("open", []byte("yes")) }) // still open
	})
}

// Ensure that a store opened read-only reads and refuses every Update,
// also one that would write nothing, with kv.ErrTxNotWritable.
func TestReadOnlyRefusesUpdate(t *testing.T) {
	eachEngineDB(t, func(t *testing.T, db string) {
		s, err := kvstore.Open(db, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		fill(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := kvstore.OpenReadOnly(db, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if n := len(dueIDs(t, r, time.Time{})); n != 133 {
			t.Errorf("read-only DueBefore saw %d instances, want 133", n)
		}
		for name, fn := range map[string]func(tracker.Tx) error{
			"write":   func(tx tracker.Tx) error { return tx.PutOffice(tracker.Office{Name: "新"}) },
			"nothing": func(tracker.Tx) error { return nil },
		} {
			if err := r.Update(fn); !errors.Is(err, kv.ErrTxNotWritable) {
				t.Errorf("Update (%s) on a read-only store: err = %v, want ErrTxNotWritable", name, err)
			}
		}
		mustView(t, r, func(tx tracker.Tx) error {
			if o, err := tx.Office(); err != nil || o.Name != "督查室" {
				t.Errorf("Office = %+v, %v; want 督查室", o, err)
			}
			return nil
		})
		if err := r.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
	})
}

// Ensure that an error opening a PostgreSQL URL never shows its password.
func TestOpenURLErrorHidesPassword(t *testing.T) {
	for _, db := range []string{
		"postgres://duban:s3cret@127.0.0.1:1/duban?connect_timeout=5",
		"postgresql://127.0.0.1:1/duban?user=duban&password=s3cret&connect_timeout=5",
	} {
		for _, open := range []func(string, time.Duration) (*kvstore.Store, error){kvstore.Open, kvstore.OpenReadOnly} {
			s, err := open(db, time.Second)
			if err == nil {
				s.Close()
				t.Fatalf("open %s succeeded with nothing listening", db)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("open error shows the password: %v", err)
			}
		}
	}
}

// Ensure that OpenReadOnly of a PostgreSQL database without duban's
// tables fails and creates nothing.
func TestOpenReadOnlyPostgresEmpty(t *testing.T) {
	db := pgtest.URL(t)
	if s, err := kvstore.OpenReadOnly(db, time.Second); err == nil {
		s.Close()
		t.Fatal("OpenReadOnly of an empty database succeeded")
	}
	s := mustOpenPath(t, db) // read-write: creates the tables and buckets
	mustView(t, s, func(tx tracker.Tx) error {
		v, err := tx.Meta("schema_version")
		if want := strconv.Itoa(kvstore.SchemaVersion); err != nil || string(v) != want {
			t.Errorf("schema_version = %q, %v; want %q", v, err, want)
		}
		return nil
	})
}

// Package kvtest is the conformance suite of the kv contract
// (tracker/kvstore/kv): every engine's tests call Run, so that bbolt and
// PostgreSQL behave the same under kvstore.
//
//	func TestConformance(t *testing.T) {
//		kvtest.Run(t, func(t *testing.T) kv.DB { return openEmpty(t) })
//	}
//
// Engines with more than one process on a database, or with a leader
// lease, pass hooks in Options so that the suite can also check what only
// they can do.
package kvtest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"

	"duban/tracker/kvstore/kv"
)

// Options are the hooks of engines that can do more than one process on
// one file.
type Options struct {
	// Reopen returns a second, independent handle on db's database (for
	// PostgreSQL: another pool, as another node would have). The suite
	// closes it. Nil: the suite uses db itself from several goroutines.
	Reopen func(t *testing.T, db kv.DB) kv.DB
	// SetLease writes the leader lease of db's database directly (for
	// PostgreSQL: the duban_lease row). Nil: the engine has no lease and
	// ignores fences.
	SetLease func(t *testing.T, db kv.DB, holder string, term int64)
	// Kill breaks the engine connection of tx, a running transaction of
	// db, as a lost connection would (for PostgreSQL:
	// pg_terminate_backend of its backend). Nil: the engine has no
	// connection to lose.
	Kill func(t *testing.T, db kv.DB, tx kv.Tx)
}

// Run runs the suite. open returns a new, empty database for each
// subtest; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) kv.DB, opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s := &suite{open: open, o: o}
	t.Run("KeyOrder", s.keyOrder)
	t.Run("CursorEnds", s.cursorEnds)
	t.Run("EmptyBucket", s.emptyBucket)
	t.Run("Buckets", s.buckets)
	t.Run("BucketRecreatedInOneTx", s.bucketRecreated)
	t.Run("Sequences", s.sequences)
	t.Run("ReadYourWrites", s.readYourWrites)
	t.Run("CursorAcrossOtherBucketsWrites", s.cursorOtherBucket)
	t.Run("PrefetchChangesNothing", s.prefetch)
	t.Run("ManyKeys", s.manyKeys)
	t.Run("RandomAgainstModel", s.randomModel)
	t.Run("RollbackKeepsNothing", s.rollback)
	t.Run("ReadOnlyTx", s.readOnly)
	t.Run("SizeLimits", s.sizeLimits)
	t.Run("SlicesStayValid", s.slicesStayValid)
	t.Run("ViewIsSnapshot", s.viewSnapshot)
	t.Run("UpdatesSerialised", s.serialised)
	t.Run("Fence", s.fence)
	t.Run("PoisonedTx", s.poisoned)
}

type suite struct {
	open func(t *testing.T) kv.DB
	o    Options
}

func (s *suite) db(t *testing.T) kv.DB {
	t.Helper()
	db := s.open(t)
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

// second returns another handle on db's database, or db itself.
func (s *suite) second(t *testing.T, db kv.DB) kv.DB {
	t.Helper()
	if s.o.Reopen == nil {
		return db
	}
	db2 := s.o.Reopen(t, db)
	t.Cleanup(func() {
		if err := db2.Close(); err != nil {
			t.Errorf("close second handle: %v", err)
		}
	})
	return db2
}

var bk = []byte("b")

func update(t *testing.T, db kv.DB, fn func(tx kv.Tx) error) {
	t.Helper()
	if err := db.Update(nil, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, db kv.DB, fn func(tx kv.Tx) error) {
	t.Helper()
	if err := db.View(fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

// put writes kvs (key, value, key, value …) into bucket bk, creating it.
func put(t *testing.T, db kv.DB, kvs ...[]byte) {
	t.Helper()
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bk)
		if err != nil {
			return err
		}
		for i := 0; i < len(kvs); i += 2 {
			if err := b.Put(kvs[i], kvs[i+1]); err != nil {
				return err
			}
		}
		return nil
	})
}

type pair struct{ k, v []byte }

func (p pair) String() string { return fmt.Sprintf("%x=%q", p.k, p.v) }

// scan returns every pair of c from First.
func scan(c kv.Cursor) []pair {
	var out []pair
	for k, v := c.First(); k != nil; k, v = c.Next() {
		out = append(out, pair{bytes.Clone(k), bytes.Clone(v)})
	}
	return out
}

func samePairs(t *testing.T, what string, got, want []pair) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d pairs, want %d\n got %v\nwant %v", what, len(got), len(want), clip(got), clip(want))
	}
	for i := range got {
		if !bytes.Equal(got[i].k, want[i].k) || !bytes.Equal(got[i].v, want[i].v) {
			t.Fatalf("%s: pair %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

func clip(p []pair) []pair {
	if len(p) > 20 {
		return p[:20]
	}
	return p
}

// expectGet fails t unless b.Get(key) is want (nil: absent).
func expectGet(t *testing.T, what string, b kv.Bucket, key string, want []byte) {
	t.Helper()
	if got := b.Get([]byte(key)); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
		t.Errorf("%s: Get(%q) = %q, want %q", what, key, got, want)
	}
}

// valueOf returns the value of key k in ps, nil if it has none.
func valueOf(ps []pair, k string) []byte {
	if i := slices.IndexFunc(ps, func(p pair) bool { return string(p.k) == k }); i >= 0 {
		return ps[i].v
	}
	return nil
}

func expectKV(t *testing.T, what string, k, v []byte, wantK, wantV []byte) {
	t.Helper()
	if !bytes.Equal(k, wantK) || !bytes.Equal(v, wantV) || (k == nil) != (wantK == nil) {
		t.Fatalf("%s = (%x, %q), want (%x, %q)", what, k, v, wantK, wantV)
	}
}

// orderedKeys are keys whose byte order differs from any text collation:
// 0x00 and 0xff bytes, prefixes, upper before lower case.
var orderedKeys = [][]byte{
	{0x00}, {0x00, 0x00}, {0x00, 0x01}, {0x01}, []byte("B"), []byte("a"),
	[]byte("a\x00"), []byte("a\x00b"), []byte("ab"), []byte("abc"), {0x7f},
	{0x80}, {0xc3, 0xa9}, {0xfe, 0xff}, {0xff}, {0xff, 0x00}, {0xff, 0xff},
	{0xff, 0xff, 0xff},
}

func (s *suite) keyOrder(t *testing.T) {
	db := s.db(t)
	keys := slices.Clone(orderedKeys)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	var kvs [][]byte
	var want []pair
	for _, k := range orderedKeys {
		want = append(want, pair{k, append([]byte("v"), k...)})
	}
	for _, k := range keys {
		kvs = append(kvs, k, append([]byte("v"), k...))
	}
	put(t, db, kvs...)
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		samePairs(t, "scan", scan(b.Cursor()), want)
		c := b.Cursor()
		k, v := c.Last()
		expectKV(t, "Last", k, v, want[len(want)-1].k, want[len(want)-1].v)
		for i, p := range want {
			k, v = c.Seek(p.k)
			expectKV(t, fmt.Sprintf("Seek(%x)", p.k), k, v, p.k, p.v)
			if i+1 < len(want) {
				k, v = c.Next()
				expectKV(t, fmt.Sprintf("Next after Seek(%x)", p.k), k, v, want[i+1].k, want[i+1].v)
			}
			if got := b.Get(p.k); !bytes.Equal(got, p.v) {
				t.Fatalf("Get(%x) = %q, want %q", p.k, got, p.v)
			}
		}
		// Seek between keys lands on the next one.
		k, v = c.Seek([]byte("a\x00a"))
		expectKV(t, "Seek(a 00 a)", k, v, []byte("a\x00b"), []byte("va\x00b"))
		k, v = c.Seek([]byte("aa"))
		expectKV(t, "Seek(aa)", k, v, []byte("ab"), []byte("vab"))
		k, v = c.Seek([]byte{0xff, 0xff, 0xff, 0x00})
		expectKV(t, "Seek past the last key", k, v, nil, nil)
		if got := b.Get([]byte("a\x00a")); got != nil {
			t.Fatalf("Get of an absent key = %q", got)
		}
		return nil
	})
}

func (s *suite) cursorEnds(t *testing.T) {
	db := s.db(t)
	put(t, db, []byte("b"), []byte("1"), []byte("d"), []byte("2"))
	view(t, db, func(tx kv.Tx) error {
		c := tx.Bucket(bk).Cursor()
		k, v := c.First()
		expectKV(t, "First", k, v, []byte("b"), []byte("1"))
		k, v = c.Next()
		expectKV(t, "Next", k, v, []byte("d"), []byte("2"))
		k, v = c.Next()
		expectKV(t, "Next at the end", k, v, nil, nil)
		k, v = c.Last()
		expectKV(t, "Last", k, v, []byte("d"), []byte("2"))
		k, v = c.Next()
		expectKV(t, "Next after Last", k, v, nil, nil)
		k, v = c.Seek([]byte("a"))
		expectKV(t, "Seek before the first key", k, v, []byte("b"), []byte("1"))
		k, v = c.Seek([]byte("c"))
		expectKV(t, "Seek(c)", k, v, []byte("d"), []byte("2"))
		k, v = c.Seek([]byte("e"))
		expectKV(t, "Seek past the end", k, v, nil, nil)
		k, v = c.First()
		expectKV(t, "First again", k, v, []byte("b"), []byte("1"))
		return nil
	})
}

func (s *suite) emptyBucket(t *testing.T) {
	db := s.db(t)
	put(t, db)
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if b == nil {
			t.Fatal("created bucket is missing")
		}
		c := b.Cursor()
		for what, f := range map[string]func() ([]byte, []byte){
			"First": c.First, "Last": c.Last, "Next": c.Next,
			"Seek": func() ([]byte, []byte) { return c.Seek([]byte("a")) },
		} {
			if k, v := f(); k != nil || v != nil {
				t.Fatalf("%s on an empty bucket = (%q, %q)", what, k, v)
			}
		}
		if v := b.Get([]byte("a")); v != nil {
			t.Fatalf("Get on an empty bucket = %q", v)
		}
		if n := b.Sequence(); n != 0 {
			t.Fatalf("Sequence of a new bucket = %d", n)
		}
		return nil
	})
	// A bucket emptied by deletes is empty again, in the deleting
	// transaction and after.
	put(t, db, []byte("x"), []byte("1"), []byte("y"), []byte("2"))
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		for _, k := range []string{"x", "y", "z"} {
			if err := b.Delete([]byte(k)); err != nil {
				t.Fatalf("Delete(%s): %v", k, err)
			}
		}
		if k, _ := b.Cursor().First(); k != nil {
			t.Fatalf("First after deleting every key = %q", k)
		}
		if k, _ := b.Cursor().Last(); k != nil {
			t.Fatalf("Last after deleting every key = %q", k)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		if p := scan(tx.Bucket(bk).Cursor()); len(p) != 0 {
			t.Fatalf("deleted keys came back: %v", p)
		}
		return nil
	})
}

func bucketNames(t *testing.T, tx kv.Tx) []string {
	t.Helper()
	var names []string
	if err := tx.ForEachBucket(func(name []byte) error {
		names = append(names, string(name))
		return nil
	}); err != nil {
		t.Fatalf("ForEachBucket: %v", err)
	}
	return names
}

func (s *suite) buckets(t *testing.T) {
	db := s.db(t)
	names := []string{"\x00", "a", "a\x00", "ab", "b", "\xff"}
	update(t, db, func(tx kv.Tx) error {
		if b := tx.Bucket([]byte("a")); b != nil {
			t.Fatal("Bucket of a new database is not nil")
		}
		if err := tx.DeleteBucket([]byte("a")); !errors.Is(err, kv.ErrBucketMissing) {
			t.Fatalf("DeleteBucket of a missing bucket: %v, want ErrBucketMissing", err)
		}
		for _, i := range []int{4, 1, 5, 0, 3, 2} {
			b, err := tx.CreateBucketIfNotExists([]byte(names[i]))
			if err != nil || b == nil {
				t.Fatalf("CreateBucketIfNotExists(%q) = %v, %v", names[i], b, err)
			}
			if err := b.Put([]byte("k"), []byte(names[i])); err != nil {
				return err
			}
		}
		if got := bucketNames(t, tx); !slices.Equal(got, names) {
			t.Fatalf("ForEachBucket in the creating tx = %q, want %q", got, names)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		if got := bucketNames(t, tx); !slices.Equal(got, names) {
			t.Fatalf("ForEachBucket = %q, want %q", got, names)
		}
		for _, n := range names {
			if v := tx.Bucket([]byte(n)).Get([]byte("k")); string(v) != n {
				t.Fatalf("bucket %q holds %q", n, v)
			}
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("a"))
		if err != nil {
			return err
		}
		if v := b.Get([]byte("k")); string(v) != "a" {
			t.Fatalf("CreateBucketIfNotExists of an existing bucket lost its key: %q", v)
		}
		if err := tx.DeleteBucket([]byte("a")); err != nil {
			return err
		}
		if tx.Bucket([]byte("a")) != nil {
			t.Fatal("deleted bucket is still there in its tx")
		}
		return tx.DeleteBucket([]byte("\x00"))
	})
	view(t, db, func(tx kv.Tx) error {
		want := []string{"a\x00", "ab", "b", "\xff"}
		if got := bucketNames(t, tx); !slices.Equal(got, want) {
			t.Fatalf("after DeleteBucket: %q, want %q", got, want)
		}
		// a key of bucket "a" is not one of "a\x00" or "ab".
		if v := tx.Bucket([]byte("ab")).Get([]byte("k")); string(v) != "ab" {
			t.Fatalf("bucket ab holds %q", v)
		}
		return nil
	})
	// Buckets do not share keys.
	update(t, db, func(tx kv.Tx) error {
		b, _ := tx.CreateBucketIfNotExists([]byte("a"))
		if p := scan(b.Cursor()); len(p) != 0 {
			t.Fatalf("a re-created bucket holds %v", p)
		}
		return nil
	})
}

func (s *suite) bucketRecreated(t *testing.T) {
	db := s.db(t)
	update(t, db, func(tx kv.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bk)
		if err != nil {
			return err
		}
		if err := b.SetSequence(7); err != nil {
			return err
		}
		for _, k := range []string{"a", "b", "c"} {
			if err := b.Put([]byte(k), []byte("old")); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		if err := tx.DeleteBucket(bk); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bk)
		if err != nil {
			return err
		}
		if b.Sequence() != 0 || b.Get([]byte("a")) != nil {
			t.Fatalf("re-created bucket: sequence %d, a = %q", b.Sequence(), b.Get([]byte("a")))
		}
		if k, _ := b.Cursor().First(); k != nil {
			t.Fatalf("re-created bucket's cursor finds %q", k)
		}
		return b.Put([]byte("b"), []byte("new"))
	})
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		samePairs(t, "re-created bucket", scan(b.Cursor()), []pair{{[]byte("b"), []byte("new")}})
		if b.Sequence() != 0 {
			t.Fatalf("re-created bucket's sequence = %d", b.Sequence())
		}
		return nil
	})
}

func (s *suite) sequences(t *testing.T) {
	db := s.db(t)
	update(t, db, func(tx kv.Tx) error {
		b, _ := tx.CreateBucketIfNotExists(bk)
		for want := uint64(1); want <= 3; want++ {
			n, err := b.NextSequence()
			if err != nil || n != want {
				t.Fatalf("NextSequence = %d, %v; want %d", n, err, want)
			}
		}
		if b.Sequence() != 3 {
			t.Fatalf("Sequence = %d, want 3", b.Sequence())
		}
		other, _ := tx.CreateBucketIfNotExists([]byte("other"))
		if n, _ := other.NextSequence(); n != 1 {
			t.Fatalf("another bucket's first NextSequence = %d", n)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		if n := tx.Bucket(bk).Sequence(); n != 3 {
			t.Fatalf("committed Sequence = %d, want 3", n)
		}
		return nil
	})
	errRollback := errors.New("roll back")
	err := db.Update(nil, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if _, err := b.NextSequence(); err != nil {
			return err
		}
		if err := b.SetSequence(1 << 40); err != nil {
			return err
		}
		if n, _ := b.NextSequence(); n != 1<<40+1 {
			t.Fatalf("NextSequence after SetSequence(2^40) = %d", n)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if n, _ := b.NextSequence(); n != 4 {
			t.Fatalf("NextSequence after a rolled back tx = %d, want 4", n)
		}
		if err := b.SetSequence(1<<64 - 2); err != nil {
			return err
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		if n := tx.Bucket(bk).Sequence(); n != 1<<64-2 {
			t.Fatalf("Sequence = %d, want 2^64-2 (the whole uint64 range)", n)
		}
		return nil
	})
}

func (s *suite) readYourWrites(t *testing.T) {
	db := s.db(t)
	put(t, db, []byte("a"), []byte("1"), []byte("c"), []byte("3"), []byte("e"), []byte("5"))
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		c := b.Cursor()
		k, _ := c.First()
		expectKV(t, "First before writing", k, nil, []byte("a"), nil)
		if err := b.Put([]byte("b"), []byte("2")); err != nil {
			return err
		}
		if err := b.Put([]byte("c"), []byte("33")); err != nil {
			return err
		}
		if err := b.Delete([]byte("e")); err != nil {
			return err
		}
		if err := b.Delete([]byte("a")); err != nil {
			return err
		}
		if got := b.Get([]byte("b")); string(got) != "2" {
			t.Fatalf("Get of a key put in this tx = %q", got)
		}
		if got := b.Get([]byte("c")); string(got) != "33" {
			t.Fatalf("Get of a key overwritten in this tx = %q", got)
		}
		if got := b.Get([]byte("e")); got != nil {
			t.Fatalf("Get of a key deleted in this tx = %q", got)
		}
		want := []pair{{[]byte("b"), []byte("2")}, {[]byte("c"), []byte("33")}}
		samePairs(t, "scan after writes", scan(b.Cursor()), want)
		// The cursor made before the writes, seeked again.
		k, v := c.Seek([]byte("a"))
		expectKV(t, "re-seeked cursor", k, v, []byte("b"), []byte("2"))
		k, v = c.Last()
		expectKV(t, "Last after deleting the last key", k, v, []byte("c"), []byte("33"))
		// Put, Delete and Put again of one key; a Delete of an absent key.
		if err := b.Put([]byte("d"), []byte("x")); err != nil {
			return err
		}
		if err := b.Delete([]byte("d")); err != nil {
			return err
		}
		if got := b.Get([]byte("d")); got != nil {
			t.Fatalf("Get after Put and Delete = %q", got)
		}
		if err := b.Delete([]byte("zz")); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
		if err := b.Put([]byte("e"), []byte("55")); err != nil {
			return err
		}
		k, v = c.Seek([]byte("d"))
		expectKV(t, "Seek(d) after put, delete, put", k, v, []byte("e"), []byte("55"))
		k, v = c.Next()
		expectKV(t, "Next at the end", k, v, nil, nil)
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		samePairs(t, "committed", scan(tx.Bucket(bk).Cursor()), []pair{
			{[]byte("b"), []byte("2")}, {[]byte("c"), []byte("33")}, {[]byte("e"), []byte("55")},
		})
		return nil
	})
}

// cursorOtherBucket: a cursor stays valid while the transaction writes
// other buckets (kvstore walks one bucket and writes an index).
func (s *suite) cursorOtherBucket(t *testing.T) {
	db := s.db(t)
	var kvs [][]byte
	var want []pair
	for i := range 300 {
		k, v := fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "v%d", i)
		kvs, want = append(kvs, k, v), append(want, pair{k, v})
	}
	put(t, db, kvs...)
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		// Buffered writes of the walked bucket, made before the walk.
		if err := b.Put([]byte("k0000"), []byte("new")); err != nil {
			return err
		}
		want[0].v = []byte("new")
		if err := b.Delete([]byte("k0001")); err != nil {
			return err
		}
		want = append(want[:1], want[2:]...)
		idx, err := tx.CreateBucketIfNotExists([]byte("index"))
		if err != nil {
			return err
		}
		c := b.Cursor()
		var got []pair
		for k, v := c.First(); k != nil; k, v = c.Next() {
			got = append(got, pair{bytes.Clone(k), bytes.Clone(v)})
			for j := range 40 {
				if err := idx.Put(fmt.Appendf(nil, "%s/%d", k, j), k); err != nil {
					return err
				}
			}
		}
		samePairs(t, "walk while writing another bucket", got, want)
		if n := len(scan(idx.Cursor())); n != 40*len(want) {
			t.Fatalf("index holds %d keys, want %d", n, 40*len(want))
		}
		return nil
	})
}

// prefetch: kv.Prefetch is a hint; Gets, cursors and writes read the same
// with it.
func (s *suite) prefetch(t *testing.T) {
	db := s.db(t)
	var kvs [][]byte
	var want []pair
	for i := range 200 {
		k, v := fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i)
		if i%10 == 0 {
			v = []byte{}
		}
		kvs, want = append(kvs, k, v), append(want, pair{k, v})
	}
	put(t, db, kvs...)
	keys := func(names ...string) [][]byte {
		var out [][]byte
		for _, n := range names {
			out = append(out, []byte(n))
		}
		return out
	}
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		ks := keys("k150", "k005", "k010", "absent", "k005", "", "k999", "a")
		kv.Prefetch(b, ks)
		for _, k := range ks {
			clear(k) // the caller may reuse its slices
		}
		for _, k := range []string{"k150", "k005", "k010", "absent", "k999", "a", "k151"} {
			expectGet(t, "after Prefetch", b, k, valueOf(want, k))
		}
		samePairs(t, "scan after Prefetch", scan(b.Cursor()), want)
		kv.PrefetchPrefixes(b, keys("k01", "k1", "x", "k\xff"))
		for _, k := range []string{"k010", "k015", "k01", "k01x", "k100", "k199", "k1", "x", "k\xff\x00", "k200", "a"} {
			expectGet(t, "after PrefetchPrefixes", b, k, valueOf(want, k))
			got := b.Get([]byte(k))
			if v, known := kv.Peek(b, []byte(k)); known && (!bytes.Equal(v, got) || (v == nil) != (got == nil)) {
				t.Errorf("Peek(%q) = %#v, but Get = %#v", k, v, got)
			}
		}
		samePairs(t, "scan after PrefetchPrefixes", scan(b.Cursor()), want)
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if err := b.Put([]byte("k005"), []byte("new")); err != nil {
			return err
		}
		if err := b.Delete([]byte("k050")); err != nil {
			return err
		}
		kv.Prefetch(b, keys("k005", "k050", "k051", "k300"))
		kv.PrefetchPrefixes(b, keys("k00", "k05", "k3"))
		for _, k := range []string{"k005", "k050", "k051", "k052", "k300", "k301"} {
			if v, known := kv.Peek(b, []byte(k)); known && !bytes.Equal(v, b.Get([]byte(k))) {
				t.Errorf("Peek(%s) = %q, but Get = %q", k, v, b.Get([]byte(k)))
			}
		}
		if got := b.Get([]byte("k052")); string(got) != "v52" {
			t.Errorf("Get(k052) after PrefetchPrefixes = %q", got)
		}
		expectGet(t, "a Put before Prefetch", b, "k005", []byte("new"))
		expectGet(t, "a Delete before Prefetch", b, "k050", nil)
		expectGet(t, "after Prefetch", b, "k051", []byte("v51"))
		if err := b.Put([]byte("k300"), []byte("v300")); err != nil {
			return err
		}
		return b.Put([]byte("k051"), []byte("v51b"))
	})
	want[5].v = []byte("new")
	want[51].v = []byte("v51b")
	want = append(want[:50], want[51:]...)
	want = append(want, pair{[]byte("k300"), []byte("v300")})
	view(t, db, func(tx kv.Tx) error {
		samePairs(t, "after writes around Prefetch", scan(tx.Bucket(bk).Cursor()), want)
		return nil
	})
}

// manyKeys crosses every batch and page boundary an engine may have.
func (s *suite) manyKeys(t *testing.T) {
	db := s.db(t)
	const n = 5000
	key := func(i int) []byte { return fmt.Appendf(nil, "k%06d", i) }
	val := func(i, gen int) []byte { return fmt.Appendf(nil, "v%d.%d", i, gen) }
	update(t, db, func(tx kv.Tx) error {
		b, _ := tx.CreateBucketIfNotExists(bk)
		for _, i := range rand.New(rand.NewPCG(2, 2)).Perm(n) {
			if err := b.Put(key(i), val(i, 0)); err != nil {
				return err
			}
		}
		return nil
	})
	// In one tx: delete every third key, overwrite every fifth, then
	// read through the writes.
	model := map[int][]byte{}
	for i := range n {
		model[i] = val(i, 0)
	}
	update(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		for i := 0; i < n; i += 3 {
			if err := b.Delete(key(i)); err != nil {
				return err
			}
			delete(model, i)
		}
		for i := 0; i < n; i += 5 {
			if err := b.Put(key(i), val(i, 1)); err != nil {
				return err
			}
			model[i] = val(i, 1)
		}
		samePairs(t, "scan inside the writing tx", scan(b.Cursor()), modelPairs(model, key))
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		want := modelPairs(model, key)
		samePairs(t, "scan", scan(b.Cursor()), want)
		k, v := b.Cursor().Last()
		expectKV(t, "Last", k, v, want[len(want)-1].k, want[len(want)-1].v)
		// A cursor that seeks into the middle and reads on.
		c := b.Cursor()
		k, _ = c.Seek(key(2500))
		i := sort.Search(len(want), func(i int) bool { return bytes.Compare(want[i].k, key(2500)) >= 0 })
		for ; k != nil; k, _ = c.Next() {
			if !bytes.Equal(k, want[i].k) {
				t.Fatalf("after Seek: key %q, want %q", k, want[i].k)
			}
			i++
		}
		if i != len(want) {
			t.Fatalf("after Seek: stopped at %d of %d", i, len(want))
		}
		return nil
	})
}

func modelPairs(m map[int][]byte, key func(int) []byte) []pair {
	var out []pair
	for i, v := range m {
		out = append(out, pair{key(i), v})
	}
	slices.SortFunc(out, func(a, b pair) int { return bytes.Compare(a.k, b.k) })
	return out
}

// randomModel runs random reads and writes against a sorted model, in
// transactions of which some roll back.
func (s *suite) randomModel(t *testing.T) {
	db := s.db(t)
	r := rand.New(rand.NewPCG(3, 3))
	committed := map[string]string{}
	randKey := func() []byte {
		// short keys over a small alphabet, so that prefixes, equal keys
		// and neighbours are common.
		n := 1 + r.IntN(3)
		k := make([]byte, n)
		for i := range k {
			k[i] = []byte{0x00, 'a', 'b', 0xff}[r.IntN(4)]
		}
		return k
	}
	pairsOf := func(m map[string]string) []pair {
		var out []pair
		for k, v := range m {
			out = append(out, pair{[]byte(k), []byte(v)})
		}
		slices.SortFunc(out, func(a, b pair) int { return bytes.Compare(a.k, b.k) })
		return out
	}
	errRollback := errors.New("roll back")
	for round := range 30 {
		m := maps(committed)
		rollback := round%4 == 3
		err := db.Update(nil, func(tx kv.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bk)
			if err != nil {
				return err
			}
			c := b.Cursor()
			for op := range 60 {
				k := randKey()
				switch r.IntN(6) {
				case 0, 1:
					v := fmt.Sprintf("%d.%d", round, op)
					if err := b.Put(k, []byte(v)); err != nil {
						return err
					}
					m[string(k)] = v
				case 2:
					if err := b.Delete(k); err != nil {
						return err
					}
					delete(m, string(k))
				case 3:
					want, ok := m[string(k)]
					got := b.Get(k)
					if ok != (got != nil) || string(got) != want {
						t.Fatalf("round %d op %d: Get(%x) = %q, want %q (present %v)", round, op, k, got, want, ok)
					}
				case 4:
					want := pairsOf(m)
					gk, gv := c.Seek(k)
					i := sort.Search(len(want), func(i int) bool { return bytes.Compare(want[i].k, k) >= 0 })
					for steps := 0; steps < 3; steps++ {
						if i >= len(want) {
							expectKV(t, fmt.Sprintf("round %d op %d: Seek(%x)+%d", round, op, k, steps), gk, gv, nil, nil)
							break
						}
						expectKV(t, fmt.Sprintf("round %d op %d: Seek(%x)+%d", round, op, k, steps), gk, gv, want[i].k, want[i].v)
						gk, gv = c.Next()
						i++
					}
				case 5:
					want := pairsOf(m)
					gk, gv := c.Last()
					if len(want) == 0 {
						expectKV(t, "Last", gk, gv, nil, nil)
					} else {
						expectKV(t, fmt.Sprintf("round %d op %d: Last", round, op), gk, gv, want[len(want)-1].k, want[len(want)-1].v)
					}
				}
			}
			samePairs(t, fmt.Sprintf("round %d: scan in the tx", round), scan(b.Cursor()), pairsOf(m))
			if rollback {
				return errRollback
			}
			return nil
		})
		if rollback {
			if !errors.Is(err, errRollback) {
				t.Fatalf("round %d: Update = %v", round, err)
			}
		} else {
			if err != nil {
				t.Fatalf("round %d: Update = %v", round, err)
			}
			committed = m
		}
		view(t, db, func(tx kv.Tx) error {
			samePairs(t, fmt.Sprintf("round %d: committed", round), scan(tx.Bucket(bk).Cursor()), pairsOf(committed))
			return nil
		})
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *suite) rollback(t *testing.T) {
	db := s.db(t)
	put(t, db, []byte("a"), []byte("1"))
	errStop := errors.New("stop")
	err := db.Update(nil, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		_ = b.Put([]byte("a"), []byte("2"))
		_ = b.Put([]byte("b"), []byte("2"))
		_, _ = b.NextSequence()
		nb, err := tx.CreateBucketIfNotExists([]byte("new"))
		if err != nil {
			return err
		}
		_ = nb.Put([]byte("x"), []byte("y"))
		for i := range 3000 { // more than any engine buffers in memory
			_ = b.Put(fmt.Appendf(nil, "many%05d", i), []byte("v"))
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	err = db.Update(nil, func(tx kv.Tx) error {
		if err := tx.DeleteBucket(bk); err != nil {
			return err
		}
		return errStop
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("Update = %v, want the function's error", err)
	}
	view(t, db, func(tx kv.Tx) error {
		if got := bucketNames(t, tx); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("buckets after rollbacks: %q", got)
		}
		b := tx.Bucket(bk)
		samePairs(t, "after rollbacks", scan(b.Cursor()), []pair{{[]byte("a"), []byte("1")}})
		if b.Sequence() != 0 {
			t.Fatalf("sequence after rollback = %d", b.Sequence())
		}
		return nil
	})
}

func (s *suite) readOnly(t *testing.T) {
	db := s.db(t)
	put(t, db, []byte("a"), []byte("1"))
	view(t, db, func(tx kv.Tx) error {
		if tx.Writable() {
			t.Fatal("a View's tx is writable")
		}
		b := tx.Bucket(bk)
		for what, err := range map[string]error{
			"Put":                     b.Put([]byte("b"), []byte("2")),
			"Delete":                  b.Delete([]byte("a")),
			"SetSequence":             b.SetSequence(5),
			"DeleteBucket":            tx.DeleteBucket(bk),
			"CreateBucketIfNotExists": second(tx.CreateBucketIfNotExists([]byte("new"))),
			"NextSequence":            second(b.NextSequence()),
		} {
			if !errors.Is(err, kv.ErrTxNotWritable) {
				t.Errorf("%s in a View: %v, want ErrTxNotWritable", what, err)
			}
		}
		return nil
	})
	update(t, db, func(tx kv.Tx) error {
		if !tx.Writable() {
			t.Fatal("an Update's tx is not writable")
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		samePairs(t, "after a View's writes", scan(b.Cursor()), []pair{{[]byte("a"), []byte("1")}})
		if b.Sequence() != 0 || len(bucketNames(t, tx)) != 1 {
			t.Fatalf("a View's writes were kept: sequence %d, buckets %q", b.Sequence(), bucketNames(t, tx))
		}
		return nil
	})
}

func second[T any](_ T, err error) error { return err }

func (s *suite) sizeLimits(t *testing.T) {
	db := s.db(t)
	long := bytes.Repeat([]byte{0xab}, 1024)
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	update(t, db, func(tx kv.Tx) error {
		b, _ := tx.CreateBucketIfNotExists(bk)
		if err := b.Put(nil, []byte("v")); !errors.Is(err, kv.ErrKeyRequired) {
			t.Errorf("Put(nil key): %v, want ErrKeyRequired", err)
		}
		if err := b.Put([]byte{}, []byte("v")); !errors.Is(err, kv.ErrKeyRequired) {
			t.Errorf("Put(empty key): %v, want ErrKeyRequired", err)
		}
		if err := b.Put(make([]byte, kv.MaxKeySize+1), []byte("v")); !errors.Is(err, kv.ErrKeyTooLarge) {
			t.Errorf("Put(key of MaxKeySize+1 bytes): %v, want ErrKeyTooLarge", err)
		}
		if err := b.Put(long, []byte("long key")); err != nil {
			t.Errorf("Put(1 KiB key): %v", err)
		}
		if err := b.Put([]byte("big"), big); err != nil {
			t.Errorf("Put(1 MiB value): %v", err)
		}
		if err := b.Put([]byte("empty"), nil); err != nil {
			t.Errorf("Put(nil value): %v", err)
		}
		if v := b.Get([]byte("empty")); v == nil || len(v) != 0 {
			t.Errorf("Get of a nil value put in this tx = %#v, want an empty, non-nil slice", v)
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if v := b.Get(long); string(v) != "long key" {
			t.Errorf("1 KiB key: %q", v)
		}
		if v := b.Get([]byte("big")); !bytes.Equal(v, big) {
			t.Errorf("1 MiB value came back as %d bytes, changed", len(v))
		}
		if v := b.Get([]byte("empty")); v == nil || len(v) != 0 {
			t.Errorf("Get of a nil value = %#v, want an empty, non-nil slice", v)
		}
		c := b.Cursor()
		if k, v := c.Seek([]byte("empty")); string(k) != "empty" || v == nil || len(v) != 0 {
			t.Errorf("cursor on a nil value = %q, %#v, want an empty, non-nil value", k, v)
		}
		return nil
	})
}

// slicesStayValid: slices from Get and cursors stay valid until the
// transaction ends (more reads must not overwrite them).
func (s *suite) slicesStayValid(t *testing.T) {
	db := s.db(t)
	var kvs [][]byte
	for i := range 2000 {
		kvs = append(kvs, fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "value %05d", i))
	}
	put(t, db, kvs...)
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		var keys, vals [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			keys, vals = append(keys, k), append(vals, v)
		}
		got := b.Get([]byte("k00007"))
		for range 3 {
			_ = scan(b.Cursor())
			_ = b.Get([]byte("k01999"))
		}
		for i := range keys {
			if !bytes.Equal(keys[i], kvs[2*i]) || !bytes.Equal(vals[i], kvs[2*i+1]) {
				t.Fatalf("pair %d changed to %q=%q before the tx ended", i, keys[i], vals[i])
			}
		}
		if string(got) != "value 00007" {
			t.Fatalf("a Get's slice changed to %q", got)
		}
		return nil
	})
}

func (s *suite) viewSnapshot(t *testing.T) {
	db := s.db(t)
	db2 := s.second(t, db)
	put(t, db, []byte("a"), []byte("1"), []byte("c"), []byte("1"))
	var kvs [][]byte
	for i := range 1000 { // enough for a cursor to need more than one read
		kvs = append(kvs, fmt.Appendf(nil, "m%04d", i), []byte("1"))
	}
	put(t, db, kvs...)
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if v := b.Get([]byte("a")); string(v) != "1" {
			t.Fatalf("a = %q", v)
		}
		c := b.Cursor()
		c.First()
		// Another handle commits while this View runs.
		done := make(chan error, 1)
		go func() {
			done <- db2.Update(nil, func(tx kv.Tx) error {
				b := tx.Bucket(bk)
				for _, k := range []string{"a", "b", "m0999"} {
					if err := b.Put([]byte(k), []byte("2")); err != nil {
						return err
					}
				}
				if err := b.Delete([]byte("c")); err != nil {
					return err
				}
				if _, err := tx.CreateBucketIfNotExists([]byte("later")); err != nil {
					return err
				}
				_, err := b.NextSequence()
				return err
			})
		}()
		if err := <-done; err != nil {
			t.Fatalf("concurrent update: %v", err)
		}
		expectGet(t, "a View while another tx commits", b, "a", []byte("1"))
		expectGet(t, "a View while another tx commits", b, "b", nil)
		expectGet(t, "a View while another tx deletes", b, "c", []byte("1"))
		n := 1
		for k, v := c.Next(); k != nil; k, v = c.Next() {
			n++
			if string(v) != "1" {
				t.Errorf("View's cursor sees another tx's commit: %s = %q", k, v)
			}
		}
		if n != 1002 {
			t.Errorf("View's cursor found %d keys, want 1002", n)
		}
		if b.Sequence() != 0 || tx.Bucket([]byte("later")) != nil {
			t.Errorf("View sees another tx's sequence (%d) or bucket", b.Sequence())
		}
		return nil
	})
	view(t, db, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if string(b.Get([]byte("a"))) != "2" || b.Get([]byte("c")) != nil || b.Sequence() != 1 {
			t.Errorf("a later View misses the commit: a = %q, c = %q, sequence %d", b.Get([]byte("a")), b.Get([]byte("c")), b.Sequence())
		}
		return nil
	})
}

func (s *suite) serialised(t *testing.T) {
	db := s.db(t)
	handles := []kv.DB{db, s.second(t, db)}
	put(t, db, []byte("n"), []byte("0"))
	const workers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := handles[w%2]
			for range each {
				err := h.Update(nil, func(tx kv.Tx) error {
					b := tx.Bucket(bk)
					var n int
					fmt.Sscan(string(b.Get([]byte("n"))), &n)
					seq, err := b.NextSequence()
					if err != nil {
						return err
					}
					if seq != uint64(n)+1 {
						return fmt.Errorf("sequence %d while the counter is %d", seq, n)
					}
					return b.Put([]byte("n"), fmt.Append(nil, n+1))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("increment: %v", err)
	}
	view(t, db, func(tx kv.Tx) error {
		if v := tx.Bucket(bk).Get([]byte("n")); string(v) != fmt.Sprint(workers*each) {
			t.Fatalf("counter = %s after %d increments: an Update was not serialised", v, workers*each)
		}
		return nil
	})
}

func (s *suite) fence(t *testing.T) {
	db := s.db(t)
	put(t, db)
	write := func(f *kv.Fence, k string) error {
		return db.Update(f, func(tx kv.Tx) error {
			return tx.Bucket(bk).Put([]byte(k), []byte("v"))
		})
	}
	has := func(k string) bool {
		var ok bool
		view(t, db, func(tx kv.Tx) error {
			ok = tx.Bucket(bk).Get([]byte(k)) != nil
			return nil
		})
		return ok
	}
	if s.o.SetLease == nil {
		// An engine without leases ignores the fence.
		if err := write(&kv.Fence{Holder: "a", Term: 1}, "any"); err != nil || !has("any") {
			t.Fatalf("fenced Update on an engine without leases: %v (kept %v)", err, has("any"))
		}
		return
	}
	s.o.SetLease(t, db, "a", 3)
	if err := write(&kv.Fence{Holder: "a", Term: 3}, "held"); err != nil || !has("held") {
		t.Fatalf("Update under the holding fence: %v (kept %v)", err, has("held"))
	}
	for _, f := range []kv.Fence{{Holder: "a", Term: 2}, {Holder: "b", Term: 3}, {Holder: "a", Term: 4}, {Holder: "", Term: 3}} {
		k := fmt.Sprintf("%s/%d", f.Holder, f.Term)
		if err := write(&f, k); !errors.Is(err, kv.ErrFenced) {
			t.Errorf("Update under fence %+v while a holds term 3: %v, want ErrFenced", f, err)
		}
		if has(k) {
			t.Errorf("a fenced Update (%+v) kept its write", f)
		}
	}
	if err := write(nil, "unfenced"); err != nil || !has("unfenced") {
		t.Fatalf("Update without a fence: %v", err)
	}
	// Taken over: the old holder's fence no longer holds.
	s.o.SetLease(t, db, "b", 4)
	if err := write(&kv.Fence{Holder: "a", Term: 3}, "late"); !errors.Is(err, kv.ErrFenced) || has("late") {
		t.Fatalf("Update of the old leader after a takeover: %v (kept %v), want ErrFenced", err, has("late"))
	}
	if err := write(&kv.Fence{Holder: "b", Term: 4}, "new"); err != nil || !has("new") {
		t.Fatalf("Update of the new leader: %v", err)
	}
}

func (s *suite) poisoned(t *testing.T) {
	if s.o.Kill == nil {
		t.Skip("the engine has no connection to lose")
	}
	db := s.db(t)
	put(t, db, []byte("a"), []byte("1"), []byte("m"), []byte("1"))
	err := db.Update(nil, func(tx kv.Tx) error {
		b := tx.Bucket(bk)
		if err := b.Put([]byte("a"), []byte("2")); err != nil {
			return err
		}
		if err := b.Put([]byte("b"), []byte("2")); err != nil {
			return err
		}
		s.o.Kill(t, db, tx)
		// m was neither read nor written: the engine must ask its server,
		// and finds the connection gone.
		if v := b.Get([]byte("m")); v != nil {
			t.Errorf("Get after the connection died = %q", v)
		}
		if v := b.Get([]byte("a")); v != nil {
			t.Errorf("Get of a key written before, in a poisoned tx = %q, want nil", v)
		}
		if k, _ := b.Cursor().First(); k != nil {
			t.Errorf("cursor in a poisoned tx = %q", k)
		}
		if err := b.Put([]byte("c"), []byte("3")); err == nil {
			t.Error("Put in a poisoned tx succeeded")
		}
		return nil // the caller did not check: Update must still fail
	})
	if err == nil {
		t.Fatal("Update whose connection died returned nil")
	}
	t.Logf("Update of a killed tx: %v", err)
	view(t, db, func(tx kv.Tx) error {
		samePairs(t, "after a killed tx", scan(tx.Bucket(bk).Cursor()), []pair{{[]byte("a"), []byte("1")}, {[]byte("m"), []byte("1")}})
		return nil
	})
	// The handle works on.
	put(t, db, []byte("d"), []byte("4"))
}

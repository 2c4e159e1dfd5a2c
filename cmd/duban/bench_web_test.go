package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/account"
	"duban/cmd/internal/daemon"
	"duban/cmd/internal/web"
	"duban/tracker"
	"duban/tracker/boltstore"
)

// BenchmarkWorkspace times the workspace's server side on the store of
// 100 000 instances of which 10 000 are open and overdue (buildFixture):
// the board's first page (100 rows, most urgent first, with the counts
// per unit and leader over all 10 000) and GET /api/v1/instances?overdue=1
// (10 000 rows). It reports p50 and p99 of the request times.
// Targets (issue 9): board p50 ≤ 50 ms, p99 ≤ 150 ms; API ≤ 100 ms.
func BenchmarkWorkspace(b *testing.B) {
	const total, open = 100_000, 10_000
	dir := b.TempDir()
	db := filepath.Join(dir, "duban.db")
	a := benchApp(b, dir, db)
	buildFixture(b, a, total, open, overdueFixture)
	st, err := boltstore.Open(db, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	d, err := daemon.New(daemon.Options{Config: a.cfg, Expander: a.x, Store: st, Clock: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := web.New(web.Options{Daemon: d})
	if err != nil {
		b.Fatal(err)
	}
	var secret, tok string
	if err := st.Update(func(tx tracker.Tx) (err error) {
		if _, err = account.Add(tx, account.Spec{Name: "office", Role: tracker.RoleOffice, Password: "password-1"}, benchNow); err != nil {
			return err
		}
		if secret, _, err = account.Login(tx, "office", "password-1", benchNow); err != nil {
			return err
		}
		tok, err = account.NewToken(tx, "office", benchNow)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	get := func(b *testing.B, path string, hdr [2]string) (*httptest.ResponseRecorder, time.Duration) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set(hdr[0], hdr[1])
		rec := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(rec, req)
		el := time.Since(t0)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %.300s", path, rec.Code, rec.Body)
		}
		return rec, el
	}
	report := func(b *testing.B, times []time.Duration) {
		slices.Sort(times)
		p := func(q float64) float64 {
			return float64(times[min(len(times)-1, int(q*float64(len(times))))].Microseconds()) / 1000
		}
		b.ReportMetric(p(0.50), "p50-ms")
		b.ReportMetric(p(0.99), "p99-ms")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("board", func(b *testing.B) {
		var times []time.Duration
		cookie := [2]string{"Cookie", "duban_session=" + secret}
		for b.Loop() {
			rec, el := get(b, "/", cookie)
			times = append(times, el)
			if n := strings.Count(rec.Body.String(), "data-id="); n != web.PageSize {
				b.Fatalf("board shows %d rows, want %d", n, web.PageSize)
			}
		}
		report(b, times)
	})
	b.Run("api-overdue", func(b *testing.B) {
		var times []time.Duration
		auth := [2]string{"Authorization", "Bearer " + tok}
		for b.Loop() {
			rec, el := get(b, "/api/v1/instances?overdue=1", auth)
			times = append(times, el)
			if n := strings.Count(rec.Body.String(), `"overdue":true`); n != open {
				b.Fatalf("API gave %d overdue rows, want %d", n, open)
			}
		}
		report(b, times)
	})
}

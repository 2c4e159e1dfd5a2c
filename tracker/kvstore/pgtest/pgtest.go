// Package pgtest gives each test an empty PostgreSQL database on the
// throwaway cluster that .ci/pg starts (.ci/run starts one and exports its
// URL in DUBAN_TEST_PG):
//
//	export DUBAN_TEST_PG=$(.ci/pg start /tmp/duban-pg)
//	go test ./...
//
// Without DUBAN_TEST_PG a test that needs PostgreSQL is skipped, or fails
// when CI=true, so that CI cannot pass without having run it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the URL of the test cluster's
// maintenance database.
const Env = "DUBAN_TEST_PG"

// Available reports whether a test cluster is configured.
func Available() bool { return os.Getenv(Env) != "" }

// Require skips tb (fails it under CI=true) when no test cluster is
// configured, and returns the cluster's maintenance URL otherwise.
func Require(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(Env)
	if base == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: CI must start a PostgreSQL cluster (.ci/pg start DIR)", Env)
		}
		tb.Skipf("no PostgreSQL: set %s=$(.ci/pg start /tmp/duban-pg) to run this test", Env)
	}
	return base
}

// URL creates an empty database for tb and returns its URL. The database
// is dropped when tb ends.
func URL(tb testing.TB) string {
	tb.Helper()
	base := Require(tb)
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s: %v", Env, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	admin := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin(`CREATE DATABASE "` + name + `"`); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		if err := admin(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

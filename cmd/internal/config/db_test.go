package config_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"duban/cmd/internal/config"
	"duban/tracker/kvstore"
)

// TestDBURL: db is a bbolt path (resolved against the config file) or a
// PostgreSQL URL (kept as written), from the file, DUBAN_DB or --db; a
// URL with a password is refused, by a message that does not repeat it.
func TestDBURL(t *testing.T) {
	const url = "postgres://duban@db1:5432/duban?sslmode=verify-full"
	clearEnv(t)
	c := mustLoad(t, mustWrite(t, "duban.yaml", "db: "+url+"\n"))
	if c.DB != url || !kvstore.IsURL(c.DB) {
		t.Errorf("DB = %q, want the URL unchanged", c.DB)
	}
	t.Setenv("DUBAN_DB", "postgresql:///duban?host=/run/postgresql")
	if c := mustLoad(t, mustWrite(t, "duban.yaml", "db: a.db\n")); c.DB != "postgresql:///duban?host=/run/postgresql" {
		t.Errorf("DUBAN_DB: DB = %q", c.DB)
	}
	t.Setenv("DUBAN_DB", "")
	path := mustWrite(t, "duban.yaml", "db: data/a.db\n")
	if c := mustLoad(t, path); c.DB != filepath.Join(filepath.Dir(path), "data/a.db") || kvstore.IsURL(c.DB) {
		t.Errorf("path: DB = %q", c.DB)
	}

	for _, tc := range []struct{ name, db, env string }{
		{"user password in file", "postgres://duban:Secr3t-pw@db1/duban", ""},
		{"password parameter in file", "postgresql://duban@db1/duban?sslmode=require&password=Secr3t-pw", ""},
		{"upper-case scheme", "POSTGRES://duban:Secr3t-pw@db1/duban", ""},
		{"user password in DUBAN_DB", "a.db", "postgres://duban:Secr3t-pw@db1/duban"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("DUBAN_DB", tc.env)
			_, err := config.Load(mustWrite(t, "duban.yaml", "db: "+tc.db+"\n"))
			if !errors.Is(err, config.ErrDBPassword) {
				t.Fatalf("Load: %v, want ErrDBPassword", err)
			}
			if strings.Contains(err.Error(), "Secr3t") {
				t.Errorf("the message shows the password: %v", err)
			}
			want := "duban.yaml: line 1: db: "
			if tc.env != "" {
				want = "DUBAN_DB: db: "
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Load: %q, want it to contain %q", err, want)
			}
		})
	}
	t.Setenv("DUBAN_DB", "")
	if _, err := config.Load(mustWrite(t, "duban.yaml", "db: 'postgres://duban:Secr3t-pw@db1:port/x'\n")); err == nil || strings.Contains(err.Error(), "Secr3t") {
		t.Errorf("a bad URL: %v (must fail without showing it)", err)
	}

	c = mustLoad(t, mustWrite(t, "duban.yaml", "db: a.db\n"))
	if err := c.SetDB("postgres://duban:Secr3t-pw@db1/duban", "/x"); !errors.Is(err, config.ErrDBPassword) || strings.Contains(err.Error(), "Secr3t") {
		t.Errorf("SetDB with a password: %v", err)
	}
	if err := c.SetDB(url, "/x"); err != nil || c.DB != url {
		t.Errorf("SetDB(URL): %v, DB = %q", err, c.DB)
	}
	if err := c.SetDB("b.db", "/x"); err != nil || c.DB != "/x/b.db" {
		t.Errorf("SetDB(path): %v, DB = %q", err, c.DB)
	}
}

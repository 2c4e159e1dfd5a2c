package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"duban/cmd/internal/importer"
)

// dumpDB reads every key and value of every bucket of the bbolt file at
// path, as "bucket/key" → value.
func dumpDB(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer db.Close()
	out := make(map[string]string)
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				out[string(name)+"/"+string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diffDumps names the keys whose values differ between two dumps.
func diffDumps(a, b map[string]string) []string {
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if bv, ok := b[k]; !ok || bv != a[k] {
			diff = append(diff, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			diff = append(diff, k)
		}
	}
	return diff
}

// daemonEnv is a scratch installation whose config lists the example
// tracking files (copied into its directory) under `tracking:`, as an
// office running the daemon has it.
func daemonEnv(t *testing.T, items string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	copyExample(t, dir, "units.yaml")
	copyExample(t, dir, items)
	e := &testEnv{t: t, dir: dir, config: filepath.Join(dir, "duban.yaml"), db: filepath.Join(dir, "duban.db")}
	sock := shortSocket(t, dir)
	e.writeTemp("duban.yaml", "db: duban.db\nadmin: {socket: "+sock+"}\ntracking: [units.yaml, "+items+"]\n"+
		"mail: {transport: file, file: {dir: outbox}}\nlog: {level: warn}\n")
	return e
}

// relPath is p relative to the test's working directory, as a user in a
// shell would type it.
func relPath(t *testing.T, p string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	r, err := filepath.Rel(wd, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestImportOfFilesTheDaemonLoadedChangesNothing: the daemon loads the
// configured tracking files (absolute paths from the config); a user then
// imports the same files by relative paths, days later. The import must
// say that nothing changed and leave every stored byte as it was. Both
// examples: the live one (starts default to the first import) and the
// one with fixed 2026 dates.
func TestImportOfFilesTheDaemonLoadedChangesNothing(t *testing.T) {
	for _, items := range []string{"tracked.yaml", "worked-2026.yaml"} {
		t.Run(items, func(t *testing.T) {
			e := daemonEnv(t, items)
			e.mustRun("serve", "--once", "--at", "2026-10-10 09:00")
			before := dumpDB(t, e.db)
			hash := e.dbHash()
			if len(before) == 0 || before["items/minutes-31"] == "" {
				t.Fatalf("the daemon loaded nothing: %d keys", len(before))
			}
			units, tracked := relPath(t, filepath.Join(e.dir, "units.yaml")), relPath(t, filepath.Join(e.dir, items))
			for _, at := range []string{"2026-10-10 15:00", "2026-10-20 15:00"} { // the same day, and ten days later
				out := e.mustRun("import", units, tracked, "--at", at)
				if !strings.Contains(out, "未作任何改动") {
					t.Errorf("import at %s said %q, want nothing changed", at, out)
				}
				var sum importer.Summary
				if err := json.Unmarshal([]byte(e.mustRun("import", units, tracked, "--at", at, "--format", "json")), &sum); err != nil {
					t.Fatal(err)
				}
				if sum.Changed() || sum.Items < 7 || sum.Unchanged != sum.Instances {
					t.Errorf("import at %s: %+v, want the items and no change", at, sum)
				}
				if d := diffDumps(before, dumpDB(t, e.db)); len(d) > 0 {
					t.Errorf("import at %s changed %d keys, e.g. %q", at, len(d), d[:min(len(d), 5)])
				}
				if e.dbHash() != hash {
					t.Errorf("import at %s changed the database file", at)
				}
			}

			// The recurring instances that came within the horizon
			// meanwhile are the daemon's to create, at its next pass.
			rows := e.list("--status", "all", "--item", "weekly-cases", "--at", "2026-10-20 15:00")
			if _, ok := rows["weekly-cases/2026-11-26/fzj"]; ok {
				t.Error("the import created weekly-cases/2026-11-26/fzj")
			}
			e.mustRun("serve", "--once", "--at", "2026-10-20 15:00")
			rows = e.list("--status", "all", "--item", "weekly-cases", "--at", "2026-10-20 15:00")
			if _, ok := rows["weekly-cases/2026-11-26/fzj"]; !ok {
				t.Error("the daemon's pass did not materialise weekly-cases/2026-11-26/fzj (within 40 days of 20 Oct)")
			}
		})
	}
}

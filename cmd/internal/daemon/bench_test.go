package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"duban/cmd/internal/config"
	"duban/cmd/internal/workload"
	"duban/notify/smtptest"
	"duban/tracker"
)

// benchNow is Monday 15 June 2026, 10:00 in Shanghai, a working day (the
// "now" of the scale fixtures in cmd/duban/bench_test.go).
var benchNow = time.Date(2026, 6, 15, 10, 0, 0, 0, mustZone("Asia/Shanghai"))

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// benchConfig writes and loads a config in dir delivering to the SMTP
// server on port, one message per notice, and returns it with its
// expander.
func benchConfig(tb testing.TB, dir string, port int) (*config.Config, *tracker.Expander) {
	tb.Helper()
	path := filepath.Join(dir, "duban.yaml")
	text := fmt.Sprintf(`db: duban.db
digest: false
log: {level: warn}
mail:
  transport: smtp
  from: 督查室 <ducha@example.gov.cn>
  office: ducha@example.gov.cn
  smtp: {host: 127.0.0.1, port: %d, tls: none, auth: none, timeout: 10s}
  retry: {initial: 1m, max: 10m}
`, port)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	x, err := cfg.Expander()
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, x
}

// BenchmarkDeliver measures the delivery of queued deliveries to an
// in-process SMTP server on loopback, one message per delivery (digest
// false), over one reused connection. Each delivery is recorded as sent
// in its own committed transaction right after the server accepted it,
// so the rate is bound by the file system's fsync latency; the tmpfs
// variant (a database on /dev/shm) shows the rate without it.
func BenchmarkDeliver(b *testing.B) {
	n := 500
	if testing.Short() {
		n = 100
	}
	dirs := map[string]string{"fs=disk": ""}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dirs["fs=tmpfs"] = "/dev/shm"
	}
	for _, name := range []string{"fs=disk", "fs=tmpfs"} {
		base, ok := dirs[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			if base != "" {
				var err error
				if dir, err = os.MkdirTemp(base, "duban-bench"); err != nil {
					b.Skip(err)
				}
				b.Cleanup(func() { os.RemoveAll(dir) })
			}
			rs := smtptest.Start(b, smtptest.Options{TLS: smtptest.None, Discard: true})
			cfg, x := benchConfig(b, dir, rs.Port)
			st := importWorkload(b, dir, cfg, x, workload.Spec{Items: 1000, Units: 20, Seed: 3, From: "2026-06-01", Days: 10})
			// The instances and their heads' addresses.
			type target struct{ id, to string }
			var targets []target
			if err := st.View(func(tx tracker.Tx) error {
				return tx.Instances(func(in *tracker.Instance) error {
					u, err := tx.Unit(in.Unit)
					if err != nil {
						return err
					}
					p, err := tx.Person(u.Head)
					if err != nil {
						return err
					}
					targets = append(targets, target{in.ID, p.Email})
					return nil
				})
			}); err != nil {
				b.Fatal(err)
			}
			d, err := New(Options{Config: cfg, Expander: x, Store: st})
			if err != nil {
				b.Fatal(err)
			}
			now := benchNow
			var elapsed time.Duration
			sent, runs := 0, 0
			acc0, conns0 := rs.Accepted(), rs.Connections()
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				rep := 100 + runs
				if err := st.Update(func(tx tracker.Tx) error {
					for i := range n {
						tg := targets[i%len(targets)]
						// A notice is identified by its send time: one
						// second apart per repetition keeps the keys unique.
						r := rep + 1000*(i/len(targets))
						nt := tracker.Notice{Instance: tg.id, Step: 3, Rep: r, Level: tracker.LevelOverdue,
							At: now.Add(-time.Duration(r) * time.Second)}
						if err := putQueued(tx, nt, tg.to, now); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				res, err := d.deliver(b.Context(), now)
				elapsed += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				if res.Sent != n || res.Messages != n {
					b.Fatalf("delivered %+v, want %d sent", res, n)
				}
				sent += res.Sent
				runs++
			}
			if acc := rs.Accepted(); acc-acc0 != sent {
				b.Fatalf("server accepted %d messages, want %d", acc-acc0, sent)
			}
			conns := rs.Connections() - conns0
			b.ReportMetric(float64(sent)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(float64(conns)/float64(runs), "conns/op")
		})
	}
}

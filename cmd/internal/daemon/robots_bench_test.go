package daemon

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/config"
	"duban/cmd/internal/importer"
	"duban/cmd/internal/workload"
	"duban/notify/robottest"
	"duban/tracker"
	"duban/tracker/kvstore"
)

// BenchmarkRobotDelivery posts one pass's digests to 1,000 work groups
// (a third each 钉钉, 企业微信, 飞书, signed where the vendor signs) on
// loopback servers: each of the 1,000 units has its own robot and three
// instances with a notice queued. It reports the messages a pass posts
// and the time per robot delivery (render, sign, POST, and the committed
// sent mark).
func BenchmarkRobotDelivery(b *testing.B) {
	const groups = 1000
	dir := b.TempDir()
	kinds := []string{"dingtalk", "wecom", "feishu"}
	var cfg strings.Builder
	cfg.WriteString("db: duban.db\nlog: {level: warn}\nmail: {transport: file, file: {dir: outbox}}\nrobots:\n")
	for i, k := range kinds {
		secret := ""
		if k != "wecom" {
			secret = "SEC-" + k
		}
		srv := robottest.Start(b, robottest.Options{Kind: k, Secret: secret, Unlimited: true})
		for g := i; g < groups; g += len(kinds) {
			fmt.Fprintf(&cfg, "  g%03d: {kind: %s, url: %q, secret: %q}\n", g, k, srv.URL, secret)
		}
	}
	path := filepath.Join(dir, "duban.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	x, err := c.Expander()
	if err != nil {
		b.Fatal(err)
	}
	st := importWorkload(b, dir, c, x, workload.Spec{Items: 3 * groups, Units: groups, Seed: 5, From: "2026-06-01", Days: 10})
	type target struct{ id, to string }
	var targets []target
	if err := st.Update(func(tx tracker.Tx) error {
		for g := range groups {
			u, err := tx.Unit(fmt.Sprintf("u%03d", g))
			if err != nil {
				return err
			}
			u.Robot = fmt.Sprintf("g%03d", g)
			if err := tx.PutUnit(u); err != nil {
				return err
			}
		}
		return tx.Instances(func(in *tracker.Instance) error {
			u, err := tx.Unit(in.Unit)
			if err != nil {
				return err
			}
			targets = append(targets, target{in.ID, tracker.RobotPrefix + u.Robot})
			return nil
		})
	}); err != nil {
		b.Fatal(err)
	}
	distinct := map[string]bool{}
	for _, tg := range targets {
		distinct[tg.to] = true
	}
	d, err := New(Options{Config: c, Expander: x, Store: st})
	if err != nil {
		b.Fatal(err)
	}
	now := benchNow
	var elapsed time.Duration
	messages, passes := 0, 0
	for b.Loop() {
		b.StopTimer()
		now = now.Add(time.Minute) // each robot posts once a pass: never paced
		if err := st.Update(func(tx tracker.Tx) error {
			for _, tg := range targets {
				nt := tracker.Notice{Instance: tg.id, Step: 2, Rep: passes + 1, Level: tracker.LevelOverdue, At: now}
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
		res, err := d.deliverRobots(b.Context(), now)
		elapsed += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if res.Sent != len(targets) || res.Failed+res.Retried > 0 || res.Messages != len(distinct) {
			b.Fatalf("pass: %+v, want %d sent in %d messages (one per group)", res, len(targets), len(distinct))
		}
		messages += res.Messages
		passes++
	}
	b.ReportMetric(float64(messages)/float64(passes), "msgs/pass")
	b.ReportMetric(float64(len(distinct)), "groups")
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(messages), "ms/robot")
}

// importWorkload writes the workload s into dir as items.yaml and imports
// it at benchNow into a new store at cfg.DB, closed at the end of b.
func importWorkload(b *testing.B, dir string, cfg *config.Config, x *tracker.Expander, s workload.Spec) *kvstore.Store {
	b.Helper()
	var buf bytes.Buffer
	if err := workload.Write(&buf, s); err != nil {
		b.Fatal(err)
	}
	track := filepath.Join(dir, "items.yaml")
	if err := os.WriteFile(track, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	st, err := kvstore.Open(cfg.DB, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if _, err := importer.Files(b.Context(), st, x, []string{track}, []string{"items.yaml"}, benchNow, "bench", false); err != nil {
		b.Fatal(err)
	}
	return st
}

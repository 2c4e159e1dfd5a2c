package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"duban/cmd/internal/importer"
	"duban/cmd/internal/workload"
	"duban/tracker"
	"duban/tracker/kvstore"
	"duban/tracker/kvstore/pgtest"

	"github.com/jackc/pgx/v5"
)

// writeWorkload writes what `go run ./cmd/dubangen` writes for the same
// flags.
func writeWorkload(tb testing.TB, out io.Writer, s workload.Spec) {
	tb.Helper()
	if err := workload.Write(out, s); err != nil {
		tb.Fatal(err)
	}
}

// benchNow is the "now" of the scale fixtures: Monday 15 June 2026, 10:00
// in Shanghai, a working day.
var benchNow = time.Date(2026, 6, 15, 10, 0, 0, 0, shanghai)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// BenchEngineEnv chooses the store of the scale benchmarks: unset or
// "bbolt" for a bbolt file in the benchmark's temporary directory,
// "postgres" for a new database on the test cluster (pgtest, which
// DUBAN_TEST_PG names):
//
//	DUBAN_BENCH_ENGINE=postgres DUBAN_TEST_PG=… go test -run '^$' -bench … ./cmd/duban
const benchEngineEnv = "DUBAN_BENCH_ENGINE"

// benchDB returns the database of a benchmark: the bbolt file dir/name,
// or a new PostgreSQL database's URL (benchEngineEnv).
func benchDB(tb testing.TB, dir, name string) string {
	tb.Helper()
	switch e := os.Getenv(benchEngineEnv); e {
	case "", kvstore.EngineBolt:
		return filepath.Join(dir, name)
	case kvstore.EnginePostgres:
		return pgtest.URL(tb)
	default:
		tb.Fatalf("%s=%q: want %s or %s", benchEngineEnv, e, kvstore.EngineBolt, kvstore.EnginePostgres)
		return ""
	}
}

// benchDBSize is the size of the database db in bytes: its file, or
// pg_database_size.
func benchDBSize(tb testing.TB, db string) int64 {
	tb.Helper()
	if !kvstore.IsURL(db) {
		fi, err := os.Stat(db)
		if err != nil {
			tb.Fatal(err)
		}
		return fi.Size()
	}
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), `SELECT pg_database_size(current_database())`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// benchApp returns an app with a config in dir (file transport, db path
// db) loaded, for in-process use of the expander and the store.
func benchApp(tb testing.TB, dir, db string) *app {
	tb.Helper()
	sock := filepath.Join(os.TempDir(), "duban-b"+strconv.FormatUint(rand.Uint64(), 36)+".sock")
	tb.Cleanup(func() { os.Remove(sock) })
	cfg := fmt.Sprintf("db: %q\nadmin: {socket: %s}\nmail: {transport: file, file: {dir: outbox}, from: 督查室 <ducha@example.gov.cn>, office: ducha@example.gov.cn}\nlog: {level: warn}\n", db, sock)
	path := filepath.Join(dir, "duban.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	a := &app{stdout: io.Discard, stderr: io.Discard, cwd: dir, configPath: path, actor: "bench"}
	if err := a.loadConfig(); err != nil {
		tb.Fatal(err)
	}
	return a
}

// fixtureKind says where the active instances of a scale fixture stand.
type fixtureKind int

const (
	// overdueFixture: the active instances are overdue at benchNow, each
	// with an overdue notice (every working day) due at 09:00 that day,
	// decided through the previous working day's 10:00 pass.
	overdueFixture fixtureKind = iota
	// farFixture: the active instances are due in spring 2027; their next
	// notice is months away (an idle daemon).
	farFixture
	// spreadFixture: every instance is open, due over the two years after
	// benchNow, but for active of them, at random ids, which are overdue
	// as in overdueFixture: the overdue ids are not in deadline order, as
	// `dubangen -overdue` lays them out.
	spreadFixture
)

// buildFixture writes a store of total instances, one per one-off item,
// over 100 units, of which active are open and the rest done long ago.
// It goes through kvstore and the tracker types directly, in id order
// and batches of 100 000 (a sorted bulk load).
func buildFixture(tb testing.TB, a *app, total, active int, kind fixtureKind) {
	tb.Helper()
	start, cpu0 := time.Now(), cpuTime()
	x := a.x
	st, err := kvstore.Open(a.cfg.DB, time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	const units = 100
	pol := &tracker.Policy{ID: "standard", Steps: []tracker.Step{
		{At: "-1wd", To: []string{"unit"}, Level: tracker.LevelReminder},
		{At: "0", To: []string{"unit"}, Level: tracker.LevelDue},
		{At: "+1wd", Every: "1wd", To: []string{"unit"}, Level: tracker.LevelOverdue},
		{At: "limit", To: []string{"unit", "leader", "office"}, Level: tracker.LevelEscalation},
	}}
	err = st.Update(func(tx tracker.Tx) error {
		if err := tx.PutOffice(tracker.Office{Name: "市政府督查室", Email: "ducha@example.gov.cn"}); err != nil {
			return err
		}
		if err := tx.PutPerson(&tracker.Person{ID: "leader", Name: "分管领导", Email: "leader@example.gov.cn"}); err != nil {
			return err
		}
		for u := range units {
			p := &tracker.Person{ID: fmt.Sprintf("p%03d", u), Name: fmt.Sprintf("负责人%03d", u), Email: fmt.Sprintf("p%03d@example.gov.cn", u)}
			if err := tx.PutPerson(p); err != nil {
				return err
			}
			if err := tx.PutUnit(&tracker.Unit{ID: fmt.Sprintf("u%03d", u), Name: fmt.Sprintf("第%03d处", u), Head: p.ID, Leader: "leader"}); err != nil {
				return err
			}
		}
		return tx.PutPolicy(pol)
	})
	if err != nil {
		tb.Fatal(err)
	}
	env := x.Env
	doneFrom := tracker.Date{Year: 2021, Month: time.January, Day: 4}
	today := env.Today(benchNow)
	prevPass := env.Cal.PrevWorkday(today.AddDays(-1)).At(10*60, shanghai)
	const batch = 100_000
	r := rand.New(rand.NewPCG(1, 2))
	left := active // spreadFixture: overdue ids still to place
	for lo := 0; lo < total; lo += batch {
		err := st.Update(func(tx tracker.Tx) error {
			for i := lo; i < min(lo+batch, total); i++ {
				id := fmt.Sprintf("item-%07d", i)
				unit := fmt.Sprintf("u%03d", i%units)
				var last tracker.Date
				act := i >= total-active
				k := i - (total - active) // index among the active ones
				if kind == spreadFixture {
					// at random ids, due on random days: rows in
					// deadline order are not in id order
					act, k = r.IntN(total-i) < left, r.IntN(active)
					if act {
						left--
					}
				}
				switch {
				case kind == spreadFixture && !act:
					last = today.AddDays(1 + r.IntN(730))
				case !act:
					last = doneFrom.AddDays(i * 1900 / total) // spread over five years
				case kind == overdueFixture || kind == spreadFixture:
					// 30 to 2 days ago, on working days as the rules give
					last = env.Cal.PrevWorkday(today.AddDays(-30 + k*29/active))
				default:
					last = tracker.Date{Year: 2027, Month: time.March, Day: 1}.AddDays(k * 60 / active)
				}
				startDay := last.AddDays(-10)
				it := &tracker.Item{ID: id, Title: fmt.Sprintf("督办事项%07d", i), Doc: fmt.Sprintf("洛政办〔%d〕%d号", last.Year, i%1000+1),
					Unit: unit, Start: startDay.String() + " 09:30", Due: "10d", Policy: "standard",
					Source: fmt.Sprintf("items-%d.yaml:%d", last.Year, 10+i*8), TrackedAt: startDay.At(9*60+30, shanghai).UTC()}
				if err := tx.PutItem(it); err != nil {
					return err
				}
				in := &tracker.Instance{ID: id, Item: id, Unit: unit, Status: tracker.StatusDone,
					Start:    startDay.At(9*60+30, shanghai).UTC(),
					Deadline: tracker.Deadline{LastDay: last, Due: env.EndOf(last).UTC(), Rule: "10d", Why: "10 days after " + startDay.String()},
				}
				in.AssignedAt, in.UpdatedAt = in.Start, in.Start
				if !act && kind != spreadFixture {
					in.DoneAt = env.EndOf(last.AddDays(-2)).Add(-8 * time.Hour).UTC()
					in.UpdatedAt, in.Note, in.NextNotice = in.DoneAt, "已办结", tracker.Never
					in.NoticedThrough = in.DoneAt
				} else {
					in.Status = tracker.StatusOpen
					in.NoticedThrough = prevPass.UTC()
					if kind == farFixture {
						in.NoticedThrough = in.Start
					}
					in.NextNotice = tracker.Never
					if n, ok := x.NextNotice(in, pol, in.NoticedThrough.Add(time.Nanosecond), in.NoticedThrough.AddDate(2, 0, 0)); ok {
						in.NextNotice = n.At.UTC()
					}
				}
				if err := tx.PutInstance(in); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	tb.Logf("fixture: %d instances (%d active) in %v (CPU %v), %.0f MiB", total, active,
		time.Since(start).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond), float64(benchDBSize(tb, a.cfg.DB))/(1<<20))
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childCPU is the CPU time of a finished child process.
func childCPU(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkImport imports 100 000 one-off items (10 000 with -short), a
// dubangen-like workload over 100 units, through importFiles into a fresh
// store: parse, validate, expand and write in one transaction.
// layout=single is one file as dubangen writes it (people, units and
// policy steps in flow mappings, {…}); layout=split keeps the directory in
// units.yaml and the items, in block style, in items.yaml, as SPEC §7
// says offices do; layout=flow is the single file with one item a line
// (dubangen -style flow).
func BenchmarkImport(b *testing.B) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	for _, layout := range []string{"single", "split", "flow"} {
		b.Run("layout="+layout, func(b *testing.B) {
			dir := b.TempDir()
			wl := workload.Spec{Items: n, Units: 100, Seed: 1, From: "2026-01-05", Days: 300}
			var parts []workload.Spec
			if layout == "flow" {
				wl.Style = workload.StyleFlow
			}
			if layout != "split" {
				parts = []workload.Spec{wl}
			} else {
				d, it := wl, wl
				d.Part, it.Part = workload.PartDirectory, workload.PartItems
				parts = []workload.Spec{d, it}
			}
			var paths, names []string
			var size int64
			for i, part := range parts {
				var buf bytes.Buffer
				writeWorkload(b, &buf, part)
				name := fmt.Sprintf("tracked-%d.yaml", i)
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
					b.Fatal(err)
				}
				paths, names = append(paths, path), append(names, name)
				size += int64(buf.Len())
			}
			a := benchApp(b, dir, filepath.Join(dir, "unused.db"))
			now := time.Date(2026, 1, 5, 8, 0, 0, 0, shanghai)
			var elapsed, cpu time.Duration
			var dbSize int64
			var sum importer.Summary
			i := 0
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				b.StopTimer()
				path := benchDB(b, dir, fmt.Sprintf("%d.db", i))
				i++
				st, err := kvstore.Open(path, time.Second)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0, c0 := time.Now(), cpuTime()
				sum, err = importer.Files(b.Context(), st, a.x, paths, names, now, "bench", false)
				elapsed += time.Since(t0)
				cpu += cpuTime() - c0
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if sum.Items != n || sum.ItemsAdded != n {
					b.Fatalf("imported %+v, want %d new items", sum, n)
				}
				st.Close()
				dbSize = benchDBSize(b, path)
				os.Remove(path)
				b.StartTimer()
			}
			b.ReportMetric(float64(n*i)/elapsed.Seconds(), "items/s")
			b.ReportMetric(float64(n*i)/cpu.Seconds(), "items/cpu-s")
			b.ReportMetric(float64(sum.Instances), "instances")
			b.ReportMetric(float64(dbSize)/(1<<20), "db-MiB")
		})
	}
}

// execBench runs the duban binary with args once per b.Loop iteration and
// reports wall and CPU milliseconds per run, output bytes and the child's
// peak RSS. It returns the last output.
func execBench(b *testing.B, bin string, args ...string) []byte {
	b.Helper()
	var out []byte
	var wall, cpu time.Duration
	var rss float64
	runs := 0
	for b.Loop() {
		r := measuredRun(b, bin, args...)
		out = r.out
		wall += r.wall
		cpu += r.cpu
		rss = max(rss, r.maxRSS)
		runs++
	}
	b.ReportMetric(float64(wall.Microseconds())/1000/float64(runs), "ms/op")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(runs), "cpu-ms/op")
	b.ReportMetric(float64(len(out)), "out-bytes")
	b.ReportMetric(rss, "maxrss-MiB")
	return out
}

// runResult is what measuredRun observed of one child process.
type runResult struct {
	out       []byte
	wall, cpu time.Duration
	maxRSS    float64 // MiB
}

// measuredRun runs bin with args and measures it. The child is started by
// a helper process (this test binary, running TestExecHelper) rather than
// by this process: on Linux a child started with vfork, as os/exec does,
// inherits the parent's peak RSS in its ru_maxrss at exec, and this
// process is large after building a fixture.
func measuredRun(tb testing.TB, bin string, args ...string) runResult {
	tb.Helper()
	dir := tb.TempDir()
	outFile := filepath.Join(dir, "out")
	spec, _ := json.Marshal(helperSpec{Bin: bin, Args: args, Out: outFile})
	cmd := exec.Command(os.Args[0], "-test.run=^TestExecHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DUBAN_EXEC_HELPER="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("duban %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	var rep helperReport
	line, _, _ := strings.Cut(stdout.String(), "\n")
	if err := json.Unmarshal([]byte(line), &rep); err != nil {
		tb.Fatalf("exec helper: %v: %q", err, stdout.String())
	}
	if rep.Err != "" {
		tb.Fatalf("duban %v: %s", args, rep.Err)
	}
	out, err := os.ReadFile(outFile)
	if err != nil {
		tb.Fatal(err)
	}
	os.Remove(outFile)
	return runResult{out: out, wall: time.Duration(rep.WallNS), cpu: time.Duration(rep.CPUNS), maxRSS: float64(rep.MaxRSSKB) / 1024}
}

type helperSpec struct {
	Bin  string   `json:"bin"`
	Args []string `json:"args"`
	Out  string   `json:"out"`
}

type helperReport struct {
	WallNS   int64  `json:"wall_ns"`
	CPUNS    int64  `json:"cpu_ns"`
	MaxRSSKB int64  `json:"maxrss_kb"`
	Err      string `json:"err,omitempty"`
}

// TestExecHelper is not a test: measuredRun runs it in a fresh test
// process to start and measure one child.
func TestExecHelper(t *testing.T) {
	env := os.Getenv("DUBAN_EXEC_HELPER")
	if env == "" {
		t.Skip("helper process for the benchmarks")
	}
	var spec helperSpec
	var rep helperReport
	defer func() {
		b, _ := json.Marshal(rep)
		fmt.Printf("%s\n", b)
		os.Exit(0) // no test framework output on stdout
	}()
	if err := json.Unmarshal([]byte(env), &spec); err != nil {
		rep.Err = err.Error()
		return
	}
	f, err := os.Create(spec.Out)
	if err != nil {
		rep.Err = err.Error()
		return
	}
	defer f.Close()
	cmd := exec.Command(spec.Bin, spec.Args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = f, &stderr
	t0 := time.Now()
	err = cmd.Run()
	rep.WallNS = int64(time.Since(t0))
	if err != nil {
		rep.Err = fmt.Sprintf("%v: %s", err, stderr.String())
		return
	}
	rep.CPUNS = int64(childCPU(cmd.ProcessState))
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rep.MaxRSSKB = int64(ru.Maxrss)
	}
}

// BenchmarkListOverdueProcess runs `duban list --overdue --format json`
// end to end (process start included) on stores of 100 000 and 1 000 000
// instances (only 100 000 with -short) of which 10 000 are open and
// overdue and the rest done, and (/spread) of which all are open, due
// over two years, 10 000 at random ids overdue.
func BenchmarkListOverdueProcess(b *testing.B) {
	bin := buildDuban(b)
	for _, n := range []int{100_000, 1_000_000} {
		for _, kind := range []fixtureKind{overdueFixture, spreadFixture} {
			name := fmt.Sprintf("instances=%d", n)
			if kind == spreadFixture {
				name += "/spread"
			}
			b.Run(name, func(b *testing.B) { benchListOverdue(b, bin, n, kind) })
		}
	}
}

// benchListOverdue is BenchmarkListOverdueProcess on one fixture.
func benchListOverdue(b *testing.B, bin string, n int, kind fixtureKind) {
	if n > 100_000 && testing.Short() {
		b.Skip("large fixture")
	}
	const overdue = 10_000
	dir := b.TempDir()
	db := benchDB(b, dir, "duban.db")
	a := benchApp(b, dir, db)
	buildFixture(b, a, n, overdue, kind)
	args := []string{"--db", db, "--config", a.configPath, "list", "--overdue", "--format", "json", "--at", benchNow.Format(time.RFC3339)}
	check := func(b *testing.B, out []byte) {
		var rows []listRow
		if err := json.Unmarshal(out, &rows); err != nil {
			b.Fatal(err)
		}
		if len(rows) != overdue {
			b.Fatalf("list --overdue printed %d rows, want %d", len(rows), overdue)
		}
		for _, r := range rows {
			if !r.Overdue || r.Status != "open" {
				b.Fatalf("row %+v is not open and overdue", r)
			}
		}
		b.ReportMetric(float64(len(rows)), "rows")
	}
	b.Run("exec", func(b *testing.B) { check(b, execBench(b, bin, args...)) })
	// The same command through run, in this process: the cost
	// without process start-up, and what -cpuprofile sees.
	b.Run("inproc", func(b *testing.B) {
		var out bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			out.Reset()
			var stderr bytes.Buffer
			if code := run(b.Context(), args, &out, &stderr); code != 0 {
				b.Fatalf("list: exit %d: %s", code, stderr.String())
			}
		}
		check(b, out.Bytes())
	})
}

// BenchmarkPlanMonth runs `duban plan` over the month from benchNow on the
// 1 000 000-instance store (100 000 with -short) whose 10 000 active
// instances are overdue: each gets an overdue notice every working day.
func BenchmarkPlanMonth(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	bin := buildDuban(b)
	dir := b.TempDir()
	db := benchDB(b, dir, "duban.db")
	a := benchApp(b, dir, db)
	buildFixture(b, a, n, 10_000, overdueFixture)
	out := execBench(b, bin, "--db", db, "--config", a.configPath, "plan", "--from", "2026-06-15", "--to", "2026-07-14", "--format", "json")
	var rows []planRow
	if err := json.Unmarshal(out, &rows); err != nil {
		b.Fatal(err)
	}
	if len(rows) < 10_000 {
		b.Fatalf("plan printed %d notices, want at least one per active instance", len(rows))
	}
	b.ReportMetric(float64(len(rows)), "notices")
}

// BenchmarkPassDecide times the decision step of a daemon pass (Decide in
// one Update, committed) on 1 000 000 instances (100 000 with -short) of
// which 10 000 have a notice due. Iteration j decides as of 10:00 on the
// j-th working day after benchNow, as the daemon's daily passes would:
// each queues one overdue notice per active instance. It also reports,
// once, the cost of Materialise, which the first pass of each day (and
// every `serve --once`) runs over all items.
func BenchmarkPassDecide(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	const due = 10_000
	dir := b.TempDir()
	db := benchDB(b, dir, "duban.db")
	a := benchApp(b, dir, db)
	buildFixture(b, a, n, due, overdueFixture)
	st, err := kvstore.Open(db, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()

	t0, c0 := time.Now(), cpuTime()
	if err := st.Update(func(tx tracker.Tx) error {
		_, err := a.x.Materialise(tx, benchNow, "bench")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	matWall, matCPU := time.Since(t0), cpuTime()-c0

	day := a.x.Env.Today(benchNow)
	var elapsed, cpu time.Duration
	runs := 0
	b.ReportAllocs()
	for b.Loop() {
		now := day.At(10*60, shanghai)
		day = a.x.Env.Cal.AddWorkdays(day, 1)
		var res tracker.DecideResult
		t0, c0 := time.Now(), cpuTime()
		err := st.Update(func(tx tracker.Tx) error {
			var err error
			res, err = a.x.Decide(tx, now, tracker.Catchup(a.cfg.Catchup), a.cfg.Mail.Office)
			return err
		})
		elapsed += time.Since(t0)
		cpu += cpuTime() - c0
		runs++
		if err != nil {
			b.Fatal(err)
		}
		if res.Queued != due || res.Instances != due {
			b.Fatalf("decide as of %s: %+v, want %d instances and %d queued", now, res, due, due)
		}
	}
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(runs), "ms/op")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(runs), "cpu-ms/op")
	b.ReportMetric(float64(due), "queued/op")
	b.ReportMetric(float64(matWall.Milliseconds()), "materialise-ms")
	b.ReportMetric(float64(matCPU.Milliseconds()), "materialise-cpu-ms")
}

// TestIdleCPU starts `duban serve` on a store of 1 000 000 instances whose
// next notice is months away and checks that, once settled, it uses less
// than 1% of a CPU over 10 s. It takes a minute or two: set
// DUBAN_IDLE_TEST=1 to run it.
func TestIdleCPU(t *testing.T) {
	if testing.Short() || os.Getenv("DUBAN_IDLE_TEST") != "1" {
		t.Skip("set DUBAN_IDLE_TEST=1 (and no -short) to measure the idle daemon")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	n := 1_000_000
	if s := os.Getenv("DUBAN_IDLE_INSTANCES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	bin := buildDuban(t)
	dir := t.TempDir()
	db := benchDB(t, dir, "duban.db")
	a := benchApp(t, dir, db)
	buildFixture(t, a, n, 10_000, farFixture)

	cmd := exec.Command(bin, "--config", a.configPath, "serve")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	// Settled: the admin socket is up and a whole second went by with
	// (almost) no CPU used.
	var settled time.Duration
	prev := procCPU(t, cmd.Process.Pid)
	for {
		time.Sleep(time.Second)
		cur := procCPU(t, cmd.Process.Pid)
		if _, err := os.Stat(a.cfg.Admin.Socket); err == nil && cur-prev < 20*time.Millisecond {
			settled = time.Since(started)
			break
		}
		prev = cur
		if time.Since(started) > 3*time.Minute {
			t.Fatalf("daemon did not settle in 3 minutes; stderr:\n%s", stderr.String())
		}
	}
	c0, w0 := procCPU(t, cmd.Process.Pid), time.Now()
	startCPU := c0
	time.Sleep(10 * time.Second)
	c1, w1 := procCPU(t, cmd.Process.Pid), time.Now()
	frac := float64(c1-c0) / float64(w1.Sub(w0))
	t.Logf("%d instances: settled after %v using %v CPU; then %v CPU in %v of wall time = %.3f%% of a CPU; %s",
		n, settled.Round(time.Millisecond), startCPU.Round(time.Millisecond), c1-c0, w1.Sub(w0).Round(time.Millisecond), 100*frac, procMem(t, cmd.Process.Pid))
	if frac >= 0.01 {
		t.Errorf("idle daemon used %.2f%% of a CPU, want < 1%%", 100*frac)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Error("serve did not exit 30s after SIGTERM")
	}
}

// procCPU returns utime+stime of pid from /proc/<pid>/stat.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parse /proc/%d/stat: %q", pid, s)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// procMem returns the VmRSS and VmHWM lines of /proc/<pid>/status.
func procMem(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "VmHWM") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", ")
}

package trackfile_test

import (
	"fmt"
	"strings"
	"testing"

	"duban/tracker/trackfile"
)

// genItems builds a tracking file with n items (mostly one-off, every
// tenth recurring) that reference the units and policy of units.yaml.
// With odd set, every tenth one-off item has a folded requirements text,
// which the fast parser hands to yaml.v3.
func genItems(n int, odd bool) []byte {
	var b strings.Builder
	b.Grow(n * 260)
	b.WriteString("items:\n")
	for i := range n {
		if odd && i%10 == 5 {
			fmt.Fprintf(&b, "  - id: odd-%d\n    title: \"第%d次常务会议纪要签发\"\n    requirements: >\n      会议纪要签发并报市政府办公室,\n      并抄送各相关单位。\n    unit: mishu\n    due: 3d\n", i, i)
			continue
		}
		if i%10 == 9 {
			fmt.Fprintf(&b, "  - id: report-%d\n    title: 第%d号 执行难案件进展周报\n    units: [fzj, mishu]\n    every: weekly thu 12:00\n    from: 2026-09-01\n    policy: standard\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "  - id: minutes-%d\n    title: 第%d次常务会议纪要签发\n    doc: 洛政办〔2026〕%d号\n    requirements: 会议纪要签发并报市政府办公室\n    unit: mishu\n    co_units: [fzj]\n    co_due: -2wd\n    start: 2026-09-24 16:00\n    due: 3d\n    limit: 7d\n    policy: standard\n", i, i, i)
	}
	return []byte(b.String())
}

func benchLoad(b *testing.B, n int, odd bool) {
	units := mustRead(b, "testdata/units.yaml")
	items := genItems(n, odd)
	files := []trackfile.File{{Name: "units.yaml", Data: units}, {Name: "items.yaml", Data: items}}
	b.SetBytes(int64(len(items)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bundle, err := trackfile.Load(files, shanghai, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(bundle.Items) != n {
			b.Fatalf("%d items, want %d", len(bundle.Items), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkLoad loads 10 000 items.
func BenchmarkLoad(b *testing.B) { benchLoad(b, 10000, false) }

// BenchmarkLoad100k loads 100 000 items.
func BenchmarkLoad100k(b *testing.B) { benchLoad(b, 100000, false) }

// BenchmarkLoadFallback loads 10 000 items, a tenth of which yaml.v3 parses.
func BenchmarkLoadFallback(b *testing.B) { benchLoad(b, 10000, true) }

// BenchmarkLoadYAMLv3 loads 10 000 items entirely through yaml.v3 (the
// document end marker is beyond the fast parser), for comparison.
func BenchmarkLoadYAMLv3(b *testing.B) {
	items := append(genItems(10000, false), "...\n"...)
	files := []trackfile.File{{Name: "units.yaml", Data: mustRead(b, "testdata/units.yaml")}, {Name: "items.yaml", Data: items}}
	b.SetBytes(int64(len(items)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := trackfile.Load(files, shanghai, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(10000*float64(b.N)/b.Elapsed().Seconds(), "items/s")
}

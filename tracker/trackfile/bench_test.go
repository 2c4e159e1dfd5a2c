package trackfile_test

import (
	"fmt"
	"strings"
	"testing"

	"duban/tracker/trackfile"
)

// genItems builds a tracking file with n items (mostly one-off, every
// tenth recurring) that reference the units and policy of units.yaml, in
// block style (a key a line) or, with flow set, one item a line.
func genItems(n int, flow bool) []byte {
	var b strings.Builder
	b.Grow(n * 260)
	b.WriteString("items:\n")
	for i := range n {
		var fields [][2]string
		if i%10 == 9 {
			fields = [][2]string{{"id", fmt.Sprintf("report-%d", i)}, {"title", fmt.Sprintf("第%d号 执行难案件进展周报", i)},
				{"units", "[fzj, mishu]"}, {"every", "weekly thu 12:00"}, {"from", "2026-09-01"}, {"policy", "standard"}}
		} else {
			fields = [][2]string{{"id", fmt.Sprintf("minutes-%d", i)}, {"title", fmt.Sprintf("第%d次常务会议纪要签发", i)},
				{"doc", fmt.Sprintf("洛政办〔2026〕%d号", i)}, {"requirements", "会议纪要签发并报市政府办公室"}, {"unit", "mishu"},
				{"co_units", "[fzj]"}, {"co_due", "-2wd"}, {"start", "2026-09-24 16:00"}, {"due", "3d"}, {"limit", "7d"}, {"policy", "standard"}}
		}
		for j, f := range fields {
			switch {
			case flow && j == 0:
				fmt.Fprintf(&b, "  - {%s: %s", f[0], f[1])
			case flow:
				fmt.Fprintf(&b, ", %s: %s", f[0], f[1])
			case j == 0:
				fmt.Fprintf(&b, "  - %s: %s\n", f[0], f[1])
			default:
				fmt.Fprintf(&b, "    %s: %s\n", f[0], f[1])
			}
		}
		if flow {
			b.WriteString("}\n")
		}
	}
	return []byte(b.String())
}

func benchLoad(b *testing.B, n int, flow bool) {
	units := mustRead(b, "testdata/units.yaml")
	items := genItems(n, flow)
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

// BenchmarkLoad loads 10 000 items in block style.
func BenchmarkLoad(b *testing.B) { benchLoad(b, 10000, false) }

// BenchmarkLoad100k loads 100 000 items in block style.
func BenchmarkLoad100k(b *testing.B) { benchLoad(b, 100000, false) }

// BenchmarkLoadFlow100k loads 100 000 items in flow style, one a line.
func BenchmarkLoadFlow100k(b *testing.B) { benchLoad(b, 100000, true) }

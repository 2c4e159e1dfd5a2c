package calnotice

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParse: no input panics or takes long, whatever its size up to
// MaxSize; an accepted notice's days all lie in its year or the December
// before, and no day is both off and working.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.txt")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, tc := range grammarCases {
		f.Add([]byte("关于2019年部分节假日安排的通知\n一、节日：" + tc.item))
	}
	f.Add([]byte(strings.Repeat("一、元旦：1月1日至", 2000)))
	f.Add([]byte(strings.Repeat("((((", 1000) + "一、"))
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		n, err := Parse(data, Options{Year: 2024})
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v on %d bytes", d, len(data))
		}
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range n.Days() {
			if off, ok := seen[d.Date]; ok && off != d.IsOffDay {
				t.Fatalf("%s both off and working", d.Date)
			}
			seen[d.Date] = d.IsOffDay
			if !strings.HasPrefix(d.Date, "2024-") && !strings.HasPrefix(d.Date, "2023-12-") {
				t.Fatalf("%s outside 2024", d.Date)
			}
		}
	})
}

// TestLargeInputBounded: a 1 MB notice of repeated items is read (or
// refused) quickly.
func TestLargeInputBounded(t *testing.T) {
	for _, unit := range []string{
		"一、国庆节：10月1日至7日放假调休，共7天。9月29日（星期日）、10月12日（星期六）上班。\n",
		"一、节：1月1日至31日放假" + strings.Repeat("、1日", 200) + "\n",
		strings.Repeat("(", 500) + "1月1日" + strings.Repeat("至", 300),
		"1月1日放假\n", // continuation lines of one item
	} {
		head := "关于2024年部分节假日安排的通知\n一、元旦：1月1日放假。\n"
		data := []byte(head + strings.Repeat(unit, (MaxSize-len(head))/len(unit)))
		start := time.Now()
		_, err := Parse(data, Options{})
		d := time.Since(start)
		if d > 3*time.Second {
			t.Errorf("%d bytes took %v", len(data), d)
		}
		t.Logf("%d bytes: %v (refused: %t)", len(data), d, err != nil)
	}
	if _, err := Parse(make([]byte, MaxSize+1), Options{}); err == nil {
		t.Error("a file over MaxSize was read")
	}
}

package trackfile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"duban/tracker"
)

// render writes out a node tree with everything the validator reads.
func render(b *strings.Builder, n *yaml.Node) {
	if n == nil {
		b.WriteString("<nil>")
		return
	}
	fmt.Fprintf(b, "%d@%d:%d:%s:%d:%q", n.Kind, n.Line, n.Column, n.Tag, n.Style, n.Value)
	if n.Alias != nil {
		fmt.Fprintf(b, "->%d:%d", n.Alias.Line, n.Alias.Column)
	}
	if len(n.Content) > 0 {
		b.WriteString("[")
		for _, c := range n.Content {
			render(b, c)
			b.WriteString(" ")
		}
		b.WriteString("]")
	}
}

func rendered(n *yaml.Node) string {
	var b strings.Builder
	render(&b, n)
	return b.String()
}

// splitFile writes a tracking file of n items drawn from pieces that put
// a line looking like an element's start (or a document marker, a quote,
// a bracket) where a cut may fall.
func splitFile(r *rand.Rand, n int) string {
	dash := []string{"  ", "", "    "}[r.IntN(3)]
	in := dash + "  "
	pieces := []string{
		dash + "- id: a%d\n" + in + "title: t\n" + in + "due: 3d\n",
		dash + "- {id: f%d, title: \"x, y\", units: [a, b], due: 3d}\n",
		dash + "- {id: m%d,\n" + dash + "   title: t}\n",
		dash + "- {id: bad%d,\n" + dash + "- title: t}\n",
		dash + "- id: q%d\n" + in + "title: \"two\n" + dash + "- lines\"\n",
		dash + "- id: s%d\n" + in + "title: 'two\n" + dash + "- lines'\n",
		dash + "- id: b%d\n" + in + "requirements: |\n" + in + "  - not an element\n" + in + "  text\n",
		dash + "- id: p%d\n" + in + "title: plain\n" + in + "  - continued\n",
		"# - %d a comment\n" + dash + "  # - another\n",
		dash + "- &x%d {id: anchor}\n",
		dash + "- *x%d\n",
		dash + "- id: c%d # - comment\n" + "\n" + dash + "-   id: wide\n",
		dash + "- id: e%d\n" + in + "units:\n" + in + "- a\n" + in + "- b\n",
		"units:\n" + dash + "- {id: u%d}\nitems:\n",
		"...\n# %d\n",
		"---\nitems:\n# %d\n",
		dash + "- id: t%d\n\t" + in + "title: tab\n",
		dash + "- |\n" + dash + "  literal %d\n",
		dash + "- id: k%d\n" + in + "? complex\n" + in + ": key\n",
		dash + "-\n" + in + "id: n%d\n",
		dash + "- id: l%d\n" + in + "title: \"x\u2028y\"\n" + in + "doc: \"x\u0085y\"\n" + in + "unit: \"x\ry\"\n",
	}
	var b strings.Builder
	if r.IntN(4) == 0 {
		b.WriteString("\ufeff---\n")
	}
	b.WriteString("office: {name: x, email: x@example.gov.cn}\nitems:\n")
	for i := range n {
		p := pieces[0]
		if r.IntN(3) == 0 {
			p = pieces[r.IntN(len(pieces))]
		}
		fmt.Fprintf(&b, strings.ReplaceAll(p, "%d", "%[1]d"), i)
	}
	if r.IntN(3) == 0 {
		b.WriteString("policies:\n" + dash + "- {id: p}\n")
	}
	s := b.String()
	if r.IntN(4) == 0 {
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	return s
}

// TestSplitMatchesWhole checks parseSplit against yaml.v3 on the whole
// file: where it splits, the tree is the same, lines included; where the
// whole file is not valid YAML, it does not split.
func TestSplitMatchesWhole(t *testing.T) {
	defer func(old int) { splitMin = old }(splitMin)
	splitMin = 0
	var inputs []string
	r := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		inputs = append(inputs, splitFile(r, 2+r.IntN(12)))
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(data))
	}
	split, declined := 0, 0
	for _, in := range inputs {
		whole, serr := parseWhole([]byte(in))
		for n := 2; n <= 5; n++ {
			got, ok := parseSplit([]byte(in), n)
			if !ok {
				declined++
				continue
			}
			split++
			if serr != nil {
				t.Fatalf("split in %d a file yaml.v3 refuses (line %d: %s):\n%s", n, serr.line, serr.msg, in)
			}
			if g, w := rendered(got), rendered(whole); g != w {
				t.Fatalf("split in %d parses differently:\n%s\nsplit: %s\nwhole: %s", n, in, g, w)
			}
		}
	}
	t.Logf("split %d times, declined %d", split, declined)
	if split < 500 {
		t.Errorf("split only %d of %d times", split, split+declined)
	}
}

// TestSplitLoad loads the same large file split and whole: the bundles
// and the errors are the same.
func TestSplitLoad(t *testing.T) {
	defer func(old int) { splitMin = old }(splitMin)
	units, err := os.ReadFile("testdata/units.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("items:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "  - {id: f%d, title: t, unit: fzj, due: 3d}\n  - id: b%d\n    title: t\n    unit: mishu\n    due: 2wd\n", i, i)
	}
	good := b.String()
	bad := good + "  - {id: x, title: t, unit: nowhere, due: 3 days}\n"
	for _, data := range []string{good, bad} {
		var bundles [2]*tracker.Bundle
		var errs [2]string
		for i, min := range []int{1 << 30, 0} {
			splitMin = min
			b, err := Load([]File{{Name: "units.yaml", Data: units}, {Name: "items.yaml", Data: []byte(data)}}, nil, nil)
			bundles[i], errs[i] = b, fmt.Sprint(err)
		}
		if !reflect.DeepEqual(bundles[0], bundles[1]) || errs[0] != errs[1] {
			t.Errorf("whole and split loads differ:\n%.1000s\n%.1000s", errs[0], errs[1])
		}
		if data == bad && !strings.Contains(errs[1], "items.yaml:15002: items[6000].due") {
			t.Errorf("error: %s", errs[1])
		}
	}
	if got, ok := parseSplit([]byte(good), 2); !ok || len(got.Content[1].Content) != 6000 {
		t.Errorf("not split: %v", ok)
	}
}

package trackfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dump renders a node tree for comparison.
func dump(b *strings.Builder, n *node, depth int) {
	if depth > 50 {
		b.WriteString("…")
		return
	}
	if n == nil {
		b.WriteString("<nil>")
		return
	}
	switch n.kind {
	case scalarNode:
		fmt.Fprintf(b, "%d:%q", n.line, n.value)
		if n.null {
			b.WriteString("!null")
		}
	case aliasNode:
		fmt.Fprintf(b, "%d:*%s", n.line, n.value)
	case mapNode, seqNode:
		open, closing := "{", "}"
		if n.kind == seqNode {
			open, closing = "[", "]"
		}
		fmt.Fprintf(b, "%d:%s", n.line, open)
		for i, c := range n.content {
			if i > 0 {
				b.WriteString(", ")
			}
			dump(b, c, depth+1)
		}
		b.WriteString(closing)
	default:
		fmt.Fprintf(b, "?%d", n.kind)
	}
}

func render(n *node) string {
	var b strings.Builder
	dump(&b, n, 0)
	return b.String()
}

func show(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// checkFast fails if parseFast accepts src but yaml.v3 disagrees.
func checkFast(t *testing.T, src string) (accepted bool) {
	t.Helper()
	fast, ok, _ := parseFast(src)
	if !ok {
		return false
	}
	slow, serr := parseSlow([]byte(src))
	if serr != nil {
		t.Fatalf("fast parser accepted what yaml.v3 rejects (line %d: %s):\n%s", serr.line, serr.msg, show(src))
	}
	if f, s := render(fast), render(slow); f != s {
		t.Fatalf("fast and yaml.v3 trees differ for\n%s\nfast: %s\nyaml: %s", show(src), show(f), show(s))
	}
	return true
}

var fastSeeds = []string{
	"",
	"\n\n# only a comment\n",
	"a: 1\n",
	"a:\n",
	"a:\nb: 2\n",
	"a: ~\nb: null\nc: \"\"\nd: ''\n",
	"a:\n- x\n- y\nb: 1\n",
	"a:\n  - x\n  -\n  - z\n",
	"- a\n- b\n",
	"-\n- b\n",
	"- id: x\n  title: t\n- id: y\n",
	"-   id: x\n    title: t\n",
	"items:\n  - id: x # c\n    title: 第31次 会议\n    due: 3d\n\n    limit: 7d\n",
	"a: [x, y , z]\nb: []\nc: {}\nd: {k: v, l: [1, 2]}\n",
	"a: [\"x\", 'y', -2wd]\n",
	"a: {at: -1wd, to: [unit], level: reminder}\n",
	"a: 'it''s'\n",
	"a: \"x\\ny\"\n",
	"a: x: y\n",
	"a: x:y\n",
	"a: x #c\n",
	"a: x#c\n",
	"a: \"x\"#c\n",
	"a: \"x\" #c\n",
	"a: b\n  c\n",
	"a: |\n  line1\n   line2\n\n  line3\n\nb: 1\n",
	"a: |-\n  x\n  y\n\n\nb: 1\n",
	"a: |\n\n  x\n",
	"a: |\n  x\n # c\nb: 1\n",
	"a: |\nb: 1\n",
	"a: |+\n  x\n",
	"a: >\n  x\n  y\n",
	"a: 1\r\nb: 2\r\n",
	"a: 1\rb: 2\n",
	"a:\tb\n",
	"a: 1\n---\nb: 2\n",
	"---\na: 1\n",
	"a: &x 1\nb: *x\n",
	"  a: 1\n  b: 2\n",
	"a: 1\n b: 2\n",
	"a: 2026-09-24 16:00\nb: 0\nc: +1wd\n",
	"a: [a b, c]\n",
	"office: {name: 督查室, email: ducha@example.gov.cn}\n",
	"a: [x@y, a&b, c*d, e!f, g%h, i`j, k|l, m>n, o'p, q\"r]\n",
	"a: [s?t]\n",
	"a: {k: a@b}\n",
	"a: [@x]\n",
	"a: [`x]\n",
	"a: [a, b,]\n",
	"a: [a, [b, c], {d: e}]\n",
	"a: {b: [c, d], e: f}\n",
	"a: - x\n",
	"? a\n: b\n",
	"a: b\n- c\n",
	"a:\n  b:\n    c: d\n  e: f\n",
	"a:\n  - b: 1\n    c: 2\n  - d\n",
	"\ufeffa: 1\n",
	"a: \u0085\n",
	"a: x\u2028y\n",
	"a: \xff\n",
	"a: 1 # c\n# c\n  # indented comment\nb: 2\n",
	"a: |\n    x\n  y\n",
	"a:\n  |\n  x\n",
	"a: |\n  x\n  \n  y\n",
	"a: |\n  x\n    \n",
	"a: |\n   \n  x\n",
	"a: |\n  # not a comment\n  x\n",
	"- |\n  x\n",
	"a: \"\"\n",
	"a: { }\n",
	"a: [ ]\n",
	"a: {b: }\n",
	"a: [b: c]\n",
	"a: x, y\n",
	"a: [x]y\n",
	"a: -x\n",
	"a: -\n",
	"a: 'x' y\n",
	"a:    \n  b: 1\n",
	"a: 1\n\n\n",
	"a: 1",
	"a: |\n  x",
	"a: 1\n...\n",
	"%YAML 1.2\n---\na: 1\n",
	"---\n",
	"---\n...\n",
	"...\n",
	"# c\n--- # start\n\nitems:\n  - a\n... # end\n# c\n",
	"---\nitems:\n  - a\n---\nitems: []\n",
	"--- items\n",
	"---\n---\n",
	"a: |\n  x\n---\n",
	"a:\n- b\n...\n---\nc: 1\n",
	"\ufeffa: 1\n",
	"\ufeff---\na: 1\n",
	"\ufeff\ufeffa: 1\n",
	"a: 1\n\ufeff\n",
	"a: \"\\u4F1A\\u8BAE \\x41\\t\\\"q\\\" \\\\ \\N\\_\\L\\P\\0\\e\\ \\/\"\n",
	"a: \"\\ud800\"\n",
	"a: \"\\u4F1A\\u8BAE \\x41\\xe9\\t\\\"q\\\" \\' \\\\ \\N\\_\\L\\P\\0\\e\\ \\a\\b\\v\\f\\r\\n\"\n",
	"a: \"\\U0001F600 \\U00110000\"\n",
	"a: \"x\\\n  y\"\n",
	"a: ['it''s', \"\\x41\"]\n",
	"items:\n  - id: a\n    title: >\n      folded\n      text\n  - id: b\n    title: t\n",
	"items:\n  - id: a\n    title: multi\n      line plain\n  # comment\n  - id: b\n",
	"items:\n- id: a\n  title: \"two\n  lines\"\n- id: b\n",
	"items:\n  - id: &x a\n  - id: *x\n",
	"items:\n  - id: a\n\ttitle: t\n  - id: b\n",
	"items:\n  - id: a\n    title:\tt\n  - id: b\n",
	"items:\n  - id: a\n    title: \"x\n  - id: b\n",
	"items:\n  - {id: a,\n     title: t}\n  - id: b\n",
	"people: []\nitems:\n  - ? id\n    : a\n  - id: b\nunits:\n  - x\n",
}

func TestFastMatchesYAML(t *testing.T) {
	n := 0
	for _, s := range fastSeeds {
		if checkFast(t, s) {
			n++
		}
	}
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if checkFast(t, string(data)) {
			n++
		}
	}
	t.Logf("fast parser handled %d of %d inputs", n, len(fastSeeds)+len(files))
}

func FuzzFastParse(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkFast(t, s)
	})
}

package trackfile

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"sync"

	"go.yaml.in/yaml/v3"
)

// A large tracking file is nearly all one list, items:, and yaml.v3 parses
// on one core. parseSplit cuts that list at element boundaries into parts
// that yaml.v3 parses on several cores, and joins the trees. It is not a
// second parser: it only chooses where to cut, and it gives up — parse
// then runs yaml.v3 on the whole file, which also reports every syntax
// error — unless each part parses on its own into exactly the shape a cut
// between two elements gives. TestSplitMatchesWhole checks the joined tree
// against the whole file's.
//
// Why a cut at a line "<D spaces>- " (D the column of the first element's
// dash) that parses that way is a boundary: every YAML construct that can
// hold such a line without ending is either a quoted scalar or a flow
// collection, left open at the end of the part before (yaml.v3 then fails
// on it), or a block scalar or plain multi-line scalar, which ends at a
// line indented no more than the list's dash.

// splitMin is the size from which parse splits a file; below it, one
// parse costs less than starting the others.
var splitMin = 1 << 20

// maxParts bounds the parts of a split file.
const maxParts = 4

// itemsKey starts every part but the first: the part's lines continue the
// items: list in the same context as in the whole file.
const itemsKey = "items:\n"

// parseSplit parses data in n parts; ok is false if it does not split data
// (too small, no items: list to cut, a part that does not parse alone).
func parseSplit(data []byte, n int) (root *yaml.Node, ok bool) {
	cuts, itemsLine := cutPoints(data, n)
	if len(cuts) == 0 {
		return nil, false
	}
	bounds := append(append([]int{0}, cuts...), len(data))
	roots := make([]*yaml.Node, len(bounds)-1)
	var wg sync.WaitGroup
	for i := range roots {
		wg.Go(func() {
			part := data[bounds[i]:bounds[i+1]]
			if i > 0 {
				part = append([]byte(itemsKey), part...)
			}
			roots[i] = decodeOne(part)
		})
	}
	wg.Wait()

	first := roots[0]
	if first == nil || first.Kind != yaml.MappingNode || len(first.Content) < 2 {
		return nil, false
	}
	k, items := first.Content[len(first.Content)-2], first.Content[len(first.Content)-1]
	if k.Kind != yaml.ScalarNode || k.Style != 0 || k.Value != "items" || k.Line != itemsLine || k.Column != 1 ||
		!blockSeq(items) {
		return nil, false
	}
	dash := items.Content[0].Column
	for i, r := range roots[1:] {
		last := i+2 == len(roots)
		if r == nil || r.Kind != yaml.MappingNode || len(r.Content) < 2 || (!last && len(r.Content) != 2) {
			return nil, false
		}
		k, seq := r.Content[0], r.Content[1]
		if k.Value != "items" || k.Line != 1 || !blockSeq(seq) || seq.Content[0].Line != 2 || seq.Content[0].Column != dash {
			return nil, false
		}
		offset := lineOf(data, bounds[i+1]) - 2
		for _, el := range seq.Content {
			shiftLines(el, offset)
		}
		items.Content = append(items.Content, seq.Content...)
		for _, rest := range r.Content[2:] {
			shiftLines(rest, offset)
			first.Content = append(first.Content, rest)
		}
	}
	return first, true
}

// blockSeq reports whether n is a block sequence with elements.
func blockSeq(n *yaml.Node) bool {
	return n.Kind == yaml.SequenceNode && n.Style&yaml.FlowStyle == 0 && len(n.Content) > 0
}

// decodeOne parses data as exactly one YAML document and returns its root,
// or nil on any error.
func decodeOne(data []byte) (root *yaml.Node) {
	defer func() {
		if recover() != nil {
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc, extra yaml.Node
	if err := dec.Decode(&doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil
	}
	return doc.Content[0]
}

// cutPoints returns up to n-1 offsets, increasing, of lines that may start
// an element of the top-level items: list, spread over it evenly, and the
// line of items:. It returns none if data has no such list, has line
// breaks other than LF and CRLF (which would make the line numbers of the
// parts hard to add up) or a document marker after items: (a part could
// end a document that the next one continues).
func cutPoints(data []byte, n int) (cuts []int, itemsLine int) {
	if n < 2 || len(data) < splitMin || oddBreaks(data) {
		return nil, 0
	}
	// The items: line, alone at the start of a line.
	at := 0
	for {
		i := bytes.Index(data[at:], []byte(itemsKey[:6]))
		if i < 0 {
			return nil, 0
		}
		at += i
		end := at + 6
		for end < len(data) && (data[end] == ' ' || data[end] == '\r') {
			end++
		}
		if (at == 0 || data[at-1] == '\n') && end < len(data) && data[end] == '\n' {
			itemsLine = lineOf(data, at)
			at = end + 1
			break
		}
		at += 6
	}
	// The first element's dash, after blank and comment lines.
	dash := -1
	for i := at; i < len(data); {
		j := i
		for j < len(data) && data[j] == ' ' {
			j++
		}
		if j < len(data) && data[j] == '-' && j+1 < len(data) && data[j+1] == ' ' {
			dash, at = j-i, i
			break
		}
		if j < len(data) && data[j] != '#' && data[j] != '\n' && data[j] != '\r' {
			return nil, 0
		}
		k := bytes.IndexByte(data[j:], '\n')
		if k < 0 {
			return nil, 0
		}
		i = j + k + 1
	}
	if dash < 0 || bytes.Contains(data[at:], []byte("\n---")) || bytes.Contains(data[at:], []byte("\n...")) {
		return nil, 0
	}
	prefix := append(append([]byte{'\n'}, bytes.Repeat([]byte{' '}, dash)...), '-', ' ')
	prev := at
	for k := 1; k < n; k++ {
		target := max(at+(len(data)-at)*k/n, prev+1)
		if target >= len(data) {
			break
		}
		i := bytes.Index(data[target:], prefix)
		if i < 0 {
			break
		}
		prev = target + i + 1
		cuts = append(cuts, prev)
	}
	return cuts, itemsLine
}

// oddBreaks reports whether data has a line break that yaml.v3 counts but
// a count of LFs would not: a lone CR, NEL, LS or PS.
func oddBreaks(data []byte) bool {
	for i := bytes.IndexByte(data, '\r'); i >= 0; {
		if i+1 >= len(data) || data[i+1] != '\n' {
			return true
		}
		j := bytes.IndexByte(data[i+1:], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return bytes.Contains(data, []byte("\u0085")) || bytes.Contains(data, []byte("\u2028")) || bytes.Contains(data, []byte("\u2029"))
}

// lineOf returns the 1-based line of offset i in data.
func lineOf(data []byte, i int) int { return 1 + bytes.Count(data[:i], []byte{'\n'}) }

// shiftLines adds offset to the line of n and of all nodes below it.
func shiftLines(n *yaml.Node, offset int) {
	n.Line += offset
	for _, c := range n.Content {
		shiftLines(c, offset)
	}
}

// splitParts is how many parts parse splits a large file into.
func splitParts() int { return min(runtime.GOMAXPROCS(0), maxParts) }

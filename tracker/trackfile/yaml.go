package trackfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file turns YAML text into a small node tree that the validator
// walks. Two parsers produce the same tree:
//
//   - parseFast handles the block-style subset that tracking files are
//     written in (block mappings and sequences, one-line flow collections,
//     plain and one-line quoted scalars, literal block scalars, comments).
//     It is several times faster than yaml.v3 and allocates little. An
//     element of a top-level list (one person, unit, policy or item) that
//     leaves the subset is handed to yaml.v3 alone; anything else outside
//     the subset — including every syntax error — makes it give up, and
//   - parseSlow runs yaml.v3 on the whole file, which handles all of YAML
//     and reports syntax errors.
//
// FuzzFastParse (fast_test.go) checks that whenever parseFast accepts a
// text, yaml.v3 accepts it too and yields the same tree.

type nodeKind uint8

const (
	scalarNode nodeKind = iota + 1
	mapNode
	seqNode
	aliasNode
)

// node is a parsed YAML node. Mappings hold keys and values alternately
// in content.
type node struct {
	kind    nodeKind
	null    bool // scalar: a plain null (empty, ~, null)
	tooLong bool // scalar: reported as longer than its field allows
	line    int32
	value   string // scalar: its text; alias: the anchor name
	content []*node
}

// syntaxError is a YAML syntax error at a line (0 if unknown).
type syntaxError struct {
	line   int
	msg    string
	refine bool // line is yaml.v3's guess; refineLine may improve it
}

// parse parses one tracking file. A nil node and nil error mean an empty file.
func parse(data []byte) (*node, *syntaxError) {
	n, ok, bailLine := parseFast(string(data))
	if ok {
		return n, nil
	}
	n, serr := parseSlow(data)
	if serr != nil && serr.refine {
		serr.line = refineLine(data, max(serr.line, bailLine))
	}
	return n, serr
}

// ---- slow path: yaml.v3 ----

func parseSlow(data []byte) (root *node, serr *syntaxError) {
	defer func() {
		if r := recover(); r != nil {
			root, serr = nil, &syntaxError{line: 1, msg: fmt.Sprintf("the YAML parser failed on this file: %v", r), refine: true}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(err, data)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(err, data)
	default:
		return nil, &syntaxError{line: extra.Line, msg: "a tracking file holds one YAML document; split the documents into separate files"}
	}
	var c converter
	return c.convert(&doc), nil
}

// converter turns yaml.v3 nodes into nodes, allocating them in slabs.
type converter struct {
	slab   []node
	offset int32 // added to line numbers
}

func (c *converter) convert(y *yaml.Node) *node {
	if y.Kind == yaml.DocumentNode {
		if len(y.Content) == 0 {
			return nil
		}
		y = y.Content[0]
	}
	if len(c.slab) == cap(c.slab) {
		c.slab = make([]node, 0, 256)
	}
	c.slab = c.slab[:len(c.slab)+1]
	n := &c.slab[len(c.slab)-1]
	n.line = int32(y.Line) + c.offset
	switch y.Kind {
	case yaml.ScalarNode:
		n.kind, n.value, n.null = scalarNode, y.Value, y.Tag == "!!null"
	case yaml.AliasNode:
		n.kind, n.value = aliasNode, y.Value
	case yaml.MappingNode, yaml.SequenceNode:
		n.kind = seqNode
		if y.Kind == yaml.MappingNode {
			n.kind = mapNode
		}
		n.content = make([]*node, len(y.Content))
		for i, ch := range y.Content {
			n.content[i] = c.convert(ch)
		}
	default: // a document inside a document cannot happen; be safe
		n.kind, n.null = scalarNode, true
	}
	return n
}

// yamlChunk parses a piece of a file with yaml.v3; ok is false if it is
// not exactly one valid document.
func yamlChunk(src string, c *converter) (root *node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(strings.NewReader(src))
	var doc, extra yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, false
	}
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, false
	}
	root = c.convert(&doc)
	return root, root != nil
}

// yamlError converts a yaml.v3 error into a syntaxError.
//
// yaml.v3 reports a line only sometimes, and then often the line where the
// enclosing construct began (parser errors even count from 0). The line
// set here is a lower bound of the offending line; refineLine narrows it.
func yamlError(err error, data []byte) *syntaxError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, m, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, m
			}
		}
	}
	switch {
	case isReaderError(msg):
		return &syntaxError{line: badCharLine(data), msg: msg}
	case strings.HasPrefix(msg, "unknown anchor "):
		return &syntaxError{line: 1, msg: msg + "; anchors and aliases are not supported", refine: true}
	case isParserError(msg):
		line++ // parser errors count lines from 0
	}
	if line < 1 {
		line = 1
	}
	if strings.Contains(msg, "tab character") || strings.Contains(msg, "cannot start any token") {
		msg += " (indent with spaces: YAML does not allow tabs for indentation)"
	}
	return &syntaxError{line: line, msg: msg, refine: true}
}

// isReaderError reports whether msg is one of yaml.v3's errors about
// undecodable input, which carry no line.
func isReaderError(msg string) bool {
	for _, p := range []string{"invalid leading UTF-8 octet", "incomplete UTF-8 octet sequence",
		"invalid trailing UTF-8 octet", "invalid length of a UTF-8 sequence", "invalid Unicode character",
		"incomplete UTF-16", "unexpected low surrogate area", "expected low surrogate area",
		"control characters are not allowed", "input error"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// isParserError reports whether msg comes from yaml.v3's parser (rather
// than its scanner).
func isParserError(msg string) bool {
	switch msg {
	case "did not find expected <stream-start>", "did not find expected <document start>",
		"did not find expected node content", "did not find expected '-' indicator",
		"did not find expected key", "did not find expected ',' or ']'", "did not find expected ',' or '}'",
		"found duplicate %YAML directive", "found incompatible YAML document",
		"found duplicate %TAG directive", "found undefined tag handle":
		return true
	}
	return false
}

// refineLine returns the first line k >= start such that the text up to
// and including line k is not valid YAML: the line where the problem
// shows. It gives up (returning start) after a bounded number of parses.
func refineLine(data []byte, start int) int {
	start = max(start, 1)
	total := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		total++
	}
	if start >= total {
		return max(total, 1)
	}
	fails := func(k int) bool { return !yamlValid(prefixLines(data, k)) }
	if fails(start) {
		return start
	}
	lo, hi, step := start, total, 1 // prefix(lo) is valid, prefix(hi) is not
	for tries := 0; tries < 16 && hi-lo > 1; tries++ {
		k := (lo + hi) / 2
		if step > 0 { // search forward exponentially first: errors are usually near
			k = lo + step
			step *= 2
			if k >= hi {
				k, step = (lo+hi)/2, 0
			}
		}
		if fails(k) {
			hi, step = k, 0
		} else {
			lo = k
		}
	}
	if hi-lo == 1 {
		return hi
	}
	return start
}

// prefixLines returns the first k lines of data.
func prefixLines(data []byte, k int) []byte {
	i := 0
	for ; k > 0; k-- {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return data
		}
		i += j + 1
	}
	return data[:i]
}

// yamlValid reports whether yaml.v3 parses all documents of data.
func yamlValid(data []byte) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

// badCharLine returns the line of the first byte yaml.v3 refuses to read
// (invalid UTF-8 or a control character), or 0.
func badCharLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c == '\n' {
				line++
			} else if (c < 0x20 && c != '\t' && c != '\r') || c == 0x7f {
				return line
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if (r == utf8.RuneError && size <= 1) || !printable(r) {
			return line
		}
		i += size
	}
	return 0
}

// validLine reports whether s is valid UTF-8 without control characters
// (tabs and CR included) or characters yaml.v3 refuses or takes for line
// breaks.
func validLine(s string) bool {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return false
		case c < utf8.RuneSelf:
		case c == 0xC2: // U+0080..U+009F: C1 controls, NEL
			ascii = false
			if i+1 < len(s) && s[i+1] < 0xA0 {
				return false
			}
		case c == 0xE2: // U+2028, U+2029: line and paragraph separators
			ascii = false
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				return false
			}
		case c == 0xEF: // U+FEFF (BOM), U+FFFE, U+FFFF
			ascii = false
			if i+2 < len(s) && ((s[i+1] == 0xBB && s[i+2] == 0xBF) || (s[i+1] == 0xBF && s[i+2] >= 0xBE)) {
				return false
			}
		default:
			ascii = false
		}
	}
	return ascii || utf8.ValidString(s)
}

// printable reports whether yaml.v3 accepts the non-ASCII rune r in a
// document (and does not take it for a line break).
func printable(r rune) bool {
	switch {
	case r == 0x2028 || r == 0x2029 || r == 0xFEFF:
		return false
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// ---- fast path ----

// bailout is panicked by the fast parser when the input leaves its subset.
type bailout struct{}

type fastParser struct {
	src   string
	pos   int  // start of the current line
	end   int  // end of its content (before "\n" or "\r\n")
	next  int  // start of the following line
	line  int  // 1-based number of the current line
	ind   int  // indentation (leading spaces) of the current line
	blank bool // the current line is empty or a comment
	eof   bool
	// marker is '-' or '.' when the current line is a document start or
	// end marker. Such a line is no key, dash or blank, so a block
	// collection never takes it in; parseFast accepts "---" before the
	// document and "..." after it, with nothing else on the line.
	marker byte
	depth  int     // nesting of block collections
	slab   []node  // nodes are allocated from here
	ptrs   []*node // and collections' entries from here
	stack  []*node // entries of the collections being parsed
}

// parseFast parses src if it is within the supported subset; ok is false
// if it is not (the caller then uses yaml.v3), and bailLine is the line
// where it gave up: the lines before it are valid YAML. A nil node with ok
// means an empty document.
func parseFast(src string) (root *node, ok bool, bailLine int) {
	p := &fastParser{src: src}
	defer func() {
		if r := recover(); r != nil {
			if _, isBail := r.(bailout); !isBail {
				panic(r)
			}
			root, ok, bailLine = nil, false, p.line
		}
	}()
	if strings.HasPrefix(src, "\uFEFF") { // a byte order mark, as Windows editors write
		p.setLine(3)
	} else {
		p.setLine(0)
	}
	p.skipBlank()
	if p.eof {
		return nil, true, 0
	}
	if p.marker == '-' {
		p.skipMarker()
	}
	if p.eof || p.marker != 0 { // an empty document: leave the details to yaml.v3
		p.bail()
	}
	var n *node
	if c := p.pos + p.ind; p.keyEnd(c) >= 0 {
		n = p.mapping(p.ind, c, true)
	} else {
		n = p.block(false)
	}
	if p.marker == '.' {
		p.skipMarker()
	}
	if !p.eof {
		p.bail()
	}
	return n, true, 0
}

// skipMarker moves past a document marker line that has nothing else on it
// but a comment, and past the blank lines after it.
func (p *fastParser) skipMarker() {
	if j := p.skipSp(p.pos + 3); j < p.end && !(p.src[j] == '#' && j > p.pos+3) {
		p.bail()
	}
	p.advance()
	p.skipBlank()
}

func (p *fastParser) bail() { panic(bailout{}) }

func (p *fastParser) newNode(k nodeKind) *node {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]node, 0, 512)
	}
	p.slab = p.slab[:len(p.slab)+1]
	n := &p.slab[len(p.slab)-1]
	n.kind, n.line = k, int32(p.line)
	return n
}

func (p *fastParser) scalar(v string, line int) *node {
	n := p.newNode(scalarNode)
	n.value, n.line = v, int32(line)
	return n
}

// maxDepth bounds the nesting the fast parser handles (yaml.v3 refuses
// documents nested deeper than 10000).
const maxDepth = 100

func (p *fastParser) enter() {
	if p.depth++; p.depth > maxDepth {
		p.bail()
	}
}

// push adds n to the entries of the collection being parsed.
func (p *fastParser) push(n ...*node) { p.stack = append(p.stack, n...) }

// collect returns the entries pushed since start as an exactly sized
// slice carved from a shared slab, and pops them.
func (p *fastParser) collect(start int) []*node {
	n := len(p.stack) - start
	if n == 0 {
		return nil
	}
	if len(p.ptrs)+n > cap(p.ptrs) {
		p.ptrs = make([]*node, 0, max(4096, n))
	}
	i := len(p.ptrs)
	p.ptrs = p.ptrs[:i+n]
	out := p.ptrs[i : i+n : i+n]
	copy(out, p.stack[start:])
	p.stack = p.stack[:start]
	return out
}

// setLine makes the line starting at start current, checking its characters.
func (p *fastParser) setLine(start int) {
	if start >= len(p.src) {
		p.eof = true
		p.pos, p.end, p.next, p.ind, p.blank = len(p.src), len(p.src), len(p.src), 0, true
		return
	}
	p.line++
	p.pos = start
	p.marker = 0
	end, next := len(p.src), len(p.src)
	if nl := strings.IndexByte(p.src[start:], '\n'); nl >= 0 {
		end, next = start+nl, start+nl+1
		if end > start && p.src[end-1] == '\r' {
			end--
		}
	}
	s := p.src[start:end]
	ind := 0
	for ind < len(s) && s[ind] == ' ' {
		ind++
	}
	if !validLine(s[ind:]) {
		p.bail()
	}
	if ind == 0 && len(s) > 0 {
		switch s[0] {
		case '%': // directive
			p.bail()
		case '-', '.': // document markers: see parseFast
			if len(s) >= 3 && (s[:3] == "---" || s[:3] == "...") && (len(s) == 3 || s[3] == ' ') {
				p.marker = s[0]
			}
		}
	}
	p.end, p.next, p.ind = end, next, ind
	p.blank = ind == len(s) || s[ind] == '#'
}

func (p *fastParser) advance() { p.setLine(p.next) }

func (p *fastParser) skipBlank() {
	for !p.eof && p.blank {
		p.advance()
	}
}

func (p *fastParser) skipSp(i int) int {
	for i < p.end && p.src[i] == ' ' {
		i++
	}
	return i
}

func (p *fastParser) isDash(i int) bool {
	return i < p.end && p.src[i] == '-' && (i+1 == p.end || p.src[i+1] == ' ')
}

// maxKeyLen bounds simple keys (YAML allows at most 1024 characters).
const maxKeyLen = 128

func isKeyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

func isKeyStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// keyEnd returns the index of the ':' ending a simple block key that
// starts at i, or -1.
func (p *fastParser) keyEnd(i int) int {
	if i >= p.end || !isKeyStart(p.src[i]) {
		return -1
	}
	j := i + 1
	for j < p.end && isKeyChar(p.src[j]) {
		j++
	}
	if j >= p.end || p.src[j] != ':' || (j+1 < p.end && p.src[j+1] != ' ') || j-i > maxKeyLen {
		return -1
	}
	return j
}

// block parses the block node starting on the current (content) line.
// section is set for the values of the top-level mapping.
func (p *fastParser) block(section bool) *node {
	c := p.pos + p.ind
	if p.isDash(c) {
		return p.seq(p.ind, section)
	}
	if p.keyEnd(c) >= 0 {
		return p.mapping(p.ind, c, false)
	}
	p.bail()
	return nil
}

// seq parses a block sequence whose dashes are in column col. In a
// section (people:, items: …) an element the fast parser cannot handle is
// parsed alone by yaml.v3 (see fallback), so that one odd item does not
// slow down a whole file.
func (p *fastParser) seq(col int, section bool) *node {
	n := p.newNode(seqNode)
	start := len(p.stack)
	p.enter()
	defer func() { n.content = p.collect(start); p.depth-- }()
	for {
		var el *node
		if section {
			el = p.elementOrFallback(col)
		} else {
			el = p.element(col)
		}
		p.push(el)
		switch {
		case p.eof || p.ind < col:
			return n
		case p.ind == col && p.isDash(p.pos+col):
			continue
		case p.ind == col:
			return n
		}
		p.bail()
	}
}

// element parses the sequence element whose dash is in column col of the
// current line.
func (p *fastParser) element(col int) *node {
	q := p.skipSp(p.pos + col + 1)
	switch {
	case q == p.end || p.src[q] == '#':
		line := p.line
		p.advance()
		p.skipBlank()
		if !p.eof && p.ind > col {
			return p.block(false)
		}
		el := p.scalar("", line)
		el.null = true
		return el
	case p.isDash(q):
		p.bail()
	case p.keyEnd(q) >= 0:
		return p.mapping(q-p.pos, q, false)
	}
	return p.inline(q, col)
}

// elementOrFallback parses a sequence element like element; if the fast
// parser gives up on it, the element's lines — up to the next line
// indented no more than col — are parsed by yaml.v3 alone. If that fails
// too, the whole file goes to yaml.v3 (it bails).
func (p *fastParser) elementOrFallback(col int) (el *node) {
	pos, line, stack, depth := p.pos, p.line, len(p.stack), p.depth
	bailed := false
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(bailout); !ok {
					panic(r)
				}
				bailed = true
			}
		}()
		el = p.element(col)
	}()
	if !bailed {
		return el
	}
	bailLine := p.line
	p.stack, p.depth = p.stack[:stack], depth
	// Find the end of the element: the first line after its first that
	// is not blank or a comment and is indented no more than col. (The
	// comments before it belong to the chunk so that yaml.v3 sees the
	// same next token position: it gives implicit nulls that line.)
	end, lines := len(p.src), 1
	for i := strings.IndexByte(p.src[pos:], '\n'); i >= 0; {
		start := pos + i + 1
		j := start
		for j < len(p.src) && p.src[j] == ' ' {
			j++
		}
		blank := j == len(p.src) || p.src[j] == '\n' || p.src[j] == '#' ||
			(p.src[j] == '\r' && j+1 < len(p.src) && p.src[j+1] == '\n')
		if !blank && j-start <= col {
			end = start
			break
		}
		lines++
		k := strings.IndexByte(p.src[start:], '\n')
		if k < 0 {
			break
		}
		i = start + k - pos
	}
	chunk := p.src[pos:end]
	if oddBreaks(chunk) { // yaml.v3 would count lines differently
		p.line = bailLine
		p.bail()
	}
	var c converter
	c.offset = int32(line - 1)
	c.slab = p.slab
	root, ok := yamlChunk(chunk, &c)
	p.slab = c.slab
	if !ok || root.kind != seqNode || len(root.content) != 1 {
		p.line = bailLine
		p.bail()
	}
	p.line = line + lines - 1
	p.setLine(end)
	p.skipBlank()
	return root.content[0]
}

// oddBreaks reports whether s has a line break other than "\n" and
// "\r\n": a lone CR, NEL, LS or PS, all of which yaml.v3 counts as one.
func oddBreaks(s string) bool {
	for i := strings.IndexByte(s, '\r'); i >= 0; {
		if i+1 == len(s) || s[i+1] != '\n' {
			return true
		}
		j := strings.IndexByte(s[i+1:], '\r')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return strings.Contains(s, "\u0085") || strings.Contains(s, "\u2028") || strings.Contains(s, "\u2029")
}

// mapping parses a block mapping whose keys are in column col; the first
// key starts at i on the current line. root is set for the top-level
// mapping.
func (p *fastParser) mapping(col, i int, root bool) *node {
	n := p.newNode(mapNode)
	start := len(p.stack)
	p.enter()
	defer func() { n.content = p.collect(start); p.depth-- }()
	for {
		k := p.keyEnd(i)
		key := p.scalar(p.src[i:k], p.line)
		key.null = isNullText(key.value)
		q := p.skipSp(k + 1)
		var val *node
		switch {
		case q == p.end || p.src[q] == '#':
			line := p.line
			p.advance()
			p.skipBlank()
			switch {
			case !p.eof && p.ind > col:
				val = p.block(root)
			case !p.eof && p.ind == col && p.isDash(p.pos+col):
				val = p.seq(col, root)
			default:
				val = p.scalar("", line)
				val.null = true
			}
		case p.src[q] == '|':
			val = p.literal(col, q)
		default:
			val = p.inline(q, col)
		}
		p.push(key, val)
		if p.eof || p.ind < col {
			return n
		}
		if p.ind == col {
			i = p.pos + col
			if p.keyEnd(i) >= 0 {
				continue
			}
		}
		p.bail()
	}
}

// inline parses a value that starts at q on the current line (after
// "key: " or "- ") and the rest of that line, then moves to the next
// content line, which must not be indented more than col.
func (p *fastParser) inline(q, col int) *node {
	var n *node
	var e int
	switch c := p.src[q]; c {
	case '"', '\'':
		n, e = p.quoted(q)
	case '[', '{':
		n, e = p.flow(q, 0)
	case '>', '|', '&', '*', '!', '%', '@', '`', '?', ':', ',', ']', '}', '#':
		p.bail()
	default:
		n, e = p.plainBlock(q)
	}
	j := p.skipSp(e)
	if j < p.end && !(p.src[j] == '#' && j > e) {
		p.bail()
	}
	p.advance()
	p.skipBlank()
	if !p.eof && p.ind > col {
		p.bail()
	}
	return n
}

func isNullText(s string) bool {
	switch s {
	case "", "~", "null", "Null", "NULL":
		return true
	}
	return false
}

// plainBlock scans a plain scalar in block context to the end of the line
// or a comment.
func (p *fastParser) plainBlock(q int) (*node, int) {
	if p.src[q] == '-' && (q+1 == p.end || p.src[q+1] == ' ') {
		p.bail()
	}
	i := q
	for ; i < p.end; i++ {
		c := p.src[i]
		if c == ':' && (i+1 == p.end || p.src[i+1] == ' ') {
			p.bail()
		}
		if c == '#' && p.src[i-1] == ' ' {
			break
		}
	}
	v := strings.TrimRight(p.src[q:i], " ")
	n := p.scalar(v, p.line)
	n.null = isNullText(v)
	return n, i
}

// quoted scans a quoted scalar that ends on the same line, decoding the
// escapes yaml.v3 knows.
func (p *fastParser) quoted(q int) (*node, int) {
	quote := p.src[q]
	var buf []byte // the decoded text, once an escape was seen
	from := q + 1  // start of the text not yet copied to buf
	for i := q + 1; i < p.end; i++ {
		c := p.src[i]
		switch {
		case c == quote && quote == '\'' && i+1 < p.end && p.src[i+1] == '\'':
			buf = append(buf, p.src[from:i+1]...)
			i++
			from = i + 1
		case c == quote:
			v := p.src[q+1 : i]
			if buf != nil {
				v = string(append(buf, p.src[from:i]...))
			}
			return p.scalar(v, p.line), i + 1
		case c == '\\' && quote == '"':
			if i+1 >= p.end {
				p.bail() // a line continuation
			}
			buf = append(buf, p.src[from:i]...)
			n := 0
			switch e := p.src[i+1]; e {
			case '0':
				buf = append(buf, 0)
			case 'a':
				buf = append(buf, 7)
			case 'b':
				buf = append(buf, 8)
			case 't':
				buf = append(buf, 9)
			case 'n':
				buf = append(buf, 10)
			case 'v':
				buf = append(buf, 11)
			case 'f':
				buf = append(buf, 12)
			case 'r':
				buf = append(buf, 13)
			case 'e':
				buf = append(buf, 0x1B)
			case ' ', '"', '\'', '\\':
				buf = append(buf, e)
			case 'N':
				buf = utf8.AppendRune(buf, 0x85)
			case '_':
				buf = utf8.AppendRune(buf, 0xA0)
			case 'L':
				buf = utf8.AppendRune(buf, 0x2028)
			case 'P':
				buf = utf8.AppendRune(buf, 0x2029)
			case 'x':
				n = 2
			case 'u':
				n = 4
			case 'U':
				n = 8
			default:
				p.bail()
			}
			i++
			if n > 0 {
				if i+n >= p.end {
					p.bail()
				}
				v, err := strconv.ParseUint(p.src[i+1:i+1+n], 16, 32)
				if err != nil || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF || p.src[i+1] == '+' {
					p.bail()
				}
				buf = utf8.AppendRune(buf, rune(v))
				i += n
			}
			from = i + 1
		}
	}
	p.bail()
	return nil, 0
}

// flow parses a flow sequence or mapping that ends on the same line.
func (p *fastParser) flow(q, depth int) (*node, int) {
	if depth > 4 {
		p.bail()
	}
	start := len(p.stack)
	if p.src[q] == '[' {
		n := p.newNode(seqNode)
		i := p.skipSp(q + 1)
		if i < p.end && p.src[i] == ']' {
			return n, i + 1
		}
		for {
			el, e := p.flowValue(i, depth)
			p.push(el)
			if i = p.flowSep(e, ']'); i < 0 {
				n.content = p.collect(start)
				return n, -i
			}
		}
	}
	n := p.newNode(mapNode)
	i := p.skipSp(q + 1)
	if i < p.end && p.src[i] == '}' {
		return n, i + 1
	}
	for {
		if i >= p.end || !isKeyStart(p.src[i]) {
			p.bail()
		}
		k := i + 1
		for k < p.end && isKeyChar(p.src[k]) {
			k++
		}
		if k+1 >= p.end || p.src[k] != ':' || p.src[k+1] != ' ' || k-i > maxKeyLen {
			p.bail()
		}
		key := p.scalar(p.src[i:k], p.line)
		key.null = isNullText(key.value)
		i = p.skipSp(k + 1)
		if i >= p.end || p.src[i] == ',' || p.src[i] == '}' {
			p.bail()
		}
		val, e := p.flowValue(i, depth)
		p.push(key, val)
		if i = p.flowSep(e, '}'); i < 0 {
			n.content = p.collect(start)
			return n, -i
		}
	}
}

// flowSep reads what follows a flow entry that ended at e: a ',' and the
// start of the next entry (returned), or the closing bracket (-(index
// after it) is returned).
func (p *fastParser) flowSep(e int, closing byte) int {
	i := p.skipSp(e)
	if i >= p.end {
		p.bail()
	}
	switch p.src[i] {
	case closing:
		return -(i + 1)
	case ',':
		i = p.skipSp(i + 1)
		if i >= p.end || p.src[i] == closing || p.src[i] == ',' {
			p.bail()
		}
		return i
	}
	p.bail()
	return 0
}

func (p *fastParser) flowValue(i, depth int) (*node, int) {
	if i >= p.end {
		p.bail()
	}
	switch c := p.src[i]; c {
	case '"', '\'':
		return p.quoted(i)
	case '[', '{':
		return p.flow(i, depth+1)
	case '>', '|', '&', '*', '!', '%', '@', '`', '?', ':', ',', ']', '}', '#':
		p.bail()
	case '-':
		if i+1 == p.end || p.src[i+1] == ' ' || p.src[i+1] == ',' || p.src[i+1] == ']' || p.src[i+1] == '}' || p.src[i+1] == '[' || p.src[i+1] == '{' {
			p.bail()
		}
	}
	// Indicators such as @ & * ! only mean something at the start of a
	// plain scalar (rejected above): an address like a@b.cn is plain text.
	// Flow brackets, ':', '#' and '?' (which yaml.v3 reads as a key inside
	// a flow scalar) are left to yaml.v3.
	j := i
	for ; j < p.end; j++ {
		c := p.src[j]
		if c == ',' || c == ']' || c == '}' {
			break
		}
		switch c {
		case '[', '{', ':', '#', '?':
			p.bail()
		}
	}
	v := strings.TrimRight(p.src[i:j], " ")
	n := p.scalar(v, p.line)
	n.null = isNullText(v)
	return n, j
}

// literal parses a literal block scalar ("|" or "|-") whose indicator is at
// q; col is the indentation of the mapping holding it.
func (p *fastParser) literal(col, q int) *node {
	n := p.newNode(scalarNode)
	i := q + 1
	strip := false
	if i < p.end && p.src[i] == '-' {
		strip, i = true, i+1
	}
	if j := p.skipSp(i); j < p.end && !(p.src[j] == '#' && j > i) {
		p.bail()
	}
	p.advance()
	var b strings.Builder
	ci, leading, pending := -1, 0, 0
	for !p.eof {
		if p.ind == p.end-p.pos { // only spaces
			if ci < 0 {
				leading = max(leading, p.ind)
			} else if p.ind > ci {
				p.bail()
			}
			pending++
			p.advance()
			continue
		}
		if ci < 0 {
			if p.ind <= col || p.ind < leading {
				p.bail()
			}
			ci = p.ind
		} else if p.ind < ci {
			break
		}
		for ; pending > 0; pending-- {
			b.WriteByte('\n')
		}
		b.WriteString(p.src[p.pos+ci : p.end])
		b.WriteByte('\n')
		p.advance()
	}
	if ci < 0 || (p.eof && !strings.HasSuffix(p.src, "\n")) {
		p.bail()
	}
	v := b.String()
	if strip {
		v = v[:len(v)-1]
	}
	n.value = v
	p.skipBlank()
	return n
}

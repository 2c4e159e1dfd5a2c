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

// This file parses a tracking file with yaml.v3 into its node tree, which
// keeps the line of every key and value; walk.go validates that tree. It
// also turns yaml.v3's syntax errors into errors that name the line where
// the problem shows.

// syntaxError is a YAML syntax error at a line (0 if unknown).
type syntaxError struct {
	line   int
	msg    string
	refine bool // line is yaml.v3's guess; refineLine may improve it
}

// parse parses one tracking file and returns the root node of its single
// document. A nil node and nil error mean an empty file.
func parse(data []byte) (*yaml.Node, *syntaxError) {
	if root, ok := parseSplit(data, splitParts()); ok {
		return root, nil
	}
	return parseWhole(data)
}

// parseWhole parses data with one yaml.v3 decoder; see parse.
func parseWhole(data []byte) (root *yaml.Node, serr *syntaxError) {
	defer func() {
		if r := recover(); r != nil {
			root, serr = nil, &syntaxError{line: 1, msg: fmt.Sprintf("the YAML parser failed on this file: %v", r), refine: true}
		}
		if serr != nil && serr.refine {
			serr.line = refineLine(data, serr.line)
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
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
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

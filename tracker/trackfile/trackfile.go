// Package trackfile reads tracking files (SPEC §7): the YAML files in which
// a supervision office writes its people, units, escalation policies and
// tracked items.
//
// Load parses and validates all files of one import together and returns
// their merged content as a tracker.Bundle. It is strict: unknown keys,
// duplicate keys, malformed values and dangling references are errors, and
// every error names the file, the line, the field and what was expected.
// All problems in all files are reported at once, in file and line order.
package trackfile

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"duban/tracker"
)

// File is one tracking file to load.
type File struct {
	Name string // as the user gave it; used in messages and Source fields
	Data []byte
}

// Lookup tells whether an id already exists in the store, for references
// that the files of an import do not define. kind is "unit", "person" or
// "policy". A nil Lookup means nothing is stored.
type Lookup func(kind, id string) bool

// Error is one problem in a tracking file.
type Error struct {
	File  string // the file's Name
	Line  int    // 1-based; 0 if unknown
	Field string // path of the offending field, e.g. "items[2].due"; empty for syntax errors
	Msg   string // what is wrong and what was expected
}

// Error formats e as `tracked.yaml:14: items[2].due: "3 days" is not a deadline; …`.
func (e *Error) Error() string {
	var b strings.Builder
	b.Grow(len(e.File) + len(e.Field) + len(e.Msg) + 16)
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors lists every problem of an import, in file and line order. Load
// returns it (as a value) when any file has a problem; match it with
// errors.As(err, &errs) where errs is an Errors.
type Errors []*Error

// Error joins the errors' messages with newlines.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Load parses and validates all files of one import together — they share
// one namespace, so units.yaml may define the units and policies that
// items.yaml uses — and returns the merged bundle, in file order. loc is the
// zone `every:` schedules are read in (nil means UTC). known resolves
// references to what is already stored; it may be nil.
//
// On any problem Load returns nil and an Errors listing every problem found
// in every file, ordered by file (in the order given) and line. If a file
// has a YAML syntax error, references are not checked (the file may define
// what the others refer to).
func Load(files []File, loc *time.Location, known Lookup, opts ...Option) (*tracker.Bundle, error) {
	if loc == nil {
		loc = time.UTC
	}
	l := &loader{loc: loc, known: known}
	for _, o := range opts {
		o(l)
	}
	for k := range l.defs {
		l.defs[k] = make(map[string]defAt)
	}
	broken := false
	for i, f := range files {
		if len(f.Data) > tracker.MaxTrackingFileSize {
			l.add(i, tooBig(f.Name, int64(len(f.Data))))
			broken = true
			continue
		}
		root, serr := parse(f.Data)
		fc := &fileCtx{l: l, name: f.Name, fi: i}
		if serr != nil {
			l.add(i, &Error{File: f.Name, Line: serr.line, Msg: serr.msg})
			broken = true
			continue
		}
		fc.top(root)
	}
	if !broken {
		// A file that cannot be read may define what the others refer
		// to: do not bury its syntax error under dangling references.
		l.resolve(files)
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(a, b int) bool {
			x, y := l.errs[a], l.errs[b]
			if x.fi != y.fi {
				return x.fi < y.fi
			}
			return x.e.Line < y.e.Line
		})
		out := make(Errors, len(l.errs))
		for i, e := range l.errs {
			out[i] = e.e
		}
		return nil, out
	}
	b := l.b
	return &b, nil
}

// Option adjusts what Load checks.
type Option func(*loader)

// WithDeadlines makes Load compute each one-off item's deadlines on env's
// calendar and refuse what cannot be meant: a co-unit's last day before
// the item's start (co_due: -2wd on a 1wd item) and a hard limit before
// the deadline. An item without start starts when it was first tracked:
// tracked tells when for stored items (it may be nil); a new one starts at
// now.
func WithDeadlines(env tracker.Env, now time.Time, tracked func(itemID string) (time.Time, bool)) Option {
	return func(l *loader) { l.env, l.now, l.tracked = &env, now, tracked }
}

// ReadFile reads the tracking file at path, named name in messages. A
// file larger than tracker.MaxTrackingFileSize is refused, as Errors,
// before it is read; other failures (no such file) are returned as is.
func ReadFile(path, name string) (File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer fh.Close()
	if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > tracker.MaxTrackingFileSize {
		return File{}, Errors{tooBig(name, fi.Size())}
	}
	data, err := io.ReadAll(io.LimitReader(fh, tracker.MaxTrackingFileSize+1))
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > tracker.MaxTrackingFileSize {
		return File{}, Errors{tooBig(name, 0)}
	}
	return File{Name: name, Data: data}, nil
}

// tooBig is the error for a file over tracker.MaxTrackingFileSize; size
// is its size, or 0 when only known to be larger.
func tooBig(name string, size int64) *Error {
	got := fmt.Sprintf("超过 %d MiB", tracker.MaxTrackingFileSize>>20)
	if size > 0 {
		got = fmt.Sprintf("%.1f MiB", float64(size)/(1<<20))
	}
	return &Error{File: name, Msg: fmt.Sprintf("文件过大（%s）：一个跟踪文件最大 %d MiB，请把事项分到几个文件中", got, tracker.MaxTrackingFileSize>>20)}
}

// errAt is an error with the index of its file, for sorting.
type errAt struct {
	fi int
	e  *Error
}

// defKind indexes the id namespaces.
type defKind int

const (
	kindPerson defKind = iota
	kindUnit
	kindPolicy
	kindItem
	numKinds
)

var kindNames = [numKinds]string{"person", "unit", "policy", "item"}

// defAt is where an id was defined.
type defAt struct {
	fi   int
	line int
	file string
}

// ref is a reference that did not resolve when it was read; it is checked
// again once all files are read.
type ref struct {
	kind  defKind
	id    string
	fi    int
	line  int
	field string
}

type loader struct {
	loc     *time.Location
	known   Lookup
	env     *tracker.Env // WithDeadlines; nil: rules are only parsed
	now     time.Time
	tracked func(itemID string) (time.Time, bool)
	b       tracker.Bundle
	errs    []errAt

	defs      [numKinds]map[string]defAt
	refs      []ref
	officeAt  defAt
	hasOffice bool
	scoringAt string // file:line of the scoring standard, once read

	every map[string]string // every: spec → error message ("" if valid)

	robots map[string]bool // WithRobots: the configured robot names, lower-cased
}

func (l *loader) add(fi int, e *Error) { l.errs = append(l.errs, errAt{fi, e}) }

// grow makes room for n more definitions of a section.
func (l *loader) grow(section string, n int) {
	switch section {
	case "people":
		l.b.People = slices.Grow(l.b.People, n)
		l.growDefs(kindPerson, n)
	case "units":
		l.b.Units = slices.Grow(l.b.Units, n)
		l.growDefs(kindUnit, n)
	case "policies":
		l.b.Policies = slices.Grow(l.b.Policies, n)
		l.growDefs(kindPolicy, n)
	case "items":
		l.b.Items = slices.Grow(l.b.Items, n)
		l.growDefs(kindItem, n)
	}
}

func (l *loader) growDefs(k defKind, n int) {
	if n > 64 && len(l.defs[k]) < n {
		m := make(map[string]defAt, len(l.defs[k])+n)
		maps.Copy(m, l.defs[k])
		l.defs[k] = m
	}
}

// resolve checks the references that were not defined when read.
func (l *loader) resolve(files []File) {
	cache := make(map[string]bool)
	for _, r := range l.refs {
		if _, ok := l.defs[r.kind][r.id]; ok {
			continue
		}
		key := kindNames[r.kind] + "\x00" + r.id
		ok, seen := cache[key]
		if !seen {
			ok = l.known != nil && l.known(kindNames[r.kind], r.id)
			cache[key] = ok
		}
		if !ok {
			l.add(r.fi, &Error{File: files[r.fi].Name, Line: r.line, Field: r.field,
				Msg: tracker.WithFullWidthHint("unknown "+kindNames[r.kind]+" "+tracker.QuoteValue(r.id)+
					": not defined in the files of this import and not stored", r.id)})
		}
	}
}

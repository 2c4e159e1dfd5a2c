package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"duban/tracker/kvstore"
)

// Load reads the YAML file at path over Default(), applies the DUBAN_* environment
// overrides, rejects unknown keys, resolves relative paths and validates.
//
// Every key can be set from the environment, whether or not the file has it: key
// mail.smtp.password is read from DUBAN_MAIL_SMTP_PASSWORD (see EnvName). A list is
// given as comma-separated values (DUBAN_TRACKING=a.yaml,b.yaml). Empty variables
// are ignored. The environment wins over the file.
//
// If path is "", Load uses only the defaults and the environment, and resolves
// relative paths against the working directory. A missing file is an error that
// wraps fs.ErrNotExist; Load does not fall back to the defaults.
//
// Errors name their source and the key: "duban.yaml: line 4: mapping values are not
// allowed in this context", "duban.yaml: line 12: unknown key mail.smtp.pasword",
// "DUBAN_MAIL_SMTP_PORT: mail.smtp.port: must be an integer (got "x")". Every
// key-related error wraps a *ValidationError; several are joined with errors.Join.
//
// Load does not watch the file. To reload (SIGHUP), call Load again and swap in the
// new *Config only if it succeeded.
func Load(path string) (*Config, error) {
	l := &loader{path: path}
	l.v = viper.NewWithOptions(viper.ExperimentalBindStruct())
	l.v.SetConfigType("yaml")
	l.v.SetEnvPrefix(EnvPrefix)
	l.v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	l.v.AutomaticEnv()

	cfg := Default()
	var base string
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := l.v.ReadConfig(bytes.NewReader(data)); err != nil {
			return nil, l.syntaxError(err)
		}
		var doc yaml.Node
		if yaml.Unmarshal(data, &doc) == nil { // only for line numbers; viper parsed it already
			l.doc = &doc
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("config file %s: %w", path, err)
		}
		cfg.File = abs
		base = filepath.Dir(abs)
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("resolve relative paths: %w", err)
		}
		base = wd
	}

	if err := l.checkSections(); err != nil {
		return nil, err
	}
	if err := l.v.UnmarshalExact(&cfg); err != nil {
		return nil, l.decodeError(err)
	}
	cfg.trimLists()
	cfg.robotsFromEnv()
	cfg.resolvePaths(base)
	if err := cfg.Validate(); err != nil {
		return nil, l.attribute(err)
	}
	return &cfg, nil
}

// EnvName returns the environment variable that overrides key: "mail.smtp.password"
// gives "DUBAN_MAIL_SMTP_PASSWORD". An index ("report.leaders[1]") is ignored.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(stripIndexes(key), ".", "_"))
}

// Keys returns every configuration key, dotted, in declaration order.
func Keys() []string { return append([]string(nil), schema().keys...) }

// sourceError places an error in the file (and line) or the environment variable
// it comes from.
type sourceError struct {
	source string // file name as given to Load, or an environment variable
	line   int    // 0 when unknown
	err    error
}

func (e *sourceError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s: line %d: %v", e.source, e.line, e.err)
	}
	return e.source + ": " + e.err.Error()
}

func (e *sourceError) Unwrap() error { return e.err }

type loader struct {
	path string // as given to Load, for messages
	v    *viper.Viper
	doc  *yaml.Node // the file's YAML tree, nil when unknown
}

// attribute places each error of Validate in the environment variable or the file
// line it comes from.
func (l *loader) attribute(err error) error {
	var out []error
	for _, e := range flatten(err) {
		var ve *ValidationError
		if errors.As(e, &ve) {
			e = l.place(ve.Key, e)
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// place wraps err with the source of key's value: its environment variable when set,
// else the file (with the key's line when the file has it).
func (l *loader) place(key string, err error) error {
	if env := EnvName(key); os.Getenv(env) != "" {
		return &sourceError{source: env, err: err}
	}
	if l.path == "" {
		return err
	}
	line := lineOf(l.doc, key)
	if i := strings.LastIndexByte(key, '.'); line == 0 && i > 0 && strings.HasPrefix(key, "robots.") {
		line = lineOf(l.doc, key[:i]) // a missing robot field: the robot's line
	}
	return &sourceError{source: l.path, line: line, err: err}
}

var yamlLineRE = regexp.MustCompile(`^line ([0-9]+): (.*)$`)

// syntaxError turns viper's "While parsing config: yaml: line 4: …" into
// "duban.yaml: line 4: …", one error per problem.
func (l *loader) syntaxError(err error) error {
	var pe viper.ConfigParseError
	if errors.As(err, &pe) {
		if inner := pe.Unwrap(); inner != nil {
			err = inner
		}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:")
	var out []error
	for _, s := range strings.Split(msg, "\n") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		e := &sourceError{source: l.path}
		if m := yamlLineRE.FindStringSubmatch(s); m != nil {
			e.line, _ = strconv.Atoi(m[1])
			s = m[2]
		}
		if strings.Contains(s, "into map[string]interface {}") {
			s = "the document must be a mapping of keys, such as db: duban.db (" + s + ")"
		}
		e.err = errors.New(s)
		out = append(out, e)
	}
	if len(out) == 0 {
		return &sourceError{source: l.path, err: err}
	}
	return errors.Join(out...)
}

// checkSections rejects a scalar or list where the file needs a section (mail: smtp).
// UnmarshalExact would report it too, except when an environment variable sets a key
// inside the section: then viper silently replaces the value with a mapping.
func (l *loader) checkSections() error {
	var out []error
	for _, key := range schema().sections {
		switch val := l.v.Get(key).(type) {
		case nil, map[string]any:
		default:
			err := fmt.Errorf("must be %s (got %s)", describe(key), gotValue(val))
			out = append(out, l.place(key, &ValidationError{Key: key, Err: err}))
		}
	}
	return errors.Join(out...)
}

// decodeError turns mapstructure's errors from UnmarshalExact into
// *ValidationError values placed in the file or environment.
func (l *loader) decodeError(err error) error {
	var out []error
	for _, de := range decodeLeaves(err) {
		name, inner := mapKeyName(de.Name()), de.Unwrap()
		if keys, ok := strings.CutPrefix(inner.Error(), "has invalid keys: "); ok {
			for _, k := range strings.Split(keys, ", ") {
				key := k
				if name != "" {
					key = name + "." + k
				}
				out = append(out, l.place(key, &ValidationError{Key: key, Err: ErrUnknownKey}))
			}
			continue
		}
		out = append(out, l.place(name, &ValidationError{Key: name, Err: l.typeError(name, inner)}))
	}
	if len(out) == 0 {
		if l.path != "" {
			return &sourceError{source: l.path, err: err}
		}
		return err
	}
	return errors.Join(out...)
}

// typeError says what type key wants and what it got. It never shows the password.
func (l *loader) typeError(key string, err error) error {
	var raw any
	var ute *mapstructure.UnconvertibleTypeError
	var pe *mapstructure.ParseError
	switch {
	case errors.As(err, &ute):
		raw = ute.Value
	case errors.As(err, &pe):
		raw = pe.Value
	case !strings.Contains(key, "["):
		raw = l.v.Get(key)
	}
	want := describe(key)
	if raw == nil {
		return fmt.Errorf("must be %s", want)
	}
	if key == "mail.smtp.password" {
		switch reflect.ValueOf(raw).Kind() {
		case reflect.Map, reflect.Slice:
		default:
			return fmt.Errorf("must be %s", want)
		}
	}
	return fmt.Errorf("must be %s (got %s)", want, gotValue(raw))
}

// gotValue shows a value from the file or the environment in an error message.
func gotValue(v any) string {
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		s := fmt.Sprint(v)
		if r := []rune(s); len(r) > 80 {
			s = string(r[:77]) + "..."
		}
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// decodeLeaves returns the innermost *mapstructure.DecodeError values in err's tree.
func decodeLeaves(err error) []*mapstructure.DecodeError {
	var out []*mapstructure.DecodeError
	var walk func(error) bool // reports whether it found a DecodeError under e
	walk = func(e error) bool {
		found := false
		if de, ok := e.(*mapstructure.DecodeError); ok {
			if !walk(de.Unwrap()) {
				out = append(out, de)
			}
			return true
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				found = walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if walk(inner) {
					found = true
				}
			}
		}
		return found
	}
	if err != nil {
		walk(err)
	}
	return out
}

// flatten returns the errors joined in err, or err alone.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// mapKeyName writes mapstructure's "robots[ducha].kind" as the dotted
// key "robots.ducha.kind"; list indexes ("report.leaders[1]") stay.
func mapKeyName(name string) string {
	for {
		i := strings.IndexByte(name, '[')
		if i < 0 {
			return name
		}
		j := strings.IndexByte(name[i:], ']')
		if j < 0 {
			return name
		}
		inner := name[i+1 : i+j]
		if _, err := strconv.Atoi(inner); err == nil {
			rest := mapKeyName(name[i+j+1:])
			return name[:i+j+1] + rest
		}
		name = name[:i] + "." + inner + name[i+j+1:]
	}
}

// robotsFromEnv reads each robot's secret and URL from
// DUBAN_ROBOTS_<NAME>_SECRET and _URL (RobotEnvName) when set: viper binds
// no environment variable to the keys of a map (DEPENDENCIES §5).
func (c *Config) robotsFromEnv() {
	if len(c.Robots) == 0 {
		c.Robots = nil // robots: {} is none
	}
	for name, r := range c.Robots {
		if v := os.Getenv(RobotEnvName(name, "SECRET")); v != "" {
			r.Secret = Secret(v)
		}
		if v := os.Getenv(RobotEnvName(name, "URL")); v != "" {
			r.URL = Secret(v)
		}
		r.Kind, r.URL = strings.TrimSpace(r.Kind), Secret(strings.TrimSpace(string(r.URL)))
		c.Robots[name] = r
	}
}

func (c *Config) trimLists() {
	for _, l := range [][]string{c.Tracking, c.Calendar.Files, c.Report.Leaders, c.Report.WeeklyTo} {
		for i := range l {
			l[i] = strings.TrimSpace(l[i])
		}
	}
}

// resolvePaths makes every non-empty relative path absolute against base.
func (c *Config) resolvePaths(base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if !kvstore.IsURL(c.DB) {
		abs(&c.DB)
	}
	for i := range c.Tracking {
		abs(&c.Tracking[i])
	}
	for i := range c.Calendar.Files {
		abs(&c.Calendar.Files[i])
	}
	abs(&c.Mail.File.Dir)
	abs(&c.Mail.SMTP.CAFile)
	abs(&c.Templates)
	abs(&c.Admin.Socket)
	abs(&c.Web.TLS.Cert)
	abs(&c.Web.TLS.Key)
	abs(&c.Web.Attachments.Dir)
	abs(&c.Inbound.IMAP.CAFile)
}

// lineOf returns the line of key ("mail.smtp.port", "report.leaders[1]") in the YAML
// document, or 0 when the document does not have it. Keys match case-insensitively,
// as viper lower-cases them.
func lineOf(doc *yaml.Node, key string) int {
	if doc == nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || key == "" {
		return 0
	}
	n, line := doc.Content[0], 0
	for _, part := range strings.Split(key, ".") {
		name, rest, _ := strings.Cut(part, "[")
		n = deref(n)
		if n.Kind != yaml.MappingNode {
			return 0
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if strings.EqualFold(n.Content[i].Value, name) {
				line, next = n.Content[i].Line, n.Content[i+1]
			}
		}
		if next == nil {
			return 0
		}
		n = next
		for rest != "" { // "1]" or "1][2]"
			idx, after, _ := strings.Cut(rest, "]")
			rest = strings.TrimPrefix(after, "[")
			i, err := strconv.Atoi(idx)
			n = deref(n)
			if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
				return line // the list's own line: it is not a list, or too short
			}
			n = n.Content[i]
			line = n.Line
		}
	}
	return line
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func stripIndexes(key string) string {
	var b strings.Builder
	depth := 0
	for _, r := range key {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

type keySchema struct {
	keys     []string // leaf keys
	sections []string // keys of nested sections ("mail", "mail.smtp")
	types    map[string]reflect.Type
}

// schema lists Config's keys and their Go types, from the mapstructure tags.
var schema = sync.OnceValue(func() keySchema {
	s := keySchema{types: map[string]reflect.Type{}}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for f := range t.Fields() {
			tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			s.types[key] = f.Type
			if f.Type.Kind() == reflect.Struct {
				s.sections = append(s.sections, key)
				walk(f.Type, key+".")
				continue
			}
			s.keys = append(s.keys, key)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return s
})

var durationType = reflect.TypeFor[time.Duration]()

// describe says what a value of key must look like.
func describe(key string) string {
	t, ok := schema().types[stripIndexes(key)]
	if !ok {
		return "a valid value"
	}
	if strings.Contains(key, "[") && t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t == durationType {
		return "a duration such as 30s, 1m or 1h"
	}
	switch t.Kind() {
	case reflect.Int:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of strings (in the environment: comma-separated)"
	case reflect.Struct:
		return "a mapping of keys"
	case reflect.Map:
		return "a mapping of names to sections"
	}
	return "a " + t.String()
}

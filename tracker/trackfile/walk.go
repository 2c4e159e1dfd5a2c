package trackfile

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"duban/tracker"
	"duban/tracker/recur"
)

// schema lists the keys a mapping may have.
type schema struct {
	keys    []string
	byLen   [16][]int8 // indexes of the keys of each length
	allowed string     // "id, title, …" for messages
}

func newSchema(keys ...string) *schema {
	s := &schema{keys: keys, allowed: strings.Join(keys, ", ")}
	for i, k := range keys {
		s.byLen[len(k)] = append(s.byLen[len(k)], int8(i))
	}
	return s
}

// index returns the index of key k, or -1.
func (s *schema) index(k string) int {
	if len(k) >= len(s.byLen) {
		return -1
	}
	for _, i := range s.byLen[len(k)] {
		if s.keys[i] == k {
			return int(i)
		}
	}
	return -1
}

// maxFields is the most keys any schema has (items).
const maxFields = 16

// fieldSet holds a mapping's keys and values by schema index.
type fieldSet struct {
	k, v [maxFields]*yaml.Node
}

const (
	tOffice = iota
	tPeople
	tUnits
	tPolicies
	tItems
	tScoring
)

var topSchema = newSchema("office", "people", "units", "policies", "items", "scoring")

const (
	oName = iota
	oEmail
	oRobot
)

var officeSchema = newSchema("name", "email", "robot")

const (
	pID = iota
	pName
	pEmail
	pMobile
	pIMID
)

var personSchema = newSchema("id", "name", "email", "mobile", "im_id")

const (
	uID = iota
	uName
	uHead
	uContact
	uLeader
	uRobot
)

var unitSchema = newSchema("id", "name", "head", "contact", "leader", "robot")

const (
	poID = iota
	poSteps
	poMaxExtension
)

var policySchema = newSchema("id", "steps", "max_extension")

const (
	sAt = iota
	sEvery
	sTo
	sLevel
	sSheet
	sWithin
)

var stepSchema = newSchema("at", "every", "to", "level", "sheet", "within")

const (
	iID = iota
	iTitle
	iDoc
	iRequirements
	iUnit
	iUnits
	iCoUnits
	iCoDue
	iStart
	iDue
	iLimit
	iEvery
	iRoll
	iFrom
	iUntil
	iPolicy
)

var itemSchema = newSchema("id", "title", "doc", "requirements", "unit", "units", "co_units", "co_due",
	"start", "due", "limit", "every", "roll", "from", "until", "policy")

// fileCtx reads one file.
type fileCtx struct {
	l    *loader
	name string
	fi   int
	// tooLong holds the scalars reported as longer than their field
	// allows, so that no later check quotes or parses them.
	tooLong map[*yaml.Node]bool
}

func (f *fileCtx) errf(line int, field, msg string) {
	f.l.add(f.fi, &Error{File: f.name, Line: line, Field: field, Msg: msg})
}

func (f *fileCtx) source(line int) string { return f.name + ":" + strconv.Itoa(line) }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func elem(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias (*" + n.Value + "); anchors and aliases are not supported, write the value out"
	}
	if isNull(n) {
		return "nothing"
	}
	return q(n.Value)
}

// fields reads the mapping n into fs, reporting keys that are not plain
// words, unknown or repeated.
func (f *fileCtx) fields(n *yaml.Node, path string, s *schema, fs *fieldSet) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			f.errf(k.Line, path, "keys must be plain words, got "+describe(k))
			continue
		}
		idx := s.index(k.Value)
		if idx < 0 {
			f.errf(k.Line, join(path, k.Value), fmt.Sprintf("unknown key %s; allowed keys: %s", q(k.Value), s.allowed))
			continue
		}
		if fs.k[idx] != nil {
			f.errf(k.Line, join(path, k.Value), fmt.Sprintf("key %s is given twice (first at line %d)", q(k.Value), fs.k[idx].Line))
			continue
		}
		fs.k[idx], fs.v[idx] = k, v
	}
}

// isMapping reports whether n is a mapping, reporting an error if not.
func (f *fileCtx) isMapping(n *yaml.Node, path, example string) bool {
	if n.Kind == yaml.MappingNode {
		return true
	}
	f.errf(n.Line, path, "expected a mapping such as "+example+", got "+describe(n))
	return false
}

// isNull reports whether the scalar n is a plain null (empty, ~, null).
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// absent reports whether a field is missing or null.
func absent(v *yaml.Node) bool { return v == nil || isNull(v) }

// text returns the text of the scalar v ("" for null); ok is false, and an
// error reported, if v is not a scalar.
func (f *fileCtx) text(v *yaml.Node, path, key string) (string, bool) {
	if v.Kind != yaml.ScalarNode {
		f.errf(v.Line, join(path, key), "expected a text value, got "+describe(v))
		return "", false
	}
	if isNull(v) {
		return "", true
	}
	if len(v.Value) > maxScalar {
		// Longer than most fields may be: report it once, here, so that
		// no later check quotes or parses a huge value.
		limit := tracker.MaxTextLen // title, doc, name and every rule or date
		switch key {
		case "id":
			limit = tracker.MaxIDLen
		case "requirements":
			limit = tracker.MaxLongTextLen
		}
		if f.tooLong[v] || utf8.RuneCountInString(v.Value) > limit {
			if !f.tooLong[v] {
				f.errf(v.Line, join(path, key), tracker.TextProblem(v.Value, limit, true))
			}
			if f.tooLong == nil {
				f.tooLong = make(map[*yaml.Node]bool)
			}
			f.tooLong[v] = true
			return "", false
		}
	}
	return v.Value, true
}

// maxScalar is the byte length beyond which text checks a scalar's length
// as it reads it; shorter values are checked by their fields' rules.
const maxScalar = tracker.MaxTextLen

// opt returns the text of the optional field idx ("" if absent or invalid).
func (f *fileCtx) opt(fs *fieldSet, idx int, path, key string) string {
	v := fs.v[idx]
	if v == nil {
		return ""
	}
	s, _ := f.text(v, path, key)
	return s
}

// req returns the text of the required field idx of mapping n, reporting
// it missing or empty.
func (f *fileCtx) req(fs *fieldSet, idx int, n *yaml.Node, path, key, what string) string {
	v := fs.v[idx]
	if v == nil {
		f.errf(n.Line, join(path, key), "required: "+what)
		return ""
	}
	s, ok := f.text(v, path, key)
	if ok && strings.TrimSpace(s) == "" {
		f.errf(v.Line, join(path, key), "must not be empty: "+what)
		return ""
	}
	return s
}

// q quotes a value for a message, cut to tracker.MaxQuoteLen characters.
func q(s string) string { return tracker.QuoteValue(s) }

// oneLine checks that s is a single line without control characters, of
// at most tracker.MaxTextLen characters.
func (f *fileCtx) oneLine(s string, v *yaml.Node, path, key string) {
	f.textRule(s, v, path, key, tracker.MaxTextLen, false)
}

// textRule checks s against the field rules (tracker.TextProblem).
func (f *fileCtx) textRule(s string, v *yaml.Node, path, key string, max int, multiline bool) {
	if msg := tracker.TextProblem(s, max, multiline); msg != "" {
		f.errf(v.Line, join(path, key), msg)
	}
}

// hasControl reports whether s has a control character (C0, DEL or C1)
// or a Unicode line or paragraph separator.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == 0x7f:
			return true
		case c == 0xC2: // U+0080..U+009F
			if i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xA0 {
				return true
			}
		case c == 0xE2: // U+2028, U+2029
			if i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				return true
			}
		}
	}
	return false
}

// validID reports whether s matches ^[A-Za-z0-9][A-Za-z0-9._-]*$.
func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

func idProblem(s string) string {
	if h := tracker.FullWidthHint(s); h != "" {
		return fmt.Sprintf("%s is not a valid id: %s", q(s), h)
	}
	msg := fmt.Sprintf("%s is not a valid id: use letters, digits, '.', '_' and '-', starting with a letter or digit", q(s))
	if strings.Contains(s, "/") {
		msg += " ('/' separates the parts of instance ids)"
	}
	return msg
}

// id reads and registers the id of a definition of kind k.
func (f *fileCtx) id(fs *fieldSet, n *yaml.Node, path string, k defKind) string {
	s := f.req(fs, 0, n, path, "id", "every "+kindNames[k]+" needs an id")
	if s == "" {
		return ""
	}
	v := fs.v[0]
	if len(s) > tracker.MaxIDLen {
		f.errf(v.Line, join(path, "id"), fmt.Sprintf("id 过长：%d个字符，最多%d个字符：%s", utf8.RuneCountInString(s), tracker.MaxIDLen, q(s)))
		return s
	}
	if !validID(s) {
		f.errf(v.Line, join(path, "id"), idProblem(s))
		return s
	}
	defs := f.l.defs[k]
	if prev, ok := defs[s]; ok {
		f.errf(v.Line, join(path, "id"), fmt.Sprintf("duplicate %s id %s: already defined at %s:%d", kindNames[k], q(s), prev.file, prev.line))
		return s
	}
	defs[s] = defAt{fi: f.fi, line: v.Line, file: f.name}
	return s
}

// refer records a reference to id of kind k at line; it must resolve to a
// definition in this import or to something stored. The field path is
// path.key, or path.key[i] when i >= 0; it is built only when needed.
func (f *fileCtx) refer(k defKind, id string, line int, path, key string, i int) {
	if _, ok := f.l.defs[k][id]; ok {
		return
	}
	field := join(path, key)
	if i >= 0 {
		field = elem(field, i)
	}
	f.l.refs = append(f.l.refs, ref{kind: k, id: id, fi: f.fi, line: line, field: field})
}

// address checks a bare email address; it returns a message or "".
func address(s string) string {
	if n := utf8.RuneCountInString(s); n > tracker.MaxEmailLen {
		return fmt.Sprintf("email 过长：%d个字符，最多%d个字符：%s", n, tracker.MaxEmailLen, q(s))
	}
	if hasControl(s) {
		return fmt.Sprintf("%s: an email address must not contain line breaks or control characters", q(s))
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return tracker.WithFullWidthHint(fmt.Sprintf("%s is not an email address (%s); write it as wang@example.gov.cn", q(s), strings.TrimPrefix(err.Error(), "mail: ")), s)
	}
	if a.Name != "" || a.Address != s {
		return fmt.Sprintf("%s: write the bare address, e.g. wang@example.gov.cn, without a display name or <>; the name goes in name", q(s))
	}
	return ""
}

// email reads an email field.
func (f *fileCtx) email(fs *fieldSet, idx int, n *yaml.Node, path string) string {
	s := f.req(fs, idx, n, path, "email", "an email address such as wang@example.gov.cn")
	if s != "" {
		if msg := address(s); msg != "" {
			f.errf(fs.v[idx].Line, join(path, "email"), msg)
		}
	}
	return s
}

// ruleMsg is the message of a rule or offset parse error for the value s:
// the value quoted short, and the full-width characters that caused it.
func ruleMsg(err error, s string) string {
	return shortQuote(strings.TrimPrefix(err.Error(), tracker.ErrBadRule.Error()+": "), s)
}

// shortQuote cuts the quoted value s in msg to tracker.MaxQuoteLen
// characters and names its full-width characters.
func shortQuote(msg, s string) string {
	if full := strconv.Quote(strings.TrimSpace(s)); len(full) > tracker.MaxQuoteLen {
		msg = strings.Replace(msg, full, q(strings.TrimSpace(s)), 1)
	}
	return tracker.WithFullWidthHint(msg, s)
}

// ---- sections ----

func (f *fileCtx) top(root *yaml.Node) {
	if absent(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		f.errf(root.Line, "", "a tracking file must be a mapping with the keys "+topSchema.allowed+", got "+describe(root))
		return
	}
	var fs fieldSet
	f.fields(root, "", topSchema, &fs)
	if !absent(fs.v[tOffice]) {
		f.office(fs.v[tOffice])
	}
	f.list(fs.v[tPeople], "people", f.person)
	f.list(fs.v[tUnits], "units", f.unit)
	f.list(fs.v[tPolicies], "policies", f.policy)
	f.list(fs.v[tItems], "items", f.item)
	if !absent(fs.v[tScoring]) {
		f.scoring(fs.k[tScoring].Line, fs.v[tScoring])
	}
}

// list calls each for the elements of the list v (absent or null: none).
func (f *fileCtx) list(v *yaml.Node, path string, each func(n *yaml.Node, path string)) {
	if absent(v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		f.errf(v.Line, path, "expected a list, got "+describe(v))
		return
	}
	f.l.grow(path, len(v.Content))
	for i, el := range v.Content {
		each(el, elem(path, i))
	}
}

func (f *fileCtx) office(n *yaml.Node) {
	const path = "office"
	if !f.isMapping(n, path, "{name: 市政府督查室, email: ducha@example.gov.cn}") {
		return
	}
	before := len(f.l.errs)
	var fs fieldSet
	f.fields(n, path, officeSchema, &fs)
	o := tracker.Office{Name: f.opt(&fs, oName, path, "name")}
	if o.Name != "" {
		f.oneLine(o.Name, fs.v[oName], path, "name")
	}
	o.Email = f.email(&fs, oEmail, n, path)
	o.Robot = f.robotRef(&fs, oRobot, path)
	if len(f.l.errs) > before {
		return
	}
	l := f.l
	if l.b.Office == nil {
		l.b.Office = &o
		l.officeAt = defAt{fi: f.fi, line: n.Line, file: f.name}
		return
	}
	if *l.b.Office != o {
		f.errf(n.Line, path, fmt.Sprintf("differs from the office set at %s:%d (%s <%s>); all files of an import must agree",
			l.officeAt.file, l.officeAt.line, l.b.Office.Name, l.b.Office.Email))
	}
}

func (f *fileCtx) person(n *yaml.Node, path string) {
	if !f.isMapping(n, path, "{id: wang, name: 王冠标, email: wang@example.gov.cn}") {
		return
	}
	var fs fieldSet
	f.fields(n, path, personSchema, &fs)
	p := tracker.Person{Source: f.source(n.Line)}
	p.ID = f.id(&fs, n, path, kindPerson)
	if p.Name = f.opt(&fs, pName, path, "name"); p.Name != "" {
		f.oneLine(p.Name, fs.v[pName], path, "name")
	}
	p.Email = f.email(&fs, pEmail, n, path)
	p.Mobile, p.IMID = f.imFields(&fs, pMobile, pIMID, path)
	f.l.b.People = append(f.l.b.People, p)
}

func (f *fileCtx) unit(n *yaml.Node, path string) {
	if !f.isMapping(n, path, "{id: fzj, name: 市法制局, head: wang, leader: li}") {
		return
	}
	var fs fieldSet
	f.fields(n, path, unitSchema, &fs)
	u := tracker.Unit{Source: f.source(n.Line)}
	u.ID = f.id(&fs, n, path, kindUnit)
	if u.Name = f.req(&fs, uName, n, path, "name", "the unit's name, e.g. 市法制局"); u.Name != "" {
		f.oneLine(u.Name, fs.v[uName], path, "name")
	}
	u.Head = f.personRef(&fs, uHead, path, "head")
	u.Contact = f.personRef(&fs, uContact, path, "contact")
	u.Leader = f.personRef(&fs, uLeader, path, "leader")
	u.Robot = f.robotRef(&fs, uRobot, path)
	f.l.b.Units = append(f.l.b.Units, u)
}

// personRef reads an optional reference to a person.
func (f *fileCtx) personRef(fs *fieldSet, idx int, path, key string) string {
	s := f.opt(fs, idx, path, key)
	if s != "" {
		f.refer(kindPerson, s, fs.v[idx].Line, path, key, -1)
	}
	return s
}

func (f *fileCtx) policy(n *yaml.Node, path string) {
	if !f.isMapping(n, path, "{id: standard, steps: [...]}") {
		return
	}
	var fs fieldSet
	f.fields(n, path, policySchema, &fs)
	p := tracker.Policy{Source: f.source(n.Line)}
	p.ID = f.id(&fs, n, path, kindPolicy)
	stepsPath := join(path, "steps")
	switch v := fs.v[poSteps]; {
	case v == nil:
		f.errf(n.Line, stepsPath, "required: a policy needs at least one step, e.g. {at: 0, to: [unit], level: due}")
	case absent(v) || (v.Kind == yaml.SequenceNode && len(v.Content) == 0):
		f.errf(v.Line, stepsPath, "must list at least one step, e.g. {at: 0, to: [unit], level: due}")
	case v.Kind != yaml.SequenceNode:
		f.errf(v.Line, stepsPath, "expected a list of steps, got "+describe(v))
	default:
		p.Steps = make([]tracker.Step, 0, len(v.Content))
		for j, sn := range v.Content {
			if st, ok := f.step(sn, elem(stepsPath, j)); ok {
				p.Steps = append(p.Steps, st)
			}
		}
	}
	if s := f.opt(&fs, poMaxExtension, path, "max_extension"); s != "" {
		r, err := tracker.ParseRule(s)
		switch {
		case err != nil:
			f.errf(fs.v[poMaxExtension].Line, join(path, "max_extension"), ruleMsg(err, s))
		case (r.Kind != tracker.RuleDays && r.Kind != tracker.RuleWorkdays && r.Kind != tracker.RuleMonths) || r.N < 1:
			f.errf(fs.v[poMaxExtension].Line, join(path, "max_extension"),
				fmt.Sprintf("%s: max_extension is a length counted from the original last day: use Nd, Nwd or Nmo, e.g. 7d, 5wd or 1mo", q(s)))
		default:
			p.MaxExtension = s
		}
	}
	f.l.b.Policies = append(f.l.b.Policies, p)
}

var roles = [...]string{"unit", "contact", "leader", "office", "co", "group", "office_group"}

func isRole(s string) bool {
	for _, r := range roles {
		if s == r {
			return true
		}
	}
	return false
}

func (f *fileCtx) step(n *yaml.Node, path string) (tracker.Step, bool) {
	var st tracker.Step
	if !f.isMapping(n, path, "{at: -1wd, to: [unit], level: reminder}") {
		return st, false
	}
	var fs fieldSet
	f.fields(n, path, stepSchema, &fs)
	if st.At = f.req(&fs, sAt, n, path, "at", "when, relative to the deadline: -2wd, -1d, -4h, 0, +1wd, +3d or limit"); st.At != "" {
		if _, err := tracker.ParseOffset(st.At); err != nil {
			f.errf(fs.v[sAt].Line, join(path, "at"), ruleMsg(err, st.At))
		}
	}
	if st.Every = f.opt(&fs, sEvery, path, "every"); st.Every != "" {
		o, err := tracker.ParseOffset(st.Every)
		if err != nil || o.N <= 0 || (o.Kind != tracker.OffsetDays && o.Kind != tracker.OffsetWorkdays && o.Kind != tracker.OffsetHours) {
			f.errf(fs.v[sEvery].Line, join(path, "every"),
				tracker.WithFullWidthHint(fmt.Sprintf("%s is not a repeat interval: use a positive number of working days, days or hours, e.g. 1wd, 2d or 4h", q(st.Every)), st.Every))
		}
	}
	toPath := join(path, "to")
	switch v := fs.v[sTo]; {
	case v == nil:
		f.errf(n.Line, toPath, "required: the recipients, e.g. [unit, leader, office]")
	case absent(v) || (v.Kind == yaml.SequenceNode && len(v.Content) == 0):
		f.errf(v.Line, toPath, "must name at least one recipient: a role (unit, contact, leader, office, co, group, office_group), an email address or a person id")
	case v.Kind != yaml.SequenceNode:
		f.errf(v.Line, toPath, "expected a list such as [unit, leader], got "+describe(v))
	default:
		st.To = make([]string, 0, len(v.Content))
		for j, el := range v.Content {
			elPath := elem(toPath, j)
			if el.Kind != yaml.ScalarNode {
				f.errf(el.Line, elPath, "expected a recipient, got "+describe(el))
				continue
			}
			s := el.Value
			if isNull(el) {
				s = ""
			}
			switch {
			case s == "":
				f.errf(el.Line, elPath, "must not be empty: a role (unit, contact, leader, office, co, group, office_group), an email address or a person id")
				continue
			case isRole(s):
			case strings.Contains(s, "@"):
				if msg := address(s); msg != "" {
					f.errf(el.Line, elPath, msg)
				}
			case validID(s):
				f.refer(kindPerson, s, el.Line, path, "to", j)
			default:
				f.errf(el.Line, elPath, tracker.WithFullWidthHint(fmt.Sprintf("%s is not a role (unit, contact, leader, office, co, group, office_group), an email address or a person id", q(s)), s))
			}
			if dup := indexOf(st.To, s); dup >= 0 {
				f.errf(el.Line, elPath, fmt.Sprintf("%s is listed twice", q(s)))
				continue
			}
			st.To = append(st.To, s)
		}
	}
	if lv := f.req(&fs, sLevel, n, path, "level", "one of assigned, reminder, due, overdue, escalation"); lv != "" {
		if tracker.Level(lv).Rank() < 0 {
			f.errf(fs.v[sLevel].Line, join(path, "level"), fmt.Sprintf("%s is not a level: use assigned, reminder, due, overdue or escalation", q(lv)))
		}
		st.Level = tracker.Level(lv)
	}
	f.stepSheet(&fs, &st, n, path)
	return st, true
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// units reads a list of unit ids (a single scalar too if scalarOK),
// reporting duplicates and unit ids listed in not.
func (f *fileCtx) units(v *yaml.Node, path, key string, scalarOK bool, not []string, notWhat string) []string {
	if absent(v) {
		return nil
	}
	if v.Kind == yaml.ScalarNode && scalarOK {
		f.refer(kindUnit, v.Value, v.Line, path, key, -1)
		return []string{v.Value}
	}
	if v.Kind != yaml.SequenceNode {
		f.errf(v.Line, join(path, key), "expected a list of unit ids such as [fzj, mishu], got "+describe(v))
		return nil
	}
	out := make([]string, 0, len(v.Content))
	for j, el := range v.Content {
		ep := func() string { return elem(join(path, key), j) }
		if el.Kind != yaml.ScalarNode || isNull(el) || el.Value == "" {
			f.errf(el.Line, ep(), "expected a unit id, got "+describe(el))
			continue
		}
		s := el.Value
		if indexOf(out, s) >= 0 {
			f.errf(el.Line, ep(), fmt.Sprintf("unit %s is listed twice", q(s)))
			continue
		}
		if indexOf(not, s) >= 0 {
			f.errf(el.Line, ep(), fmt.Sprintf("unit %s is %s", q(s), notWhat))
			continue
		}
		f.refer(kindUnit, s, el.Line, path, key, j)
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil // an empty list is no list: keep bundles comparable with stored values
	}
	return out
}

// every parses an every: spec, caching the outcome per spec.
func (l *loader) checkEvery(spec string) string {
	if msg, ok := l.every[spec]; ok {
		return msg
	}
	msg := ""
	if _, err := recur.Parse(spec, l.loc); err != nil {
		msg = err.Error()
	}
	if l.every == nil {
		l.every = make(map[string]string)
	}
	l.every[spec] = msg
	return msg
}

// checkStart validates a start: YYYY-MM-DD or YYYY-MM-DD HH:MM.
func checkStart(s string) bool {
	d, t, hasTime := strings.Cut(s, " ")
	if _, err := tracker.ParseDate(d); err != nil {
		return false
	}
	if hasTime && !clock(t) {
		if _, err := tracker.ParseTimeOfDay(t); err != nil {
			return false
		}
	}
	return true
}

// clock reports whether t is a plain HH:MM from 00:00 to 24:00 (a fast
// path for what tracker.ParseTimeOfDay accepts).
func clock(t string) bool {
	if len(t) != 5 || t[2] != ':' {
		return false
	}
	for _, i := range [4]int{0, 1, 3, 4} {
		if t[i] < '0' || t[i] > '9' {
			return false
		}
	}
	h, m := int(t[0]-'0')*10+int(t[1]-'0'), int(t[3]-'0')*10+int(t[4]-'0')
	return m < 60 && (h < 24 || (h == 24 && m == 0))
}

// fixed reports whether r is a fixed date or instant.
func fixed(r tracker.Rule) bool { return r.Kind == tracker.RuleDate || r.Kind == tracker.RuleInstant }

// limitBeforeDue reports whether the fixed limit lr comes before the fixed due dr.
func limitBeforeDue(lr, dr tracker.Rule) bool {
	if c := lr.Date.Compare(dr.Date); c != 0 {
		return c < 0
	}
	return lr.Kind == tracker.RuleInstant && dr.Kind == tracker.RuleInstant && lr.At < dr.At
}

func (f *fileCtx) item(n *yaml.Node, path string) {
	if !f.isMapping(n, path, "{id: minutes-31, title: …, unit: mishu, due: 3d}") {
		return
	}
	var fs fieldSet
	f.fields(n, path, itemSchema, &fs)
	it := tracker.Item{Source: f.source(n.Line)}
	it.ID = f.id(&fs, n, path, kindItem)
	if it.Title = f.req(&fs, iTitle, n, path, "title", "what is to be done, e.g. 第31次常务会议纪要签发"); it.Title != "" {
		f.oneLine(it.Title, fs.v[iTitle], path, "title")
	}
	if it.Doc = f.opt(&fs, iDoc, path, "doc"); it.Doc != "" {
		f.oneLine(it.Doc, fs.v[iDoc], path, "doc")
	}
	if it.Requirements = f.opt(&fs, iRequirements, path, "requirements"); it.Requirements != "" {
		f.textRule(it.Requirements, fs.v[iRequirements], path, "requirements", tracker.MaxLongTextLen, true)
	}

	recurring := !absent(fs.v[iEvery])
	oneOff := !absent(fs.v[iDue])

	// Units.
	if it.Unit = f.opt(&fs, iUnit, path, "unit"); it.Unit != "" {
		f.refer(kindUnit, it.Unit, fs.v[iUnit].Line, path, "unit", -1)
	}
	if !absent(fs.v[iUnits]) && !absent(fs.v[iUnit]) {
		f.errf(fs.k[iUnits].Line, join(path, "units"), "unit and units are mutually exclusive: use unit for one lead unit, units for several")
	} else {
		it.Units = f.units(fs.v[iUnits], path, "units", true, nil, "")
	}
	leads := it.LeadUnits()
	if !absent(fs.v[iCoUnits]) {
		if recurring {
			f.errf(fs.k[iCoUnits].Line, join(path, "co_units"), "co_units apply to one-off items (with due); a recurring item's units are all listed in units")
		} else {
			it.CoUnits = f.units(fs.v[iCoUnits], path, "co_units", false, leads, "also a lead unit; a unit cannot be its own co-unit")
		}
	}
	var coOff *tracker.Offset // a valid co_due
	if it.CoDue = f.opt(&fs, iCoDue, path, "co_due"); it.CoDue != "" {
		v := fs.v[iCoDue]
		o, err := tracker.ParseOffset(it.CoDue)
		switch {
		case recurring:
			f.errf(v.Line, join(path, "co_due"), "co_due applies to one-off items (with due) only")
		case len(it.CoUnits) == 0 && (absent(fs.v[iCoUnits]) || (fs.v[iCoUnits].Kind == yaml.SequenceNode && len(fs.v[iCoUnits].Content) == 0)):
			f.errf(v.Line, join(path, "co_due"), "co_due needs co_units: it sets the co-units' deadline")
		case err != nil || o.N >= 0 || (o.Kind != tracker.OffsetWorkdays && o.Kind != tracker.OffsetDays):
			f.errf(v.Line, join(path, "co_due"), tracker.WithFullWidthHint(fmt.Sprintf("%s: co_due must be a negative number of working days or days before the lead unit's deadline, e.g. -2wd or -3d", q(it.CoDue)), it.CoDue))
		default:
			coOff = &o
		}
	}

	// Deadline or schedule.
	var dueRule tracker.Rule
	dueOK := false
	if it.Due = f.opt(&fs, iDue, path, "due"); it.Due == "" && oneOff && fs.v[iDue].Kind == yaml.ScalarNode && !f.tooLong[fs.v[iDue]] {
		f.errf(fs.v[iDue].Line, join(path, "due"), "must not be empty: a deadline such as 3d, 2wd or 2026-09-30")
	} else if it.Due != "" {
		r, err := tracker.ParseRule(it.Due)
		if err != nil {
			f.errf(fs.v[iDue].Line, join(path, "due"), ruleMsg(err, it.Due))
		} else {
			dueRule, dueOK = r, true
		}
	}
	if it.Every = f.opt(&fs, iEvery, path, "every"); it.Every == "" && recurring && fs.v[iEvery].Kind == yaml.ScalarNode && !f.tooLong[fs.v[iEvery]] {
		f.errf(fs.v[iEvery].Line, join(path, "every"), `must not be empty: a schedule such as "weekly thu 12:00" or "monthly 5"`)
	} else if it.Every != "" {
		v := fs.v[iEvery]
		if msg := f.l.checkEvery(it.Every); msg != "" {
			f.errf(v.Line, join(path, "every"), shortQuote(msg, it.Every))
		}
		if oneOff {
			f.errf(v.Line, join(path, "every"), "an item has either due (a one-off deadline) or every (a recurring schedule), not both")
		} else if len(leads) == 0 {
			f.errf(v.Line, join(path, "every"), "needs unit or units: a recurring obligation must name the units that report")
		}
	}
	if !oneOff && !recurring {
		line := n.Line
		if v := fs.v[iDue]; v != nil {
			line = v.Line
		} else if v := fs.v[iEvery]; v != nil {
			line = v.Line
		}
		f.errf(line, join(path, "due"), `required: due (a one-off deadline: 3d, 2wd, 0wd, 1mo, 48h, 2026-09-30 or 2026-09-30 17:00) or every (a schedule such as "weekly thu 12:00" or "monthly 5")`)
	}
	var limitRule *tracker.Rule // a valid limit not yet compared with due
	if it.Limit = f.opt(&fs, iLimit, path, "limit"); it.Limit != "" {
		v := fs.v[iLimit]
		r, err := tracker.ParseRule(it.Limit)
		switch {
		case recurring:
			f.errf(v.Line, join(path, "limit"), "limit applies to one-off items (with due) only")
		case err != nil:
			f.errf(v.Line, join(path, "limit"), ruleMsg(err, it.Limit))
		case dueOK && fixed(r) && fixed(dueRule) && limitBeforeDue(r, dueRule):
			f.errf(v.Line, join(path, "limit"), fmt.Sprintf("%s is before due %s: the hard limit cannot come before the deadline", q(it.Limit), q(it.Due)))
		case !fixed(r) || !fixed(dueRule):
			limitRule = &r
		}
	}
	if roll := f.opt(&fs, iRoll, path, "roll"); roll != "" {
		switch tracker.Roll(roll) {
		case tracker.RollNext, tracker.RollNone:
			it.Roll = tracker.Roll(roll)
		case tracker.RollSkip:
			it.Roll = tracker.RollSkip
			if !recurring {
				f.errf(fs.v[iRoll].Line, join(path, "roll"), "roll: skip applies to recurring items (every) only; a one-off item takes next or none")
			}
		default:
			f.errf(fs.v[iRoll].Line, join(path, "roll"), fmt.Sprintf("%s is not a roll: use next (the default), none or skip", q(roll)))
		}
	}
	startOK := true
	if it.Start = f.opt(&fs, iStart, path, "start"); it.Start != "" {
		v := fs.v[iStart]
		startOK = false
		switch {
		case recurring:
			f.errf(v.Line, join(path, "start"), "start applies to one-off items (with due); a recurring item starts at from")
		case !checkStart(it.Start):
			f.errf(v.Line, join(path, "start"), tracker.WithFullWidthHint(fmt.Sprintf("%s is not a start: use YYYY-MM-DD or YYYY-MM-DD HH:MM, e.g. 2026-09-24 16:00", q(it.Start)), it.Start))
		default:
			startOK = true
		}
	}
	var from, until tracker.Date
	if it.From = f.opt(&fs, iFrom, path, "from"); it.From != "" {
		from = f.date(it.From, fs.v[iFrom], path, "from", recurring)
	}
	if it.Until = f.opt(&fs, iUntil, path, "until"); it.Until != "" {
		until = f.date(it.Until, fs.v[iUntil], path, "until", recurring)
		if !from.IsZero() && !until.IsZero() && until.Before(from) {
			f.errf(fs.v[iUntil].Line, join(path, "until"), fmt.Sprintf("until %s is before from %s", it.Until, it.From))
		}
	}
	if it.Policy = f.opt(&fs, iPolicy, path, "policy"); it.Policy != "" {
		f.refer(kindPolicy, it.Policy, fs.v[iPolicy].Line, path, "policy", -1)
	}
	if f.l.env != nil && dueOK && startOK && !recurring && (coOff != nil && len(it.CoUnits) > 0 || limitRule != nil) {
		f.checkDeadlines(&it, &fs, path, dueRule, limitRule, coOff)
	}
	f.l.b.Items = append(f.l.b.Items, it)
}

// checkDeadlines computes the deadlines of a one-off item on the calendar
// (WithDeadlines) and reports a co-unit deadline that falls before the
// start and a hard limit before the deadline. limit and co may be nil.
func (f *fileCtx) checkDeadlines(it *tracker.Item, fs *fieldSet, path string, due tracker.Rule, limit *tracker.Rule, co *tracker.Offset) {
	env := *f.l.env
	start, from := f.l.now.In(env.Loc), "首次导入时间"
	if f.l.tracked != nil && it.Start == "" {
		if t, ok := f.l.tracked(it.ID); ok {
			start = t.In(env.Loc)
		}
	}
	if it.Start != "" {
		x := tracker.Expander{Env: env}
		s, err := x.ParseStart(it)
		if err != nil {
			return // reported already
		}
		start, from = s, "开始时间"
	}
	startText := start.Format("2006-01-02 15:04")
	dl := due.Deadline(start, env, it.Roll)
	if co != nil && len(it.CoUnits) > 0 {
		if cd := tracker.CoDeadline(dl, *co, env); !cd.Due.After(start) {
			f.errf(fs.v[iCoDue].Line, join(path, "co_due"), fmt.Sprintf(
				"%s 使协办单位的时限 %s 早于事项的%s %s（主办单位时限 %s，due %s）；协办时限须在开始之后，请缩小 co_due 或放宽 due",
				q(it.CoDue), cd.Human(env), from, startText, dl.Human(env), q(it.Due)))
		}
	}
	if limit != nil {
		if ld := limit.Deadline(start, env, it.Roll); ld.Due.Before(dl.Due) {
			f.errf(fs.v[iLimit].Line, join(path, "limit"), fmt.Sprintf(
				"最迟时限 %s（%s）早于办理时限 %s（due %s，自%s %s 起算）；最迟时限不能早于办理时限",
				ld.Human(env), q(it.Limit), dl.Human(env), q(it.Due), from, startText))
		}
	}
}

// date reads from/until; they apply to recurring items only.
func (f *fileCtx) date(s string, v *yaml.Node, path, key string, recurring bool) tracker.Date {
	if !recurring {
		f.errf(v.Line, join(path, key), key+" applies to recurring items (every) only")
		return tracker.Date{}
	}
	d, err := tracker.ParseDate(s)
	if err != nil {
		f.errf(v.Line, join(path, key), tracker.WithFullWidthHint(fmt.Sprintf("%s is not a date (want YYYY-MM-DD)", q(s)), s))
	}
	return d
}

package tracker

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Filter selects instances for List.
type Filter struct {
	Overdue   bool      // only instances overdue at now
	DueBefore time.Time // only instances due before this instant (zero: no bound)
	Statuses  []Status  // nil: the active ones (pending, open, returned)
	Unit      string    // a unit id, or a unit's name (Resolve turns it into the id)
	Item      string    // an item id
}

// Resolve checks that f names a stored unit and item, and replaces a
// unit's name by its id. An unknown one is a *NotFoundError (matching
// ErrNotFound) that suggests the closest existing ids.
func (f *Filter) Resolve(tx Tx) error {
	if f.Unit != "" {
		id, err := ResolveUnit(tx, f.Unit)
		if err != nil {
			return err
		}
		f.Unit = id
	}
	if f.Item != "" {
		id, err := ResolveItem(tx, f.Item)
		if err != nil {
			return err
		}
		f.Item = id
	}
	return nil
}

// Row is one line of `duban list`; its JSON names are the SPEC §8 contract.
type Row struct {
	ID              string     `json:"id"`
	Item            string     `json:"item"`
	Unit            string     `json:"unit"`
	UnitName        string     `json:"unit_name,omitempty"`
	Co              bool       `json:"co,omitempty"`
	Title           string     `json:"title"`
	Doc             string     `json:"doc,omitempty"`
	Status          Status     `json:"status"`
	Due             time.Time  `json:"due"`
	LastDay         Date       `json:"last_day"`
	Limit           *time.Time `json:"limit,omitempty"`
	Overdue         bool       `json:"overdue"`
	OverdueWorkdays int        `json:"overdue_workdays,omitempty"`
	Provisional     bool       `json:"provisional"`
	Extended        bool       `json:"extended,omitempty"`
	DoneAt          *time.Time `json:"done_at,omitempty"`
	Note            string     `json:"note,omitempty"`

	Human      string `json:"-"` // deadline in table form
	HumanLimit string `json:"-"`
	// DueProvisional and LimitProvisional say which of the two dates is
	// provisional; Provisional is either.
	DueProvisional   bool `json:"-"`
	LimitProvisional bool `json:"-"`
}

// List calls fn for each instance matching f as of now. The default and
// the time-bounded queries read the due index only up to their bound, so
// their cost follows the number of rows, not the size of the store.
// Unit and Item must name something stored (see Filter.Resolve).
func (x *Expander) List(tx Tx, f Filter, now time.Time, fn func(Row) error) error {
	if err := f.Resolve(tx); err != nil {
		return err
	}
	active := f.Statuses == nil
	want := func(in *Instance) bool {
		if active && !in.Status.Active() {
			return false
		}
		if !active && !slices.Contains(f.Statuses, in.Status) {
			return false
		}
		if f.Unit != "" && in.Unit != f.Unit {
			return false
		}
		if f.Item != "" && in.Item != f.Item {
			return false
		}
		if f.Overdue && !in.Overdue(now) {
			return false
		}
		if !f.DueBefore.IsZero() && !in.Deadline.Due.Before(f.DueBefore) {
			return false
		}
		return true
	}
	items := make(map[string]*Item)
	units := make(map[string]*Unit)
	visit := func(in *Instance) error {
		if !want(in) {
			return nil
		}
		it, err := cachedItem(tx, in, items)
		if err != nil {
			return err
		}
		row, err := x.row(tx, in, it.Title, it.Doc, now, units)
		if err != nil {
			return err
		}
		return fn(row)
	}
	onlyActive := active || !slices.ContainsFunc(f.Statuses, func(s Status) bool { return !s.Active() })
	switch {
	case f.Item != "":
		return tx.InstancesOf(f.Item, visit)
	case onlyActive:
		bound := f.DueBefore
		if f.Overdue && (bound.IsZero() || now.Before(bound)) {
			bound = now.Add(time.Second) // due at or before now
		}
		// The due index covers the row: neither the instance nor its
		// item is read (an entry written before its item was stored
		// excepted).
		return tx.DueEntries(bound, func(e *DueEntry) error {
			if !want(&e.In) {
				return nil
			}
			title, doc := e.Title, e.Doc
			if !e.HasItem {
				it, err := cachedItem(tx, &e.In, items)
				if err != nil {
					return err
				}
				title, doc = it.Title, it.Doc
			}
			row, err := x.row(tx, &e.In, title, doc, now, units)
			if err != nil {
				return err
			}
			return fn(row)
		})
	default:
		return tx.Instances(visit)
	}
}

// cachedItem returns the item of in, from items or the store.
func cachedItem(tx Tx, in *Instance, items map[string]*Item) (*Item, error) {
	if it, ok := items[in.Item]; ok {
		return it, nil
	}
	it, err := tx.Item(in.Item)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.ID, err)
	}
	items[in.Item] = it
	return it, nil
}

// row builds the list row of in, whose item has title and doc. It reads
// of in only the fields a DueEntry keeps.
func (x *Expander) row(tx Tx, in *Instance, title, doc string, now time.Time, units map[string]*Unit) (Row, error) {
	r := Row{
		ID: in.ID, Item: in.Item, Unit: in.Unit, Co: in.Co, Title: title, Doc: doc,
		Status: in.Status, Due: in.Deadline.Due.In(x.Env.Loc), LastDay: in.Deadline.LastDay,
		Overdue: in.Overdue(now), Provisional: in.Deadline.Provisional, Extended: in.Extensions > 0,
		Note: in.Note, Human: in.Deadline.Human(x.Env), DueProvisional: in.Deadline.Provisional,
	}
	if in.Unit != "" {
		u, ok := units[in.Unit]
		if !ok {
			if uu, err := tx.Unit(in.Unit); err == nil {
				u = uu
			} else if !errors.Is(err, ErrNotFound) {
				return Row{}, err
			}
			units[in.Unit] = u
		}
		if u != nil {
			r.UnitName = u.Name
		}
	}
	if in.Limit != nil {
		t := in.Limit.Due.In(x.Env.Loc)
		r.Limit = &t
		r.HumanLimit = in.Limit.Human(x.Env)
		r.LimitProvisional = in.Limit.Provisional
		r.Provisional = r.Provisional || in.Limit.Provisional
	}
	if !in.DoneAt.IsZero() {
		t := in.DoneAt.In(x.Env.Loc)
		r.DoneAt = &t
	}
	if r.Overdue {
		r.OverdueWorkdays = x.OverdueWorkdays(in.Deadline, now)
	}
	return r, nil
}

// OverdueWorkdays returns how many working days after its last day a
// deadline is at now (at least 1 once overdue).
func (x *Expander) OverdueWorkdays(dl Deadline, now time.Time) int {
	today := x.Env.Today(now)
	return max(x.Env.Cal.WorkdaysBetween(dl.LastDay, today), 1)
}

// Recipients resolves notice roles to email addresses for instance in of
// item it: unit, contact and leader of the instance's unit, office, co
// (heads of the item's co-units, for a lead instance), person ids and
// literal addresses; group and office_group to the unit's and the
// office's robot ("robot:<name>", RobotPrefix). Roles that resolve to nobody are skipped; the result
// is de-duplicated and in order of first appearance.
func Recipients(tx Tx, in *Instance, it *Item, roles []string, officeFallback string) ([]string, error) {
	var out []string
	addPerson := func(id string) error {
		if id == "" {
			return nil
		}
		p, err := tx.Person(id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if p.Email != "" && !slices.Contains(out, p.Email) {
			out = append(out, p.Email)
		}
		return nil
	}
	unitRole := func(unitID, role string) error {
		if unitID == "" {
			return nil
		}
		u, err := tx.Unit(unitID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		switch role {
		case "unit":
			return addPerson(u.Head)
		case "contact":
			return addPerson(u.Contact)
		case "leader":
			return addPerson(u.Leader)
		}
		return nil
	}
	for _, role := range roles {
		var err error
		switch role {
		case "unit", "contact", "leader":
			err = unitRole(in.Unit, role)
		case "prev_unit": // the head of the unit a 改派 took the instance from
			err = unitRole(in.PrevUnit, "unit")
		case "co":
			if !in.Co && it != nil {
				for _, cu := range it.CoUnits {
					if err = unitRole(cu, "unit"); err != nil {
						break
					}
				}
			}
		case "group": // the unit's work-group robot (SPEC §13)
			if in.Unit != "" {
				u, uerr := tx.Unit(in.Unit)
				if uerr != nil && !errors.Is(uerr, ErrNotFound) {
					return nil, uerr
				}
				if uerr == nil && u.Robot != "" && !slices.Contains(out, RobotPrefix+u.Robot) {
					out = append(out, RobotPrefix+u.Robot)
				}
			}
		case "office_group": // the office's work-group robot
			o, oerr := tx.Office()
			if oerr != nil {
				return nil, oerr
			}
			if o.Robot != "" && !slices.Contains(out, RobotPrefix+o.Robot) {
				out = append(out, RobotPrefix+o.Robot)
			}
		case "office":
			o, oerr := tx.Office()
			if oerr != nil {
				return nil, oerr
			}
			addr := o.Email
			if addr == "" {
				addr = officeFallback
			}
			if addr != "" && !slices.Contains(out, addr) {
				out = append(out, addr)
			}
		default:
			if strings.Contains(role, "@") {
				if !slices.Contains(out, role) {
					out = append(out, role)
				}
			} else {
				err = addPerson(role)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AppendJSON appends r as json.Marshal encodes it (the same bytes, which
// a test checks), without reflection: a list of 10 000 overdue rows spent
// half its time in the reflective encoder.
func (r *Row) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"item":`...)
	b = appendJSONString(b, r.Item)
	b = append(b, `,"unit":`...)
	b = appendJSONString(b, r.Unit)
	if r.UnitName != "" {
		b = append(b, `,"unit_name":`...)
		b = appendJSONString(b, r.UnitName)
	}
	if r.Co {
		b = append(b, `,"co":true`...)
	}
	b = append(b, `,"title":`...)
	b = appendJSONString(b, r.Title)
	if r.Doc != "" {
		b = append(b, `,"doc":`...)
		b = appendJSONString(b, r.Doc)
	}
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(r.Status))
	b = append(b, `,"due":`...)
	var err error
	if b, err = appendJSONTime(b, r.Due); err != nil {
		return nil, err
	}
	b = append(b, `,"last_day":"`...)
	b = append(b, r.LastDay.String()...)
	b = append(b, '"')
	if r.Limit != nil {
		b = append(b, `,"limit":`...)
		if b, err = appendJSONTime(b, *r.Limit); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"overdue":`...)
	b = strconv.AppendBool(b, r.Overdue)
	if r.OverdueWorkdays != 0 {
		b = append(b, `,"overdue_workdays":`...)
		b = strconv.AppendInt(b, int64(r.OverdueWorkdays), 10)
	}
	b = append(b, `,"provisional":`...)
	b = strconv.AppendBool(b, r.Provisional)
	if r.Extended {
		b = append(b, `,"extended":true`...)
	}
	if r.DoneAt != nil {
		b = append(b, `,"done_at":`...)
		if b, err = appendJSONTime(b, *r.DoneAt); err != nil {
			return nil, err
		}
	}
	if r.Note != "" {
		b = append(b, `,"note":`...)
		b = appendJSONString(b, r.Note)
	}
	return append(b, '}'), nil
}

// appendJSONTime appends t as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		_, err := t.MarshalJSON() // its error
		return b, err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendJSONString appends s quoted. Strings with nothing to escape (for
// encoding/json: no control character, quote, backslash, <, >, &,
// invalid UTF-8, U+2028 or U+2029) are copied; others are left to
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	escape := !utf8.ValidString(s)
	for i := 0; i < len(s) && !escape; i++ {
		c := s[i]
		escape = c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c == 0xE2 // U+2028, U+2029 start with E2
	}
	if escape {
		q, _ := json.Marshal(s) // a string always encodes
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

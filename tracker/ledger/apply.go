package ledger

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"duban/tracker"
)

// Result counts what a ledger import did.
type Result struct {
	tracker.ImportResult
	Rows    int `json:"ledger_rows"`
	Actions int `json:"ledger_actions"` // status, completion and progress changes recorded
}

// plan is what one row will do.
type plan struct {
	row     *Row
	item    *tracker.Item // item to create or update; nil: unchanged
	actions []tracker.Action
}

// Apply checks every row of the sheets against the store and, if all are
// good, writes them in tx as of now: items created or updated through
// x.Import, then the rows' assignments, progress notes and status changes
// through x.Apply, with the actor "ledger import". On any problem it
// writes nothing and returns Errors listing every problem. Sheets are
// usually read with Read; tracking files imported together must be
// imported into tx first, so that rows may name the units they define.
func Apply(tx tracker.Tx, x *tracker.Expander, sheets []*Sheet, now time.Time) (Result, error) {
	var res Result
	c := &checker{tx: tx, x: x, now: now, seen: make(map[string]*Row)}
	var plans []*plan
	for _, sh := range sheets {
		first := len(c.errs)
		c.errs = append(c.errs, sh.Problems...)
		for _, row := range sh.Rows {
			res.Rows++
			p, err := c.check(row)
			if err != nil {
				return res, err
			}
			if p != nil {
				plans = append(plans, p)
			}
		}
		sortErrors(c.errs[first:])
	}
	if len(c.errs) > 0 {
		return res, c.errs
	}
	var b tracker.Bundle
	for _, p := range plans {
		if p.item != nil {
			b.Items = append(b.Items, *p.item)
		}
	}
	if len(b.Items) > 0 {
		ir, err := x.Import(tx, &b, now, Actor)
		if err != nil {
			return res, err
		}
		res.ImportResult = ir
	}
	for _, p := range plans {
		for _, a := range p.actions {
			if _, err := x.Apply(tx, a); err != nil {
				return res, fmt.Errorf("%s: %w", p.row.errAt(ColID, "").where(), err)
			}
			res.Actions++
		}
		if len(p.actions) > 0 && p.item == nil {
			res.InstancesUpdated++
		}
	}
	res.Unchanged += res.Rows - len(plans)
	return res, nil
}

// sortErrors orders the problems of one file by row and column.
func sortErrors(es Errors) {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Row != es[j].Row {
			return es[i].Row < es[j].Row
		}
		return es[i].Col < es[j].Col
	})
}

// where is the position part of an error message.
func (e *Error) where() string { return strings.TrimSuffix(e.Error(), ": ") }

type checker struct {
	tx   tracker.Tx
	x    *tracker.Expander
	now  time.Time
	seen map[string]*Row
	errs Errors

	byName map[string][]string // unit name → ids, built on first use
}

func (c *checker) fail(e *Error) { c.errs = append(c.errs, e) }

// rowRef names a row for "already in …" messages.
func rowRef(r *Row, other *Row) string {
	where := "row " + strconv.Itoa(r.Num)
	if r.Sheet == "" {
		where = "line " + strconv.Itoa(r.Num)
	}
	if r.File != other.File {
		where += " of " + r.File
	}
	return where
}

// check validates one row and returns its plan (nil if it changes
// nothing). Problems go to c.errs; the error return is for storage errors.
func (c *checker) check(r *Row) (*plan, error) {
	if r.ID == "" {
		return nil, nil // reported by Read
	}
	if prev, ok := c.seen[r.ID]; ok {
		c.fail(r.errAt(ColID, "duplicate 编号 %q: already in %s", r.ID, rowRef(prev, r)))
		return nil, nil
	}
	c.seen[r.ID] = r
	if r.bad {
		return nil, nil // its problems are in Sheet.Problems
	}
	nerr := len(c.errs)
	unit, err := c.unit(r)
	if err != nil {
		return nil, err
	}
	in, err := c.tx.Instance(r.ID)
	var p *plan
	switch {
	case errors.Is(err, tracker.ErrNotFound):
		p, err = c.checkNew(r, unit)
	case err != nil:
		return nil, err
	default:
		p, err = c.checkExisting(r, in, unit)
	}
	if err != nil || len(c.errs) > nerr {
		return nil, err
	}
	return p, nil
}

// unit resolves the row's unit: 单位编号, else a unique 承办单位 name. It
// returns "" when the row names none (or names a bad one: reported).
func (c *checker) unit(r *Row) (string, error) {
	if r.Unit != "" {
		u, err := c.tx.Unit(r.Unit)
		if errors.Is(err, tracker.ErrNotFound) {
			c.fail(r.errAt(ColUnit, "unknown unit %q: not stored; define it in a tracking file (units.yaml) first", r.Unit))
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if r.UnitName != "" && r.UnitName != strings.TrimSpace(u.Name) {
			c.fail(r.errAt(ColUnitName, "%q is not the name of unit %s (%s)", r.UnitName, u.ID, u.Name))
		}
		return u.ID, nil
	}
	if r.UnitName == "" {
		return "", nil
	}
	if c.byName == nil {
		c.byName = make(map[string][]string)
		if err := c.tx.Units(func(u *tracker.Unit) error {
			n := strings.TrimSpace(u.Name)
			c.byName[n] = append(c.byName[n], u.ID)
			return nil
		}); err != nil {
			return "", err
		}
	}
	switch ids := c.byName[r.UnitName]; len(ids) {
	case 0:
		c.fail(r.errAt(ColUnitName, "no unit is named %q; give its id in 单位编号 or define it in units.yaml", r.UnitName))
	case 1:
		return ids[0], nil
	default:
		c.fail(r.errAt(ColUnitName, "several units are named %q (%s); give the id in 单位编号", r.UnitName, strings.Join(ids, ", ")))
	}
	return "", nil
}

// validID reports whether s is a valid item id: ^[A-Za-z0-9][A-Za-z0-9._-]*$.
func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		case i > 0 && (ch == '.' || ch == '_' || ch == '-'):
		default:
			return false
		}
	}
	return true
}

// stampBefore reports whether a comes before b as deadlines: a day
// deadline lasts its whole day.
func limitBeforeDue(limit, due Stamp) bool {
	if c := limit.Date.Compare(due.Date); c != 0 {
		return c < 0
	}
	return limit.Timed && (!due.Timed || limit.Clock < due.Clock)
}

// checkNew validates a row for an instance that does not exist: a new
// one-off item.
func (c *checker) checkNew(r *Row, unit string) (*plan, error) {
	if strings.Contains(r.ID, "/") {
		c.fail(r.errAt(ColID, "no instance %q is stored; a 编号 with \"/\" names an instance of a recurring, multi-unit or co-unit item, "+
			"which must exist (track the item in a tracking file); a new one-off item has an id without \"/\"", r.ID))
		return nil, nil
	}
	if !validID(r.ID) {
		c.fail(r.errAt(ColID, "%q is not a valid id: use letters, digits, '.', '_' and '-', starting with a letter or digit", r.ID))
		return nil, nil
	}
	if it, err := c.tx.Item(r.ID); err == nil {
		c.fail(r.errAt(ColID, "item %q exists but has no instance of that id (it is recurring or has several units); its rows are %s/…", it.ID, it.ID))
		return nil, nil
	} else if !errors.Is(err, tracker.ErrNotFound) {
		return nil, err
	}
	if r.Title == "" {
		c.fail(r.errAt(ColTitle, "a new item needs a title (事项)"))
	}
	if r.Due.IsZero() {
		c.fail(r.errAt(ColDue, "a new item needs a deadline (办理时限): a date (2026-09-30) or a date and time (2026-09-30 17:00)"))
	}
	if !r.Limit.IsZero() && !r.Due.IsZero() && limitBeforeDue(r.Limit, r.Due) {
		c.fail(r.errAt(ColLimit, "the hard limit %s is before the deadline %s", r.Limit, r.Due))
	}
	it := &tracker.Item{ID: r.ID, Title: r.Title, Doc: r.Doc, Requirements: r.Requirements, Unit: unit,
		Start: r.Start.String(), Due: r.Due.String(), Limit: r.Limit.String(), Source: r.source()}
	// What Import will create, for the status checks.
	fresh := &tracker.Instance{ID: r.ID, Item: r.ID, Unit: unit, Status: tracker.StatusPending}
	if unit != "" {
		fresh.Status = tracker.StatusOpen
	}
	p := &plan{row: r, item: it}
	c.status(r, fresh, fresh.Status, "", p)
	return p, nil
}

// source is the item Source of a row: file:sheet!A7 or file:7.
func (r *Row) source() string {
	if r.Sheet != "" {
		return r.File + ":" + r.Sheet + "!A" + strconv.Itoa(r.Num)
	}
	return r.File + ":" + strconv.Itoa(r.Num)
}

// checkExisting validates a row for a stored instance.
func (c *checker) checkExisting(r *Row, in *tracker.Instance, unit string) (*plan, error) {
	it, err := c.tx.Item(in.Item)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.ID, err)
	}
	loc := c.x.Env.Loc
	// own: the row is the item (a one-off item with a single instance).
	own := !strings.Contains(r.ID, "/") && in.Item == in.ID && !it.Recurring()
	upd := *it
	notOwn := func(col Column, what string) {
		c.fail(r.errAt(col, "%s of %s; %s is an instance of item %s, whose %s is changed in its tracking file", what, r.ID, r.ID, it.ID, col))
	}
	cmpText := func(col Column, cell string, stored *string) {
		if !r.Has[col] || cell == strings.TrimSpace(*stored) {
			return
		}
		switch {
		case own && (cell != "" || col != ColTitle):
			*stored = cell
		case !own && cell != "":
			notOwn(col, fmt.Sprintf("%q differs from the stored %q", cell, *stored))
		}
	}
	cmpText(ColTitle, r.Title, &upd.Title)
	cmpText(ColDoc, r.Doc, &upd.Doc)
	cmpText(ColRequirements, r.Requirements, &upd.Requirements)

	// The unit: a different one is an assignment.
	status := in.Status
	assign := ""
	unitCol := ColUnit
	if !r.Has[ColUnit] || (r.Unit == "" && r.UnitName != "") {
		unitCol = ColUnitName
	}
	switch {
	case unit != "" && unit != in.Unit:
		switch {
		case !own:
			c.fail(r.errAt(unitCol, "%s is assigned to %s; an instance row cannot change its unit", r.ID, orNone(in.Unit)))
		case !in.Status.Active():
			c.fail(r.errAt(unitCol, "%s is %s; its unit can no longer change", r.ID, StatusName(in.Status)))
		case in.Status == tracker.StatusPending:
			upd.Unit, status = unit, tracker.StatusOpen // Import assigns it
		default:
			upd.Unit, status, assign = unit, tracker.StatusOpen, unit
		}
	case unit == "" && in.Unit != "" && own && (r.Has[ColUnit] || r.Has[ColUnitName]) && r.Unit == "" && r.UnitName == "":
		c.fail(r.errAt(unitCol, "%s is assigned to %s; a ledger cannot take the unit away (leave the unit in the row)", r.ID, in.Unit))
	}

	// Time nodes.
	curStart, curDue, curLimit := InstantStamp(in.Start, loc), DeadlineStamp(&in.Deadline, loc), DeadlineStamp(in.Limit, loc)
	var diff []Column
	if r.Has[ColStart] && !r.Start.IsZero() && !r.Start.In(loc).Equal(curStart.In(loc)) {
		diff = append(diff, ColStart)
	}
	if r.Has[ColDue] && !r.Due.IsZero() && r.Due != curDue {
		diff = append(diff, ColDue)
	}
	if r.Has[ColLimit] && r.Limit != curLimit && (own || !r.Limit.IsZero()) {
		diff = append(diff, ColLimit)
	}
	if len(diff) > 0 {
		col := diff[0]
		cur := map[Column]Stamp{ColStart: curStart, ColDue: curDue, ColLimit: curLimit}[col]
		cell := map[Column]Stamp{ColStart: r.Start, ColDue: r.Due, ColLimit: r.Limit}[col]
		switch {
		case !own:
			c.fail(r.errAt(col, "%s differs from the stored %s; the time nodes of %s come from item %s (change them in its tracking file, or use duban extend)",
				quoteStamp(cell), quoteStamp(cur), r.ID, it.ID))
		case !in.Status.Active():
			c.fail(r.errAt(col, "%s differs from the stored %s, but %s is %s: its time nodes can no longer change", quoteStamp(cell), quoteStamp(cur), r.ID, StatusName(in.Status)))
		case in.Extensions > 0:
			c.fail(r.errAt(col, "%s differs from the stored %s, but %s was extended (延期) to %s; record a new deadline with duban extend",
				quoteStamp(cell), quoteStamp(cur), r.ID, curDue))
		default:
			start, due, limit := curStart, curDue, curLimit
			if !r.Start.IsZero() {
				start = r.Start
			}
			if !r.Due.IsZero() {
				due = r.Due
			}
			if r.Has[ColLimit] {
				limit = r.Limit
			}
			if !limit.IsZero() && limitBeforeDue(limit, due) {
				c.fail(r.errAt(ColLimit, "the hard limit %s is before the deadline %s", limit, due))
			}
			// Pin the item to the row's fixed values, so that the row's
			// deadline is what the instance gets.
			upd.Start, upd.Due, upd.Limit = start.String(), due.String(), limit.String()
		}
	}
	p := &plan{row: r}
	if assign != "" {
		reason := "" // moving an open instance is a 改派, which needs a reason
		if in.Status == tracker.StatusOpen {
			reason = fmt.Sprintf("台账改派：承办单位由 %s 改为 %s", in.Unit, assign)
		}
		p.actions = append(p.actions, c.action("assign", in.ID, reason, assign, c.now))
	}
	c.status(r, in, status, assign, p)
	if upd.Title != it.Title || upd.Doc != it.Doc || upd.Requirements != it.Requirements || upd.Unit != it.Unit ||
		upd.Start != it.Start || upd.Due != it.Due || upd.Limit != it.Limit {
		upd.Source = r.source()
		p.item = &upd
	}
	if p.item == nil && len(p.actions) == 0 {
		return nil, nil
	}
	return p, nil
}

func orNone(s string) string {
	if s == "" {
		return "no unit"
	}
	return s
}

func quoteStamp(s Stamp) string {
	if s.IsZero() {
		return "(empty)"
	}
	return strconv.Quote(s.String())
}

func (c *checker) action(kind, id, note, to string, at time.Time) tracker.Action {
	return tracker.Action{Kind: kind, ID: id, Note: note, To: to, Actor: Actor, At: at, RecordedAt: c.now} // recorded when imported
}

// status checks the row's 状态, 办结时间 and 最新进展 against in, whose
// status after the row's assignment is s, and adds the actions to p.
// A finished instance never changes; an active one may record progress,
// be done, returned, withdrawn or (when returned) reopened.
func (c *checker) status(r *Row, in *tracker.Instance, s tracker.Status, assigned string, p *plan) {
	want := r.Status
	if want == "" {
		want = s
	}
	note := ""
	if r.Note != "" && r.Note != strings.TrimSpace(in.Note) {
		note = r.Note
	}
	if !r.DoneAt.IsZero() && want != tracker.StatusDone && (s.Active() || want == s) {
		c.fail(r.errAt(ColDoneAt, "办结时间 is only for rows whose 状态 is 已办结 (this one is %s)", StatusName(want)))
		return
	}
	if !s.Active() {
		switch {
		case want != s:
			c.fail(r.errAt(ColStatus, "%s is %s; the ledger cannot change it to %s (a finished instance stays finished)", r.ID, StatusName(s), StatusName(want)))
		case s == tracker.StatusDone && !r.DoneAt.IsZero() && r.DoneAt.In(c.x.Env.Loc) != InstantStamp(in.DoneAt, c.x.Env.Loc).In(c.x.Env.Loc):
			c.fail(r.errAt(ColDoneAt, "%s was done at %s; 办结时间 %s cannot change it", r.ID, InstantStamp(in.DoneAt, c.x.Env.Loc), r.DoneAt))
		case note != "":
			c.fail(r.errAt(ColNote, "%s is %s; its 最新进展 can no longer change", r.ID, StatusName(s)))
		}
		return
	}
	var final *tracker.Action
	switch want {
	case s:
	case tracker.StatusDone:
		if s == tracker.StatusPending {
			c.fail(r.errAt(ColStatus, "%s has no unit yet (待分办); give its unit in 单位编号 to mark it 已办结", r.ID))
			return
		}
		at := c.now
		if !r.DoneAt.IsZero() {
			at = r.DoneAt.In(c.x.Env.Loc)
			if at.After(c.now) {
				c.fail(r.errAt(ColDoneAt, "办结时间 %s is after the time of the import (%s)", r.DoneAt, InstantStamp(c.now, c.x.Env.Loc)))
				return
			}
		}
		a := c.action("done", in.ID, note, "", at)
		note = "" // the completion carries it
		final = &a
	case tracker.StatusWithdrawn:
		a := c.action("withdraw", in.ID, cmpOr(note, "台账标记为已撤销"), "", c.now)
		final = &a
	case tracker.StatusReturned:
		if s != tracker.StatusOpen {
			c.fail(r.errAt(ColStatus, "%s is %s; only an instance being handled (办理中) can be returned", r.ID, StatusName(s)))
			return
		}
		if assigned != "" {
			c.fail(r.errAt(ColStatus, "a row cannot both give %s a new unit and mark it 已退回", r.ID))
			return
		}
		a := c.action("return", in.ID, cmpOr(note, "台账标记为已退回"), "", c.now)
		final = &a
	case tracker.StatusOpen:
		if s != tracker.StatusReturned {
			c.fail(r.errAt(ColStatus, "%s has no unit yet (待分办); give its unit in 单位编号 to make it 办理中", r.ID))
			return
		}
		a := c.action("assign", in.ID, "", in.Unit, c.now) // the returned instance goes back to its unit
		final = &a
	case tracker.StatusPending:
		c.fail(r.errAt(ColStatus, "%s is %s; the ledger cannot move it back to 待分办", r.ID, StatusName(s)))
		return
	default: // 待审核 comes from a unit's completion report, not from the ledger
		c.fail(r.errAt(ColStatus, "%s is %s; the ledger cannot mark it %s", r.ID, StatusName(s), StatusName(want)))
		return
	}
	if note != "" {
		p.actions = append(p.actions, c.action("progress", in.ID, note, "", c.now))
	}
	if final != nil {
		p.actions = append(p.actions, *final)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

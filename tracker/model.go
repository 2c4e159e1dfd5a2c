package tracker

import (
	"time"
)

// Office is the supervision office (督查室) that owns the tracking files.
type Office struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Person is someone who receives notices.
type Person struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Source string `json:"source,omitempty"` // file:line it was defined at
}

// Unit is a handling unit (承办单位). Head receives the unit's notices,
// Contact is an optional day-to-day contact and Leader the leader in charge
// (分管领导) who receives escalations. All three are person ids and may be empty.
type Unit struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Head    string `json:"head,omitempty"`
	Contact string `json:"contact,omitempty"`
	Leader  string `json:"leader,omitempty"`
	Source  string `json:"source,omitempty"`
}

// Level is the severity of a notice.
type Level string

// Notice levels, in increasing urgency.
const (
	LevelAssigned   Level = "assigned"
	LevelReminder   Level = "reminder"
	LevelDue        Level = "due"
	LevelOverdue    Level = "overdue"
	LevelEscalation Level = "escalation"
)

// Rank orders levels by urgency (assigned lowest).
func (l Level) Rank() int {
	switch l {
	case LevelAssigned:
		return 0
	case LevelReminder:
		return 1
	case LevelDue:
		return 2
	case LevelOverdue:
		return 3
	case LevelEscalation:
		return 4
	}
	return -1
}

// Policy is an ordered list of escalation steps.
type Policy struct {
	ID           string `json:"id"`
	Steps        []Step `json:"steps"`
	MaxExtension string `json:"max_extension,omitempty"` // a deadline rule counted from the original start
	Source       string `json:"source,omitempty"`
}

// Step is one notice of a policy: when (At, relative to the deadline),
// optionally repeated (Every) while the instance is open, to whom and at
// which level. To holds roles (unit, contact, leader, office, co) or
// literal email addresses.
type Step struct {
	At    string   `json:"at"`
	Every string   `json:"every,omitempty"`
	To    []string `json:"to"`
	Level Level    `json:"level"`
}

// Roll says what happens to a recurring firing on a non-working day.
type Roll string

// Roll values (SPEC §5); for one-off Nd deadlines RollNone disables the
// Civil Code roll to the next working day.
const (
	RollNext Roll = "next"
	RollNone Roll = "none"
	RollSkip Roll = "skip"
)

// Item is a tracked obligation as written in a tracking file. One-off
// items have Due; recurring items have Every.
type Item struct {
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	Doc          string   `json:"doc,omitempty"`          // document number, e.g. 洛政办〔2026〕31号
	Requirements string   `json:"requirements,omitempty"` // 办理要求
	Unit         string   `json:"unit,omitempty"`         // lead unit; empty means pending assignment
	Units        []string `json:"units,omitempty"`        // several lead units, one instance each
	CoUnits      []string `json:"co_units,omitempty"`
	CoDue        string   `json:"co_due,omitempty"` // "-2wd": co-units' last day relative to the lead's
	Start        string   `json:"start,omitempty"`  // YYYY-MM-DD or YYYY-MM-DD HH:MM; empty: TrackedAt
	Due          string   `json:"due,omitempty"`
	Limit        string   `json:"limit,omitempty"`
	Every        string   `json:"every,omitempty"`
	Roll         Roll     `json:"roll,omitempty"`
	From         string   `json:"from,omitempty"`  // recurring: first day considered (default: TrackedAt)
	Until        string   `json:"until,omitempty"` // recurring: last day considered
	Policy       string   `json:"policy,omitempty"`
	Source       string   `json:"source,omitempty"`

	// TrackedAt is when the item was first imported; it never changes on
	// re-import and is the default start.
	TrackedAt time.Time `json:"tracked_at"`
}

// Recurring reports whether the item has a schedule rather than a single deadline.
func (it *Item) Recurring() bool { return it.Every != "" }

// LeadUnits returns the units that get a lead instance.
func (it *Item) LeadUnits() []string {
	if it.Unit != "" {
		return []string{it.Unit}
	}
	return it.Units
}

// Status is the state of an instance.
type Status string

// Instance statuses (SPEC §8).
const (
	StatusPending   Status = "pending"   // no unit assigned yet
	StatusOpen      Status = "open"      // assigned, to be handled
	StatusDone      Status = "done"      // completed
	StatusReturned  Status = "returned"  // sent back to the office as not the unit's business
	StatusWithdrawn Status = "withdrawn" // no longer required
)

// Active reports whether an instance in status s still needs handling
// (and so can be overdue and receive notices).
func (s Status) Active() bool {
	return s == StatusPending || s == StatusOpen || s == StatusReturned
}

// ValidStatus reports whether s names a status.
func ValidStatus(s string) bool {
	switch Status(s) {
	case StatusPending, StatusOpen, StatusDone, StatusReturned, StatusWithdrawn:
		return true
	}
	return false
}

// Instance is one unit's obligation for one item (and, for recurring
// items, one period). Its id is deterministic (SPEC §5).
type Instance struct {
	ID     string `json:"id"`
	Item   string `json:"item"`
	Unit   string `json:"unit,omitempty"`
	Co     bool   `json:"co,omitempty"`     // a co-unit's (协办) instance
	Period string `json:"period,omitempty"` // recurring: scheduled firing day YYYY-MM-DD
	Status Status `json:"status"`

	Start      time.Time `json:"start"`
	Deadline   Deadline  `json:"deadline"`
	Limit      *Deadline `json:"limit,omitempty"`
	Original   *Deadline `json:"original,omitempty"` // the deadline before the first extension
	Extensions int       `json:"extensions,omitempty"`
	// Revision counts recomputes that moved the deadline or hard limit
	// (e.g. a calendar change); with Extensions it is the .ics SEQUENCE.
	Revision   int       `json:"revision,omitempty"`
	DoneAt     time.Time `json:"done_at,omitzero"`
	Note       string    `json:"note,omitempty"`       // latest progress or completion note
	AssignedAt time.Time `json:"assigned_at,omitzero"` // when a unit was (last) assigned; drives the assigned notice
	UpdatedAt  time.Time `json:"updated_at"`

	// NoticedThrough is the scheduler pass up to which this instance's
	// notices have been decided (queued or skipped).
	NoticedThrough time.Time `json:"noticed_through,omitzero"`
	// NextNotice is when the scheduler must look at the instance again:
	// zero means "at the next pass" (it changed), Never means no notice is
	// left. The store indexes it (the wake index).
	NextNotice time.Time `json:"next_notice,omitzero"`
}

// Never is the NextNotice of an instance with no notice left to send.
var Never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Overdue reports whether the instance is still to be handled and its
// deadline has passed at now.
func (in *Instance) Overdue(now time.Time) bool {
	return in.Status.Active() && !now.Before(in.Deadline.Due)
}

// PastLimit reports whether the hard limit has passed at now.
func (in *Instance) PastLimit(now time.Time) bool {
	return in.Status.Active() && in.Limit != nil && !now.Before(in.Limit.Due)
}

// Event is one entry of an instance's append-only history.
type Event struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // tracked, updated, assign, progress, done, extend, return, withdraw, recomputed
	Note   string    `json:"note,omitempty"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
}

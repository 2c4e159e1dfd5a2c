package tracker

import (
	"errors"
	"time"
)

// ErrNotFound is returned (wrapped) when an id names nothing stored.
var ErrNotFound = errors.New("not found")

// Store is transactional storage for tracking data. Implementations
// (tracker/kvstore) run fn in one transaction: Update commits when fn
// returns nil and rolls everything back otherwise.
type Store interface {
	View(fn func(Tx) error) error
	Update(fn func(Tx) error) error
	Close() error
}

// Tx is one transaction. Values returned are copies owned by the caller.
// Methods of a read-only transaction that write return an error.
type Tx interface {
	Office() (Office, error)
	PutOffice(Office) error

	Person(id string) (*Person, error) // ErrNotFound if absent
	PutPerson(*Person) error
	Unit(id string) (*Unit, error)
	PutUnit(*Unit) error
	Units(fn func(*Unit) error) error
	Policy(id string) (*Policy, error)
	PutPolicy(*Policy) error
	Policies(fn func(*Policy) error) error

	Item(id string) (*Item, error)
	PutItem(*Item) error
	Items(fn func(*Item) error) error

	Instance(id string) (*Instance, error)
	// PutInstance stores in and keeps the due index in step: an active
	// instance is indexed under its deadline, a finished one is not.
	PutInstance(in *Instance) error
	// Instances calls fn for every instance in id order.
	Instances(fn func(*Instance) error) error
	// InstancesOf calls fn for the instances of item, in id order.
	InstancesOf(item string, fn func(*Instance) error) error
	// DueBefore calls fn, in deadline order, for active instances whose
	// Deadline.Due is before t (all of them when t is zero), reading only
	// the due index and the instances it names. Returning ErrStop from fn
	// ends the scan without error.
	DueBefore(t time.Time, fn func(*Instance) error) error
	// DueEntries calls fn, in the same order and for the same instances
	// as DueBefore, with what the due index keeps of each: the fields of
	// a list row. It reads only the due index (a covering index: the
	// store keeps it in step with instances and items in the same
	// transaction). The entry is valid only during the call. ErrStop
	// ends the scan without error.
	DueEntries(t time.Time, fn func(*DueEntry) error) error

	// AssignedBetween calls fn, in AssignedAt order, for active instances
	// whose AssignedAt is in [from, to), reading only the assigned index
	// and the instances it names. ErrStop ends the scan without error.
	AssignedBetween(from, to time.Time, fn func(*Instance) error) error

	// WakeBefore calls fn, in NextNotice order, for active instances whose
	// NextNotice is before t (zero NextNotice sorts first; Never is not
	// indexed). ErrStop ends the scan without error.
	WakeBefore(t time.Time, fn func(*Instance) error) error
	// FirstWake returns the earliest NextNotice of an active instance, and
	// false if there is none.
	FirstWake() (time.Time, bool, error)

	// Delivery returns the outbox entry with key (ErrNotFound if absent).
	Delivery(key string) (*Delivery, error)
	// PutDelivery stores d and keeps the queue index (queued entries by
	// NextAttempt) in step.
	PutDelivery(d *Delivery) error
	// QueuedBefore calls fn, in NextAttempt order, for queued deliveries
	// due before t. ErrStop ends the scan without error.
	QueuedBefore(t time.Time, fn func(*Delivery) error) error
	// FirstQueued returns the earliest NextAttempt of a queued delivery.
	FirstQueued() (time.Time, bool, error)
	// Deliveries calls fn for every outbox entry in key order.
	Deliveries(fn func(*Delivery) error) error

	// AppendEvent adds e to the history of instance id.
	AppendEvent(id string, e Event) error
	Events(id string) ([]Event, error)

	// Meta reads and writes small named values (schema version, daemon status).
	Meta(key string) ([]byte, error) // nil, nil if absent
	PutMeta(key string, value []byte) error
}

// DueEntry is what the due index keeps of an active instance: what a
// list row shows, so that `duban list` reads neither the instance nor
// its item. The unit's name is not kept (a unit rename would rewrite
// every entry of the unit; there are few units, and List caches them).
type DueEntry struct {
	// In holds the instance's ID, Item, Unit, Co, Status, Deadline and
	// Limit (their LastDay, Due, Timed and Provisional), Extensions (1
	// for any number), DoneAt and Note; its other fields are zero.
	In Instance
	// Title and Doc are the item's. HasItem is false when the item was
	// not stored when the entry was written: then read the item.
	Title, Doc string
	HasItem    bool
}

// ErrStop ends an iteration early without an error.
var ErrStop = errors.New("stop iteration")

// Bundle is the content of one import: every tracking file of it, merged.
type Bundle struct {
	Office   *Office
	People   []Person
	Units    []Unit
	Policies []Policy
	Items    []Item
	// Scoring is the 考核评分标准 (`scoring:`); nil keeps the stored one.
	Scoring *Scoring
}

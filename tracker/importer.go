package tracker

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ImportResult counts what an import changed.
type ImportResult struct {
	ItemsAdded       int `json:"items_added"`
	ItemsUpdated     int `json:"items_updated"`
	InstancesAdded   int `json:"instances_added"`
	InstancesUpdated int `json:"instances_updated"`
	Unchanged        int `json:"unchanged"`
	// Directory counts office, people, units and policies written.
	Directory int `json:"directory_changed"`
	// Corrections counts 更正 notices queued for recipients who had been
	// told a deadline that moved.
	Corrections int `json:"corrections,omitempty"`

	moved []moved // instances whose deadline or limit changed
}

// moved is an instance whose deadline or hard limit was recomputed, with
// what they were before.
type moved struct {
	id          string
	oldDeadline Deadline
	oldLimit    *Deadline
}

// Changed reports whether the import wrote anything.
func (r ImportResult) Changed() bool {
	return r.ItemsAdded+r.ItemsUpdated+r.InstancesAdded+r.InstancesUpdated+r.Directory > 0
}

// Import upserts b into tx as of now. It is idempotent: importing the same
// bundle again changes nothing, and it never resets progress — a done,
// withdrawn, returned or extended instance keeps its state; a pending one
// becomes open when the file now names its unit; an open one never goes
// back to pending. Deadlines of active, unextended instances are
// recomputed when the item's rules changed, and the change is recorded in
// the instance's history.
func (x *Expander) Import(tx Tx, b *Bundle, now time.Time, actor string) (ImportResult, error) {
	var res ImportResult
	if b.Office != nil {
		old, err := tx.Office()
		if err != nil {
			return res, err
		}
		if old != *b.Office {
			if err := tx.PutOffice(*b.Office); err != nil {
				return res, err
			}
			res.Directory++
		}
	}
	if b.Scoring != nil {
		old, err := StoredScoring(tx)
		if err != nil {
			return res, err
		}
		if !jsonEqual(&old, b.Scoring) {
			if err := PutScoring(tx, b.Scoring); err != nil {
				return res, err
			}
			res.Directory++
		}
	}
	for i := range b.People {
		p := &b.People[i]
		if err := putIfChanged(&res, p, func() (any, error) { return tx.Person(p.ID) }, func() error { return tx.PutPerson(p) }); err != nil {
			return res, err
		}
	}
	for i := range b.Units {
		u := &b.Units[i]
		if err := putIfChanged(&res, u, func() (any, error) { return tx.Unit(u.ID) }, func() error { return tx.PutUnit(u) }); err != nil {
			return res, err
		}
	}
	for i := range b.Policies {
		p := &b.Policies[i]
		if err := putIfChanged(&res, p, func() (any, error) { return tx.Policy(p.ID) }, func() error { return tx.PutPolicy(p) }); err != nil {
			return res, err
		}
	}
	// Items in three steps: store each item (keeping when it was first
	// tracked, which its instances depend on); expand them all, which is
	// pure and runs on every core; then fold the instances into the store
	// in file order. Any error aborts the transaction, so the order of
	// the steps is invisible in the result.
	itemErr := func(i int, err error) error {
		return fmt.Errorf("item %s (%s): %w", b.Items[i].ID, b.Items[i].Source, err)
	}
	// A recurring item that is stored unchanged gets no new instances
	// here: those that came within the horizon since it was last
	// materialised are Materialise's to create (the daemon's next pass),
	// so that importing the same files again changes nothing, whenever
	// it runs.
	same := make([]bool, len(b.Items))
	for i := range b.Items {
		n := res.ItemsAdded + res.ItemsUpdated
		if err := putItem(tx, &b.Items[i], now, &res); err != nil {
			return res, itemErr(i, err)
		}
		same[i] = res.ItemsAdded+res.ItemsUpdated == n && b.Items[i].Recurring()
	}
	expanded := make([][]Instance, len(b.Items))
	errs := make([]error, len(b.Items))
	parallel(len(b.Items), func(i int) { expanded[i], errs[i] = x.Expand(&b.Items[i], now) })
	for i := range b.Items {
		if errs[i] != nil {
			return res, itemErr(i, errs[i])
		}
		for j := range expanded[i] {
			if same[i] {
				if _, err := tx.Instance(expanded[i][j].ID); errors.Is(err, ErrNotFound) {
					continue
				} else if err != nil {
					return res, itemErr(i, err)
				}
			}
			if err := mergeInstance(tx, &expanded[i][j], now, actor, &res); err != nil {
				return res, itemErr(i, err)
			}
		}
		expanded[i] = nil
	}
	if err := queueCorrections(tx, &res, now); err != nil {
		return res, err
	}
	return res, nil
}

// parallel calls f(0) … f(n-1) on up to GOMAXPROCS goroutines and
// returns when all calls have returned.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+255)/256)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(256)) - 256
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+256, n); i++ {
					f(i)
				}
			}
		})
	}
	wg.Wait()
}

// putIfChanged writes v unless the stored value equals it.
func putIfChanged(res *ImportResult, v any, get func() (any, error), put func() error) error {
	old, err := get()
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	case reflect.DeepEqual(old, v):
		return nil
	}
	res.Directory++
	return put()
}

// putItem stores it, new or changed, keeping the time it was first tracked.
func putItem(tx Tx, it *Item, now time.Time, res *ImportResult) error {
	old, err := tx.Item(it.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		it.TrackedAt = now.UTC().Truncate(time.Second)
		if err := tx.PutItem(it); err != nil {
			return err
		}
		res.ItemsAdded++
	case err != nil:
		return err
	default:
		it.TrackedAt = old.TrackedAt
		if !reflect.DeepEqual(old, it) {
			if err := tx.PutItem(it); err != nil {
				return err
			}
			res.ItemsUpdated++
		}
	}
	return nil
}

// mergeInstance stores fresh, or folds it into the stored instance
// without losing progress.
func mergeInstance(tx Tx, fresh *Instance, now time.Time, actor string, res *ImportResult) error {
	stamp := now.UTC().Truncate(time.Second)
	old, err := tx.Instance(fresh.ID)
	if errors.Is(err, ErrNotFound) {
		fresh.UpdatedAt = stamp
		if fresh.AssignedAt.IsZero() && fresh.Status == StatusOpen && fresh.Period == "" {
			fresh.AssignedAt = stamp
		}
		if err := tx.PutInstance(fresh); err != nil {
			return err
		}
		res.InstancesAdded++
		return tx.AppendEvent(fresh.ID, Event{At: stamp, Actor: actor, Action: "tracked", To: fresh.Deadline.Due.Format(time.RFC3339)})
	}
	if err != nil {
		return err
	}
	upd := *old
	var events []Event
	if old.Status == StatusPending && fresh.Status == StatusOpen && fresh.Unit != "" {
		upd.Status, upd.Unit, upd.AssignedAt = StatusOpen, fresh.Unit, stamp
		events = append(events, Event{At: stamp, Actor: actor, Action: "assign", To: fresh.Unit, Note: "unit named in the tracking file"})
	}
	if old.Status.Active() && old.Extensions == 0 {
		if !sameDeadline(old.Deadline, fresh.Deadline) {
			events = append(events, Event{At: stamp, Actor: actor, Action: "recomputed", Note: "办理时限",
				From: old.Deadline.Due.Format(time.RFC3339), To: fresh.Deadline.Due.Format(time.RFC3339)})
		}
		upd.Deadline = fresh.Deadline
		upd.Start = fresh.Start
	}
	// A limit moved by an extension (OriginalLimit set) or a sheet's 限期 is kept, like an extended deadline.
	if old.Status.Active() && old.OriginalLimit == nil && old.Sheets == 0 && !sameLimit(old.Limit, fresh.Limit) {
		events = append(events, Event{At: stamp, Actor: actor, Action: "recomputed", Note: "最迟时限",
			From: limitText(old.Limit), To: limitText(fresh.Limit)})
		upd.Limit = fresh.Limit
	}
	if old.Status.Active() && (!sameDeadline(old.Deadline, upd.Deadline) || !sameLimit(old.Limit, upd.Limit)) {
		// A moved deadline is a new revision of the .ics event (SEQUENCE)
		// and owes a correction to whoever was told the old one.
		if !old.Deadline.Due.Equal(upd.Deadline.Due) || !sameDue(old.Limit, upd.Limit) {
			upd.Revision++
			res.moved = append(res.moved, moved{id: upd.ID, oldDeadline: old.Deadline, oldLimit: old.Limit})
		}
	}
	if jsonEqual(old, &upd) {
		res.Unchanged++
		return nil
	}
	upd.UpdatedAt = stamp
	upd.NextNotice = time.Time{} // the scheduler re-plans it at its next pass
	if err := tx.PutInstance(&upd); err != nil {
		return err
	}
	res.InstancesUpdated++
	for _, e := range events {
		if err := tx.AppendEvent(upd.ID, e); err != nil {
			return err
		}
	}
	return nil
}

func sameDeadline(a, b Deadline) bool { return jsonEqual(a, b) }

// sameDue reports whether two optional deadlines fall due at the same instant.
func sameDue(a, b *Deadline) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Due.Equal(b.Due)
}

// limitText is a hard limit's due instant for history, "" for none.
func limitText(l *Deadline) string {
	if l == nil {
		return ""
	}
	return l.Due.Format(time.RFC3339)
}

func sameLimit(a, b *Deadline) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameDeadline(*a, *b)
}

// jsonEqual compares values as they would be stored.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// Materialise creates the recurring instances that have come within the
// horizon as of now, for every stored recurring item. Existing instances
// are left as they are (their progress is never touched).
func (x *Expander) Materialise(tx Tx, now time.Time, actor string) (ImportResult, error) {
	var res ImportResult
	var recurring []*Item
	if err := tx.Items(func(it *Item) error {
		if it.Recurring() {
			recurring = append(recurring, it)
		}
		return nil
	}); err != nil {
		return res, err
	}
	for _, it := range recurring {
		fresh, err := x.Expand(it, now)
		if err != nil {
			return res, fmt.Errorf("item %s: %w", it.ID, err)
		}
		for i := range fresh {
			if _, err := tx.Instance(fresh[i].ID); err == nil {
				continue
			} else if !errors.Is(err, ErrNotFound) {
				return res, err
			}
			if err := mergeInstance(tx, &fresh[i], now, actor, &res); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// Recompute recomputes the deadlines of every active instance from its
// item's rules, e.g. after the working calendar changed. Changes are
// recorded in the instances' history ("recomputed"), raise the instance's
// Revision (the .ics SEQUENCE) and queue a correction (更正) to every
// recipient already sent a notice of it (SPEC §3); extended, finished
// and unchanged instances are left alone. Notice identities do not
// depend on repetition numbers, so no notice sent before collides with
// one planned after (SPEC §6).
func (x *Expander) Recompute(tx Tx, now time.Time, actor string) (ImportResult, error) {
	var res ImportResult
	seen := make(map[string]bool)
	var items []string
	if err := tx.DueBefore(time.Time{}, func(in *Instance) error {
		if !seen[in.Item] {
			seen[in.Item] = true
			items = append(items, in.Item)
		}
		return nil
	}); err != nil {
		return res, err
	}
	for _, id := range items {
		it, err := tx.Item(id)
		if err != nil {
			return res, err
		}
		fresh, err := x.Expand(it, now)
		if err != nil {
			return res, fmt.Errorf("item %s: %w", id, err)
		}
		for i := range fresh {
			if _, err := tx.Instance(fresh[i].ID); errors.Is(err, ErrNotFound) {
				continue // creating instances is Materialise's job
			} else if err != nil {
				return res, err
			}
			if err := mergeInstance(tx, &fresh[i], now, actor, &res); err != nil {
				return res, err
			}
		}
	}
	if err := queueCorrections(tx, &res, now); err != nil {
		return res, err
	}
	return res, nil
}

// queueCorrections queues, for each instance in res.moved, a correction
// (更正) to every address that was sent a notice of it: one outbox scan
// for all of them. The correction goes out with the next pass.
func queueCorrections(tx Tx, res *ImportResult, now time.Time) error {
	if len(res.moved) == 0 {
		return nil
	}
	moves := make(map[string]moved, len(res.moved))
	for _, m := range res.moved {
		moves[m.id] = m
	}
	told := make(map[string][]string)
	if err := tx.Deliveries(func(dl *Delivery) error {
		if _, ok := moves[dl.Instance]; ok && dl.State == DeliverySent && dl.To != "" &&
			(dl.Level.Rank() >= 0 || dl.Level == LevelCorrection) && !slices.Contains(told[dl.Instance], dl.To) {
			told[dl.Instance] = append(told[dl.Instance], dl.To)
		}
		return nil
	}); err != nil {
		return err
	}
	stamp := now.UTC()
	for _, m := range res.moved {
		if len(told[m.id]) == 0 {
			continue
		}
		in, err := tx.Instance(m.id)
		if err != nil {
			return err
		}
		var limitDue time.Time
		if in.Limit != nil {
			limitDue = in.Limit.Due
		}
		for _, addr := range told[m.id] {
			key := CorrectionKey(in.ID, in.Deadline.Due, limitDue, addr)
			old := m.oldDeadline
			dl := &Delivery{Key: key, Notice: strings.TrimSuffix(key, "|"+addr), Instance: in.ID, Step: CorrectionStep,
				Level: LevelCorrection, To: addr, At: stamp, State: DeliveryQueued, QueuedAt: stamp, NextAttempt: stamp,
				OldDeadline: &old, OldLimit: m.oldLimit}
			if err := putNew(tx, dl); err != nil {
				return err
			}
			res.Corrections++
		}
	}
	res.moved = nil
	return nil
}

// CalendarFingerprint summarises what deadline arithmetic depends on
// besides the rules: the zone, day_end, send_time, and which days from two
// years before now to two years after are working days and which years
// are known. A daemon whose fingerprint differs from the one the stored
// deadlines were computed with recomputes them (cmd/internal/daemon).
func (x *Expander) CalendarFingerprint(now time.Time) string {
	env := x.Env
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%d|", env.Loc, env.DayEnd, env.SendTime)
	year := env.Today(now).Year
	for y := year - 2; y <= year+2; y++ {
		fmt.Fprintf(h, "%d:%t:", y, env.Cal.Known(y))
		var bits []byte
		for d := (Date{Year: y, Month: time.January, Day: 1}); d.Year == y; d = d.AddDays(1) {
			if env.Cal.IsWorkday(d) {
				bits = append(bits, '1')
			} else {
				bits = append(bits, '0')
			}
		}
		h.Write(bits)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

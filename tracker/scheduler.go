package tracker

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Catchup says what happens to notices that came due while the daemon was
// down (SPEC §6).
type Catchup string

// Catch-up modes.
const (
	CatchupLatest Catchup = "latest" // per instance and level, only the latest missed notice
	CatchupAll    Catchup = "all"
	CatchupNone   Catchup = "none"
)

// LateAfter is how long after its time a notice counts as missed (sent
// late, after downtime) rather than on time.
const LateAfter = 15 * time.Minute

// nextNoticeWindow bounds the search for an instance's next notice.
const nextNoticeWindow = 400 * 24 * time.Hour

// DecideResult counts what a decision pass did.
type DecideResult struct {
	Instances int `json:"instances"`
	Queued    int `json:"queued"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"` // notices with no recipient address
}

// Decide records in tx, as of now, every notice that has come due since
// each instance was last looked at: queued deliveries (one per notice and
// recipient) or, for notices missed during downtime that catchup drops,
// skipped entries. It advances each instance's NoticedThrough and
// NextNotice in the same transaction, so a crash either keeps the whole
// decision or none of it. Only instances in the wake index up to now are
// read.
func (x *Expander) Decide(tx Tx, now time.Time, catchup Catchup, officeFallback string) (DecideResult, error) {
	var res DecideResult
	stamp := now.UTC()
	items := make(map[string]*Item)
	policies := make(map[string]*Policy)
	var touched []*Instance
	err := tx.WakeBefore(now.Add(time.Nanosecond), func(in *Instance) error {
		touched = append(touched, in)
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, in := range touched {
		it, ok := items[in.Item]
		if !ok {
			if it, err = tx.Item(in.Item); err != nil {
				return res, fmt.Errorf("instance %s: %w", in.ID, err)
			}
			items[in.Item] = it
		}
		pol, ok := policies[it.Policy]
		if !ok {
			if pol, err = PolicyFor(tx, it); err != nil {
				return res, err
			}
			policies[it.Policy] = pol
		}
		from := time.Time{}
		if !in.NoticedThrough.IsZero() {
			from = in.NoticedThrough.Add(time.Nanosecond)
		}
		due := x.Notices(in, pol, from, now.Add(time.Nanosecond))
		// AssignedAt is stored to the second, like every action's stamp: an
		// assignment made in the same second as the previous pass (after
		// it) lies just before from. Look at that second again for the
		// assigned notice; putNew drops it if that pass had decided it.
		if a := in.AssignedAt; !in.NoticedThrough.IsZero() && a.Before(from) && !a.Before(in.NoticedThrough.Truncate(time.Second)) {
			for _, n := range x.Notices(in, pol, a, from) {
				if n.Step == AssignedStep || n.Step == ReassignedStep {
					due = append([]Notice{n}, due...)
				}
			}
		}
		for _, d := range decideCatchup(due, now, catchup) {
			n := d.notice
			if d.skip {
				if err := putNew(tx, &Delivery{Key: DeliveryKey(n, ""), Notice: n.Key(), Instance: in.ID, Step: n.Step, Rep: n.Rep,
					Level: n.Level, At: n.At.UTC(), Late: true, State: DeliverySkipped, QueuedAt: stamp}); err != nil {
					return res, err
				}
				res.Skipped++
				continue
			}
			addrs, err := Recipients(tx, in, it, n.To, officeFallback)
			if err != nil {
				return res, err
			}
			if len(addrs) == 0 && in.Unit == "" {
				// A pending item has no unit yet: its notices go to the
				// office, which must assign it (SPEC §2).
				if addrs, err = Recipients(tx, in, it, []string{"office"}, officeFallback); err != nil {
					return res, err
				}
			}
			if len(addrs) == 0 {
				// Never dropped silently: visible in `duban outbox --failed`.
				if err := putNew(tx, &Delivery{Key: DeliveryKey(n, ""), Notice: n.Key(), Instance: in.ID, Step: n.Step, Rep: n.Rep,
					Level: n.Level, At: n.At.UTC(), Late: d.late, State: DeliveryFailed, QueuedAt: stamp,
					LastError: fmt.Sprintf("no recipient address for %v", n.To)}); err != nil {
					return res, err
				}
				res.Failed++
				continue
			}
			for _, addr := range addrs {
				if err := putNew(tx, &Delivery{Key: DeliveryKey(n, addr), Notice: n.Key(), Instance: in.ID, Step: n.Step, Rep: n.Rep,
					Level: n.Level, To: addr, At: n.At.UTC(), Late: d.late, State: DeliveryQueued, QueuedAt: stamp,
					NextAttempt: stamp}); err != nil {
					return res, err
				}
				res.Queued++
			}
		}
		in.NoticedThrough = stamp
		in.NextNotice = Never
		if next, ok := x.NextNotice(in, pol, now.Add(time.Nanosecond), now.Add(nextNoticeWindow)); ok {
			in.NextNotice = next.At.UTC()
		} else if in.Deadline.Due.After(now) || (in.Limit != nil && in.Limit.Due.After(now)) {
			// Nothing in the window but the deadline is further out: look again then.
			in.NextNotice = now.Add(nextNoticeWindow).UTC()
		}
		if err := tx.PutInstance(in); err != nil {
			return res, err
		}
		res.Instances++
	}
	return res, nil
}

// putNew stores d unless an entry with its key exists already: deciding
// the same notice twice never queues it twice.
func putNew(tx Tx, d *Delivery) error {
	_, err := tx.Delivery(d.Key)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, ErrNotFound):
		return err
	}
	return tx.PutDelivery(d)
}

type decision struct {
	notice     Notice
	late, skip bool
}

// decideCatchup marks notices that came due more than LateAfter before
// now as late and, per catchup, keeps only the latest late notice of each
// level (latest), all of them (all) or none (none). On-time notices are
// always kept.
func decideCatchup(ns []Notice, now time.Time, catchup Catchup) []decision {
	out := make([]decision, len(ns))
	latest := make(map[Level]int)
	for i, n := range ns {
		late := now.Sub(n.At) > LateAfter
		out[i] = decision{notice: n, late: late}
		if late {
			if j, ok := latest[n.Level]; !ok || !ns[j].At.After(n.At) {
				latest[n.Level] = i
			}
		}
	}
	for i := range out {
		if !out[i].late {
			continue
		}
		switch catchup {
		case CatchupNone:
			out[i].skip = true
		case CatchupAll:
		default:
			out[i].skip = latest[out[i].notice.Level] != i
		}
	}
	// Assigned notices are never dropped: they carry the deadline itself;
	// nor are 改派 notices, the previous unit's only word of the change.
	for i := range out {
		if out[i].notice.Level == LevelAssigned || out[i].notice.Level == LevelReassigned {
			out[i].skip = false
		}
	}
	return slices.Clip(out)
}

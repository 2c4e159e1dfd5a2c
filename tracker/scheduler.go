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
	// Superseded counts deliveries recorded as superseded by a more
	// urgent notice of the same instance to the same recipient.
	Superseded int `json:"superseded"`
}

// metaLastDecide holds when the previous decision pass ran (RFC 3339):
// a notice due after it and missed is one the daemon was down for.
const metaLastDecide = "last_decide"

// Decide records in tx, as of now, every notice that has come due since
// each instance was last looked at: queued deliveries (one per notice and
// recipient) or, for notices missed during downtime that catchup drops,
// skipped entries. Per instance and recipient only the most urgent notice
// is queued, the others recorded as superseded (unless catchup is all).
// A notice is marked late (补发) only when it came due after the previous
// decision pass (stored in meta) while its item was tracked: the first
// pass ever, or an item imported with a past start, sends nothing late. It advances each instance's NoticedThrough and
// NextNotice in the same transaction, so a crash either keeps the whole
// decision or none of it. Only instances in the wake index up to now are
// read.
func (x *Expander) Decide(tx Tx, now time.Time, catchup Catchup, officeFallback string) (DecideResult, error) {
	var res DecideResult
	stamp := now.UTC()
	items := make(map[string]*Item)
	policies := make(map[string]*Policy)
	var lastPass time.Time
	if b, err := tx.Meta(metaLastDecide); err != nil {
		return res, err
	} else if b != nil {
		if lastPass, err = time.Parse(time.RFC3339Nano, string(b)); err != nil {
			return res, fmt.Errorf("meta %s: %w", metaLastDecide, err)
		}
	}
	if now.After(lastPass) {
		if err := tx.PutMeta(metaLastDecide, []byte(stamp.Format(time.RFC3339Nano))); err != nil {
			return res, err
		}
	}
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
		// Steps with `sheet:` issue their sheet when they first fire; the
		// instance then has a new hard limit and a sheet notice.
		if issued, err := x.policySheets(tx, in, pol, due, stamp); err != nil {
			return res, err
		} else if issued {
			due = x.Notices(in, pol, from, now.Add(time.Nanosecond))
		}
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
		var kept []decision
		for _, d := range decideCatchup(due, now, catchup) {
			n := d.notice
			// Only downtime makes a notice late (补发): it came due after
			// the previous pass, while the item was tracked. A notice of
			// an item imported with a past start, or one due before the
			// first pass ever, was never missed by the daemon (SPEC §6).
			d.late = d.missed && !lastPass.IsZero() && n.At.After(lastPass) && !n.At.Before(it.TrackedAt)
			if d.skip {
				if err := putNew(tx, &Delivery{Key: DeliveryKey(n, ""), Notice: n.Key(), Instance: in.ID, Step: n.Step, Rep: n.Rep,
					Level: n.Level, At: n.At.UTC(), Late: d.late, State: DeliverySkipped, QueuedAt: stamp}); err != nil {
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
			// Addresses this notice was already decided for (the
			// assigned notice looked at again) are not decided twice.
			var fresh []string
			for _, addr := range addrs {
				if _, err := tx.Delivery(DeliveryKey(n, addr)); errors.Is(err, ErrNotFound) {
					fresh = append(fresh, addr)
				} else if err != nil {
					return res, err
				}
			}
			d.addrs = fresh
			kept = append(kept, d)
		}
		for _, dl := range supersede(kept, in.ID, stamp, catchup != CatchupAll) {
			if err := putNew(tx, dl); err != nil {
				return res, err
			}
			if dl.State == DeliveryQueued {
				res.Queued++
			} else {
				res.Superseded++
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
	notice Notice
	// missed: due more than LateAfter before the pass; late: missed
	// while the daemon was down (补发); skip: dropped by catchup.
	missed, late, skip bool
	addrs              []string
}

// supersede turns the decisions of one instance into deliveries: per
// recipient, the most urgent notice (latest among equals) is queued and,
// when collapse is set, the others are recorded as superseded by it, so
// that a digest names each instance once (SPEC §6). Without collapse
// every notice is queued.
func supersede(ds []decision, instance string, stamp time.Time, collapse bool) []*Delivery {
	byAddr := make(map[string][]int)
	var order []string
	for i, d := range ds {
		for _, a := range d.addrs {
			if _, ok := byAddr[a]; !ok {
				order = append(order, a)
			}
			byAddr[a] = append(byAddr[a], i)
		}
	}
	var out []*Delivery
	for _, addr := range order {
		idx := byAddr[addr]
		win := idx[0]
		for _, i := range idx[1:] {
			a, b := ds[i].notice, ds[win].notice
			if a.Level.Rank() > b.Level.Rank() || a.Level.Rank() == b.Level.Rank() && !a.At.Before(b.At) {
				win = i
			}
		}
		w := ds[win].notice
		var lost []string
		for _, i := range idx {
			n := ds[i].notice
			dl := &Delivery{Key: DeliveryKey(n, addr), Notice: n.Key(), Instance: instance, Step: n.Step, Rep: n.Rep,
				Level: n.Level, To: addr, At: n.At.UTC(), Late: ds[i].late, State: DeliveryQueued, QueuedAt: stamp, NextAttempt: stamp}
			if collapse && i != win {
				dl.State, dl.NextAttempt, dl.SupersededBy = DeliverySuperseded, time.Time{}, w.Key()
				lost = append(lost, n.Key())
			}
			out = append(out, dl)
		}
		for _, dl := range out {
			if dl.To == addr && dl.Notice == w.Key() {
				dl.Supersedes = lost
			}
		}
	}
	return out
}

// decideCatchup marks notices that came due more than LateAfter before
// now as missed and, per catchup, keeps only the latest missed notice of
// each level (latest), all of them (all) or none (none). On-time notices
// are always kept.
func decideCatchup(ns []Notice, now time.Time, catchup Catchup) []decision {
	out := make([]decision, len(ns))
	latest := make(map[Level]int)
	for i, n := range ns {
		missed := now.Sub(n.At) > LateAfter
		out[i] = decision{notice: n, missed: missed}
		if missed {
			if j, ok := latest[n.Level]; !ok || !ns[j].At.After(n.At) {
				latest[n.Level] = i
			}
		}
	}
	for i := range out {
		if !out[i].missed {
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
		if out[i].notice.Level == LevelAssigned || out[i].notice.Level == LevelReassigned || out[i].notice.Level == LevelSheet {
			out[i].skip = false
		}
	}
	return slices.Clip(out)
}

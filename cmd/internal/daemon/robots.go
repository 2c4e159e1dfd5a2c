package daemon

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"duban/cmd/internal/config"
	"duban/notify"
	"duban/tracker"
)

// Work-group robots (SPEC §13) are recipients like mail addresses: a
// delivery to "robot:<name>" is queued by the same decision as the mail,
// in the same transaction, and marked sent only after the vendor
// accepted the message that carried it. Each group gets one digest per
// pass (most urgent first, each instance once), split at entry
// boundaries into parts within the vendor's size limit; each part is
// marked sent in its own transaction right after the vendor accepted it,
// so a crash repeats at most the one part in flight. Posts are paced per
// robot below the vendor's rate (the times of the recent posts are kept
// in the store, written with the sent mark).

// robotTimeout bounds one post to a robot.
const robotTimeout = 30 * time.Second

// metaRobotPace is the meta key prefix of a robot's recent post times.
const metaRobotPace = "robot_pace|"

// isRobot reports whether dl goes to a work-group robot.
func isRobot(dl *tracker.Delivery) bool {
	_, ok := tracker.RobotRecipient(dl.To)
	return ok
}

// robot returns the configured robot name, nil if config has none.
func (d *Daemon) robot(name string) *notify.Robot {
	d.mu.Lock()
	if d.robotHTTP == nil {
		d.robotHTTP = &http.Client{Timeout: robotTimeout}
	}
	client := d.robotHTTP
	d.mu.Unlock()
	return NewRobot(d.Config(), name, client)
}

// NewRobot returns the robot config names (nil if it has none), posting
// with client (nil: a client with a 30s timeout).
func NewRobot(cfg *config.Config, name string, client *http.Client) *notify.Robot {
	rc, ok := cfg.Robots[strings.ToLower(name)]
	if !ok {
		return nil
	}
	return &notify.Robot{Name: name, Kind: rc.Kind, URL: string(rc.URL), Secret: string(rc.Secret), Keyword: rc.Keyword, HTTP: client}
}

// deliverRobots sends the queued robot deliveries due at now: per robot,
// the parts of one digest, as many as its pace allows.
func (d *Daemon) deliverRobots(ctx context.Context, now time.Time) (deliverResult, error) {
	var res deliverResult
	byRobot := make(map[string][]*tracker.Delivery)
	if err := d.store.View(func(tx tracker.Tx) error {
		return tx.QueuedBefore(now, func(dl *tracker.Delivery) error {
			if name, ok := tracker.RobotRecipient(dl.To); ok && !isReportLevel(dl.Level) {
				byRobot[name] = append(byRobot[name], dl)
			}
			return nil
		})
	}); err != nil {
		return res, err
	}
	names := make([]string, 0, len(byRobot))
	for n := range byRobot {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		if ctx.Err() != nil {
			break // SIGTERM: the rest stays queued
		}
		if err := d.deliverRobot(ctx, name, byRobot[name], now, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// deliverRobot sends one robot's digest.
func (d *Daemon) deliverRobot(ctx context.Context, name string, all []*tracker.Delivery, now time.Time, res *deliverResult) error {
	r := d.robot(name)
	if r == nil {
		err := fmt.Errorf("%w: 配置中没有名为 %s 的群机器人（robots.%s）", notify.ErrInvalid, name, name)
		return d.recordRobot(name, all, nil, err, now, res)
	}
	group, superseded := collapseGroup(all)
	dg, order, err := d.robotDigest(group, now)
	if err != nil { // as for mail: a message that cannot be built fails, it does not block the queue
		return d.recordRobot(name, all, nil, fmt.Errorf("%w: %w", notify.ErrInvalid, err), now, res)
	}
	msgs, err := r.Messages(dg)
	if err != nil {
		return d.recordRobot(name, group, nil, err, now, res)
	}
	lim := notify.KindLimits(r.Kind)
	carried := func(ms []*notify.RobotMessage) []*tracker.Delivery { // the deliveries messages ms carry
		var out []*tracker.Delivery
		for _, m := range ms {
			for _, i := range m.Entries {
				out = append(out, order[i]...)
			}
		}
		return out
	}
	for k, m := range msgs {
		if ctx.Err() != nil {
			return nil
		}
		free, err := d.robotFree(name, lim, now)
		if err != nil {
			return err
		}
		if free.After(now) {
			// Paced: the rest waits, unattempted, until the window frees.
			d.logger.Debug("robot paced", "robot", r, "parts_waiting", len(msgs)-k, "until", free)
			return d.postpone(carried(msgs[k:]), free)
		}
		if err := d.claim(carried(msgs[k : k+1])); err != nil { // several nodes (cluster.go)
			return err
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), robotTimeout)
		sendErr := r.Send(sctx, m)
		cancel()
		res.Messages++
		if sendErr != nil {
			rest := carried(msgs[k:])
			d.logger.Warn("robot delivery failed", "robot", r, "deliveries", len(rest), "temporary", notify.IsTemporaryRobotError(sendErr), "err", sendErr)
			return d.recordRobot(name, rest, nil, sendErr, now, res)
		}
		if err := d.recordRobot(name, carried(msgs[k:k+1]), superseded, nil, now, res); err != nil {
			return err
		}
	}
	return nil
}

// robotDigest builds the group message for group: entries most urgent
// first, each instance once (collapseGroup did that), with the unit head
// to @ on overdue and escalation entries. order[i] are the deliveries
// entry i carries.
func (d *Daemon) robotDigest(group []*tracker.Delivery, now time.Time) (notify.RobotDigest, [][]*tracker.Delivery, error) {
	x := d.Expander()
	dg := notify.RobotDigest{Generated: now.In(d.cfg.Location)}
	units := map[string]bool{}
	var entries []rankedEntry
	var heads []*notify.Mention
	var dls []*tracker.Delivery
	err := d.store.View(func(tx tracker.Tx) error {
		office, err := tx.Office()
		if err != nil {
			return err
		}
		dg.OfficeName = cmp.Or(office.Name, "督查室")
		for _, dl := range group {
			e, due, err := d.entry(tx, x, dl, now)
			if err != nil {
				return err
			}
			if dl.Level == tracker.LevelCorrection {
				e.Level, e.Note = "correction", "办理时限已调整，请以本条为准。"
			}
			var head *notify.Mention
			if in, err := tx.Instance(dl.Instance); err == nil {
				units[in.Unit] = true
				if u, err := tx.Unit(in.Unit); err == nil && u.Head != "" {
					if p, err := tx.Person(u.Head); err == nil {
						head = &notify.Mention{Name: p.Name, Mobile: p.Mobile, UserID: p.IMID}
					}
				}
			}
			entries = append(entries, rankedEntry{e: e, rank: dl.Level.Rank(), due: due, idx: len(dls)})
			heads = append(heads, head)
			dls = append(dls, dl)
		}
		return nil
	})
	if err != nil {
		return dg, nil, err
	}
	dg.Link = robotLink(d.Config(), units)
	slices.SortStableFunc(entries, moreUrgent)
	order := make([][]*tracker.Delivery, len(entries))
	for i, r := range entries {
		dg.Entries = append(dg.Entries, notify.RobotEntry{Entry: r.e, Head: heads[r.idx]})
		order[i] = []*tracker.Delivery{dls[r.idx]}
	}
	return dg, order, nil
}

// robotLink is the workspace's board of the units' instances, linked
// from group messages (a page to look at, no personal action link: the
// workspace asks who is looking); "" while the workspace is off.
func robotLink(cfg *config.Config, units map[string]bool) string {
	if cfg.Web.Listen == "" {
		return "" // the workspace is off
	}
	base := strings.TrimRight(cfg.Web.BaseURL, "/")
	if base == "" {
		scheme := "http://"
		if cfg.Web.TLS.Cert != "" {
			scheme = "https://"
		}
		base = scheme + cfg.Web.Listen
	}
	if len(units) == 1 {
		for u := range units {
			if u != "" {
				return base + "/?" + url.Values{"unit": {u}}.Encode()
			}
		}
	}
	return base + "/"
}

// robotPace is a robot's recent post times.
type robotPace []time.Time

// robotFree returns when the robot may post next: now or earlier when a
// post is allowed at now, else the moment its window frees.
func (d *Daemon) robotFree(name string, lim notify.Limits, now time.Time) (time.Time, error) {
	var pace robotPace
	if err := d.store.View(func(tx tracker.Tx) error {
		var err error
		pace, err = loadPace(tx, name)
		return err
	}); err != nil {
		return time.Time{}, err
	}
	free := now
	for _, r := range lim.Rates {
		// Posts are stamped with the pass's time, a little before they
		// leave: a tenth more window keeps the vendor's count below its
		// limit.
		per := r.Per + r.Per/10
		var in []time.Time
		for _, t := range pace {
			if now.Sub(t) < per {
				in = append(in, t)
			}
		}
		if len(in) >= r.N {
			slices.SortFunc(in, time.Time.Compare)
			// The (len-N+1)-th oldest post must leave the window.
			if t := in[len(in)-r.N].Add(per); t.After(free) {
				free = t
			}
		}
	}
	return free, nil
}

func loadPace(tx tracker.Tx, name string) (robotPace, error) {
	b, err := tx.Meta(metaRobotPace + name)
	if err != nil || b == nil {
		return nil, err
	}
	var p robotPace
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("meta %s%s: %w", metaRobotPace, name, err)
	}
	return p, nil
}

// notePost records a post at now in the robot's pace, dropping posts
// older than a minute (the longest window).
func notePost(tx tracker.Tx, name string, now time.Time) error {
	p, err := loadPace(tx, name)
	if err != nil {
		return err
	}
	kept := robotPace{now.UTC()}
	for _, t := range p {
		if now.Sub(t) < 2*time.Minute { // the longest window and its margin
			kept = append(kept, t)
		}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	return tx.PutMeta(metaRobotPace+name, b)
}

// postpone moves queued deliveries to until, without counting an attempt.
func (d *Daemon) postpone(dls []*tracker.Delivery, until time.Time) error {
	return d.writer().Update(func(tx tracker.Tx) error {
		for _, g := range dls {
			if err := updateQueued(tx, g.Key, func(dl *tracker.Delivery) error {
				dl.NextAttempt = until.UTC()
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// recordRobot stores, in one transaction, the outcome of posting the
// deliveries dls to robot name: sent (with the post in the robot's pace,
// and the deliveries of the same instances that superseded lists marked
// superseded), retried after back-off, or failed for good and reported to
// the office once per robot and day.
func (d *Daemon) recordRobot(name string, dls []*tracker.Delivery, superseded map[*tracker.Delivery]string, sendErr error, now time.Time, res *deliverResult) error {
	stamp := now.UTC()
	permanent := sendErr != nil && !notify.IsTemporaryRobotError(sendErr)
	var msgID string
	if sendErr == nil {
		keys := make([]string, len(dls))
		for i, dl := range dls {
			keys[i] = dl.Key
		}
		slices.Sort(keys)
		sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
		msgID = "robot|" + name + "|" + hex.EncodeToString(sum[:12])
	}
	minWait := time.Duration(0)
	if re := (*notify.RobotError)(nil); errors.As(sendErr, &re) && re.Temporary {
		minWait = time.Minute // a rate limit or busy answer: past the vendor's window
	}
	return d.writer().Update(func(tx tracker.Tx) error {
		instances := make(map[string]bool)
		for _, g := range dls {
			if err := updateQueued(tx, g.Key, func(dl *tracker.Delivery) error {
				instances[dl.Instance] = true
				if applyOutcome(dl, sendErr, permanent, stamp, msgID, minWait, d.cfg.Mail.Retry, res) {
					return d.reportRobotFailure(tx, name, dl, sendErr, stamp)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if sendErr != nil {
			return nil
		}
		// Notices of the instances just sent that this one superseded.
		if err := markSuperseded(tx, superseded, func(g *tracker.Delivery) bool { return instances[g.Instance] }); err != nil {
			return err
		}
		return notePost(tx, name, now)
	})
}

// robotOfFailure returns the robot a failure report (reportRobotFailure)
// is about.
func robotOfFailure(dl *tracker.Delivery) (string, bool) {
	rest, ok := strings.CutPrefix(dl.Key, "failure|"+tracker.RobotPrefix)
	if !ok {
		return "", false
	}
	name, _, _ := strings.Cut(rest, "|")
	return name, true
}

// reportRobotFailure queues, once per robot and day, a report of a
// permanent robot failure to the office's address (SPEC §13).
func (d *Daemon) reportRobotFailure(tx tracker.Tx, name string, dl *tracker.Delivery, sendErr error, now time.Time) error {
	dl.Reported = true
	day := now.In(d.cfg.Location).Format("2006-01-02")
	return d.queueReport(tx, dl, "failure|"+tracker.RobotPrefix+name+"|"+day,
		fmt.Sprintf("发往工作群机器人 %s 的督办提醒投递失败：%s。%s当日该机器人的其他失败不再另行通知。", name, sendErr, notify.Explain(name, sendErr)), now)
}

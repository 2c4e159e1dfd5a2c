package daemon

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"duban/cmd/internal/config"
	"duban/cmd/internal/inbound"
	"duban/cmd/internal/report"
	"duban/notify"
	"duban/tracker"
)

// LevelFailure marks a delivery-failure report to the office: an
// outbox entry the daemon adds when a notice failed for good.
const LevelFailure tracker.Level = "failure"

// sendTimeout bounds one message's delivery, including an in-flight send
// that finishes after SIGTERM.
const sendTimeout = 2 * time.Minute

// deliverResult counts what a delivery round did.
type deliverResult struct {
	Messages, Sent, Retried, Failed int
}

// deliver sends every queued delivery due at now: one digest email per
// recipient (or one email per notice without digest). A delivery is
// marked sent only after the server accepted the message; temporary
// failures back off from mail.retry.initial to max; permanent ones are
// marked failed and reported to the office once.
func (d *Daemon) deliver(ctx context.Context, now time.Time) (deliverResult, error) {
	var res deliverResult
	var queued []*tracker.Delivery
	if err := d.store.View(func(tx tracker.Tx) error {
		return tx.QueuedBefore(now, func(dl *tracker.Delivery) error {
			if isReportLevel(dl.Level) || isRobot(dl) {
				return nil // bulletins and weekly summaries: sent by reports (reports.go); robots by robots.go
			}
			queued = append(queued, dl)
			return nil
		})
	}); err != nil {
		return res, err
	}
	if len(queued) == 0 {
		return res, nil
	}
	groups := groupDeliveries(queued, d.cfg.Digest)
	sender, err := d.sender()
	if err != nil {
		return res, fmt.Errorf("mail transport: %w", err)
	}
	defer sender.Close()
	for _, all := range groups {
		if ctx.Err() != nil {
			break // SIGTERM: the in-flight message finished; the rest stays queued
		}
		group, superseded := collapseGroup(all)
		msg, err := d.buildMessage(group, now)
		var sendErr error
		if err != nil {
			sendErr = err // e.g. an invalid address: permanent
		} else {
			// Several nodes: claimed under the term, and still leading
			// right before it leaves (cluster.go); else stop at once.
			if err := d.claim(group); err != nil {
				return res, err
			}
			msg.Headers = d.traceHeaders()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
			sendErr = sender.Send(sctx, msg)
			cancel()
		}
		res.Messages++
		if errors.Is(sendErr, notify.ErrAuth) {
			// The account is wrong, not the notice: failing every notice
			// would also fail the reports. Keep all queued and retry later.
			return res, fmt.Errorf("mail server refused our credentials; deliveries stay queued: %w", sendErr)
		}
		if err := d.record(group, msg, sendErr, now, &res); err != nil {
			return res, err
		}
		if sendErr == nil {
			if err := d.recordSuperseded(superseded); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// collapseGroup keeps one entry per instance in a message (SPEC §6): of
// the notices of one instance queued for the recipient (say one queued
// in an earlier pass and retried), the most urgent, latest among equals;
// of its corrections, the latest. It returns the deliveries to send and,
// for each one left out, the notice key that superseded it.
func collapseGroup(group []*tracker.Delivery) (keep []*tracker.Delivery, superseded map[*tracker.Delivery]string) {
	type slot struct{ instance, kind string }
	best := make(map[slot]*tracker.Delivery)
	kind := func(dl *tracker.Delivery) string {
		switch {
		case dl.Level == tracker.LevelCorrection:
			return "correction"
		case dl.Level == tracker.LevelReview || dl.Level == tracker.LevelRework:
			return string(dl.Level) // what waits, or why it was rejected: never folded into another notice
		case dl.Level.Rank() >= 0 && dl.Instance != "":
			return "notice"
		}
		return ""
	}
	better := func(a, b *tracker.Delivery) bool { // a beats b
		if a.Level.Rank() != b.Level.Rank() {
			return a.Level.Rank() > b.Level.Rank()
		}
		if !a.At.Equal(b.At) {
			return a.At.After(b.At)
		}
		return a.QueuedAt.After(b.QueuedAt)
	}
	for _, dl := range group {
		k := slot{dl.Instance, kind(dl)}
		if k.kind == "" {
			continue
		}
		if b, ok := best[k]; !ok || better(dl, b) {
			best[k] = dl
		}
	}
	for _, dl := range group {
		k := slot{dl.Instance, kind(dl)}
		if w := best[k]; k.kind != "" && w != dl {
			if superseded == nil {
				superseded = make(map[*tracker.Delivery]string)
			}
			superseded[dl] = w.Notice
			continue
		}
		keep = append(keep, dl)
	}
	return keep, superseded
}

// recordSuperseded marks the deliveries left out of a sent message as
// superseded by the notice sent in their place.
func (d *Daemon) recordSuperseded(superseded map[*tracker.Delivery]string) error {
	if len(superseded) == 0 {
		return nil
	}
	return d.writer().Update(func(tx tracker.Tx) error { return markSuperseded(tx, superseded, nil) })
}

// markSuperseded marks the deliveries of superseded that are still queued
// (and that keep accepts; nil: all) as superseded by the notice sent in
// their place.
func markSuperseded(tx tracker.Tx, superseded map[*tracker.Delivery]string, keep func(*tracker.Delivery) bool) error {
	for g, by := range superseded {
		if keep != nil && !keep(g) {
			continue
		}
		if err := updateQueued(tx, g.Key, func(dl *tracker.Delivery) error {
			dl.State, dl.SupersededBy, dl.NextAttempt = tracker.DeliverySuperseded, by, time.Time{}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// updateQueued applies fn to the stored delivery key and stores it, if it
// is still queued.
func updateQueued(tx tracker.Tx, key string, fn func(*tracker.Delivery) error) error {
	dl, err := tx.Delivery(key)
	if err != nil {
		return err
	}
	if dl.State != tracker.DeliveryQueued {
		return nil
	}
	if err := fn(dl); err != nil {
		return err
	}
	return tx.PutDelivery(dl)
}

// groupDeliveries groups queued deliveries into messages: by recipient
// when digesting, one each otherwise; in a stable order.
func groupDeliveries(ds []*tracker.Delivery, digest bool) [][]*tracker.Delivery {
	var groups [][]*tracker.Delivery
	if !digest {
		for _, dl := range ds {
			groups = append(groups, []*tracker.Delivery{dl})
		}
		return groups
	}
	byTo := make(map[string][]*tracker.Delivery)
	var order []string
	for _, dl := range ds {
		if _, ok := byTo[dl.To]; !ok {
			order = append(order, dl.To)
		}
		byTo[dl.To] = append(byTo[dl.To], dl)
	}
	slices.Sort(order)
	for _, to := range order {
		groups = append(groups, byTo[to])
	}
	return groups
}

// buildMessage renders one message for a group of deliveries to one address.
func (d *Daemon) buildMessage(group []*tracker.Delivery, now time.Time) (*notify.Message, error) {
	x := d.Expander()
	to, err := notify.ParseAddress(group[0].To)
	if err != nil {
		return nil, err
	}
	from, err := notify.ParseAddress(d.cfg.Mail.From)
	if err != nil {
		return nil, err
	}
	dg := notify.Digest{To: to, Generated: now.In(d.cfg.Location)}
	var entries []rankedEntry
	err = d.store.View(func(tx tracker.Tx) error {
		office, err := tx.Office()
		if err != nil {
			return err
		}
		dg.OfficeName, dg.OfficeEmail = office.Name, cmp.Or(office.Email, d.cfg.Mail.Office)
		if dg.OfficeName == "" {
			dg.OfficeName = "督查室"
		}
		for _, dl := range group {
			if dl.Level == tracker.LevelCorrection {
				c, err := d.correction(tx, dl)
				if err != nil {
					return err
				}
				dg.Corrections = append(dg.Corrections, c)
				continue
			}
			e, due, err := d.entry(tx, x, dl, now)
			if err != nil {
				return err
			}
			entries = append(entries, rankedEntry{e: e, rank: dl.Level.Rank(), due: due})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(entries, moreUrgent)
	for _, r := range entries {
		dg.Entries = append(dg.Entries, r.e)
	}
	if dg.Link, err = d.personalLink(group, now); err != nil {
		return nil, err
	}
	dg.ReplyByMail = dg.Link != "" && d.cfg.Inbound.IMAP.Host != ""
	subject, text, html, err := d.renderer.Render(dg)
	if err != nil {
		return nil, err
	}
	// Assigned notices carry the deadline as deadline.ics (noticeAttachments).
	atts, err := d.noticeAttachments(group, now)
	if err != nil {
		return nil, err
	}
	// Sheet notices carry the 督办事项通知单 as a .docx (sheetAttachments).
	sheets, err := d.sheetAttachments(group)
	if err != nil {
		return nil, err
	}
	atts = append(atts, sheets...)
	return &notify.Message{Key: digestKey(group), From: from, To: []mail.Address{to},
		Subject: subject, Text: text, HTML: html, Date: now, Attachments: atts}, nil
}

// rankedEntry is a digest entry with what orders it: its level's rank,
// its deadline and (robots.go) the index of its delivery.
type rankedEntry struct {
	e    notify.Entry
	rank int
	due  time.Time
	idx  int
}

// moreUrgent orders digest entries most urgent first: failures and
// escalations, then overdue (longest first), then by deadline.
func moreUrgent(a, b rankedEntry) int {
	if a.e.Level == string(LevelFailure) || b.e.Level == string(LevelFailure) {
		return cmp.Compare(boolRank(b.e.Level == string(LevelFailure)), boolRank(a.e.Level == string(LevelFailure)))
	}
	if c := cmp.Compare(b.rank, a.rank); c != 0 {
		return c
	}
	if c := cmp.Compare(b.e.OverdueDays, a.e.OverdueDays); c != 0 {
		return c
	}
	return a.due.Compare(b.due)
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// digestKey identifies a message by its deliveries, so a message repeated
// after a crash carries the same Message-ID.
func digestKey(group []*tracker.Delivery) string {
	if len(group) == 1 {
		return group[0].Key
	}
	keys := make([]string, len(group))
	for i, dl := range group {
		keys[i] = dl.Key
	}
	slices.Sort(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return "digest|" + group[0].To + "|" + hex.EncodeToString(sum[:12])
}

// entry describes one delivery for the templates.
func (d *Daemon) entry(tx tracker.Tx, x *tracker.Expander, dl *tracker.Delivery, now time.Time) (notify.Entry, time.Time, error) {
	e := notify.Entry{Level: string(dl.Level), InstanceID: dl.Instance, Late: dl.Late}
	in, err := tx.Instance(dl.Instance)
	if err != nil {
		return e, time.Time{}, err
	}
	it, err := tx.Item(in.Item)
	if err != nil {
		return e, time.Time{}, err
	}
	e.Title, e.Doc, e.Requirements, e.CoUnit = it.Title, it.Doc, it.Requirements, in.Co
	e.Unit = in.Unit
	if u, err := tx.Unit(in.Unit); err == nil {
		e.Unit = u.Name
	}
	e.Deadline = report.FormatDeadline(in.Deadline, d.cfg.Location, d.cfg.DayEnd)
	if in.Limit != nil {
		e.Limit = report.FormatDeadline(*in.Limit, d.cfg.Location, d.cfg.DayEnd)
	}
	if it.Recurring() {
		e.Schedule = report.HumanEvery(it.Every)
	}
	e.Provisional = in.Deadline.Provisional || (in.Limit != nil && in.Limit.Provisional)
	if in.Overdue(now) {
		e.OverdueDays = x.OverdueWorkdays(in.Deadline, now)
	}
	if dl.Level == LevelFailure {
		e.Note = dl.LastError
		if name, ok := robotOfFailure(dl); ok {
			e.Unit = "工作群机器人 " + name // the group, not the instance's unit, was not reached
		}
	}
	if dl.Level == tracker.LevelDue {
		// The due notice goes out before the deadline (SPEC §6): on the
		// last day (今日到期) or, for a deadline at or before send_time
		// or on a day off, earlier (明日到期, 即将到期).
		sent, last := tracker.DateOf(dl.At.In(x.Env.Loc)), in.Deadline.LastDay
		switch {
		case sent == last:
		case sent.AddDays(1) == last:
			e.Level = "due_tomorrow"
		default:
			e.Level = "due_soon"
		}
	}
	if dl.Level == tracker.LevelSheet {
		if e.Note, err = sheetNote(tx, dl); err != nil {
			return e, time.Time{}, err
		}
	}
	if dl.Level == tracker.LevelReview || dl.Level == tracker.LevelRework {
		if e.Note, err = reviewNote(tx, in, dl.Level, d.cfg.Location); err != nil {
			return e, time.Time{}, err
		}
	}
	if dl.Level == tracker.LevelReassigned {
		if e.Note, err = reassignNote(tx, in, e.Unit, d.cfg.Location); err != nil {
			return e, time.Time{}, err
		}
	}
	return e, in.Deadline.Due, nil
}

// correction describes a 更正 for the templates: what the recipient was
// told and the deadline now.
func (d *Daemon) correction(tx tracker.Tx, dl *tracker.Delivery) (notify.Correction, error) {
	c := notify.Correction{InstanceID: dl.Instance}
	in, err := tx.Instance(dl.Instance)
	if err != nil {
		return c, err
	}
	it, err := tx.Item(in.Item)
	if err != nil {
		return c, err
	}
	c.Title, c.CoUnit, c.Unit = it.Title, in.Co, in.Unit
	if u, err := tx.Unit(in.Unit); err == nil {
		c.Unit = u.Name
	}
	c.Deadline = report.FormatDeadline(in.Deadline, d.cfg.Location, d.cfg.DayEnd)
	if dl.OldDeadline != nil && !dl.OldDeadline.Due.Equal(in.Deadline.Due) {
		c.OldDeadline = report.FormatDeadline(*dl.OldDeadline, d.cfg.Location, d.cfg.DayEnd)
	}
	if in.Limit != nil {
		c.Limit = report.FormatDeadline(*in.Limit, d.cfg.Location, d.cfg.DayEnd)
		if dl.OldLimit != nil && !dl.OldLimit.Due.Equal(in.Limit.Due) {
			c.OldLimit = report.FormatDeadline(*dl.OldLimit, d.cfg.Location, d.cfg.DayEnd)
		}
	}
	return c, nil
}

// reassignNote tells the previous unit of a 改派 when the instance moved,
// to whom and why (the reason of the last reassign event).
func reassignNote(tx tracker.Tx, in *tracker.Instance, unitName string, loc *time.Location) (string, error) {
	evs, err := tx.Events(in.ID)
	if err != nil {
		return "", err
	}
	reason := ""
	for _, ev := range evs {
		if ev.Action == "reassign" {
			reason = ev.Note
		}
	}
	note := fmt.Sprintf("本事项已于%s改由%s办理，贵单位不再承办", in.ReassignedAt.In(loc).Format("2006年1月2日"), unitName)
	if reason != "" {
		note += "。改派理由：" + reason
	}
	return note + "。", nil
}

// record stores the outcome of sending msg for group, in one transaction.
func (d *Daemon) record(group []*tracker.Delivery, msg *notify.Message, sendErr error, now time.Time, res *deliverResult) error {
	permanent := sendErr != nil && (notify.IsPermanent(sendErr) || errors.Is(sendErr, notify.ErrInvalid))
	stamp := now.UTC()
	var msgID string
	if msg != nil {
		msgID = msg.MessageID()
	}
	return d.writer().Update(func(tx tracker.Tx) error {
		for _, g := range group {
			if err := updateQueued(tx, g.Key, func(dl *tracker.Delivery) error {
				if applyOutcome(dl, sendErr, permanent, stamp, msgID, 0, d.cfg.Mail.Retry, res) {
					return d.reportFailure(tx, dl, stamp)
				}
				return nil
			}); err != nil {
				return err
			}
		}
		if sendErr == nil && msgID != "" {
			if err := inbound.RecordSent(tx, msgID, group); err != nil { // replies are matched to it (inbound.go)
				return err
			}
		}
		if sendErr != nil {
			d.logger.Warn("delivery failed", "to", group[0].To, "deliveries", len(group), "permanent", permanent, "err", sendErr)
		}
		return nil
	})
}

// applyOutcome records on dl one attempt's result: sent with msgID,
// failed for good (permanent; it returns true, so that the caller reports
// it), or retried after the back-off of retry, at least minWait.
func applyOutcome(dl *tracker.Delivery, sendErr error, permanent bool, stamp time.Time, msgID string, minWait time.Duration, retry config.RetryConfig, res *deliverResult) bool {
	dl.Attempts++
	switch {
	case sendErr == nil:
		dl.State, dl.SentAt, dl.MessageID, dl.LastError = tracker.DeliverySent, stamp, msgID, ""
		res.Sent++
	case permanent:
		dl.State, dl.LastError = tracker.DeliveryFailed, sendErr.Error()
		res.Failed++
		return true
	default:
		dl.LastError, dl.NextAttempt = sendErr.Error(), stamp.Add(max(backoff(retry, dl.Attempts), minWait))
		res.Retried++
	}
	return false
}

// reportFailure queues, once, a report of a permanent failure to the
// office. Failures of such reports are not reported again.
func (d *Daemon) reportFailure(tx tracker.Tx, dl *tracker.Delivery, now time.Time) error {
	if dl.Level == LevelFailure || dl.Reported {
		return nil
	}
	dl.Reported = true
	return d.queueReport(tx, dl, "failure|"+dl.Key, fmt.Sprintf("发往 %s 的通知投递失败: %s", dl.To, dl.LastError), now)
}

// queueReport queues, unless an entry with key exists, a report to the
// office's address about the failed delivery dl, saying what failed.
// Without an office address it queues nothing: the failure is recorded
// and shown by `duban outbox --failed`.
func (d *Daemon) queueReport(tx tracker.Tx, dl *tracker.Delivery, key, what string, now time.Time) error {
	office, err := tx.Office()
	if err != nil {
		return err
	}
	addr := cmp.Or(office.Email, d.cfg.Mail.Office)
	if addr == "" {
		return nil
	}
	if _, err := tx.Delivery(key); err == nil {
		return nil
	} else if !errors.Is(err, tracker.ErrNotFound) {
		return err
	}
	return tx.PutDelivery(&tracker.Delivery{Key: key, Notice: dl.Notice, Instance: dl.Instance, Step: dl.Step, Rep: dl.Rep,
		Level: LevelFailure, To: addr, At: now, State: tracker.DeliveryQueued, QueuedAt: now, NextAttempt: now, LastError: what})
}

// backoff is the wait before attempt n+1: initial doubling up to max.
func backoff(r config.RetryConfig, attempts int) time.Duration {
	wait := r.Initial
	for i := 1; i < attempts && wait < r.Max; i++ {
		wait *= 2
	}
	return min(wait, r.Max)
}

// noticeAttachments returns the calendar attached to a message for group:
// the deadlines of the instances whose assigned notice (督办通知) it
// carries, and of extended instances not yet overdue — so the first
// notice after `duban extend` carries the updated invitation (same UID,
// higher SEQUENCE). Nil if there is none.
func (d *Daemon) noticeAttachments(group []*tracker.Delivery, now time.Time) ([]notify.Attachment, error) {
	cfg, x := d.Config(), d.Expander()
	var evs []notify.ICSEvent
	seen := make(map[string]bool)
	err := d.store.View(func(tx tracker.Tx) error {
		for _, dl := range group {
			if seen[dl.Instance] || dl.Level == LevelFailure || dl.Level == tracker.LevelReassigned || dl.Instance == "" {
				continue
			}
			in, err := tx.Instance(dl.Instance)
			if err != nil {
				return err
			}
			if !in.Status.Active() || (!carriesDeadline(tx, dl) && (in.Extensions == 0 || in.Overdue(now))) {
				continue
			}
			it, err := tx.Item(in.Item)
			if err != nil {
				return err
			}
			unitName := in.Unit
			if u, err := tx.Unit(in.Unit); err == nil {
				unitName = u.Name
			}
			seen[dl.Instance] = true
			evs = append(evs, report.DeadlineEvent(x.Env, cfg.DayEnd, in, it, unitName, now))
		}
		return nil
	})
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	return []notify.Attachment{notify.ICSAttachment(notify.ICSCalendar("", evs))}, nil
}

// carriesDeadline reports whether dl tells its recipient the deadline
// anew, so that its message carries the .ics: an assigned notice, a
// notice sent in place of one (superseded by it), or a correction (更正,
// same UID, higher SEQUENCE).
func carriesDeadline(tx tracker.Tx, dl *tracker.Delivery) bool {
	if dl.Level == tracker.LevelAssigned || dl.Level == tracker.LevelCorrection {
		return true
	}
	for _, k := range dl.Supersedes {
		if o, err := tx.Delivery(k + "|" + dl.To); err == nil && o.Level == tracker.LevelAssigned {
			return true
		}
	}
	return false
}

// reviewNote says what waits for the office (待审核: the report or the
// extension request) or, to the unit, why its report was rejected (退回重办).
func reviewNote(tx tracker.Tx, in *tracker.Instance, level tracker.Level, loc *time.Location) (string, error) {
	const human = "2006年1月2日15:04"
	if level == tracker.LevelReview {
		if r := in.ExtendRequest; r != nil && in.Status.Active() {
			return fmt.Sprintf("%s申请延期至%s，理由：%s。", r.At.In(loc).Format(human), r.To, r.Reason), nil
		}
		note := fmt.Sprintf("承办单位于%s报结", in.ReportedAt.In(loc).Format(human))
		if in.Note != "" {
			note += "：" + in.Note
		}
		return note + "。", nil
	}
	evs, err := tx.Events(in.ID)
	if err != nil {
		return "", err
	}
	reason := ""
	for _, ev := range evs {
		if ev.Action == "review" && ev.To == string(tracker.StatusOpen) {
			reason = ev.Note
		}
	}
	return fmt.Sprintf("本事项报结后经审核退回重办（第%d次），退回理由：%s。", in.Reworks, reason), nil
}

package daemon

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"duban/cmd/internal/report"
	"duban/notify"
	"duban/tracker"
)

// The office's own mails: the monthly bulletin (通报) on the first
// working day of each month, and the weekly summary (每周综合报告) on
// Monday, or the next working day when Monday is a holiday. Each is
// decided like a notice — an outbox entry "bulletin|2026-10|<address>" or
// "weekly|2026-W41|<address>" written in the transaction that decides it,
// marked sent only after the server accepted the message — but rendered
// here rather than as a digest entry: deliver skips their levels.
const (
	LevelBulletin      tracker.Level = "bulletin"
	LevelWeekly        tracker.Level = "weekly"
	LevelReportFailure tracker.Level = "report-failure" // a bulletin or summary that could not be delivered
)

// isReportLevel reports whether deliveries of level l are the office's
// own mails, which reports delivers (and deliver leaves alone).
func isReportLevel(l tracker.Level) bool {
	return l == LevelBulletin || l == LevelWeekly || l == LevelReportFailure
}

// metaReportWake holds the next instant a bulletin or summary is due, so
// that the daemon wakes for it (see nextWake).
const metaReportWake = "report_wake"

// reportWake returns the stored next report instant.
func reportWake(tx tracker.Tx) (time.Time, bool) {
	b, err := tx.Meta(metaReportWake)
	if err != nil || b == nil {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, string(b))
	return t, err == nil
}

// bulletinSendAt is when the bulletin of the month before m goes out:
// send_time on m's first working day.
func bulletinSendAt(env tracker.Env, m tracker.Month) time.Time {
	return env.Cal.NextWorkday(m.First()).At(env.SendTime, env.Loc)
}

// weeklySendAt is when the summary of the week starting monday goes out:
// send_time on Monday, or on the next working day.
func weeklySendAt(env tracker.Env, monday tracker.Date) time.Time {
	return env.Cal.NextWorkday(monday).At(env.SendTime, env.Loc)
}

// reports queues the bulletin and the weekly summary that have come due
// by now, then delivers every queued one. res counts what was sent.
func (d *Daemon) reports(ctx context.Context, now time.Time, res *deliverResult) error {
	if err := d.writer().Update(func(tx tracker.Tx) error { return d.decideReports(tx, now) }); err != nil {
		return fmt.Errorf("bulletin: %w", err)
	}
	return d.deliverReports(ctx, now, res)
}

// decideReports records, in tx, this month's bulletin (on the previous
// month) once its time has come, and this week's summary likewise. A
// daemon that was down at that time sends them at its first pass after,
// still once: the outbox key is the month or week and the address. It
// also stores when the next one is due.
func (d *Daemon) decideReports(tx tracker.Tx, now time.Time) error {
	env, cfg := d.Expander().Env, d.Config()
	today, stamp := env.Today(now), now.UTC()
	office, err := tx.Office()
	if err != nil {
		return err
	}
	officeAddr := cmp.Or(office.Email, cfg.Mail.Office)
	queue := func(notice string, level tracker.Level, at time.Time, addrs []string) error {
		var seen []string
		for _, a := range addrs {
			if a == "" {
				continue
			}
			bare := strings.ToLower(a)
			if p, err := notify.ParseAddress(a); err == nil {
				bare = strings.ToLower(p.Address)
			}
			if slices.Contains(seen, bare) {
				continue
			}
			seen = append(seen, bare)
			dl := &tracker.Delivery{Key: notice + "|" + bare, Notice: notice, Level: level, To: a, At: at.UTC(),
				Late: now.Sub(at) > tracker.LateAfter, State: tracker.DeliveryQueued, QueuedAt: stamp, NextAttempt: stamp}
			if err := putNewDelivery(tx, dl); err != nil {
				return err
			}
		}
		if len(seen) == 0 {
			// Never dropped silently: visible in `duban outbox --failed`.
			return putNewDelivery(tx, &tracker.Delivery{Key: notice + "|", Notice: notice, Level: level, At: at.UTC(),
				State: tracker.DeliveryFailed, QueuedAt: stamp,
				LastError: "no recipient: set the office email (tracking file office.email or config mail.office)"})
		}
		return nil
	}
	month := tracker.MonthOf(today)
	bulletinAt := bulletinSendAt(env, month)
	if !now.Before(bulletinAt) {
		if err := queue("bulletin|"+month.Add(-1).String(), LevelBulletin, bulletinAt,
			append([]string{officeAddr}, cfg.Report.Leaders...)); err != nil {
			return err
		}
		bulletinAt = bulletinSendAt(env, month.Add(1))
	}
	monday := report.WeekMonday(today)
	weeklyAt := weeklySendAt(env, monday)
	if !now.Before(weeklyAt) {
		weeklyTo := cfg.Report.WeeklyTo
		if len(weeklyTo) == 0 {
			weeklyTo = []string{officeAddr}
		}
		if err := queue("weekly|"+report.ISOWeek(monday), LevelWeekly, weeklyAt, weeklyTo); err != nil {
			return err
		}
		weeklyAt = weeklySendAt(env, monday.AddDays(7))
	}
	return tx.PutMeta(metaReportWake, []byte(minTime(bulletinAt, weeklyAt).UTC().Format(time.RFC3339)))
}

// putNewDelivery stores dl unless an entry with its key exists.
func putNewDelivery(tx tracker.Tx, dl *tracker.Delivery) error {
	_, err := tx.Delivery(dl.Key)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, tracker.ErrNotFound):
		return err
	}
	return tx.PutDelivery(dl)
}

// deliverReports sends the queued bulletins, summaries and their failure
// reports due at now, one message per delivery; a failure report queued
// by this round goes out in the same pass.
func (d *Daemon) deliverReports(ctx context.Context, now time.Time, res *deliverResult) error {
	failed := res.Failed
	if err := d.deliverReportsOnce(ctx, now, res); err != nil || res.Failed == failed {
		return err
	}
	return d.deliverReportsOnce(ctx, now, res)
}

func (d *Daemon) deliverReportsOnce(ctx context.Context, now time.Time, res *deliverResult) error {
	var queued []*tracker.Delivery
	if err := d.store.View(func(tx tracker.Tx) error {
		return tx.QueuedBefore(now, func(dl *tracker.Delivery) error {
			if isReportLevel(dl.Level) {
				queued = append(queued, dl)
			}
			return nil
		})
	}); err != nil {
		return err
	}
	if len(queued) == 0 {
		return nil
	}
	sender, err := d.sender()
	if err != nil {
		return fmt.Errorf("mail transport: %w", err)
	}
	defer sender.Close()
	bodies := make(map[string]*reportMail) // by notice: one rendering for all recipients
	for _, dl := range queued {
		if ctx.Err() != nil {
			break // SIGTERM: the rest stays queued
		}
		msg, err := d.reportMessage(dl, now, bodies)
		sendErr := err
		if err == nil {
			if err := d.claim([]*tracker.Delivery{dl}); err != nil { // several nodes (cluster.go)
				return err
			}
			msg.Headers = d.traceHeaders()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
			sendErr = sender.Send(sctx, msg)
			cancel()
		}
		res.Messages++
		if errors.Is(sendErr, notify.ErrAuth) {
			return fmt.Errorf("mail server refused our credentials; deliveries stay queued: %w", sendErr)
		}
		if err := d.recordReport(dl, msg, sendErr, now, res); err != nil {
			return err
		}
	}
	return nil
}

// reportMail is a rendered bulletin or summary.
type reportMail struct {
	subject, text, html string
	attachments         []notify.Attachment
}

// reportMessage builds the message of one report delivery.
func (d *Daemon) reportMessage(dl *tracker.Delivery, now time.Time, bodies map[string]*reportMail) (*notify.Message, error) {
	cfg := d.Config()
	to, err := notify.ParseAddress(dl.To)
	if err != nil {
		return nil, err
	}
	from, err := notify.ParseAddress(cfg.Mail.From)
	if err != nil {
		return nil, err
	}
	body := bodies[dl.Notice]
	if dl.Level == LevelReportFailure {
		// Described from the failed delivery: this one's LastError is its own.
		var failed *tracker.Delivery
		if err := d.store.View(func(tx tracker.Tx) error {
			failed, err = tx.Delivery(strings.TrimPrefix(dl.Key, "failure|"))
			return err
		}); err != nil {
			return nil, err
		}
		body = &reportMail{subject: reportName(failed.Level) + "投递失败",
			text: fmt.Sprintf("您好：\n\n发往 %s 的%s（%s）投递失败，邮件服务器答复：%s\n\n请核实该收件地址；如有误，请联系系统管理员更正。\n",
				failed.To, reportName(failed.Level), reportPeriod(failed.Notice), failed.LastError)}
	}
	if body == nil {
		kind, arg, _ := strings.Cut(dl.Notice, "|")
		switch kind {
		case "bulletin":
			body, err = d.renderBulletin(arg, now)
		case "weekly":
			body, err = d.renderWeekly(arg, now)
		default:
			err = fmt.Errorf("%w: unknown report %q", notify.ErrInvalid, dl.Notice)
		}
		if err != nil {
			return nil, err
		}
		bodies[dl.Notice] = body
	}
	return &notify.Message{Key: dl.Key, From: from, To: []mail.Address{to}, Subject: body.subject,
		Text: body.text, HTML: body.html, Attachments: body.attachments, Date: now}, nil
}

// renderBulletin renders the bulletin of month (YYYY-MM) as of now: the
// HTML report as the body, the table as the text alternative, the
// workbook attached.
func (d *Daemon) renderBulletin(month string, now time.Time) (*reportMail, error) {
	m, err := tracker.ParseMonth(month)
	if err != nil {
		return nil, fmt.Errorf("%w: bulletin: %w", notify.ErrInvalid, err)
	}
	env := d.Expander().Env
	var doc *report.Bulletin
	if err := d.store.View(func(tx tracker.Tx) error {
		doc, err = report.LoadBulletin(tx, env, m, "", now, d.cfg.Report.PraiseMin)
		return err
	}); err != nil {
		return nil, err
	}
	var text, html, xlsx bytes.Buffer
	fmt.Fprintf(&text, "各位领导、同志：\n\n现将%s督办事项办理情况通报如下，详见附件。\n\n", m.Chinese())
	if err := doc.WriteTable(&text); err != nil {
		return nil, err
	}
	if err := doc.WriteHTML(&html); err != nil {
		return nil, err
	}
	if err := doc.WriteXLSX(&xlsx); err != nil {
		return nil, err
	}
	return &reportMail{subject: doc.Title(), text: text.String(), html: html.String(),
		attachments: []notify.Attachment{{Name: doc.AttachmentName(),
			ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Data: xlsx.Bytes()}}}, nil
}

// renderWeekly renders the summary of week (2026-W41) as of now.
func (d *Daemon) renderWeekly(week string, now time.Time) (*reportMail, error) {
	monday, err := report.ParseISOWeek(week)
	if err != nil {
		return nil, fmt.Errorf("%w: weekly summary %q: %w", notify.ErrInvalid, week, err)
	}
	x := d.Expander()
	var s *report.Weekly
	if err := d.store.View(func(tx tracker.Tx) error {
		var err error
		s, err = report.LoadWeekly(tx, x, monday, now)
		return err
	}); err != nil {
		return nil, err
	}
	var text, html bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		return nil, err
	}
	if err := s.WriteHTML(&html); err != nil {
		return nil, err
	}
	return &reportMail{subject: s.Subject, text: text.String(), html: html.String()}, nil
}

// recordReport stores the outcome of sending one report delivery, like
// record does for notices: sent, retried after a temporary failure, or
// failed — then reported once to the office (unless that is the address
// that failed).
func (d *Daemon) recordReport(g *tracker.Delivery, msg *notify.Message, sendErr error, now time.Time, res *deliverResult) error {
	cfg := d.Config()
	permanent := sendErr != nil && (notify.IsPermanent(sendErr) || errors.Is(sendErr, notify.ErrInvalid))
	stamp := now.UTC()
	if sendErr != nil {
		d.logger.Warn("report delivery failed", "notice", g.Notice, "to", g.To, "permanent", permanent, "err", sendErr)
	}
	return d.writer().Update(func(tx tracker.Tx) error {
		dl, err := tx.Delivery(g.Key)
		if err != nil {
			return err
		}
		if dl.State != tracker.DeliveryQueued {
			return nil
		}
		dl.Attempts++
		switch {
		case sendErr == nil:
			dl.State, dl.SentAt, dl.MessageID, dl.LastError = tracker.DeliverySent, stamp, msg.MessageID(), ""
			res.Sent++
		case permanent:
			dl.State, dl.LastError = tracker.DeliveryFailed, sendErr.Error()
			res.Failed++
			if dl.Level != LevelReportFailure && !dl.Reported {
				dl.Reported = true
				office, err := tx.Office()
				if err != nil {
					return err
				}
				addr := cmp.Or(office.Email, cfg.Mail.Office)
				if addr != "" && !strings.EqualFold(addr, dl.To) {
					if err := putNewDelivery(tx, &tracker.Delivery{Key: "failure|" + dl.Key, Notice: dl.Notice,
						Level: LevelReportFailure, To: addr, At: stamp, State: tracker.DeliveryQueued, QueuedAt: stamp,
						NextAttempt: stamp}); err != nil {
						return err
					}
				}
			}
		default:
			dl.LastError = sendErr.Error()
			dl.NextAttempt = stamp.Add(backoff(cfg.Mail.Retry, dl.Attempts))
			res.Retried++
		}
		return tx.PutDelivery(dl)
	})
}

// reportPeriod names the period of a report notice in Chinese:
// "bulletin|2026-10" → 2026年10月, "weekly|2026-W41" → 2026年第41周.
func reportPeriod(notice string) string {
	_, arg, _ := strings.Cut(notice, "|")
	if m, err := tracker.ParseMonth(arg); err == nil {
		return m.Chinese()
	}
	var y, w int
	if _, err := fmt.Sscanf(arg, "%d-W%d", &y, &w); err == nil {
		return fmt.Sprintf("%d年第%d周", y, w)
	}
	return arg
}

func reportName(l tracker.Level) string {
	if l == LevelWeekly {
		return "督办工作周报"
	}
	return "月度督办通报"
}

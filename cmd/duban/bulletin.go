package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"slices"
	"strings"
	"text/template"
	"time"

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
	levelBulletin      tracker.Level = "bulletin"
	levelWeekly        tracker.Level = "weekly"
	levelReportFailure tracker.Level = "report-failure" // a bulletin or summary that could not be delivered
)

// isReportLevel reports whether deliveries of level l are the office's
// own mails, which reports delivers (and deliver leaves alone).
func isReportLevel(l tracker.Level) bool {
	return l == levelBulletin || l == levelWeekly || l == levelReportFailure
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

// weekMonday returns the Monday of d's week.
func weekMonday(d tracker.Date) tracker.Date { return d.AddDays(-((int(d.Weekday()) + 6) % 7)) }

// weeklySendAt is when the summary of the week starting monday goes out:
// send_time on Monday, or on the next working day.
func weeklySendAt(env tracker.Env, monday tracker.Date) time.Time {
	return env.Cal.NextWorkday(monday).At(env.SendTime, env.Loc)
}

// isoWeek names the week starting monday, e.g. "2026-W41".
func isoWeek(monday tracker.Date) string {
	y, w := time.Date(monday.Year, monday.Month, monday.Day, 12, 0, 0, 0, time.UTC).ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// reports queues the bulletin and the weekly summary that have come due
// by now, then delivers every queued one. res counts what was sent.
func (d *daemon) reports(ctx context.Context, now time.Time, res *deliverResult) error {
	if err := d.store.Update(func(tx tracker.Tx) error { return d.decideReports(tx, now) }); err != nil {
		return fmt.Errorf("bulletin: %w", err)
	}
	return d.deliverReports(ctx, now, res)
}

// decideReports records, in tx, this month's bulletin (on the previous
// month) once its time has come, and this week's summary likewise. A
// daemon that was down at that time sends them at its first pass after,
// still once: the outbox key is the month or week and the address. It
// also stores when the next one is due.
func (d *daemon) decideReports(tx tracker.Tx, now time.Time) error {
	env, cfg := d.expander().Env, d.config()
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
		if err := queue("bulletin|"+month.Add(-1).String(), levelBulletin, bulletinAt,
			append([]string{officeAddr}, cfg.Report.Leaders...)); err != nil {
			return err
		}
		bulletinAt = bulletinSendAt(env, month.Add(1))
	}
	monday := weekMonday(today)
	weeklyAt := weeklySendAt(env, monday)
	if !now.Before(weeklyAt) {
		weeklyTo := cfg.Report.WeeklyTo
		if len(weeklyTo) == 0 {
			weeklyTo = []string{officeAddr}
		}
		if err := queue("weekly|"+isoWeek(monday), levelWeekly, weeklyAt, weeklyTo); err != nil {
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
func (d *daemon) deliverReports(ctx context.Context, now time.Time, res *deliverResult) error {
	failed := res.Failed
	if err := d.deliverReportsOnce(ctx, now, res); err != nil || res.Failed == failed {
		return err
	}
	return d.deliverReportsOnce(ctx, now, res)
}

func (d *daemon) deliverReportsOnce(ctx context.Context, now time.Time, res *deliverResult) error {
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
func (d *daemon) reportMessage(dl *tracker.Delivery, now time.Time, bodies map[string]*reportMail) (*notify.Message, error) {
	cfg := d.config()
	to, err := notify.ParseAddress(dl.To)
	if err != nil {
		return nil, err
	}
	from, err := notify.ParseAddress(cfg.Mail.From)
	if err != nil {
		return nil, err
	}
	body := bodies[dl.Notice]
	if dl.Level == levelReportFailure {
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
func (d *daemon) renderBulletin(month string, now time.Time) (*reportMail, error) {
	m, err := tracker.ParseMonth(month)
	if err != nil {
		return nil, fmt.Errorf("%w: bulletin: %w", notify.ErrInvalid, err)
	}
	env := d.expander().Env
	var doc *reportDoc
	if err := d.store.View(func(tx tracker.Tx) error {
		doc, err = loadReport(tx, env, m, "", now)
		return err
	}); err != nil {
		return nil, err
	}
	var text, html, xlsx bytes.Buffer
	fmt.Fprintf(&text, "各位领导、同志：\n\n现将%s督办事项办理情况通报如下，详见附件。\n\n", m.Chinese())
	if err := doc.writeTable(&text); err != nil {
		return nil, err
	}
	if err := doc.writeHTML(&html); err != nil {
		return nil, err
	}
	if err := doc.writeXLSX(&xlsx); err != nil {
		return nil, err
	}
	return &reportMail{subject: doc.Title(), text: text.String(), html: html.String(),
		attachments: []notify.Attachment{{Name: doc.AttachmentName(),
			ContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Data: xlsx.Bytes()}}}, nil
}

// weeklySummary is the weekly report to the office: what came in, what
// is due this week, what is overdue.
type weeklySummary struct {
	Office, Subject, Period, Week string
	Monday, Sunday                tracker.Date
	Since, Generated              time.Time
	Tracked                       []weeklyItem
	DueThisWeek, Overdue          []weeklyRow
	CalendarWarnings              []string // calwarn.go
}

// weeklyItem is an item tracked since the previous week's Monday.
type weeklyItem struct {
	ID, Title, Doc, Requirements, Units, Deadline string
}

// weeklyRow is an open instance due this week or overdue.
type weeklyRow struct {
	ID, Unit, Title, Doc, Deadline string
	OverdueDays                    int
	Extended                       bool
}

var (
	weeklyText = template.Must(template.New("weekly.txt.tmpl").Funcs(template.FuncMap{"inc": func(i int) int { return i + 1 }}).
			ParseFS(reportTemplates, "templates/weekly.txt.tmpl"))
	weeklyHTML = htmltemplate.Must(htmltemplate.New("weekly.html.tmpl").ParseFS(reportTemplates, "templates/weekly.html.tmpl"))
)

// renderWeekly renders the summary of week (2026-W41) as of now.
func (d *daemon) renderWeekly(week string, now time.Time) (*reportMail, error) {
	var y, w int
	if _, err := fmt.Sscanf(week, "%d-W%d", &y, &w); err != nil {
		return nil, fmt.Errorf("%w: weekly summary %q: %w", notify.ErrInvalid, week, err)
	}
	// ISO week 1 holds 4 January.
	jan4 := tracker.Date{Year: y, Month: time.January, Day: 4}
	monday := weekMonday(jan4).AddDays(7 * (w - 1))
	x := d.expander()
	var s *weeklySummary
	if err := d.store.View(func(tx tracker.Tx) error {
		var err error
		s, err = loadWeekly(tx, x, monday, now)
		return err
	}); err != nil {
		return nil, err
	}
	var text, html bytes.Buffer
	if err := weeklyText.Execute(&text, s); err != nil {
		return nil, err
	}
	if err := weeklyHTML.Execute(&html, s); err != nil {
		return nil, err
	}
	return &reportMail{subject: s.Subject, text: text.String(), html: html.String()}, nil
}

// loadWeekly collects the summary of the week starting monday as of now:
// items first tracked since the previous Monday, open instances whose
// last day is in the week and not yet passed, and every overdue one.
func loadWeekly(tx tracker.Tx, x *tracker.Expander, monday tracker.Date, now time.Time) (*weeklySummary, error) {
	env := x.Env
	sunday := monday.AddDays(6)
	office, err := tx.Office()
	if err != nil {
		return nil, err
	}
	y, w := time.Date(monday.Year, monday.Month, monday.Day, 12, 0, 0, 0, time.UTC).ISOWeek()
	s := &weeklySummary{Office: cmp.Or(office.Name, "督查室"), Week: isoWeek(monday), Monday: monday, Sunday: sunday,
		Since: monday.AddDays(-7).At(0, env.Loc), Generated: now.In(env.Loc),
		Period: fmt.Sprintf("%d年%d月%d日至%d月%d日", monday.Year, monday.Month, monday.Day, sunday.Month, sunday.Day)}
	s.Subject = fmt.Sprintf("督办工作周报：%d年第%d周（%d月%d日至%d月%d日）", y, w, monday.Month, monday.Day, sunday.Month, sunday.Day)
	s.CalendarWarnings = calendarWarnings(env.Cal, env.Today(now))

	unitNames := make(map[string]string)
	if err := tx.Units(func(u *tracker.Unit) error {
		unitNames[u.ID] = u.Name
		return nil
	}); err != nil {
		return nil, err
	}
	name := func(id string) string {
		if id == "" {
			return "待分配"
		}
		return cmp.Or(unitNames[id], id)
	}
	var items []*tracker.Item
	if err := tx.Items(func(it *tracker.Item) error {
		if !it.TrackedAt.Before(s.Since) && it.TrackedAt.Before(now) {
			items = append(items, it)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	slices.SortStableFunc(items, func(a, b *tracker.Item) int { return a.TrackedAt.Compare(b.TrackedAt) })
	for _, it := range items {
		wi := weeklyItem{ID: it.ID, Title: it.Title, Doc: it.Doc, Requirements: it.Requirements}
		var units []string
		for _, u := range it.LeadUnits() {
			units = append(units, name(u))
		}
		for _, u := range it.CoUnits {
			units = append(units, name(u)+tracker.CoMark)
		}
		wi.Units = cmp.Or(strings.Join(units, "、"), "待分配")
		if it.Recurring() {
			wi.Deadline = humanEvery(it.Every)
		} else if err := tx.InstancesOf(it.ID, func(in *tracker.Instance) error {
			if in.Co {
				return nil
			}
			wi.Deadline = deadlineCell(in.Deadline.Human(env), in.Deadline.Provisional)
			if in.Limit != nil {
				wi.Deadline += "（最迟 " + deadlineCell(in.Limit.Human(env), in.Limit.Provisional) + "）"
			}
			return tracker.ErrStop
		}); err != nil {
			return nil, err
		}
		s.Tracked = append(s.Tracked, wi)
	}

	bound := env.EndOf(sunday).Add(time.Second)
	err = x.List(tx, tracker.Filter{DueBefore: bound}, now, func(r tracker.Row) error {
		unit := name(r.Unit)
		if r.Co {
			unit += tracker.CoMark
		}
		row := weeklyRow{ID: r.ID, Unit: unit, Title: r.Title, Doc: r.Doc, Deadline: deadlineCell(r.Human, r.DueProvisional),
			OverdueDays: r.OverdueWorkdays,
			Extended:    r.Extended}
		switch {
		case r.Overdue:
			s.Overdue = append(s.Overdue, row)
		case !r.LastDay.Before(monday):
			s.DueThisWeek = append(s.DueThisWeek, row)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// recordReport stores the outcome of sending one report delivery, like
// record does for notices: sent, retried after a temporary failure, or
// failed — then reported once to the office (unless that is the address
// that failed).
func (d *daemon) recordReport(g *tracker.Delivery, msg *notify.Message, sendErr error, now time.Time, res *deliverResult) error {
	cfg := d.config()
	permanent := sendErr != nil && (notify.IsPermanent(sendErr) || errors.Is(sendErr, notify.ErrInvalid))
	stamp := now.UTC()
	if sendErr != nil {
		d.logger.Warn("report delivery failed", "notice", g.Notice, "to", g.To, "permanent", permanent, "err", sendErr)
	}
	return d.store.Update(func(tx tracker.Tx) error {
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
			if dl.Level != levelReportFailure && !dl.Reported {
				dl.Reported = true
				office, err := tx.Office()
				if err != nil {
					return err
				}
				addr := cmp.Or(office.Email, cfg.Mail.Office)
				if addr != "" && !strings.EqualFold(addr, dl.To) {
					if err := putNewDelivery(tx, &tracker.Delivery{Key: "failure|" + dl.Key, Notice: dl.Notice,
						Level: levelReportFailure, To: addr, At: stamp, State: tracker.DeliveryQueued, QueuedAt: stamp,
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
	if l == levelWeekly {
		return "督办工作周报"
	}
	return "月度督办通报"
}

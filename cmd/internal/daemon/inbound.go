package daemon

import (
	"context"
	"time"

	"duban/cmd/internal/inbound"
	"duban/tracker"
)

// PollInbound reads the replies waiting in inbound.imap once (SPEC §11);
// without inbound.imap it does nothing. Errors are logged: a mail server
// that is down must not stop the notices.
// Replies are recorded as of now (serve --once: its --at). With several
// nodes only the leader polls, recording under its term (cluster.go).
func (d *Daemon) PollInbound(ctx context.Context, now time.Time) (inbound.Result, error) {
	cfg := d.Config()
	if cfg.Inbound.IMAP.Host == "" {
		return inbound.Result{}, nil
	}
	fence, leading := d.Leading()
	if !leading {
		return inbound.Result{}, nil
	}
	var st tracker.Store = d.store
	if d.lead != nil {
		st = d.store.Fenced(fence)
	}
	p := &inbound.Poller{Cfg: cfg.Inbound.IMAP, Store: st, Expander: d.Expander(),
		AttachDir: cfg.Web.Attachments.Dir, MaxSize: cfg.Web.Attachments.MaxBytes(), Log: d.logger, Now: func() time.Time { return now }}
	start := time.Now()
	res, err := p.Poll(ctx)
	if err != nil {
		d.logger.Error("inbound poll failed", "host", cfg.Inbound.IMAP.Host, "err", err)
		return res, err
	}
	if res.Seen > 0 {
		d.logger.Info("inbound poll", "seen", res.Seen, "recorded", res.Recorded, "auto_replies", res.AutoReplies,
			"unmatched", res.Unmatched, "took", time.Since(start).String())
	}
	return res, nil
}

// pollInboundLoop polls every inbound.imap.poll until ctx ends, waking
// the scheduler after replies were recorded (a report stops notices).
func (d *Daemon) pollInboundLoop(ctx context.Context) {
	for {
		if res, err := d.PollInbound(ctx, d.clock()); err == nil && res.Recorded > 0 {
			d.Wake()
		}
		t := time.NewTimer(max(d.Config().Inbound.IMAP.Poll, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

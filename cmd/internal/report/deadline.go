package report

import (
	"fmt"
	"strings"
	"time"

	"duban/notify"
	"duban/tracker"
)

// FormatDeadline states dl the way notices do (in loc, a day deadline
// ending at dayEnd), marked 暂定 when it is provisional.
func FormatDeadline(dl tracker.Deadline, loc *time.Location, dayEnd string) string {
	if dl.Timed {
		return notify.MarkProvisional(notify.FormatDeadline(dl.Due.In(loc), true, dayEnd), dl.Provisional)
	}
	return notify.MarkProvisional(notify.FormatDeadline(dl.LastDay.At(0, loc), false, dayEnd), dl.Provisional)
}

// DeadlineEvent is the calendar invitation of an instance's deadline
// (RFC 5545, see notify.ICSEvent): UID "<instance id>@duban", SEQUENCE
// the number of extensions, an all-day event on the last day of a day
// deadline or a short event ending at a timed one, and an alarm at
// send_time one working day before the last day — left out when that
// moment has passed at now.
func DeadlineEvent(env tracker.Env, dayEnd string, in *tracker.Instance, it *tracker.Item, unitName string, now time.Time) notify.ICSEvent {
	loc := env.Loc
	dl := in.Deadline
	title := it.Title
	if in.Co {
		title += tracker.CoMark
	}
	ev := notify.ICSEvent{UID: in.ID + "@duban", Sequence: in.Extensions + in.Revision, Stamp: now,
		Summary: notify.MarkProvisional(title+" 截止", dl.Provisional)}
	if dl.Timed {
		ev.End = dl.Due
	} else {
		ev.AllDay, ev.Start = true, dl.LastDay.At(0, loc)
	}
	human := FormatDeadline(dl, loc, dayEnd)
	var d strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&d, "%s: %s\n", k, v)
		}
	}
	line("督办事项", it.Title)
	line("文号", it.Doc)
	line("承办单位", unitName)
	if in.Co {
		line("承办方式", "协办")
	}
	line("办理要求", it.Requirements)
	line("办理时限", human)
	if in.Original != nil {
		line("原定时限", FormatDeadline(*in.Original, loc, dayEnd))
	}
	if in.Limit != nil {
		line("最迟时限", FormatDeadline(*in.Limit, loc, dayEnd))
	}
	line("编号", in.ID)
	ev.Description = strings.TrimSuffix(d.String(), "\n")
	alarm := env.Cal.AddWorkdays(dl.LastDay, -1).At(env.SendTime, loc)
	if alarm.After(now) && alarm.Before(dl.Due) {
		ev.Alarm = alarm
		ev.AlarmText = "督办提醒: " + title + ", 办理时限为" + human
	}
	return ev
}

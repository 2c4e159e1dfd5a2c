package notify

import (
	"bytes"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ICSEvent is one deadline as an iCalendar (RFC 5545) event.
//
// Day deadlines (due at the end of a last day) are all-day events on the
// last day: DTSTART;VALUE=DATE is the last day and DTEND;VALUE=DATE the
// day after, so the deadline shows at the top of that day without
// blocking time. Timed deadlines ("weekly thu 12:00") are short events
// written as UTC instants that end at the deadline: DTEND is the due
// instant. Both are TRANSP:TRANSPARENT.
type ICSEvent struct {
	// UID identifies the deadline across updates, e.g. "minutes-31@duban";
	// an updated invitation (after an extension) keeps it.
	UID string
	// Sequence is the revision: the number of extensions. A higher
	// sequence replaces the event in the recipient's calendar.
	Sequence int
	// Stamp is DTSTAMP: when the invitation was made.
	Stamp time.Time
	// AllDay makes the event the whole civil date of Start (the year, month
	// and day of Start in its own location); End is then ignored.
	AllDay bool
	// Start and End bound a timed event; End is the deadline. A zero Start
	// means 30 minutes before End.
	Start, End  time.Time
	Summary     string
	Description string
	// Alarm, if not zero, adds a VALARM that fires at that instant
	// (TRIGGER;VALUE=DATE-TIME), e.g. send_time on the previous working day.
	Alarm     time.Time
	AlarmText string // the alarm's text; Summary if empty
}

// ICSContentType is the media type of duban's calendar attachments.
const ICSContentType = "text/calendar; charset=UTF-8; method=PUBLISH"

// ICSName is the file name of the calendar attached to notices.
const ICSName = "deadline.ics"

// ICSAttachment wraps calendar data as the deadline.ics attachment.
func ICSAttachment(data []byte) Attachment {
	return Attachment{Name: ICSName, ContentType: ICSContentType, Data: data}
}

// ICS returns a calendar (METHOD:PUBLISH) holding the one event ev.
func ICS(ev ICSEvent) []byte { return ICSCalendar("", []ICSEvent{ev}) }

// ICSCalendar returns a calendar (METHOD:PUBLISH) with one VEVENT per
// event; name, if set, is the calendar's display name (X-WR-CALNAME).
// The text has CRLF line endings, lines folded at 75 octets without
// splitting a UTF-8 character, and TEXT values escaped (RFC 5545 §3.1,
// §3.3.11).
func ICSCalendar(name string, evs []ICSEvent) []byte {
	var b bytes.Buffer
	line := func(s string) { foldLine(&b, s) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//duban//duban deadlines//ZH")
	line("CALSCALE:GREGORIAN")
	line("METHOD:PUBLISH")
	if name != "" {
		line("X-WR-CALNAME:" + icsText(name))
	}
	for _, ev := range evs {
		line("BEGIN:VEVENT")
		line("UID:" + icsText(ev.UID))
		line("SEQUENCE:" + strconv.Itoa(max(ev.Sequence, 0)))
		line("DTSTAMP:" + icsUTC(ev.Stamp))
		if ev.AllDay {
			y, m, d := ev.Start.Date()
			day := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
			line("DTSTART;VALUE=DATE:" + day.Format("20060102"))
			line("DTEND;VALUE=DATE:" + day.AddDate(0, 0, 1).Format("20060102"))
		} else {
			start := ev.Start
			if start.IsZero() || !start.Before(ev.End) {
				start = ev.End.Add(-30 * time.Minute)
			}
			line("DTSTART:" + icsUTC(start))
			line("DTEND:" + icsUTC(ev.End))
		}
		line("SUMMARY:" + icsText(ev.Summary))
		if ev.Description != "" {
			line("DESCRIPTION:" + icsText(ev.Description))
		}
		line("STATUS:CONFIRMED")
		line("TRANSP:TRANSPARENT")
		if !ev.Alarm.IsZero() {
			text := ev.AlarmText
			if text == "" {
				text = ev.Summary
			}
			line("BEGIN:VALARM")
			line("ACTION:DISPLAY")
			line("DESCRIPTION:" + icsText(text))
			line("TRIGGER;VALUE=DATE-TIME:" + icsUTC(ev.Alarm))
			line("END:VALARM")
		}
		line("END:VEVENT")
	}
	line("END:VCALENDAR")
	return b.Bytes()
}

// icsUTC formats t as a UTC DATE-TIME, e.g. 20260928T160000Z.
func icsUTC(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icsText escapes a TEXT value: backslash, semicolon and comma get a
// backslash, line breaks become \n, other control characters are dropped.
func icsText(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		switch {
		case r == '\\' || r == ';' || r == ',':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' || r == '\r':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// foldLine writes one content line, folded so that no line exceeds 75
// octets (a continuation line starts with a space, which counts), never
// inside a UTF-8 sequence, and ended with CRLF.
func foldLine(b *bytes.Buffer, s string) {
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
		limit = 74
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

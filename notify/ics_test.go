package notify_test

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"

	"duban/notify"
)

// checkWire asserts the RFC 5545 line rules: CRLF only, no line over 75
// octets, every physical line valid UTF-8 (folding never splits a rune).
func checkWire(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Error("calendar does not end with CRLF")
	}
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			t.Fatalf("bare LF at offset %d", i)
		}
		if c == '\r' && (i+1 >= len(b) || b[i+1] != '\n') {
			t.Fatalf("bare CR at offset %d", i)
		}
	}
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line %d is %d octets: %q", n+1, len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line %d splits a UTF-8 character: %q", n+1, line)
		}
	}
}

func parse(t *testing.T, b []byte) *ics.Calendar {
	t.Helper()
	cal, err := ics.ParseCalendar(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("golang-ical cannot parse the calendar: %v\n%s", err, b)
	}
	return cal
}

func prop(t *testing.T, c interface {
	GetProperty(ics.ComponentProperty) *ics.IANAProperty
}, p ics.ComponentProperty) string {
	t.Helper()
	v := c.GetProperty(p)
	if v == nil {
		t.Fatalf("no %s", p)
	}
	return v.Value
}

// calProp returns the value of a calendar-level property.
func calProp(cal *ics.Calendar, name string) string {
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == name {
			return p.Value
		}
	}
	return ""
}

func TestICSTimedEventWithAlarm(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	due := time.Date(2026, 10, 8, 12, 0, 0, 0, loc)   // weekly report, Thursday 12:00
	alarm := time.Date(2026, 9, 30, 9, 0, 0, 0, loc)  // send_time on the previous working day
	stamp := time.Date(2026, 9, 25, 10, 0, 0, 0, loc) // when the notice went out
	desc := "文号: 洛政办〔2026〕31号\n办理要求: 报送; 逗号, 反斜杠\\ 完\n" + strings.Repeat("很长的办理要求", 20)
	ev := notify.ICSEvent{
		UID: "weekly-cases/2026-10-01/fzj@duban", Sequence: 0, Stamp: stamp,
		End: due, Summary: "执行难案件进展周报 截止", Description: desc, Alarm: alarm,
	}
	b := notify.ICS(ev)
	checkWire(t, b)
	cal := parse(t, b)
	if m := calProp(cal, "METHOD"); m != "PUBLISH" {
		t.Errorf("METHOD %q, want PUBLISH", m)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	e := evs[0]
	if e.Id() != ev.UID {
		t.Errorf("UID %q, want %q", e.Id(), ev.UID)
	}
	end, err := e.GetEndAt()
	if err != nil || !end.Equal(due) {
		t.Errorf("DTEND %v (%v), want %v", end, err, due)
	}
	start, err := e.GetStartAt()
	if err != nil || !start.Equal(due.Add(-30*time.Minute)) {
		t.Errorf("DTSTART %v (%v), want 30 minutes before the deadline", start, err)
	}
	if s, err := e.GetDtStampTime(); err != nil || !s.Equal(stamp) {
		t.Errorf("DTSTAMP %v (%v), want %v", s, err, stamp)
	}
	if v := prop(t, e, ics.ComponentPropertyDtEnd); v != "20261008T040000Z" {
		t.Errorf("DTEND is written %q, want the UTC instant 20261008T040000Z", v)
	}
	if got := prop(t, e, ics.ComponentPropertyDescription); got != desc {
		t.Errorf("DESCRIPTION round trip:\n got %q\nwant %q", got, desc)
	}
	if got := prop(t, e, ics.ComponentPropertySummary); got != ev.Summary {
		t.Errorf("SUMMARY %q", got)
	}
	alarms := e.Alarms()
	if len(alarms) != 1 {
		t.Fatalf("%d alarms, want 1", len(alarms))
	}
	tr := alarms[0].GetProperty(ics.ComponentPropertyTrigger)
	if tr == nil || tr.Value != "20260930T010000Z" || strings.Join(tr.ICalParameters["VALUE"], ",") != "DATE-TIME" {
		t.Errorf("TRIGGER = %+v, want VALUE=DATE-TIME:20260930T010000Z", tr)
	}
	if a := prop(t, alarms[0], ics.ComponentPropertyAction); a != "DISPLAY" {
		t.Errorf("ACTION %q", a)
	}
}

func TestICSAllDayAndUpdate(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	last := time.Date(2026, 9, 28, 0, 0, 0, 0, loc)
	ev := notify.ICSEvent{UID: "minutes-31@duban", Stamp: time.Date(2026, 9, 24, 16, 5, 0, 0, loc), AllDay: true, Start: last,
		Summary: "第31次常务会议纪要签发 截止"}
	first := parse(t, notify.ICS(ev)).Events()[0]
	if v := first.GetProperty(ics.ComponentPropertyDtStart); v == nil || v.Value != "20260928" || v.ICalParameters["VALUE"][0] != "DATE" {
		t.Errorf("DTSTART = %+v, want VALUE=DATE:20260928", v)
	}
	if end, err := first.GetAllDayEndAt(); err != nil || end.Format(time.DateOnly) != "2026-09-29" {
		t.Errorf("DTEND %v (%v), want the day after the last day", end, err)
	}
	if len(first.Alarms()) != 0 {
		t.Error("an event without Alarm has a VALARM")
	}
	// The extension: same UID, higher SEQUENCE, new day.
	ev.Sequence, ev.Start = 1, time.Date(2026, 10, 9, 0, 0, 0, 0, loc)
	b := notify.ICSCalendar("督办事项: 市法制局", []notify.ICSEvent{ev})
	checkWire(t, b)
	cal := parse(t, b)
	upd := cal.Events()[0]
	if upd.Id() != first.Id() {
		t.Errorf("UID changed across the update: %q → %q", first.Id(), upd.Id())
	}
	if s0, s1 := prop(t, first, ics.ComponentPropertySequence), prop(t, upd, ics.ComponentPropertySequence); s0 != "0" || s1 != "1" {
		t.Errorf("SEQUENCE %s → %s, want 0 → 1", s0, s1)
	}
	if v := prop(t, upd, ics.ComponentPropertyDtStart); v != "20261009" {
		t.Errorf("updated DTSTART %q", v)
	}
	if n := calProp(cal, "X-WR-CALNAME"); n != "督办事项: 市法制局" {
		t.Errorf("X-WR-CALNAME %q", n)
	}
}

func TestICSFoldingAndEscaping(t *testing.T) {
	// Lines of every length around the fold point, ASCII and 3-byte runes
	// at every offset, and every character that needs escaping.
	for n := 60; n < 200; n++ {
		for _, unit := range []string{"a", "办", "a办", "ab办"} {
			s := strings.Repeat(unit, n/len(unit)+1)[:0]
			for len(s) < n {
				s += unit
			}
			s += `;,\` + "\n" + "末"
			ev := notify.ICSEvent{UID: "x@duban", Stamp: time.Unix(0, 0), End: time.Unix(3600, 0), Summary: s, Description: s}
			b := notify.ICS(ev)
			checkWire(t, b)
			e := parse(t, b).Events()[0]
			if got := prop(t, e, ics.ComponentPropertySummary); got != s {
				t.Fatalf("n=%d unit=%q: SUMMARY round trip\n got %q\nwant %q", n, unit, got, s)
			}
		}
	}
}

func TestICSAttachment(t *testing.T) {
	data := notify.ICS(notify.ICSEvent{UID: "minutes-31@duban", Stamp: time.Unix(0, 0), AllDay: true,
		Start: time.Date(2026, 9, 28, 0, 0, 0, 0, shanghai), Summary: "第31次常务会议纪要签发 截止"})
	m := sampleMessage()
	m.Attachments = []notify.Attachment{notify.ICSAttachment(data)}
	p := mustParseMail(t, mustBytes(t, m))
	if got, ok := p.Attachments["deadline.ics"]; !ok || !bytes.Equal(got, data) {
		t.Errorf("deadline.ics attachment = %q (present %v), want the calendar", got, ok)
	}
}

package config

import (
	"fmt"
	"os"
	"time"

	"duban/tracker"
	"duban/tracker/recur"
)

// Expander returns the deadline engine this configuration describes: the
// working calendar (the embedded data, then calendar.files in order), the
// zone, day_end, send_time and horizon, with `every:` values parsed by
// tracker/recur. It reads the calendar files; c must have been validated.
func (c *Config) Expander() (*tracker.Expander, error) {
	cal, err := c.calendar()
	if err != nil {
		return nil, err
	}
	return &tracker.Expander{
		Env: tracker.Env{Cal: cal, Loc: c.Location,
			DayEnd: tracker.TimeOfDay(c.DayEndMin), SendTime: tracker.TimeOfDay(c.SendTimeMin)},
		Every:       parseEvery,
		Horizon:     c.HorizonDays,
		SheetPrefix: c.Sheets.Prefix,
	}, nil
}

// parseEvery adapts recur.Parse to tracker.ScheduleParser.
func parseEvery(spec string, loc *time.Location) (tracker.Schedule, error) {
	s, err := recur.Parse(spec, loc)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// calendar builds the working calendar: embedded data, then the
// configured extra files in order.
func (c *Config) calendar() (*tracker.Calendar, error) {
	cal, err := tracker.DefaultCalendar()
	if err != nil {
		return nil, err
	}
	var files []tracker.NamedData
	for _, f := range c.Calendar.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("calendar.files: %w", err)
		}
		files = append(files, tracker.NamedData{Name: f, Data: data})
	}
	return cal.WithFiles(files)
}

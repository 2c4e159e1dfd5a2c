package recur_test

import (
	"fmt"
	"time"

	"duban/tracker/recur"
)

func ExampleParse() {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	for _, spec := range []string{"monthly 31", "weekly thu 12:00", "0 9 * * MON-FRI"} {
		s, err := recur.Parse(spec, loc)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s (timed %v):", s, s.Timed())
		t := from
		for range 3 {
			t = s.Next(t)
			fmt.Print(" ", t.Format("01-02 15:04"))
		}
		fmt.Println()
	}
	_, err := recur.Parse("weekly thurs", loc)
	fmt.Println(err)
	// Output:
	// monthly 31 (timed false): 01-31 00:00 02-28 00:00 03-31 00:00
	// weekly thu 12:00 (timed true): 01-01 12:00 01-08 12:00 01-15 12:00
	// cron 0 9 * * MON-FRI (timed true): 01-01 09:00 01-02 09:00 01-05 09:00
	// "weekly thurs" is not a schedule: weekday must be mon..sun
}

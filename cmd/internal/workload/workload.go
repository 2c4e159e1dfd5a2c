// Package workload writes realistic tracking files for scale tests and
// benchmarks: one-off items spread over units (a mix of the SPEC §2 rules,
// some with co-units and hard limits) and, optionally, a weekly and a
// monthly recurring report for every unit. The output is deterministic for
// a given Spec. cmd/dubangen prints it; the benchmarks and the crash test
// of cmd/duban import it.
package workload

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Spec describes a tracking file.
type Spec struct {
	Items     int    // one-off items
	Units     int    // units u000…, each with a head p000…; ≥ 1
	Seed      uint64 // random seed
	From      string // first start date, YYYY-MM-DD
	Days      int    // starts are spread over this many days; ≥ 1
	Recurring bool   // a weekly and a monthly report for every unit
	// Part is PartDirectory (office, people, units, policies), PartItems,
	// or "" for both in one file.
	Part string
	// Style is how items are written: StyleBlock ("" too), one key a
	// line, or StyleFlow, one item a line ({id: …, title: …}). Both
	// styles write the same items.
	Style string
	// Overdue > 0 lays the one-off items out for the overdue list: that
	// many of them, chosen at random among the ids, start early enough to
	// be overdue at OverdueAt and have no co-units (so each overdue
	// instance is a different item); the others start on or after it.
	// Starts stay spread over Days.
	Overdue int
}

// overdueMargin is how long before the cut an overdue item starts at the
// latest: longer than the longest rule (1mo) plus a holiday roll.
const overdueMargin = 45

// OverdueAt returns the instant, 00:00 of the cut day in UTC+8, at which
// exactly s.Overdue items of a file with s.Overdue > 0 are overdue: the
// day Days·Overdue/Items after From (at least overdueMargin+1 days).
func (s Spec) OverdueAt() (time.Time, error) {
	start, err := time.Parse(time.DateOnly, s.From)
	if err != nil {
		return time.Time{}, fmt.Errorf("workload: from: %w", err)
	}
	cut := max(s.Days*s.Overdue/max(s.Items, 1), overdueMargin+1)
	d := start.AddDate(0, 0, cut)
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.FixedZone("CST", 8*3600)), nil
}

// The styles of the items section.
const (
	StyleBlock = "block"
	StyleFlow  = "flow"
)

// The parts of a split tracking file (SPEC §7: offices keep units.yaml
// apart from the item files).
const (
	PartDirectory = "directory"
	PartItems     = "items"
)

// Write writes the tracking file that s describes.
func Write(out io.Writer, s Spec) error {
	start, err := time.Parse(time.DateOnly, s.From)
	if err != nil {
		return fmt.Errorf("workload: from: %w", err)
	}
	if s.Items < 0 || s.Units < 1 || s.Days < 1 {
		return fmt.Errorf("workload: need items ≥ 0, units ≥ 1, days ≥ 1 (got %d, %d, %d)", s.Items, s.Units, s.Days)
	}
	if s.Overdue < 0 || s.Overdue > s.Items || (s.Overdue > 0 && s.Days <= overdueMargin+1) {
		return fmt.Errorf("workload: overdue %d: need 0 ≤ overdue ≤ items (%d) and days > %d", s.Overdue, s.Items, overdueMargin+1)
	}
	switch s.Part {
	case "", PartDirectory, PartItems:
	default:
		return fmt.Errorf("workload: part %q: want %q, %q or empty", s.Part, PartDirectory, PartItems)
	}
	switch s.Style {
	case "", StyleBlock, StyleFlow:
	default:
		return fmt.Errorf("workload: style %q: want %q or %q", s.Style, StyleBlock, StyleFlow)
	}
	w := bufio.NewWriterSize(out, 1<<20)
	r := rand.New(rand.NewPCG(s.Seed, s.Seed))
	if s.Part != PartItems {
		fmt.Fprintln(w, "office: {name: 市政府督查室, email: ducha@example.gov.cn}")
		fmt.Fprintln(w, "people:")
		for u := range s.Units {
			fmt.Fprintf(w, "  - {id: p%03d, name: 负责人%03d, email: p%03d@example.gov.cn}\n", u, u, u)
		}
		fmt.Fprintln(w, "  - {id: leader, name: 分管领导, email: leader@example.gov.cn}")
		fmt.Fprintln(w, "units:")
		for u := range s.Units {
			fmt.Fprintf(w, "  - {id: u%03d, name: 第%03d处, head: p%03d, leader: leader}\n", u, u, u)
		}
		fmt.Fprint(w, `policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit], level: reminder}
      - {at: 0, to: [unit], level: due}
      - {at: +1wd, every: 1wd, to: [unit], level: overdue}
      - {at: limit, to: [unit, leader, office], level: escalation}
`)
	}
	if s.Part == PartDirectory {
		return w.Flush()
	}
	fmt.Fprintln(w, "items:")
	it := itemWriter{w: w, flow: s.Style == StyleFlow}
	rules := []struct{ due, limit string }{{"3d", "7d"}, {"2wd", ""}, {"3wd", ""}, {"0wd", ""}, {"10d", ""}, {"7d", "15d"}, {"1mo", ""}, {"48h", ""}}
	cut, _ := s.OverdueAt()
	cutDay := int(time.Date(cut.Year(), cut.Month(), cut.Day(), 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
	left := s.Overdue // overdue items still to place (selection sampling)
	for i := range s.Items {
		rule := rules[r.IntN(len(rules))]
		day := start.AddDate(0, 0, r.IntN(s.Days))
		overdue := false
		if s.Overdue > 0 {
			// exactly s.Overdue of the ids, at random; the overdue ones
			// start before cut−margin, the others two weeks after the cut
			// or later (a co-unit's last day is a working day before the
			// lead's)
			if overdue = r.IntN(s.Items-i) < left; overdue {
				left--
				day = start.AddDate(0, 0, r.IntN(cutDay-overdueMargin))
			} else {
				day = start.AddDate(0, 0, cutDay+14+r.IntN(max(s.Days-cutDay-14, 1)))
			}
		}
		lead := r.IntN(s.Units)
		it.begin("id", fmt.Sprintf("item-%07d", i))
		it.field("title", fmt.Sprintf("督办事项%07d", i))
		it.field("doc", fmt.Sprintf("洛政办〔2026〕%d号", i%1000+1))
		it.field("unit", fmt.Sprintf("u%03d", lead))
		it.field("start", fmt.Sprintf("%s %02d:%02d", day.Format(time.DateOnly), 8+r.IntN(10), r.IntN(60)))
		it.field("due", rule.due)
		it.field("policy", "standard")
		if rule.limit != "" {
			it.field("limit", rule.limit)
		}
		if i%10 == 0 && s.Units > 1 && !overdue {
			// the next unit, never the lead itself (the importer rejects that)
			it.field("co_units", fmt.Sprintf("[u%03d]", (lead+1)%s.Units))
			if rule.due == "2wd" || rule.due == "3wd" {
				// a working day earlier than the lead: only on working-day
				// rules, where that is always after the start (a co-unit
				// deadline before the start is refused, and 3d from the
				// start of a holiday would give one)
				it.field("co_due", "-1wd")
			}
		}
		it.end()
	}
	if s.Recurring {
		for _, rep := range []struct{ id, title, every string }{
			{"weekly-report", "本周进展情况", "weekly thu 12:00"},
			{"monthly-report", "上月工作月报", "monthly 5"},
		} {
			it.begin("id", rep.id)
			it.field("title", rep.title)
			it.field("every", rep.every)
			it.field("from", start.Format(time.DateOnly))
			it.field("policy", "standard")
			units := []byte{'['}
			for u := range s.Units {
				if u > 0 {
					units = append(units, ", "...)
				}
				units = fmt.Appendf(units, "u%03d", u)
			}
			it.field("units", string(append(units, ']')))
			it.end()
		}
	}
	return w.Flush()
}

// itemWriter writes one item in block style (a key a line) or flow style
// (the whole item on one line).
type itemWriter struct {
	w    *bufio.Writer
	flow bool
}

func (iw itemWriter) begin(key, value string) {
	if iw.flow {
		fmt.Fprintf(iw.w, "  - {%s: %s", key, value)
		return
	}
	fmt.Fprintf(iw.w, "  - %s: %s\n", key, value)
}

func (iw itemWriter) field(key, value string) {
	if iw.flow {
		fmt.Fprintf(iw.w, ", %s: %s", key, value)
		return
	}
	fmt.Fprintf(iw.w, "    %s: %s\n", key, value)
}

func (iw itemWriter) end() {
	if iw.flow {
		iw.w.WriteString("}\n")
	}
}

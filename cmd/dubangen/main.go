// Command dubangen writes a realistic tracking file for scale tests: N
// one-off items spread over 100 units (a mix of the SPEC §2 rules, some
// with co-units and hard limits) plus weekly and monthly recurring reports
// for every unit. The output is deterministic for a given seed.
//
//	go run ./cmd/dubangen -items 100000 -units 100 > /tmp/big.yaml
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

func main() {
	items := flag.Int("items", 1000, "one-off items")
	units := flag.Int("units", 100, "units")
	recurring := flag.Bool("recurring", true, "add a weekly and a monthly report for every unit")
	seed := flag.Uint64("seed", 1, "random seed")
	from := flag.String("from", "2026-01-05", "first start date (YYYY-MM-DD)")
	days := flag.Int("days", 300, "starts are spread over this many days")
	flag.Parse()
	start, err := time.Parse(time.DateOnly, *from)
	if err != nil || *items < 0 || *units < 1 || *days < 1 {
		fmt.Fprintln(os.Stderr, "dubangen: bad flags")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	r := rand.New(rand.NewPCG(*seed, *seed))

	fmt.Fprintln(w, "office: {name: 市政府督查室, email: ducha@example.gov.cn}")
	fmt.Fprintln(w, "people:")
	for u := range *units {
		fmt.Fprintf(w, "  - {id: p%03d, name: 负责人%03d, email: p%03d@example.gov.cn}\n", u, u, u)
	}
	fmt.Fprintln(w, "  - {id: leader, name: 分管领导, email: leader@example.gov.cn}")
	fmt.Fprintln(w, "units:")
	for u := range *units {
		fmt.Fprintf(w, "  - {id: u%03d, name: 第%03d处, head: p%03d, leader: leader}\n", u, u, u)
	}
	fmt.Fprint(w, `policies:
  - id: standard
    steps:
      - {at: -1wd, to: [unit], level: reminder}
      - {at: 0, to: [unit], level: due}
      - {at: +1wd, every: 1wd, to: [unit], level: overdue}
      - {at: limit, to: [unit, leader, office], level: escalation}
items:
`)
	rules := []struct{ due, limit string }{{"3d", "7d"}, {"2wd", ""}, {"3wd", ""}, {"0wd", ""}, {"10d", ""}, {"7d", "15d"}, {"1mo", ""}, {"48h", ""}}
	for i := range *items {
		rule := rules[r.IntN(len(rules))]
		day := start.AddDate(0, 0, r.IntN(*days))
		fmt.Fprintf(w, "  - id: item-%07d\n    title: 督办事项%07d\n    doc: 洛政办〔2026〕%d号\n    unit: u%03d\n    start: %s %02d:%02d\n    due: %s\n    policy: standard\n",
			i, i, i%1000+1, r.IntN(*units), day.Format(time.DateOnly), 8+r.IntN(10), r.IntN(60), rule.due)
		if rule.limit != "" {
			fmt.Fprintf(w, "    limit: %s\n", rule.limit)
		}
		if i%10 == 0 && *units > 1 {
			fmt.Fprintf(w, "    co_units: [u%03d]\n    co_due: -1wd\n", (i+1)%*units)
		}
	}
	if *recurring {
		fmt.Fprintf(w, "  - id: weekly-report\n    title: 本周进展情况\n    every: weekly thu 12:00\n    from: %s\n    policy: standard\n    units: [", start.Format(time.DateOnly))
		for u := range *units {
			if u > 0 {
				fmt.Fprint(w, ", ")
			}
			fmt.Fprintf(w, "u%03d", u)
		}
		fmt.Fprintf(w, "]\n  - id: monthly-report\n    title: 上月工作月报\n    every: monthly 5\n    from: %s\n    policy: standard\n    units: [", start.Format(time.DateOnly))
		for u := range *units {
			if u > 0 {
				fmt.Fprint(w, ", ")
			}
			fmt.Fprintf(w, "u%03d", u)
		}
		fmt.Fprintln(w, "]")
	}
}

// Command dubangen writes a realistic tracking file for scale tests: N
// one-off items spread over units (a mix of the SPEC §2 rules, some with
// co-units and hard limits) plus weekly and monthly recurring reports for
// every unit. The output is deterministic for a given seed, and it is the
// workload the benchmarks of cmd/duban import.
//
//	go run ./cmd/dubangen -items 100000 -units 100 > /tmp/big.yaml
//	go run ./cmd/dubangen -part directory > units.yaml
//	go run ./cmd/dubangen -part items -items 100000 > items.yaml
//	go run ./cmd/dubangen -style flow -items 100000 > flow.yaml
//
// The overdue-list scenario (100 000 items over two years, 10 000 of them
// overdue, each a different item) is
//
//	go run ./cmd/dubangen -items 100000 -days 730 -overdue 10000 > spread.yaml
//
// and its instant for `duban list --overdue --at` is printed on stderr.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"duban/cmd/internal/workload"
)

func main() {
	var s workload.Spec
	flag.IntVar(&s.Items, "items", 1000, "one-off items")
	flag.IntVar(&s.Units, "units", 100, "units")
	flag.BoolVar(&s.Recurring, "recurring", true, "add a weekly and a monthly report for every unit")
	flag.Uint64Var(&s.Seed, "seed", 1, "random seed")
	flag.StringVar(&s.From, "from", "2026-01-05", "first start date (YYYY-MM-DD)")
	flag.IntVar(&s.Days, "days", 300, "starts are spread over this many days")
	flag.StringVar(&s.Part, "part", "", `"directory" (office, people, units, policies), "items", or empty for both`)
	flag.StringVar(&s.Style, "style", workload.StyleBlock, `items in "block" style (a key a line) or "flow" style (an item a line)`)
	flag.IntVar(&s.Overdue, "overdue", 0, "make this many items (each without co-units) overdue at the instant printed on stderr, the others due after it")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "dubangen: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if err := workload.Write(os.Stdout, s); err != nil {
		fmt.Fprintln(os.Stderr, "dubangen:", err)
		os.Exit(2)
	}
	if s.Overdue > 0 {
		at, _ := s.OverdueAt()
		fmt.Fprintf(os.Stderr, "dubangen: %d of the %d one-off items are overdue at %s (duban list --overdue --at %s)\n",
			s.Overdue, s.Items, at.Format(time.RFC3339), at.Format(time.RFC3339))
	}
}

package tracker

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRowAppendJSONMatchesEncodingJSON checks that Row's hand-written
// encoder gives the bytes encoding/json gives for it, on rows
// with every optional field set or not and strings that need escaping.
func TestRowAppendJSONMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "a", "督办事项0000001", "洛政办〔2026〕31号", `引"号\反斜杠`, "<b>&amp;</b>", "tab\there\nline\x01",
		"bad\xffutf8", "line\u2028sep\u2029", "em—dash", "emoji 😀", "\x7f"}
	loc := time.FixedZone("CST", 8*3600)
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[r.IntN(len(strs))] }
	tm := func() time.Time {
		return time.Date(1960+r.IntN(80), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), []int{0, 0, 5e8, 123456789}[r.IntN(4)], []*time.Location{time.UTC, loc}[r.IntN(2)])
	}
	for i := range 2000 {
		row := Row{ID: pick(), Item: pick(), Unit: pick(), UnitName: pick(), Co: r.IntN(2) == 0, Title: pick(), Doc: pick(),
			Status: Status(pick()), Due: tm(), LastDay: DateOf(tm()), Overdue: r.IntN(2) == 0, OverdueWorkdays: r.IntN(3) - 1,
			Provisional: r.IntN(2) == 0, Extended: r.IntN(2) == 0, Note: pick(), Human: pick()}
		if r.IntN(2) == 0 {
			l := tm()
			row.Limit = &l
		}
		if r.IntN(2) == 0 {
			d := tm()
			row.DoneAt = &d
		}
		want, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		got, err := row.AppendJSON([]byte("x")[:0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("row %d:\ngot  %s\nwant %s", i, got, want)
		}
	}
}

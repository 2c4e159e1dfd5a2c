package tracker

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// NotFoundError reports a unit or item that a command named and that is
// not stored, with the closest existing ones. It matches ErrNotFound, so
// the CLI exits with status 2.
type NotFoundError struct {
	Kind    string   // 单位 or 事项
	Value   string   // what was given
	Suggest []string // close matches, e.g. "fzj（市法制局）", best first
	Known   []string // when nothing is close: some that exist
	Total   int      // how many exist in all
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "没有%s“%s”", e.Kind, quoteShort(e.Value))
	switch {
	case len(e.Suggest) > 0:
		fmt.Fprintf(&b, "；是否指：%s？", strings.Join(e.Suggest, "、"))
	case e.Total == 0:
		fmt.Fprintf(&b, "；数据库中还没有任何%s", e.Kind)
	default:
		fmt.Fprintf(&b, "；现有%s：%s", e.Kind, strings.Join(e.Known, "、"))
		if e.Total > len(e.Known) {
			fmt.Fprintf(&b, " 等%d个", e.Total)
		}
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// quoteShort cuts a value to 80 characters for messages.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) <= 80 {
		return s
	}
	r := []rune(s)
	return string(r[:80]) + "…"
}

// maxSuggest bounds the suggestions and the list of known ids in a
// NotFoundError.
const maxSuggest = 5

// ResolveUnit returns the id of the unit s names: its id, or else its
// name (exactly). It fails with a *NotFoundError when s names no unit,
// and with an ErrInvalid error when s is the name of several units.
func ResolveUnit(tx Tx, s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := tx.Unit(s); err == nil {
		return s, nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	var named []string
	var cands []candidate
	if err := tx.Units(func(u *Unit) error {
		if u.Name == s {
			named = append(named, u.ID)
		}
		cands = append(cands, candidate{id: u.ID, label: labelled(u.ID, u.Name), keys: []string{u.ID, u.Name}})
		return nil
	}); err != nil {
		return "", err
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
		return "", notFound("单位", s, cands)
	}
	return "", fmt.Errorf("%w: 有%d个单位名为“%s”（%s）：请用单位编号", ErrInvalid, len(named), s, strings.Join(named, "、"))
}

// ResolveItem returns s if it is the id of a stored item, and otherwise
// a *NotFoundError suggesting items with a similar id or title (or the
// item of an instance id).
func ResolveItem(tx Tx, s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, err := tx.Item(s); err == nil {
		return s, nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	var cands []candidate
	if err := tx.Items(func(it *Item) error {
		c := candidate{id: it.ID, label: labelled(it.ID, it.Title), keys: []string{it.ID, it.Title}}
		if strings.HasPrefix(s, it.ID+"/") { // an instance id: weekly-cases/2026-10-01/fzj
			c.best = true
		}
		cands = append(cands, c)
		return nil
	}); err != nil {
		return "", err
	}
	return "", notFound("事项", s, cands)
}

func labelled(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return id + "（" + quoteShort(name) + "）"
}

// candidate is something that exists, for suggestions.
type candidate struct {
	id, label string
	keys      []string // compared with what was given
	best      bool     // certainly meant
	score     int
}

// notFound builds the error for s among cands: the candidates whose id
// or name contains s (or is contained in it), or is within a few edits of
// it, closest first.
func notFound(kind, s string, cands []candidate) *NotFoundError {
	e := &NotFoundError{Kind: kind, Value: s, Total: len(cands)}
	want := strings.ToLower(s)
	limit := max(1, (utf8.RuneCountInString(want)+2)/3)
	var close []candidate
	for _, c := range cands {
		c.score = -1
		for _, k := range c.keys {
			k = strings.ToLower(k)
			if k == "" || want == "" {
				continue
			}
			d := editDistance(want, k)
			if strings.Contains(k, want) || strings.Contains(want, k) {
				d = min(d, 0)
			}
			if d <= limit && (c.score < 0 || d < c.score) {
				c.score = d
			}
		}
		if c.best {
			c.score = -2
		}
		if c.score != -1 {
			close = append(close, c)
		}
	}
	slices.SortStableFunc(close, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.id, b.id))
	})
	for _, c := range close[:min(len(close), maxSuggest)] {
		e.Suggest = append(e.Suggest, c.label)
	}
	if len(e.Suggest) == 0 {
		slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(a.id, b.id) })
		for _, c := range cands[:min(len(cands), maxSuggest*2)] {
			e.Known = append(e.Known, c.label)
		}
	}
	return e
}

// editDistance is the optimal string alignment distance between a and b
// in runes: insertions, deletions, substitutions and transpositions of
// adjacent runes each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 200 || len(rb) > 200 {
		return max(len(ra), len(rb)) // not worth comparing
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

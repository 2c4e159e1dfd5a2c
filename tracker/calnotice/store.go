package calnotice

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"duban/tracker"
)

// MetaKey is the store meta key that holds the imported notices, a JSON
// list of Record in the order they were applied.
const MetaKey = "calendar_notices"

// Kinds of notice.
const (
	KindNational = "national" // the year's arrangement: replaces lower layers
	KindAmending = "amending" // changes the year's arrangement (延长…假期)
	KindRegional = "regional" // adds a province's days (--regional)
)

// Record is one imported notice: what was pasted, by whom and when, and
// the year's arrangement in effect once it was applied.
type Record struct {
	Year   int       `json:"year"`
	Kind   string    `json:"kind"`
	Title  string    `json:"title,omitempty"`
	SHA256 string    `json:"sha256"` // of the bytes as pasted
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Text   string    `json:"text"` // the notice as pasted, decoded to UTF-8
	// Days is the year's whole arrangement after this notice: the last
	// record of a year is what the calendar uses.
	Days []tracker.HolidayDay `json:"days"`
}

// Sum is the SHA-256 of a notice's bytes, in hex.
func Sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Kind is the notice's kind.
func (n *Notice) Kind() string {
	switch {
	case n.Amending:
		return KindAmending
	case n.Regional:
		return KindRegional
	}
	return KindNational
}

// Load reads the imported notices from the store.
func Load(tx tracker.Tx) ([]Record, error) {
	data, err := tx.Meta(MetaKey)
	if err != nil || data == nil {
		return nil, err
	}
	var recs []Record
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("stored calendar notices (meta %s): %w", MetaKey, err)
	}
	return recs, nil
}

// Save writes the imported notices.
func Save(tx tracker.Tx, recs []Record) error {
	data, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	return tx.PutMeta(MetaKey, data)
}

// Effective returns, per year, the arrangement the imported notices put
// in effect: the last record's days.
func Effective(recs []Record) map[int]Record {
	out := map[int]Record{}
	for _, r := range recs {
		out[r.Year] = r
	}
	return out
}

// OriginPrefix starts the name under which an imported year is loaded
// into the calendar (tracker.Calendar.Origin).
const OriginPrefix = "通知"

// Layer returns lower (the embedded data and calendar.files) with the
// imported notices on top: each year they cover is replaced by its
// arrangement.
func Layer(lower *tracker.Calendar, recs []Record, loc *time.Location) (*tracker.Calendar, error) {
	if len(recs) == 0 {
		return lower, nil
	}
	eff := Effective(recs)
	years := make([]int, 0, len(eff))
	for y := range eff {
		years = append(years, y)
	}
	slices.Sort(years)
	var files []tracker.NamedData
	for _, y := range years {
		r := eff[y]
		f := tracker.HolidayFile{Year: y, Papers: []string{strings.TrimSpace(r.Title + " sha256:" + r.SHA256)}, Days: r.Days}
		data, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		at := r.At
		if loc != nil {
			at = at.In(loc)
		}
		name := fmt.Sprintf("%s（%s 由 %s 载入）", OriginPrefix, at.Format("2006-01-02 15:04"), r.By)
		files = append(files, tracker.NamedData{Name: name, Data: data, Replace: true})
	}
	return lower.WithFiles(files)
}

// Plan is what importing a notice would store: the records after it,
// and the year's arrangement before and after.
type Plan struct {
	Notice  *Notice
	Records []Record
	Before  []tracker.HolidayDay // the year's days in effect now
	After   []tracker.HolidayDay
	// Replaced is the stored national notice a --replace supersedes.
	Replaced *Record
	// Same is set when this very text is already applied: nothing to do.
	Same bool
}

// ErrNeedsReplace refuses a second national notice for a year without
// --replace.
type ErrNeedsReplace struct {
	Year int
	At   time.Time
	By   string
}

func (e *ErrNeedsReplace) Error() string {
	return fmt.Sprintf("%d年的通知已于 %s 由 %s 载入：要以这份通知取代它，请加 --replace", e.Year, e.At.Format("2006-01-02 15:04"), e.By)
}

// Unwrap makes it bad usage (exit 2).
func (e *ErrNeedsReplace) Unwrap() error { return tracker.ErrInvalid }

// Prepare computes what importing n (read from data) would change:
// lower is the calendar without imported notices, recs the stored ones.
// A national notice for a year that has one needs replace; amending and
// regional notices apply on top of the year as it is, and a replaced
// national notice takes the year's later notices with it, re-applied.
func Prepare(n *Notice, data []byte, text string, lower *tracker.Calendar, recs []Record, replace bool, by string, at time.Time) (*Plan, error) {
	p := &Plan{Notice: n}
	sum := Sum(data)
	year := n.Year
	eff := Effective(recs)
	if r, ok := eff[year]; ok {
		p.Before = r.Days
	} else {
		p.Before = lower.YearDays(year)
	}
	var others, ofYear []Record
	for _, r := range recs {
		if r.Year != year {
			others = append(others, r)
		} else {
			ofYear = append(ofYear, r)
			if r.SHA256 == sum {
				p.Same = true
			}
		}
	}
	if p.Same && !replace {
		p.After, p.Records = p.Before, recs
		return p, nil
	}
	rec := Record{Year: year, Kind: n.Kind(), Title: n.Title, SHA256: sum, By: by, At: at.UTC(), Text: text}
	chain := append(slices.Clone(ofYear), rec)
	if n.Kind() == KindNational {
		for i, r := range ofYear {
			if r.Kind == KindNational {
				if !replace {
					return nil, &ErrNeedsReplace{Year: year, At: r.At, By: r.By}
				}
				p.Replaced = &ofYear[i]
			}
		}
		// The new national notice comes first; the year's amending and
		// regional notices are read again on top of it.
		chain = []Record{rec}
		for _, r := range ofYear {
			if r.Kind != KindNational && r.SHA256 != sum {
				chain = append(chain, r)
			}
		}
	} else {
		chain = nil
		for _, r := range ofYear {
			if r.SHA256 != sum {
				chain = append(chain, r)
			}
		}
		chain = append(chain, rec)
	}
	base := lower.YearDays(year)
	for i := range chain {
		nn := n
		if chain[i].SHA256 != sum {
			var err error
			if nn, err = Parse([]byte(chain[i].Text), Options{Year: chain[i].Year, Regional: chain[i].Kind == KindRegional}); err != nil {
				return nil, fmt.Errorf("re-reading the %d notice loaded on %s: %w", year, chain[i].At.Format(time.DateOnly), err)
			}
		}
		days, err := nn.Apply(base)
		if err != nil {
			return nil, err
		}
		chain[i].Days = days
		base = days
	}
	p.After = base
	p.Records = append(others, chain...)
	return p, nil
}

// FromStore returns lower with the notices imported into st on top (SPEC
// §12: embedded < calendar.files < imported notices). Every command and
// the daemon build their calendar through it.
func FromStore(st tracker.Store, lower *tracker.Calendar, loc *time.Location) (*tracker.Calendar, error) {
	var recs []Record
	if err := st.View(func(tx tracker.Tx) error {
		var err error
		recs, err = Load(tx)
		return err
	}); err != nil {
		return nil, err
	}
	return Layer(lower, recs, loc)
}

// MetaRecomputed lists the SHA-256 of the imported notices the open
// deadlines have been recomputed for.
const MetaRecomputed = "calendar_notices_recomputed"

// RecomputeActor is who a calendar recompute is recorded as in each
// moved instance's history: base, naming the notices imported since the
// last recompute (SPEC §12: the history names the notice). It records
// them as recomputed; call it in the recompute's transaction.
func RecomputeActor(tx tracker.Tx, base string) (string, error) {
	recs, err := Load(tx)
	if err != nil || len(recs) == 0 {
		return base, err
	}
	var seen []string
	if raw, err := tx.Meta(MetaRecomputed); err != nil {
		return base, err
	} else if raw != nil {
		if err := json.Unmarshal(raw, &seen); err != nil {
			return base, fmt.Errorf("meta %s: %w", MetaRecomputed, err)
		}
	}
	var fresh, all []string
	for _, r := range recs {
		all = append(all, r.SHA256)
		if !slices.Contains(seen, r.SHA256) {
			fresh = append(fresh, fmt.Sprintf("%d年通知 sha256:%s", r.Year, r.SHA256[:min(8, len(r.SHA256))]))
		}
	}
	if len(fresh) == 0 {
		return base, nil
	}
	raw, err := json.Marshal(all)
	if err != nil {
		return base, err
	}
	if err := tx.PutMeta(MetaRecomputed, raw); err != nil {
		return base, err
	}
	return base + "（载入" + strings.Join(fresh, "、") + "）", nil
}

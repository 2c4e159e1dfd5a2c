package tracker

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Grade is the grade of a 督办事项通知单 (SPEC §15): 蓝 一般督办, 黄 重点督办,
// 红 挂牌督办.
type Grade string

// Sheet grades, in increasing severity.
const (
	GradeBlue   Grade = "蓝"
	GradeYellow Grade = "黄"
	GradeRed    Grade = "红"
)

// Grades are the sheet grades in increasing severity.
var Grades = []Grade{GradeBlue, GradeYellow, GradeRed}

// ParseGrade reads a grade by its character (蓝, 黄, 红), its full name
// (一般督办 …) or its English colour (blue, yellow, red).
func ParseGrade(s string) (Grade, bool) {
	s = strings.TrimSpace(s)
	for _, g := range Grades {
		if s == string(g) || s == g.Label() || s == string(g)+"色" {
			return g, true
		}
	}
	switch strings.ToLower(s) {
	case "blue":
		return GradeBlue, true
	case "yellow":
		return GradeYellow, true
	case "red":
		return GradeRed, true
	}
	return "", false
}

// Label is the grade's full name: 一般督办, 重点督办 or 挂牌督办.
func (g Grade) Label() string {
	switch g {
	case GradeBlue:
		return "一般督办"
	case GradeYellow:
		return "重点督办"
	case GradeRed:
		return "挂牌督办"
	}
	return string(g)
}

// ToLeader reports whether a sheet of this grade also goes to the unit's
// leader (黄 and 红).
func (g Grade) ToLeader() bool { return g == GradeYellow || g == GradeRed }

// DefaultSheetPrefix is the default of config sheets.prefix.
const DefaultSheetPrefix = "督"

// SheetStep is the step number of the notice that carries a sheet to the
// unit's head (and leader); its repetition number is the instance's
// sheet count (Instance.Sheets).
const SheetStep = -2

// LevelSheet is the level of the notice that carries a sheet; it ranks
// with escalation.
const LevelSheet Level = "sheet"

// Sheet is one issued 督办事项通知单. Its Number, `<prefix>〔YYYY〕N号`, is
// allocated in the transaction that issues it and never reused.
type Sheet struct {
	Number     string    `json:"number"`
	Year       int       `json:"year"`
	Seq        int       `json:"seq"`
	ID         string    `json:"id"` // instance id
	Item       string    `json:"item"`
	Unit       string    `json:"unit"`
	Grade      Grade     `json:"grade"`
	Issued     time.Time `json:"issued"`      // when it took effect (--at)
	RecordedAt time.Time `json:"recorded_at"` // wall clock
	Within     string    `json:"within"`      // the 限期 rule, e.g. 3wd
	Limit      Deadline  `json:"limit"`       // the 限期 it gives, the instance's new hard limit
	PrevLimit  *Deadline `json:"prev_limit,omitempty"`
	Note       string    `json:"note,omitempty"` // 督办要求
	Actor      string    `json:"actor"`
	Step       int       `json:"step,omitempty"` // the policy step that issued it (0: issued by hand)

	Withdrawn       bool      `json:"withdrawn,omitempty"`
	WithdrawnAt     time.Time `json:"withdrawn_at,omitzero"`
	WithdrawnReason string    `json:"withdrawn_reason,omitempty"`
}

// SheetRequest asks IssueSheet for a sheet on instance ID.
type SheetRequest struct {
	ID     string
	Grade  Grade
	Within string // a deadline rule counted from At (3wd, 5d, 2026-10-09)
	Note   string
	Actor  string
	Prefix string // sheets.prefix; empty: DefaultSheetPrefix
	Step   int    // the policy step issuing it, 0 by hand
	// At is when the sheet is issued, RecordedAt the wall clock (zero:
	// At); the same rules as for every action apply (SPEC §4).
	At, RecordedAt time.Time
}

// sheetMetaKey is the meta key holding a year's sheets, in number order.
func sheetMetaKey(year int) string { return "sheets/" + strconv.Itoa(year) }

// SheetsOf returns the sheets issued in year, in number order.
func SheetsOf(tx Tx, year int) ([]Sheet, error) {
	b, err := tx.Meta(sheetMetaKey(year))
	if err != nil || b == nil {
		return nil, err
	}
	var out []Sheet
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("meta %s: %w", sheetMetaKey(year), err)
	}
	return out, nil
}

func putSheets(tx Tx, year int, ss []Sheet) error {
	b, err := json.Marshal(ss)
	if err != nil {
		return err
	}
	return tx.PutMeta(sheetMetaKey(year), b)
}

// sheetYear reads the year out of a sheet number (督〔2026〕3号).
func sheetYear(number string) (int, bool) {
	_, rest, ok := strings.Cut(number, "〔")
	if !ok {
		return 0, false
	}
	y, _, ok := strings.Cut(rest, "〕")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(y)
	return n, err == nil
}

// SheetByNumber returns the sheet with number (ErrNotFound if none).
func SheetByNumber(tx Tx, number string) (*Sheet, error) {
	number = strings.TrimSpace(number)
	year, ok := sheetYear(number)
	if !ok {
		return nil, fmt.Errorf("督办事项通知单 %q：%w（编号形如 督〔2026〕3号）", number, ErrNotFound)
	}
	ss, err := SheetsOf(tx, year)
	if err != nil {
		return nil, err
	}
	for i := range ss {
		if ss[i].Number == number {
			return &ss[i], nil
		}
	}
	return nil, fmt.Errorf("督办事项通知单 %s：%w", number, ErrNotFound)
}

// SheetsBetween returns the sheets issued in [from, to), in issue order.
func SheetsBetween(tx Tx, from, to time.Time, loc *time.Location) ([]Sheet, error) {
	var out []Sheet
	for y := from.In(loc).Year(); y <= to.In(loc).Year(); y++ {
		ss, err := SheetsOf(tx, y)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			if !s.Issued.Before(from) && s.Issued.Before(to) {
				out = append(out, s)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Issued.Before(out[j].Issued) })
	return out, nil
}

// IssueSheet issues a sheet in tx: it allocates the next number of the
// issue year, makes the 限期 (Within counted from At, like a deadline
// rule) the instance's hard limit, keeping the limit it had as
// OriginalLimit, and records the sheet in the history, all in the same
// transaction. A refused request wraps ErrInvalid and changes nothing.
func (x *Expander) IssueSheet(tx Tx, r SheetRequest) (*Sheet, *Instance, error) {
	in, err := tx.Instance(r.ID)
	if err != nil {
		return nil, nil, err
	}
	invalid := func(format string, args ...any) (*Sheet, *Instance, error) {
		return nil, nil, &invalidError{msg: fmt.Sprintf("督办事项通知单 %s：", r.ID) + fmt.Sprintf(format, args...)}
	}
	if _, ok := ParseGrade(string(r.Grade)); !ok {
		return invalid("等级 %q 不对，应为 蓝（一般督办）、黄（重点督办）或 红（挂牌督办）", r.Grade)
	}
	r.Grade, _ = ParseGrade(string(r.Grade))
	rule, err := ParseRule(r.Within)
	if err != nil {
		return nil, nil, fmt.Errorf("督办事项通知单 %s：限期（--within）%w: %w", r.ID, ErrInvalid, err)
	}
	if !in.Status.Active() {
		return invalid("本事项%s，不能发督办事项通知单", actionStatusText(in.Status))
	}
	if in.Unit == "" {
		return invalid("本事项尚未分办，没有承办单位可督办")
	}
	if err := CheckNote(strings.TrimSpace(r.Note)); err != nil {
		return nil, nil, fmt.Errorf("督办事项通知单 %s: %w", r.ID, err)
	}
	stamp, rstamp, why, err := x.actionStamps(tx, in, "assign", r.At, r.RecordedAt)
	if err != nil {
		return nil, nil, err
	}
	if why != "" {
		return invalid("%s", why)
	}
	loc := x.Env.Loc
	const human = "2006-01-02 15:04"
	limit := rule.Deadline(r.At, x.Env, RollNext)
	if !limit.Due.After(r.At) {
		return invalid("限期 %s 在签发时间 %s 之前或同时", limit.Human(x.Env), r.At.In(loc).Format(human))
	}
	prefix := r.Prefix
	if prefix == "" {
		prefix = DefaultSheetPrefix
	}
	year := r.At.In(loc).Year()
	ss, err := SheetsOf(tx, year)
	if err != nil {
		return nil, nil, err
	}
	seq := 1
	for _, s := range ss {
		seq = max(seq, s.Seq+1)
	}
	sh := Sheet{Number: fmt.Sprintf("%s〔%d〕%d号", prefix, year, seq), Year: year, Seq: seq,
		ID: in.ID, Item: in.Item, Unit: in.Unit, Grade: r.Grade, Issued: stamp, RecordedAt: rstamp,
		Within: r.Within, Limit: limit, PrevLimit: in.Limit, Note: strings.TrimSpace(r.Note), Actor: r.Actor, Step: r.Step}
	if err := putSheets(tx, year, append(ss, sh)); err != nil {
		return nil, nil, err
	}
	ev := Event{At: stamp, RecordedAt: rstamp, Actor: r.Actor, Action: "sheet",
		Note: fmt.Sprintf("%s（%s·%s），限期 %s", sh.Number, r.Grade, r.Grade.Label(), limit.Human(x.Env)),
		From: limitText(in.Limit), To: limit.Due.Format(time.RFC3339)}
	if sh.Note != "" {
		ev.Note += "：" + sh.Note
	}
	if in.Limit != nil && in.OriginalLimit == nil {
		o := *in.Limit
		in.OriginalLimit = &o
	}
	l := limit
	in.Limit = &l
	in.Sheets++
	in.SheetAt, in.SheetNumber, in.SheetGrade = stamp, sh.Number, r.Grade
	in.UpdatedAt = stamp
	in.NextNotice = time.Time{}
	if err := tx.PutInstance(in); err != nil {
		return nil, nil, err
	}
	if err := tx.AppendEvent(in.ID, ev); err != nil {
		return nil, nil, err
	}
	return &sh, in, nil
}

// WithdrawSheet marks a sheet withdrawn (its number stays taken) and, if
// the instance's hard limit is still the sheet's 限期, gives it back the
// limit it had before. The history records it.
func (x *Expander) WithdrawSheet(tx Tx, number, reason, actor string, at, recorded time.Time) (*Sheet, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, &invalidError{msg: fmt.Sprintf("撤销督办事项通知单 %s：须说明理由（--reason）", number)}
	}
	sh, err := SheetByNumber(tx, number)
	if err != nil {
		return nil, err
	}
	if sh.Withdrawn {
		return nil, &invalidError{msg: fmt.Sprintf("督办事项通知单 %s 已于 %s 撤销", number, sh.WithdrawnAt.In(x.Env.Loc).Format("2006-01-02 15:04"))}
	}
	if recorded.IsZero() {
		recorded = at
	}
	stamp := at.UTC().Truncate(time.Second)
	ss, err := SheetsOf(tx, sh.Year)
	if err != nil {
		return nil, err
	}
	for i := range ss {
		if ss[i].Number == sh.Number {
			ss[i].Withdrawn, ss[i].WithdrawnAt, ss[i].WithdrawnReason = true, stamp, reason
			*sh = ss[i]
		}
	}
	if err := putSheets(tx, sh.Year, ss); err != nil {
		return nil, err
	}
	in, err := tx.Instance(sh.ID)
	if err != nil {
		return nil, err
	}
	ev := Event{At: stamp, RecordedAt: recorded.UTC().Truncate(time.Second), Actor: actor, Action: "sheet_withdraw",
		Note: sh.Number + "：" + reason}
	if in.Limit != nil && in.Limit.Due.Equal(sh.Limit.Due) && in.Status.Active() {
		ev.From, ev.To = limitText(in.Limit), limitText(sh.PrevLimit)
		in.Limit = sh.PrevLimit
		if in.Limit != nil && in.OriginalLimit != nil && in.OriginalLimit.Due.Equal(in.Limit.Due) && in.Extensions == 0 {
			in.OriginalLimit = nil
		}
		in.UpdatedAt = stamp
		in.NextNotice = time.Time{}
		if err := tx.PutInstance(in); err != nil {
			return nil, err
		}
	}
	return sh, tx.AppendEvent(in.ID, ev)
}

// SheetStatus is what a sheet list shows as its status: withdrawn for a
// withdrawn sheet, else the instance's status (its own, when the instance
// is gone: issued).
func SheetStatus(tx Tx, sh *Sheet) (Status, error) {
	if sh.Withdrawn {
		return StatusWithdrawn, nil
	}
	in, err := tx.Instance(sh.ID)
	if errors.Is(err, ErrNotFound) {
		return StatusOpen, nil
	}
	if err != nil {
		return "", err
	}
	return in.Status, nil
}

// policySheets issues the sheets of the policy steps among due that carry
// `sheet:`, on their first firing (repetition 0), as of the step's time
// and recorded at stamp. It updates *in in place and reports whether it
// issued any. A step that cannot issue (the instance waits for a unit)
// is passed over: its notice still goes out.
func (x *Expander) policySheets(tx Tx, in *Instance, pol *Policy, due []Notice, stamp time.Time) (bool, error) {
	issued := false
	for _, n := range due {
		if n.Step < 1 || n.Step > len(pol.Steps) || n.Rep != 0 {
			continue
		}
		st := pol.Steps[n.Step-1]
		if st.Sheet == "" {
			continue
		}
		_, upd, err := x.IssueSheet(tx, SheetRequest{ID: in.ID, Grade: st.Sheet, Within: st.Within, Actor: "duban",
			Prefix: x.SheetPrefix, Step: n.Step, At: n.At, RecordedAt: stamp})
		if errors.Is(err, ErrInvalid) || errors.Is(err, ErrBadRule) {
			continue
		}
		if err != nil {
			return issued, err
		}
		*in = *upd
		issued = true
	}
	return issued, nil
}

package ledger

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"duban/tracker"
)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{
		"":                0,
		"abc":             3,
		"市法制局":            8,
		"洛政办〔2026〕31号":    18,
		"第31次":            6,
		"一行\n很长的一行文字":     14,
		"（全角）":            8,
		"minutes-31/市法制局": 19,
	} {
		if got := DisplayWidth(s); got != want {
			t.Errorf("DisplayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "ledger.xlsx", Sheet: "台账", Row: 7, Col: 8, Header: "办理时限", Msg: `"2026-13-01" is not a date`}
	if got, want := e.Error(), `ledger.xlsx: 台账!H7 (办理时限): "2026-13-01" is not a date`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	c := &Error{File: "ledger.csv", Row: 7, Col: 28, Header: "x", Msg: "m"}
	if got, want := c.Error(), "ledger.csv:7: column AB (x): m"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if !errors.Is(Errors{e}, tracker.ErrInvalid) {
		t.Error("ledger errors are not tracker.ErrInvalid (exit status 2)")
	}
	for col, want := range map[int]string{1: "A", 26: "Z", 27: "AA", 52: "AZ", 53: "BA", 702: "ZZ", 703: "AAA"} {
		if got := ColumnName(col); got != want {
			t.Errorf("ColumnName(%d) = %s, want %s", col, got, want)
		}
	}
}

func TestParseStamp(t *testing.T) {
	for _, c := range []struct{ text, raw, want string }{
		{"2026-09-30", "", "2026-09-30"},
		{"2026-09-30 17:00", "", "2026-09-30 17:00"},
		{"2026/9/30", "", "2026-09-30"},
		{"2026年9月30日", "", "2026-09-30"},
		{"2026-9-30 08:05", "", "2026-09-30 08:05"},
		{"09-30-26", "46295", "2026-09-30"},                         // Excel format 14 as excelize shows it
		{"9/30/26 17:00", "46295.708333333336", "2026-09-30 17:00"}, // format 22
		{"2026年9月30日", "46295", "2026-09-30"},                       // a custom Chinese date format
		{"  ", "", ""},
	} {
		s, msg := parseStamp(c.text, c.raw, false, shanghai)
		if msg != "" || s.String() != c.want {
			t.Errorf("parseStamp(%q, %q) = %q, %q; want %q", c.text, c.raw, s, msg, c.want)
		}
	}
	for _, bad := range []string{"2026-13-01", "明天", "2026-09-30 24:00", "46295", "30/9/2026 25:00"} {
		if s, msg := parseStamp(bad, bad, false, shanghai); msg == "" {
			t.Errorf("parseStamp(%q) = %v, want an error", bad, s)
		}
	}
}

func TestReadCSVLinesTitleRowAndHeaders(t *testing.T) {
	data := "\uFEFF2026年督办台账,,\r\n" +
		"事项,编号,办理要求,办理时限\r\n" +
		"一,a,\"第一行\r\n第二行\",2026-10-09\r\n" +
		",,,\r\n" +
		"二,b,要求,2026-13-01\r\n"
	sh, err := Read("l.csv", []byte(data), shanghai)
	if err != nil {
		t.Fatal(err)
	}
	if len(sh.Rows) != 2 || sh.Rows[0].ID != "a" || sh.Rows[0].Requirements != "第一行\n第二行" || sh.Rows[0].Num != 3 {
		t.Fatalf("rows %+v", sh.Rows)
	}
	if sh.Rows[0].Has[ColStatus] || !sh.Rows[0].Has[ColDue] {
		t.Error("column presence is wrong")
	}
	// The second row starts on line 6: the quoted field spans two lines and line 5 is blank.
	if len(sh.Problems) != 1 || sh.Problems[0].Error() != `l.csv:6: column D (办理时限): "2026-13-01" is not a date; use 2026-09-30 or 2026-09-30 17:00` {
		t.Errorf("problems %v", sh.Problems)
	}
	_, err = Read("l.csv", []byte("编号,事项,事项,备注\n"), shanghai)
	if err == nil || !strings.Contains(err.Error(), `l.csv:1: column C: duplicate header "事项": already column B`) ||
		!strings.Contains(err.Error(), `l.csv:1: column D: unknown header "备注"`) {
		t.Errorf("header errors: %v", err)
	}
	if _, err := Read("l.csv", []byte("a,b\n1,2\n"), shanghai); err == nil || !strings.Contains(err.Error(), "no header row") {
		t.Errorf("missing header: %v", err)
	}
}

func TestXLSXWriterReadBack(t *testing.T) {
	w, err := NewXLSX()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	recs := []Record{
		{ID: "a", UnitName: "市法制局", Unit: "fzj", Title: "事项甲", Start: Stamp{Date: tracker.Date{Year: 2026, Month: 9, Day: 24}, Clock: 16 * 60, Timed: true},
			Due: Stamp{Date: tracker.Date{Year: 2026, Month: 9, Day: 28}}, Status: tracker.StatusOpen, OverdueWorkdays: 3},
		{ID: "b/2026-10-01/fzj", Title: "周报", Due: Stamp{Date: tracker.Date{Year: 2026, Month: 10, Day: 8}, Clock: 12 * 60, Timed: true},
			Status: tracker.StatusDone, DoneAt: Stamp{Date: tracker.Date{Year: 2026, Month: 10, Day: 8}, Clock: 11*60 + 59, Timed: true}, Note: "  前后空格 "},
	}
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	sh, err := Read("l.xlsx", buf.Bytes(), shanghai)
	if err != nil || len(sh.Problems) > 0 {
		t.Fatalf("%v %v", err, sh.Problems)
	}
	if sh.Sheet != SheetName || len(sh.Rows) != 2 {
		t.Fatalf("sheet %q, %d rows", sh.Sheet, len(sh.Rows))
	}
	a, b := sh.Rows[0], sh.Rows[1]
	if a.Start != recs[0].Start || a.Due != recs[0].Due || a.Status != tracker.StatusOpen || a.UnitName != "市法制局" || a.Num != 2 {
		t.Errorf("row a read back as %+v", a)
	}
	if b.Due != recs[1].Due || b.DoneAt != recs[1].DoneAt || b.Note != "前后空格" || b.Status != tracker.StatusDone {
		t.Errorf("row b read back as %+v", b)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.GetCellValue(SheetName, ColumnName(int(ColOverdue)+1)+"2"); v != "3" {
		t.Errorf("逾期工作日 of row 2 = %q", v)
	}
}

// TestXLSXProvisionalAndExtension: the ledger shows the original deadline
// and the extensions, marks each provisional date in its own cell (the
// limit here, not the deadline) and still reads it back as a date.
func TestXLSXProvisionalAndExtension(t *testing.T) {
	w, err := NewXLSX()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := Record{ID: "a", Title: "事项甲", Due: Stamp{Date: tracker.Date{Year: 2026, Month: 12, Day: 30}},
		Limit: Stamp{Date: tracker.Date{Year: 2027, Month: 1, Day: 8}}, LimitProvisional: true,
		Original: Stamp{Date: tracker.Date{Year: 2026, Month: 12, Day: 24}}, Extensions: 1, Status: tracker.StatusOpen}
	if err := w.Write(&rec); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	cell := func(c Column) string {
		v, err := f.GetCellValue(SheetName, ColumnName(int(c)+1)+"2")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for c, want := range map[Column]string{ColDue: "2026-12-30", ColLimit: "2027-01-08（暂定）", ColOriginal: "2026-12-24",
		ColExtended: "已延期1次", ColProvisional: "最迟时限"} {
		if got := cell(c); got != want {
			t.Errorf("%s = %q, want %q", c, got, want)
		}
	}
	sh, err := Read("l.xlsx", buf.Bytes(), shanghai)
	if err != nil || len(sh.Problems) > 0 {
		t.Fatalf("read back: %v %v", err, sh.Problems)
	}
	if r := sh.Rows[0]; r.Limit != rec.Limit || r.Due != rec.Due {
		t.Errorf("read back due %v limit %v, want %v %v", r.Due, r.Limit, rec.Due, rec.Limit)
	}
}

package ops

import (
	"fmt"
	"strings"
	"time"

	"duban/tracker"
)

// SheetRequest is a 督办事项通知单 as the CLI's flags (and the workspace's
// form and API body) give it: grade 蓝|黄|红, within a deadline rule.
type SheetRequest struct {
	ID     string `json:"-"`
	Grade  string `json:"grade"`
	Within string `json:"within"`
	Note   string `json:"note,omitempty"`
}

// IssueSheet checks r like the CLI checks its flags and issues the sheet
// through tracker.Expander.IssueSheet in one update of st (the number is
// allocated in that transaction, so concurrent issuance from the web and
// the CLI never share one). prefix is config sheets.prefix; at and
// recorded are the effective and wall-clock times. A missing or bad flag
// is an ErrBadUsage; a refused sheet a tracker.ErrInvalid.
func IssueSheet(st tracker.Store, x *tracker.Expander, r SheetRequest, actor, prefix string, at, recorded time.Time) (*tracker.Sheet, error) {
	g, ok := tracker.ParseGrade(strings.TrimSpace(r.Grade))
	if !ok {
		return nil, fmt.Errorf("%w: sheet needs --grade 蓝|黄|红 (一般督办、重点督办、挂牌督办), got %q", ErrBadUsage, r.Grade)
	}
	if strings.TrimSpace(r.Within) == "" {
		return nil, fmt.Errorf("%w: sheet needs --within RULE (e.g. 3wd: 限期 three working days from now)", ErrBadUsage)
	}
	var sh *tracker.Sheet
	err := st.Update(func(tx tracker.Tx) (err error) {
		sh, _, err = x.IssueSheet(tx, tracker.SheetRequest{ID: r.ID, Grade: g, Within: strings.TrimSpace(r.Within), Note: r.Note,
			Actor: actor, Prefix: prefix, At: at, RecordedAt: recorded})
		return err
	})
	return sh, err
}

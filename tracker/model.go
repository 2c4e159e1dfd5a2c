package tracker

import (
	"strings"
	"time"
)

// Office is the supervision office (督查室) that owns the tracking files.
type Office struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Robot string `json:"robot,omitempty"` // the office's work-group robot (config robots), for the office_group role
}

// Person is someone who receives notices.
type Person struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Mobile string `json:"mobile,omitempty"` // for @ in 钉钉 (and named in 企业微信) group messages
	IMID   string `json:"im_id,omitempty"`  // 飞书 user id or 企业微信 userid, for @ in group messages
	Source string `json:"source,omitempty"` // file:line it was defined at
}

// Unit is a handling unit (承办单位). Head receives the unit's notices,
// Contact is an optional day-to-day contact and Leader the leader in charge
// (分管领导) who receives escalations. All three are person ids and may be empty.
type Unit struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Head    string `json:"head,omitempty"`
	Contact string `json:"contact,omitempty"`
	Leader  string `json:"leader,omitempty"`
	Robot   string `json:"robot,omitempty"` // the unit's work-group robot (config robots), for the group role
	Source  string `json:"source,omitempty"`
}

// Level is the severity of a notice.
type Level string

// Notice levels, in increasing urgency.
const (
	LevelAssigned   Level = "assigned"
	LevelReminder   Level = "reminder"
	LevelDue        Level = "due"
	LevelOverdue    Level = "overdue"
	LevelEscalation Level = "escalation"

	// LevelReassigned tells the unit an open instance was taken from
	// (改派) that it no longer handles it; it ranks with assigned.
	LevelReassigned Level = "reassigned"
)

// ReassignedStep is the step number of the 改派 notice (LevelReassigned)
// to the unit an open instance was taken from; its repetition number is
// the reassignment's (Instance.Reassignments).
const ReassignedStep = -1

// Rank orders levels by urgency (assigned lowest).
func (l Level) Rank() int {
	switch l {
	case LevelAssigned, LevelReassigned, LevelReview, LevelRework:
		return 0
	case LevelReminder:
		return 1
	case LevelDue:
		return 2
	case LevelOverdue:
		return 3
	case LevelEscalation, LevelSheet:
		return 4
	}
	return -1
}

// Policy is an ordered list of escalation steps.
type Policy struct {
	ID           string `json:"id"`
	Steps        []Step `json:"steps"`
	MaxExtension string `json:"max_extension,omitempty"` // a rule (Nd, Nwd, Nmo) counted from the original last day
	Source       string `json:"source,omitempty"`
}

// Step is one notice of a policy: when (At, relative to the deadline),
// optionally repeated (Every) while the instance is open, to whom and at
// which level. To holds roles (unit, contact, leader, office, co; group
// and office_group for the unit's and the office's work-group robots) or
// literal email addresses.
//
// A step with Sheet (蓝, 黄 or 红) also issues a 督办事项通知单 when it
// first fires, its 限期 Within (a deadline rule) counted from then.
type Step struct {
	At     string   `json:"at"`
	Every  string   `json:"every,omitempty"`
	To     []string `json:"to"`
	Level  Level    `json:"level"`
	Sheet  Grade    `json:"sheet,omitempty"`
	Within string   `json:"within,omitempty"`
}

// Roll says what happens to a recurring firing on a non-working day.
type Roll string

// Roll values (SPEC §5); for one-off Nd deadlines RollNone disables the
// Civil Code roll to the next working day.
const (
	RollNext Roll = "next"
	RollNone Roll = "none"
	RollSkip Roll = "skip"
)

// Item is a tracked obligation as written in a tracking file. One-off
// items have Due; recurring items have Every.
type Item struct {
	ID           string   `json:"id"`
	Title        string   `json:"title"`
	Doc          string   `json:"doc,omitempty"`          // document number, e.g. 洛政办〔2026〕31号
	Requirements string   `json:"requirements,omitempty"` // 办理要求
	Unit         string   `json:"unit,omitempty"`         // lead unit; empty means pending assignment
	Units        []string `json:"units,omitempty"`        // several lead units, one instance each
	CoUnits      []string `json:"co_units,omitempty"`
	CoDue        string   `json:"co_due,omitempty"` // "-2wd": co-units' last day relative to the lead's
	Start        string   `json:"start,omitempty"`  // YYYY-MM-DD or YYYY-MM-DD HH:MM; empty: TrackedAt
	Due          string   `json:"due,omitempty"`
	Limit        string   `json:"limit,omitempty"`
	Every        string   `json:"every,omitempty"`
	Roll         Roll     `json:"roll,omitempty"`
	From         string   `json:"from,omitempty"`  // recurring: first day considered (default: TrackedAt)
	Until        string   `json:"until,omitempty"` // recurring: last day considered
	Policy       string   `json:"policy,omitempty"`
	Source       string   `json:"source,omitempty"`

	// TrackedAt is when the item was first imported; it never changes on
	// re-import and is the default start.
	TrackedAt time.Time `json:"tracked_at"`
}

// Recurring reports whether the item has a schedule rather than a single deadline.
func (it *Item) Recurring() bool { return it.Every != "" }

// LeadUnits returns the units that get a lead instance.
func (it *Item) LeadUnits() []string {
	if it.Unit != "" {
		return []string{it.Unit}
	}
	return it.Units
}

// Status is the state of an instance.
type Status string

// Instance statuses (SPEC §8).
const (
	StatusPending   Status = "pending"   // no unit assigned yet
	StatusOpen      Status = "open"      // assigned, to be handled
	StatusReview    Status = "review"    // the unit reported completion; the office is to review it (no notices)
	StatusDone      Status = "done"      // completed
	StatusReturned  Status = "returned"  // sent back to the office as not the unit's business
	StatusWithdrawn Status = "withdrawn" // no longer required
)

// Active reports whether an instance in status s still needs handling
// (and so can be overdue and receive notices).
func (s Status) Active() bool {
	return s == StatusPending || s == StatusOpen || s == StatusReturned
}

// Listed reports whether an instance in status s is still on the default
// list and the board: the active ones and those waiting for the office's
// review (待审核), which get no notices to the unit.
func (s Status) Listed() bool {
	return s.Active() || s == StatusReview
}

// ValidStatus reports whether s names a status.
func ValidStatus(s string) bool {
	switch Status(s) {
	case StatusPending, StatusOpen, StatusReview, StatusDone, StatusReturned, StatusWithdrawn:
		return true
	}
	return false
}

// Statuses are every status, in the order of a case's life.
var Statuses = []Status{StatusPending, StatusOpen, StatusReview, StatusDone, StatusReturned, StatusWithdrawn}

// statusLabels are the Chinese names users read (SPEC §8).
var statusLabels = map[Status]string{
	StatusPending:   "待分办",
	StatusOpen:      "办理中",
	StatusReview:    "待审核",
	StatusDone:      "已办结",
	StatusReturned:  "已退回",
	StatusWithdrawn: "已撤销",
}

// Label returns the Chinese name of s (办理中, 已办结 …), or s itself for
// an unknown status. Tables, mail and reports show it; JSON keeps s.
func (s Status) Label() string {
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return string(s)
}

// ParseStatus reads a status by its English name (open, any case) or its
// Chinese label (办理中), surrounding spaces ignored.
func ParseStatus(s string) (Status, bool) {
	s = strings.TrimSpace(s)
	if ValidStatus(strings.ToLower(s)) {
		return Status(strings.ToLower(s)), true
	}
	for st, l := range statusLabels {
		if s == l {
			return st, true
		}
	}
	return "", false
}

// StatusHelp lists the statuses a user may name, for error messages.
const StatusHelp = "待分办 (pending)、办理中 (open)、待审核 (review)、已办结 (done)、已退回 (returned)、已撤销 (withdrawn)"

// CoMark follows a co-unit's (协办) name wherever one is shown.
const CoMark = "（协办）"

// ProvisionalMark follows a provisional date (SPEC §3) wherever one is shown.
const ProvisionalMark = "（暂定）"

// levelLabels are the Chinese names of notice levels.
var levelLabels = map[Level]string{
	LevelAssigned:   "督办通知",
	LevelReminder:   "到期提醒",
	LevelDue:        "今日到期",
	LevelOverdue:    "逾期催办",
	LevelEscalation: "问责预警",
	LevelReassigned: "改派通知",
	LevelReview:     "待审核",
	LevelRework:     "退回重办",
	LevelCorrection: "更正",
	LevelSheet:      "督办事项通知单",
}

// Label returns the Chinese name of l (督办通知, 逾期催办 …), or l itself.
func (l Level) Label() string {
	if s, ok := levelLabels[l]; ok {
		return s
	}
	return string(l)
}

// Instance is one unit's obligation for one item (and, for recurring
// items, one period). Its id is deterministic (SPEC §5).
type Instance struct {
	ID     string `json:"id"`
	Item   string `json:"item"`
	Unit   string `json:"unit,omitempty"`
	Co     bool   `json:"co,omitempty"`     // a co-unit's (协办) instance
	Period string `json:"period,omitempty"` // recurring: scheduled firing day YYYY-MM-DD
	Status Status `json:"status"`

	Start      time.Time `json:"start"`
	Deadline   Deadline  `json:"deadline"`
	Limit      *Deadline `json:"limit,omitempty"`
	Original   *Deadline `json:"original,omitempty"` // the deadline before the first extension
	Extensions int       `json:"extensions,omitempty"`
	// Revision counts recomputes that moved the deadline or hard limit
	// (e.g. a calendar change); with Extensions it is the .ics SEQUENCE.
	Revision   int       `json:"revision,omitempty"`
	DoneAt     time.Time `json:"done_at,omitzero"`
	Note       string    `json:"note,omitempty"`       // latest progress or completion note
	AssignedAt time.Time `json:"assigned_at,omitzero"` // when a unit was (last) assigned; drives the assigned notice
	UpdatedAt  time.Time `json:"updated_at"`

	// OriginalLimit is the hard limit before an extension first moved it
	// (extend --limit); nil while the limit is the item's own.
	OriginalLimit *Deadline `json:"original_limit,omitempty"`
	// PrevUnit is the unit an open instance was last taken from (改派),
	// ReassignedAt when, and Reassignments how often: they drive the
	// notice that tells the previous unit it no longer handles the item.
	PrevUnit      string    `json:"prev_unit,omitempty"`
	ReassignedAt  time.Time `json:"reassigned_at,omitzero"`
	Reassignments int       `json:"reassignments,omitempty"`

	// Sheets counts the 督办事项通知单 issued on the instance (SPEC §15);
	// SheetAt, SheetNumber and SheetGrade are the latest one's. They
	// drive the notice that carries the sheet (SheetStep).
	Sheets      int       `json:"sheets,omitempty"`
	SheetAt     time.Time `json:"sheet_at,omitzero"`
	SheetNumber string    `json:"sheet_number,omitempty"`
	SheetGrade  Grade     `json:"sheet_grade,omitempty"`

	// ReportedAt is when the unit last reported completion (报结): the
	// instance waits in review, and approval makes it done as of then.
	ReportedAt time.Time `json:"reported_at,omitzero"`
	// ReworkAt is when the office last rejected a completion report (退回
	//重办) and Reworks how often: they drive the notice that mails the
	// unit the reason (ReworkStep).
	ReworkAt time.Time `json:"rework_at,omitzero"`
	Reworks  int       `json:"reworks,omitempty"`
	// ExtendRequest is the unit's pending request for a new deadline
	// (申请延期), nil when none waits for the office.
	ExtendRequest *ExtendRequest `json:"extend_request,omitempty"`
	// Attachments counts the files received for the instance (SPEC §11);
	// the history names them.
	Attachments int `json:"attachments,omitempty"`
	// AckedAt is when the unit acknowledged the instance (签收).
	AckedAt time.Time `json:"acked_at,omitzero"`

	// NoticedThrough is the scheduler pass up to which this instance's
	// notices have been decided (queued or skipped).
	NoticedThrough time.Time `json:"noticed_through,omitzero"`
	// NextNotice is when the scheduler must look at the instance again:
	// zero means "at the next pass" (it changed), Never means no notice is
	// left. The store indexes it (the wake index).
	NextNotice time.Time `json:"next_notice,omitzero"`
}

// RobotPrefix starts the recipient of a delivery to a work-group robot:
// "robot:<name>" (SPEC §13), beside email addresses in the outbox.
const RobotPrefix = "robot:"

// RobotRecipient returns the name of the robot a delivery address names,
// and whether it names one.
func RobotRecipient(to string) (string, bool) {
	return strings.CutPrefix(to, RobotPrefix)
}

// Never is the NextNotice of an instance with no notice left to send.
var Never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Overdue reports whether the instance is still to be handled and its
// deadline has passed at now.
func (in *Instance) Overdue(now time.Time) bool {
	return in.Status.Active() && !now.Before(in.Deadline.Due)
}

// PastLimit reports whether the hard limit has passed at now.
func (in *Instance) PastLimit(now time.Time) bool {
	return in.Status.Active() && in.Limit != nil && !now.Before(in.Limit.Due)
}

// Event is one entry of an instance's append-only history. Every fact
// has two times (SPEC §4): At, when it happened (the effective time,
// `--at`), and RecordedAt, when it was recorded (the wall clock). Events
// stored before RecordedAt existed have none: Recorded then returns At.
type Event struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // tracked, updated, assign, reassign (改派), progress, done, extend, limit, return, withdraw, recomputed
	Note   string    `json:"note,omitempty"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`

	RecordedAt time.Time `json:"recorded_at,omitzero"`
}

// Recorded returns when the event was recorded: RecordedAt, or At for
// events stored before recording times were kept.
func (e Event) Recorded() time.Time {
	if e.RecordedAt.IsZero() {
		return e.At
	}
	return e.RecordedAt
}

// actionLabels are the Chinese names of history actions.
var actionLabels = map[string]string{
	"tracked":        "纳入督办",
	"updated":        "事项更新",
	"assign":         "分办",
	"reassign":       "改派",
	"progress":       "进展",
	"done":           "办结",
	"extend":         "延期",
	"limit":          "调整最迟时限",
	"return":         "退回",
	"withdraw":       "撤销",
	"recomputed":     "期限重算",
	"review":         "审核",
	"ack":            "签收",
	"report":         "报结",
	"extend_request": "申请延期",
	"attachment":     "附件",

	"sheet":          "督办事项通知单",
	"sheet_withdraw": "撤销督办事项通知单",
}

// ActionLabel returns the Chinese name of a history action (办结, 延期 …),
// or the action itself when it has none.
func ActionLabel(action string) string {
	if l, ok := actionLabels[action]; ok {
		return l
	}
	return action
}

package tracker

import "time"

// DeliveryState is where an outbox entry stands.
type DeliveryState string

// Delivery states.
const (
	DeliveryQueued  DeliveryState = "queued"  // to be sent (again) at NextAttempt
	DeliverySent    DeliveryState = "sent"    // accepted by the mail server
	DeliveryFailed  DeliveryState = "failed"  // permanent failure, reported to the office
	DeliverySkipped DeliveryState = "skipped" // missed during downtime and dropped by catchup
	// DeliverySuperseded: a more urgent notice of the same instance went
	// to the same recipient in its place (SPEC §6: one entry per instance).
	DeliverySuperseded DeliveryState = "superseded"
)

// LevelCorrection marks a correction (更正): a recipient who was told a
// deadline that has since been recomputed is told the new one.
const LevelCorrection Level = "correction"

// CorrectionStep is the step number recorded on corrections (they belong
// to no policy step; ReassignedStep is -1).
const CorrectionStep = -2

// Delivery is one notice to one recipient in the outbox. Its key is the
// notice identity and the address, so deciding a notice twice cannot
// queue it twice; it is marked sent only after the server accepted it.
type Delivery struct {
	Key      string        `json:"key"` // "<instance>|<step>|<rep>|<address>"
	Notice   string        `json:"notice"`
	Instance string        `json:"instance"`
	Step     int           `json:"step"`
	Rep      int           `json:"rep"`
	Level    Level         `json:"level"`
	To       string        `json:"to"`
	At       time.Time     `json:"at"` // when the schedule said to send it
	Late     bool          `json:"late,omitempty"`
	State    DeliveryState `json:"state"`

	QueuedAt    time.Time `json:"queued_at"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	Attempts    int       `json:"attempts,omitempty"`
	SentAt      time.Time `json:"sent_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	MessageID   string    `json:"message_id,omitempty"`
	// Reported is set once a failure was queued as a report to the office.
	Reported bool `json:"reported,omitempty"`
	// ClaimTerm and ClaimedBy are, with several nodes (SPEC §14), the
	// leader's term and node that last claimed the delivery for sending:
	// written, fenced by the term, before the message leaves. A claim
	// under an older term that is still queued was in flight when its
	// leader died; the next leader sends it again (same Message-ID).
	ClaimTerm int64  `json:"claim_term,omitempty"`
	ClaimedBy string `json:"claimed_by,omitempty"`

	// Supersedes lists the notices (keys) this delivery was sent in place
	// of; SupersededBy, on a superseded one, the notice sent instead.
	Supersedes   []string `json:"supersedes,omitempty"`
	SupersededBy string   `json:"superseded_by,omitempty"`
	// OldDeadline and OldLimit are, on a correction, what the recipient
	// had been told before the recompute.
	OldDeadline *Deadline `json:"old_deadline,omitempty"`
	OldLimit    *Deadline `json:"old_limit,omitempty"`
}

// DeliveryKey is the outbox key of notice n for address to.
func DeliveryKey(n Notice, to string) string { return n.Key() + "|" + to }

// CorrectionKey is the outbox key of the correction telling to that the
// deadline of instance is now due (and its hard limit limitDue, zero if
// none): one per recipient and recomputed deadline.
func CorrectionKey(instance string, due, limitDue time.Time, to string) string {
	k := "correction|" + instance + "|" + due.UTC().Format("20060102T150405Z")
	if !limitDue.IsZero() {
		k += "/" + limitDue.UTC().Format("20060102T150405Z")
	}
	return k + "|" + to
}

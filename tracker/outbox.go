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
)

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
}

// DeliveryKey is the outbox key of notice n for address to.
func DeliveryKey(n Notice, to string) string { return n.Key() + "|" + to }

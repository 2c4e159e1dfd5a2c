package ops

import (
	"strconv"
	"time"

	"duban/tracker"
)

// Attachment is a file kept for an instance (SPEC §11), listed by show.
type Attachment struct {
	Name  string    `json:"name"`
	Hash  string    `json:"hash"` // sha256:<hex>
	Size  int64     `json:"size"`
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
}

// Attach records in the history of instance id that a file was received
// (action "attachment": Note the name, To the hash, From the size).
func Attach(st tracker.Store, id, name, hash string, size int64, actor string, at time.Time) error {
	return st.Update(func(tx tracker.Tx) error {
		in, err := tx.Instance(id)
		if err != nil {
			return err
		}
		in.Attachments++
		if err := tx.PutInstance(in); err != nil {
			return err
		}
		stamp := at.UTC().Truncate(time.Second)
		return tx.AppendEvent(id, tracker.Event{At: stamp, RecordedAt: stamp, Actor: actor, Action: "attachment",
			Note: name, To: hash, From: strconv.FormatInt(size, 10)})
	})
}

// Attachments are the files of a history, in the order received.
func Attachments(evs []tracker.Event) []Attachment {
	out := []Attachment{}
	for _, e := range evs {
		if e.Action == "attachment" {
			n, _ := strconv.ParseInt(e.From, 10, 64)
			out = append(out, Attachment{Name: e.Note, Hash: e.To, Size: n, At: e.At, Actor: e.Actor})
		}
	}
	return out
}

// HasAttachment reports whether hash is an attachment in the history.
func HasAttachment(evs []tracker.Event, hash string) (Attachment, bool) {
	for _, a := range Attachments(evs) {
		if a.Hash == hash {
			return a, true
		}
	}
	return Attachment{}, false
}

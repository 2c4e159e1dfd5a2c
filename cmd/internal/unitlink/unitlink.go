// Package unitlink makes and checks the personal links of SPEC §11:
// <web.base_url>/r/<token>, where the token names one recipient (by the
// address the notice went to) and the instances of that mail, signed
// with HMAC-SHA256 under a secret kept in the database (meta
// "link_secret", replaced by Rotate: every link issued before stops
// working).
//
// A link expires 30 days after the last of its instances closes (done,
// returned to the office, withdrawn), and in any case a year after it was
// issued (Horizon), so that a link to an instance that stays open for
// years does not live for ever.
package unitlink

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"duban/tracker"
)

// metaSecret is the meta key of the signing secret.
const metaSecret = "link_secret"

// AfterClose is how long a link works after the last of its instances closed.
const AfterClose = 30 * 24 * time.Hour

// Horizon is how long a link works at most after it was issued.
const Horizon = 365 * 24 * time.Hour

// Errors of Verify and Check; the link page answers each with a plain 4xx.
var (
	ErrBadToken = errors.New("链接无效")
	ErrExpired  = errors.New("链接已过期")
)

// Token is what a link names.
type Token struct {
	To        string   `json:"t"` // the recipient's address, lower case
	Instances []string `json:"i"`
	Issued    int64    `json:"e"` // Unix seconds
}

// Secret returns the signing secret, creating it on first use.
func Secret(st tracker.Store) ([]byte, error) {
	var s []byte
	if err := st.View(func(tx tracker.Tx) error {
		b, err := tx.Meta(metaSecret)
		s = bytes.Clone(b)
		return err
	}); err != nil {
		return nil, err
	}
	if len(s) > 0 {
		return s, nil
	}
	err := st.Update(func(tx tracker.Tx) error {
		b, err := tx.Meta(metaSecret)
		if err != nil {
			return err
		}
		if len(b) > 0 {
			s = bytes.Clone(b)
			return nil
		}
		s = make([]byte, 32)
		rand.Read(s)
		return tx.PutMeta(metaSecret, s)
	})
	return s, err
}

// Rotate replaces the secret: every link issued before stops working.
func Rotate(tx tracker.Tx) error {
	s := make([]byte, 32)
	rand.Read(s)
	return tx.PutMeta(metaSecret, s)
}

var b64 = base64.RawURLEncoding

// Sign returns the token string of t under secret.
func Sign(secret []byte, t Token) string {
	t.To = strings.ToLower(strings.TrimSpace(t.To))
	payload, _ := json.Marshal(t)
	return b64.EncodeToString(payload) + "." + b64.EncodeToString(mac(secret, payload))
}

func mac(secret, payload []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("duban-link-v1\x00"))
	h.Write(payload)
	return h.Sum(nil)
}

// Verify checks the signature of s and returns its token; anything
// tampered with is ErrBadToken.
func Verify(secret []byte, s string) (Token, error) {
	var t Token
	p, sig, ok := strings.Cut(s, ".")
	if !ok {
		return t, ErrBadToken
	}
	payload, err1 := b64.DecodeString(p)
	got, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(got, mac(secret, payload)) {
		return t, ErrBadToken
	}
	if err := json.Unmarshal(payload, &t); err != nil || t.To == "" || len(t.Instances) == 0 {
		return t, ErrBadToken
	}
	return t, nil
}

// Names reports whether the token names instance id.
func (t Token) Names(id string) bool {
	for _, v := range t.Instances {
		if v == id {
			return true
		}
	}
	return false
}

// Check reports ErrExpired when the link no longer works at now: a year
// after it was issued, or 30 days after the last of its instances closed
// (an instance no longer stored counts as closed long ago).
func Check(tx tracker.Tx, t Token, now time.Time) error {
	if now.After(time.Unix(t.Issued, 0).Add(Horizon)) {
		return ErrExpired
	}
	var last time.Time
	for _, id := range t.Instances {
		in, err := tx.Instance(id)
		if errors.Is(err, tracker.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if in.Status.Listed() {
			return nil
		}
		closed := in.UpdatedAt
		if in.Status == tracker.StatusDone && in.DoneAt.After(closed) {
			closed = in.DoneAt
		}
		if closed.After(last) {
			last = closed
		}
	}
	if last.IsZero() || now.After(last.Add(AfterClose)) {
		return ErrExpired
	}
	return nil
}

// MayAct reports whether the link's recipient may record on in: the head
// or the contact of the unit that now handles it. Others (its leader, the
// office) see it read-only.
func MayAct(tx tracker.Tx, t Token, in *tracker.Instance) (bool, error) {
	u, err := tx.Unit(in.Unit)
	if errors.Is(err, tracker.ErrNotFound) || in.Unit == "" {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, id := range []string{u.Head, u.Contact} {
		if id == "" {
			continue
		}
		p, err := tx.Person(id)
		if errors.Is(err, tracker.ErrNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if strings.EqualFold(strings.TrimSpace(p.Email), t.To) {
			return true, nil
		}
	}
	return false, nil
}

// URL returns base + "/r/" + the signed token.
func URL(base string, secret []byte, t Token) string {
	return fmt.Sprintf("%s/r/%s", strings.TrimRight(base, "/"), Sign(secret, t))
}

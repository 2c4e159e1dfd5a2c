package notify

import (
	"errors"
	"net/textproto"

	"github.com/emersion/go-smtp"
)

// ErrInvalid marks a message or address that can never be sent as it is: a
// missing recipient, an address net/mail rejects, a line break in a display
// name, a bad attachment name. Errors returned for such input wrap ErrInvalid,
// and IsPermanent reports true for them.
var ErrInvalid = errors.New("invalid address or message")

// ErrAuth marks a failed SMTP authentication. The error also wraps the
// server's *smtp.SMTPError (usually 535), so IsPermanent reports true; callers
// should treat it as a transport problem (wrong password or 授权码) that holds
// for every message, not as a fault of the message being sent.
var ErrAuth = errors.New("smtp authentication failed")

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("sender closed")

// IsPermanent reports whether err is a permanent delivery failure: an SMTP
// 5xx reply anywhere in its chain, a group robot's permanent answer
// (*RobotError not Temporary), or an invalid address or message
// (ErrInvalid). Anything else (network errors, timeouts, cancellations, SMTP
// 4xx, TLS failures) is temporary and worth retrying. IsPermanent(nil) is false.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInvalid) {
		return true
	}
	var re *RobotError
	if errors.As(err, &re) {
		return !re.Temporary
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code >= 500 && se.Code <= 599
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code >= 500 && te.Code <= 599
	}
	return false
}

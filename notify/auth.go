package notify

import (
	"errors"
	"net"
	"strings"

	"github.com/emersion/go-sasl"
)

// loginClient is a tolerant AUTH LOGIN client. go-sasl's NewLoginClient
// insists on the exact challenge "Password:", but servers send "password:",
// "Password\x00", "User Name\x00" and other words. Like go-mail and lettre,
// this client ignores the challenge text and answers by step: the first
// challenge gets the username, the second the password.
type loginClient struct {
	username, password string
	step               int
}

// newLoginClient returns a fresh AUTH LOGIN client; use one per connection.
func newLoginClient(username, password string) sasl.Client {
	return &loginClient{username: username, password: password}
}

// Start begins AUTH LOGIN without an initial response, so the server prompts
// for the username (the most widely accepted form).
func (c *loginClient) Start() (string, []byte, error) {
	c.step = 0
	return "LOGIN", nil, nil
}

// Next answers the server's prompts in order, whatever their text.
func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	c.step++
	switch c.step {
	case 1:
		return []byte(c.username), nil
	case 2:
		return []byte(c.password), nil
	default:
		// Never echo the challenge: a broken server might reflect input.
		return nil, errors.New("unexpected third AUTH LOGIN challenge")
	}
}

// errAuthWithoutTLS is returned instead of sending credentials in clear text.
var errAuthWithoutTLS = errors.New("refusing AUTH on a connection without TLS to a non-loopback host")

// authAllowed copies net/smtp PlainAuth's rule: credentials go only over TLS,
// or to a loopback host.
func authAllowed(tlsActive bool, host string) error {
	if tlsActive || isLoopback(host) {
		return nil
	}
	return errAuthWithoutTLS
}

// isLoopback reports whether host is "localhost" or a loopback IP literal.
// Names other than localhost are not resolved: DNS must not decide whether
// a password goes out in clear text.
func isLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" {
		return true
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

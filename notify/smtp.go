package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPOptions configures an SMTPSender. Zero values get the defaults noted.
type SMTPOptions struct {
	Host string
	Port int // default 587 for starttls, 465 for implicit, 25 for none
	// TLS is "starttls" (default), "implicit" (TLS from the first byte,
	// usually port 465) or "none", which is allowed only when Host is
	// localhost or a loopback IP. Certificates are always verified.
	TLS      string
	CAFile   string         // PEM bundle added to the system roots, for a private mail server
	RootCAs  *x509.CertPool // replaces system roots and CAFile when set (tests)
	Username string
	Password string // never printed: see String and LogValue
	// Auth is "plain", "login" or "none". "" means "none" when Username is
	// empty and is an error otherwise.
	Auth string
	// Timeout bounds the dial and connection set-up (TLS, EHLO, AUTH) as a
	// whole, and then each SMTP command, the message upload and the reply to
	// it. Default 30s.
	Timeout   time.Duration
	HelloName string // EHLO name after TLS is up, default "localhost"
}

// String prints the options with the password redacted.
func (o SMTPOptions) String() string {
	return fmt.Sprintf("{Host:%s Port:%d TLS:%s CAFile:%s Username:%s Password:%s Auth:%s Timeout:%s HelloName:%s}",
		o.Host, o.Port, o.TLS, o.CAFile, o.Username, redact(o.Password), o.Auth, o.Timeout, o.HelloName)
}

// LogValue logs the options with the password redacted.
func (o SMTPOptions) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", o.Host), slog.Int("port", o.Port), slog.String("tls", o.TLS),
		slog.String("ca_file", o.CAFile), slog.String("username", o.Username),
		slog.String("password", redact(o.Password)), slog.String("auth", o.Auth),
		slog.Duration("timeout", o.Timeout), slog.String("hello_name", o.HelloName),
	)
}

func redact(secret string) string {
	if secret == "" {
		return ""
	}
	return "[redacted]"
}

// maxIdle is how long an idle connection is trusted. Servers drop idle
// clients after 1-5 minutes and NAT boxes forget them silently; past this
// the sender dials afresh instead of risking a write into a dead socket.
const maxIdle = 30 * time.Second

// SMTPSender delivers messages over SMTP, reusing one authenticated
// connection across Send calls until Close. It re-dials when the server has
// dropped the connection or it has been idle too long. Send calls are
// serialised. The zero value is not usable; call NewSMTPSender.
type SMTPSender struct {
	host, addr, tlsMode, authMech, username, helloName string
	timeout                                            time.Duration
	tlsConfig                                          *tls.Config
	newAuth                                            func() sasl.Client // nil for no AUTH; holds the password

	mu       sync.Mutex
	c        *smtp.Client
	conn     net.Conn // the TCP connection under c
	lastUsed time.Time
	closed   bool
}

// NewSMTPSender validates o and returns a sender. It does not dial; the first
// Send does.
func NewSMTPSender(o SMTPOptions) (*SMTPSender, error) {
	host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(o.Host), "["), "]")
	if host == "" {
		return nil, errors.New("smtp host is empty")
	}
	if strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("smtp host %q contains a space or control character", o.Host)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return nil, fmt.Errorf("smtp host %q must not include a port; set Port", o.Host)
	}
	mode := o.TLS
	if mode == "" {
		mode = "starttls"
	}
	port := o.Port
	switch mode {
	case "starttls":
		if port == 0 {
			port = 587
		}
	case "implicit":
		if port == 0 {
			port = 465
		}
	case "none":
		if !isLoopback(host) {
			return nil, fmt.Errorf("smtp tls none is allowed only for a loopback host (localhost, 127.0.0.1, ::1), not %q; use starttls or implicit", o.Host)
		}
		if port == 0 {
			port = 25
		}
	default:
		return nil, fmt.Errorf("smtp tls must be starttls, implicit or none (got %q)", o.TLS)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("smtp port must be 1-65535 (got %d)", port)
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if timeout < 0 {
		return nil, fmt.Errorf("smtp timeout must be positive (got %s)", o.Timeout)
	}
	hello := o.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if strings.ContainsFunc(hello, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return nil, fmt.Errorf("smtp hello name %q must be printable ASCII without spaces", o.HelloName)
	}

	s := &SMTPSender{
		host: host, addr: net.JoinHostPort(host, strconv.Itoa(port)), tlsMode: mode,
		username: o.Username, helloName: hello, timeout: timeout,
	}
	switch auth := o.Auth; {
	case auth == "none" || auth == "" && o.Username == "":
		s.authMech = "none"
	case auth == "plain" || auth == "login":
		if o.Username == "" || o.Password == "" {
			return nil, fmt.Errorf("smtp auth %s needs a username and a password", auth)
		}
		user, pass := o.Username, o.Password
		if auth == "plain" {
			s.authMech = "PLAIN"
			s.newAuth = func() sasl.Client { return sasl.NewPlainClient("", user, pass) }
		} else {
			s.authMech = "LOGIN"
			s.newAuth = func() sasl.Client { return newLoginClient(user, pass) }
		}
	case auth == "":
		return nil, fmt.Errorf("smtp auth is empty but username %q is set; choose plain, login or none", o.Username)
	default:
		return nil, fmt.Errorf("smtp auth must be plain, login or none (got %q)", o.Auth)
	}

	if mode != "none" {
		roots := o.RootCAs
		if roots == nil && o.CAFile != "" {
			var err error
			if roots, err = loadCAFile(o.CAFile); err != nil {
				return nil, err
			}
		}
		s.tlsConfig = &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// loadCAFile returns the system roots plus the certificates in a PEM file.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("smtp ca file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("smtp ca file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// String describes the sender without secrets, e.g.
// "smtp 127.0.0.1:587 starttls auth LOGIN as ducha".
func (s *SMTPSender) String() string {
	if s.newAuth == nil {
		return fmt.Sprintf("smtp %s %s", s.addr, s.tlsMode)
	}
	return fmt.Sprintf("smtp %s %s auth %s as %s", s.addr, s.tlsMode, s.authMech, s.username)
}

// Send delivers m to all its recipients in one SMTP transaction: if any
// recipient is refused, the transaction is reset and nothing is delivered.
// (If ctx ends or the timeout passes while the server is answering the final
// dot, the server may have accepted the message anyway; the error is then
// temporary, and a resend carries the same Message-ID.) Each step's error
// names the step and wraps the cause, e.g. "smtp RCPT wang@example.gov.cn:
// SMTP error 550: …", so errors.As finds the *smtp.SMTPError. If a reused
// connection turns out to be dead at MAIL FROM, Send re-dials once.
func (s *SMTPSender) Send(ctx context.Context, m *Message) error {
	data, err := m.Bytes()
	if err != nil {
		return err
	}
	from, rcpts := m.From.Address, m.Recipients()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smtp send %s: %w", m.Key, err)
	}
	if s.c != nil && time.Since(s.lastUsed) > maxIdle {
		s.drop()
	}
	for attempt := 0; ; attempt++ {
		reused := s.c != nil
		if !reused {
			if err := s.connect(ctx); err != nil {
				return err
			}
		}
		atMail, err := s.transact(ctx, from, rcpts, data)
		if err == nil {
			s.lastUsed = time.Now()
			return nil
		}
		if reused && attempt == 0 && atMail && ctx.Err() == nil && connLost(err) {
			s.drop() // the server closed it while idle; nothing was sent
			continue
		}
		s.afterFailure(err)
		return err
	}
}

// connLost reports whether err means the connection is unusable: a network
// error, or 421 (the server is closing the channel).
func connLost(err error) bool {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code == 421
	}
	return true
}

// afterFailure leaves the sender ready for the next Send after a failed one: a
// rejected transaction is reset, anything else drops the connection.
func (s *SMTPSender) afterFailure(err error) {
	if s.c == nil {
		return
	}
	if !connLost(err) && s.c.Reset() == nil {
		s.lastUsed = time.Now()
		return
	}
	s.drop()
}

// drop closes the current connection without QUIT.
func (s *SMTPSender) drop() {
	if s.c != nil {
		s.c.Close()
	}
	s.c, s.conn = nil, nil
}

// connect dials and sets up TLS, EHLO and AUTH within one timeout.
func (s *SMTPSender) connect(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", s.addr, err)
	}
	// go-smtp's set-up calls take no context; closing the connection is
	// what interrupts them when ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	c, err := s.open(ctx, conn)
	if err != nil {
		conn.Close()
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("%w: %w", err, cerr)
		}
		return err
	}
	if !stop() {
		return fmt.Errorf("smtp connect %s: %w", s.addr, ctx.Err())
	}
	s.c, s.conn, s.lastUsed = c, conn, time.Now()
	return nil
}

// open runs the SMTP set-up on a fresh connection.
func (s *SMTPSender) open(ctx context.Context, conn net.Conn) (*smtp.Client, error) {
	var c *smtp.Client
	switch s.tlsMode {
	case "implicit":
		tc := tls.Client(conn, s.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("smtp TLS handshake with %s: %w", s.addr, err)
		}
		c = smtp.NewClient(tc)
	case "starttls":
		// NewClientStartTLS greets with "EHLO localhost" before TLS; go-smtp
		// v0.25.1 exports no way to choose that name or to STARTTLS later.
		var err error
		if c, err = smtp.NewClientStartTLS(conn, s.tlsConfig); err != nil {
			return nil, fmt.Errorf("smtp STARTTLS with %s: %w", s.addr, err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout = s.timeout
	c.SubmissionTimeout = s.timeout
	// After STARTTLS this is the first write under TLS, so a certificate
	// the roots do not trust fails here.
	if err := c.Hello(s.helloName); err != nil {
		c.Close()
		return nil, fmt.Errorf("smtp EHLO %s (%s): %w", s.addr, s.tlsMode, err)
	}
	if s.newAuth == nil {
		return c, nil
	}
	_, isTLS := c.TLSConnectionState()
	if err := authAllowed(isTLS, s.host); err != nil {
		c.Close()
		return nil, fmt.Errorf("smtp AUTH %s: %w", s.addr, err)
	}
	if ok, _ := c.Extension("AUTH"); !ok {
		c.Close()
		return nil, fmt.Errorf("smtp AUTH %s: server does not offer AUTH", s.addr)
	}
	if err := c.Auth(s.newAuth()); err != nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s as %s at %s: %w", ErrAuth, s.authMech, s.username, s.addr, err)
	}
	return c, nil
}

// transact runs MAIL, RCPT and DATA on the current connection. atMail
// reports a failure at MAIL FROM, before anything of the message was sent.
// If ctx ends, the connection is closed to interrupt the exchange.
func (s *SMTPSender) transact(ctx context.Context, from string, rcpts []string, data []byte) (atMail bool, err error) {
	conn := s.conn
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	atMail, err = s.deliver(from, rcpts, data)
	if !stop() {
		s.drop()
		if err != nil {
			return false, fmt.Errorf("%w: %w", err, ctx.Err())
		}
	}
	return atMail, err
}

// deliver is one SMTP mail transaction.
func (s *SMTPSender) deliver(from string, rcpts []string, data []byte) (atMail bool, err error) {
	if err := s.c.Mail(from, &smtp.MailOptions{Size: int64(len(data))}); err != nil {
		return true, fmt.Errorf("smtp MAIL FROM %s: %w", from, err)
	}
	for _, r := range rcpts {
		if err := s.c.Rcpt(r, nil); err != nil {
			return false, fmt.Errorf("smtp RCPT %s: %w", r, err)
		}
	}
	w, err := s.c.Data()
	if err != nil {
		return false, fmt.Errorf("smtp DATA: %w", err)
	}
	// go-smtp clears the deadline once DATA is answered; bound the upload.
	if err := s.conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return false, fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return false, fmt.Errorf("smtp DATA upload: %w", err)
	}
	if err := w.Close(); err != nil {
		return false, fmt.Errorf("smtp DATA end: %w", err)
	}
	return false, nil
}

// Close ends the connection with QUIT (best effort) and makes further Sends
// fail with ErrClosed. It is safe to call more than once.
func (s *SMTPSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.c == nil {
		return nil
	}
	c := s.c
	s.c, s.conn = nil, nil
	if err := c.Quit(); err != nil {
		// The server may already have gone; the socket must not leak.
		c.Close()
	}
	return nil
}

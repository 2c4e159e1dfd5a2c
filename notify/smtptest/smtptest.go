// Package smtptest runs a real SMTP server (emersion/go-smtp) on 127.0.0.1
// for tests, the way net/http/httptest runs an HTTP server: STARTTLS or
// implicit TLS with a self-signed certificate, AUTH PLAIN and LOGIN (with
// the challenge prompts a test chooses), and RCPT and DATA failures a test
// can switch on and off. It keeps what it accepted for the test to read.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The credentials the server accepts.
const (
	User     = "ducha@example.gov.cn"
	Password = "s3cret-授权码"
)

// TLSMode is how the server offers TLS.
type TLSMode int

const (
	// StartTLS listens in clear, offers STARTTLS and refuses AUTH before it.
	StartTLS TLSMode = iota
	// Implicit speaks TLS from the first byte (port 465 style).
	Implicit
	// None offers no TLS and allows AUTH in clear.
	None
)

// Options configure a Server.
type Options struct {
	TLS TLSMode
	// RequireAuth refuses MAIL FROM before a successful AUTH (530), as
	// every submission server does.
	RequireAuth bool
	// Discard counts accepted messages without keeping them (benchmarks).
	Discard bool
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Auth is one successful authentication.
type Auth struct {
	Mech string // sasl.Plain or sasl.Login
	User string
}

// Server is a running SMTP server. Its methods are safe for concurrent
// use: sessions run on the server's own goroutines.
type Server struct {
	Host     string
	Port     int
	CertPEM  []byte         // the server's certificate, for a client's CA file
	CertPool *x509.CertPool // a pool trusting it

	opts Options

	mu         sync.Mutex
	conns      map[*smtp.Conn]bool // distinct TCP connections seen
	msgs       []Message
	rcptErr    map[string]*smtp.SMTPError // by recipient address
	dataErr    *smtp.SMTPError
	userPrompt string // AUTH LOGIN challenges
	passPrompt string
	auths      []Auth
	hellos     []string // EHLO names, one per session
	delay      time.Duration
	onAccept   func(Message) // SetAcceptHook
	mails      int           // MAIL FROM commands
	open       int           // sessions not yet ended
	accepted   int
	rejected   int // messages refused at DATA
}

// Start serves SMTP on 127.0.0.1 on a free port until the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	cert, certPEM, pool := testCert()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ts := &Server{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, CertPEM: certPEM, CertPool: pool, opts: opts,
		conns: map[*smtp.Conn]bool{}, rcptErr: map[string]*smtp.SMTPError{}, userPrompt: "Username:", passPrompt: "Password:"}
	s := smtp.NewServer(backend{ts})
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.MaxMessageBytes = 10 << 20
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	switch opts.TLS {
	case StartTLS:
		s.TLSConfig = tlsCfg
	case Implicit:
		l = tls.NewListener(l, tlsCfg)
	case None:
		s.AllowInsecureAuth = true
	default:
		tb.Fatalf("smtptest: unknown TLS mode %d", opts.TLS)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(l)
	}()
	tb.Cleanup(func() {
		s.Close()
		l.Close() // in case Serve had not registered it yet when Close ran
		<-done
	})
	return ts
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Messages returns a copy of the accepted messages (none with Discard).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Accepted returns how many messages the server accepted.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Rejected returns how many messages were refused at DATA.
func (s *Server) Rejected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected
}

// Mails returns how many MAIL FROM commands the server has seen.
func (s *Server) Mails() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mails
}

// OpenSessions returns how many sessions have not ended: without TLS,
// the connections still open. A client killed mid-message leaves its
// session open until the server notices the closed connection.
func (s *Server) OpenSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// Connections returns how many TCP connections the server has seen.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Auths returns the successful authentications, in order.
func (s *Server) Auths() []Auth {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Auth(nil), s.auths...)
}

// HelloNames returns the EHLO names of the sessions, in order (after
// STARTTLS a connection says EHLO again).
func (s *Server) HelloNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.hellos...)
}

// DropConnections closes every connection from the server side, as an
// idle timeout or a restart would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := make([]*smtp.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Conn().Close()
	}
}

// FailRecipient makes RCPT TO addr fail with err; a nil err accepts it again.
func (s *Server) FailRecipient(addr string, err *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.rcptErr, addr)
		return
	}
	s.rcptErr[addr] = err
}

// FailData makes every DATA fail with err; nil accepts messages again.
func (s *Server) FailData(err *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dataErr = err
}

// SetReplyDelay makes the server wait d before answering each DATA, so
// that a client killed during a send is likely to be waiting for the reply.
func (s *Server) SetReplyDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetAcceptHook makes the server call fn with each message it accepted,
// after recording it and before answering 250: a test that kills the
// client in fn leaves a message the server has and the client never saw
// accepted. nil removes the hook. fn runs on the session's goroutine.
func (s *Server) SetAcceptHook(fn func(Message)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAccept = fn
}

// SetLoginPrompts sets the AUTH LOGIN challenges (default "Username:" and
// "Password:"; real servers also send them in lower case).
func (s *Server) SetLoginPrompts(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userPrompt, s.passPrompt = user, pass
}

func (s *Server) check(mech, user, pass string) error {
	if user != User || pass != Password {
		return smtp.ErrAuthFailed // 535 5.7.8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths = append(s.auths, Auth{Mech: mech, User: user})
	return nil
}

type backend struct{ s *Server }

// NewSession is called at each EHLO; after STARTTLS the same connection
// gets a second session, so connections are counted, not sessions.
func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	b.s.conns[c] = true
	b.s.open++
	b.s.hellos = append(b.s.hellos, c.Hostname())
	return &session{s: b.s}, nil
}

type session struct {
	s      *Server
	authed bool
	ended  bool
	from   string
	to     []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if err := ss.s.check(mech, user, pass); err != nil {
			return err
		}
		ss.authed = true
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		ss.s.mu.Lock()
		up, pp := ss.s.userPrompt, ss.s.passPrompt
		ss.s.mu.Unlock()
		return &loginServer{userPrompt: up, passPrompt: pp, check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.RequireAuth && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.s.mu.Lock()
	ss.s.mails++
	ss.s.mu.Unlock()
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	err := ss.s.rcptErr[to]
	ss.s.mu.Unlock()
	if err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	delay := ss.s.delay
	ss.s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	ss.s.mu.Lock()
	if err := ss.s.dataErr; err != nil {
		ss.s.rejected++
		ss.s.mu.Unlock()
		return err
	}
	ss.s.accepted++
	m := Message{From: ss.from, To: append([]string(nil), ss.to...), Data: data}
	if !ss.s.opts.Discard {
		ss.s.msgs = append(ss.s.msgs, m)
	}
	hook := ss.s.onAccept
	ss.s.mu.Unlock()
	if hook != nil {
		hook(m)
	}
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }
func (ss *session) Logout() error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if !ss.ended {
		ss.ended = true
		ss.s.open--
	}
	return nil
}

// loginServer is AUTH LOGIN for the server (go-sasl has no server for
// it). It accepts both the prompt flow and an initial response carrying
// the username.
type loginServer struct {
	userPrompt, passPrompt string
	check                  func(user, pass string) error
	step                   int
	user                   string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch {
	case l.step == 1 && resp == nil:
		return []byte(l.userPrompt), false, nil
	case l.step == 1:
		l.user, l.step = string(resp), 2
		return []byte(l.passPrompt), false, nil
	case l.step == 2:
		l.user = string(resp)
		return []byte(l.passPrompt), false, nil
	case l.step == 3:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected AUTH LOGIN response")
}

// testCert returns one self-signed certificate for 127.0.0.1 and
// localhost, made once per test binary, with its PEM encoding and a pool
// trusting it.
func testCert() (tls.Certificate, []byte, *x509.CertPool) {
	c := makeCert()
	return c.cert, c.pem, c.pool
}

type certs struct {
	cert tls.Certificate
	pem  []byte
	pool *x509.CertPool
}

var makeCert = sync.OnceValue(func() certs {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "duban test SMTP"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return certs{tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certPEM, pool}
})

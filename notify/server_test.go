package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Test credentials accepted by the in-process server.
const (
	testUser = "ducha@example.gov.cn"
	testPass = "s3cret-授权码"
)

// testCert is one self-signed certificate for 127.0.0.1 and localhost,
// generated once per test binary.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// received is one message accepted by the test server.
type received struct {
	From string
	To   []string
	Data []byte
}

// backend records messages and can be told to fail. All fields are guarded
// by mu: the server runs sessions on its own goroutines.
type backend struct {
	mu         sync.Mutex
	conns      map[*smtp.Conn]bool // distinct TCP connections seen
	msgs       []received
	rcptErr    map[string]*smtp.SMTPError // by recipient address
	dataErr    *smtp.SMTPError
	userPrompt string // AUTH LOGIN challenges
	passPrompt string
	authUsers  []string // users that authenticated, in order
	helloNames []string // EHLO names that opened a session, in order
	discard    bool     // count accepted messages without keeping them (benchmarks)
	accepted   int
}

func newBackend() *backend {
	return &backend{
		conns:      map[*smtp.Conn]bool{},
		rcptErr:    map[string]*smtp.SMTPError{},
		userPrompt: "Username:",
		passPrompt: "Password:",
	}
}

// NewSession is called at each EHLO; after STARTTLS the same connection
// gets a second session, so connections are counted, not sessions.
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.conns[c] = true
	b.helloNames = append(b.helloNames, c.Hostname())
	return &session{b: b}, nil
}

// connections returns how many TCP connections the server has seen.
func (b *backend) connections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// messages returns a copy of the accepted messages.
func (b *backend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

// dropAll closes every connection from the server side, as an idle timeout
// or a restart would.
func (b *backend) dropAll() {
	b.mu.Lock()
	conns := make([]*smtp.Conn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.Conn().Close()
	}
}

// set runs f with the lock held, to change failure settings.
func (b *backend) set(f func(b *backend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *backend) check(user, pass string) error {
	if user != testUser || pass != testPass {
		return smtp.ErrAuthFailed // 535 5.7.8
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.authUsers = append(b.authUsers, user)
	return nil
}

type session struct {
	b    *backend
	from string
	to   []string
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			return s.b.check(user, pass)
		}), nil
	case sasl.Login:
		s.b.mu.Lock()
		up, pp := s.b.userPrompt, s.b.passPrompt
		s.b.mu.Unlock()
		return &loginServer{userPrompt: up, passPrompt: pp, check: s.b.check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	err := s.b.rcptErr[to]
	s.b.mu.Unlock()
	if err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.dataErr != nil {
		return s.b.dataErr
	}
	s.b.accepted++
	if s.b.discard {
		return nil
	}
	s.b.msgs = append(s.b.msgs, received{From: s.from, To: s.to, Data: data})
	return nil
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

// loginServer is AUTH LOGIN for the test server (go-sasl removed its own).
// It accepts both the prompt flow and an initial response carrying the
// username, and sends configurable challenge text.
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

// testServer is a running in-process SMTP server.
type testServer struct {
	*backend
	host string
	port int
	pool *x509.CertPool // trusts the server's certificate
}

// mustStartServer serves SMTP on 127.0.0.1:0. mode is "starttls" (plain
// listener offering STARTTLS, AUTH only after it), "implicit" (TLS from the
// first byte) or "none" (no TLS, AUTH allowed in clear on loopback).
func mustStartServer(tb testing.TB, mode string) *testServer {
	tb.Helper()
	cert, pool := testCert()
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	be := newBackend()
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.MaxMessageBytes = 10 << 20
	switch mode {
	case "starttls":
		s.TLSConfig = tlsCfg
	case "implicit":
		l = tls.NewListener(l, tlsCfg)
	case "none":
		s.AllowInsecureAuth = true
	default:
		tb.Fatalf("unknown server mode %q", mode)
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
	addr := l.Addr().(*net.TCPAddr)
	return &testServer{backend: be, host: "127.0.0.1", port: addr.Port, pool: pool}
}

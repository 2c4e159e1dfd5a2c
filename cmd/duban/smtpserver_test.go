package main

// An in-process SMTP server (go-smtp) for the end-to-end tests of
// `duban serve`: STARTTLS with a self-signed certificate, AUTH PLAIN and
// LOGIN (with configurable prompts), and injectable RCPT/DATA failures.
// Adapted from notify/server_test.go, whose helpers are not importable.
// Also here: decoding a received message the way a mail client would.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Credentials the test server accepts.
const (
	smtpTestUser = "ducha@example.gov.cn"
	smtpTestPass = "s3cret-授权码"
)

// smtpTestCert is one self-signed certificate for 127.0.0.1 and
// localhost, generated once per test binary, and its PEM encoding.
var smtpTestCert = sync.OnceValues(func() (tls.Certificate, []byte) {
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
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pemBytes
})

// smtpReceived is one message the test server accepted.
type smtpReceived struct {
	From string
	To   []string
	Data []byte
}

// smtpBackend records messages and can be told to fail. Fields are
// guarded by mu: the server runs sessions on its own goroutines.
type smtpBackend struct {
	mu         sync.Mutex
	msgs       []smtpReceived
	rcptErr    map[string]*smtp.SMTPError // by recipient address
	dataErr    *smtp.SMTPError
	userPrompt string // AUTH LOGIN challenges
	passPrompt string
	authMechs  []string // mechanisms that authenticated, in order
	rejected   int      // messages refused at DATA
}

func (b *smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b}, nil
}

// messages returns a copy of the accepted messages.
func (b *smtpBackend) messages() []smtpReceived {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]smtpReceived(nil), b.msgs...)
}

// set runs f with the lock held, to change failure settings.
func (b *smtpBackend) set(f func(b *smtpBackend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *smtpBackend) check(mech, user, pass string) error {
	if user != smtpTestUser || pass != smtpTestPass {
		return smtp.ErrAuthFailed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.authMechs = append(b.authMechs, mech)
	return nil
}

type smtpSession struct {
	b      *smtpBackend
	authed bool
	from   string
	to     []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error {
			if err := s.b.check(mech, user, pass); err != nil {
				return err
			}
			s.authed = true
			return nil
		}), nil
	case sasl.Login:
		s.b.mu.Lock()
		up, pp := s.b.userPrompt, s.b.passPrompt
		s.b.mu.Unlock()
		return &smtpLoginServer{userPrompt: up, passPrompt: pp, check: func(user, pass string) error {
			if err := s.b.check(mech, user, pass); err != nil {
				return err
			}
			s.authed = true
			return nil
		}}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	err := s.b.rcptErr[to]
	s.b.mu.Unlock()
	if err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.dataErr != nil {
		s.b.rejected++
		return s.b.dataErr
	}
	s.b.msgs = append(s.b.msgs, smtpReceived{From: s.from, To: append([]string(nil), s.to...), Data: data})
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// smtpLoginServer is AUTH LOGIN for the test server (go-sasl has no
// server for it), sending configurable challenge text.
type smtpLoginServer struct {
	userPrompt, passPrompt string
	check                  func(user, pass string) error
	step                   int
	user                   string
}

func (l *smtpLoginServer) Next(resp []byte) ([]byte, bool, error) {
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

// smtpTestServer is a running in-process SMTP server on 127.0.0.1 that
// offers STARTTLS and accepts AUTH only after it.
type smtpTestServer struct {
	*smtpBackend
	port   int
	caPEM  []byte // the server certificate, to trust via mail.smtp.ca_file
	server *smtp.Server
}

func startSMTPServer(t *testing.T) *smtpTestServer {
	t.Helper()
	cert, caPEM := smtpTestCert()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	be := &smtpBackend{rcptErr: map[string]*smtp.SMTPError{}, userPrompt: "Username:", passPrompt: "Password:"}
	s := smtp.NewServer(be)
	s.Domain = "localhost"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.MaxMessageBytes = 10 << 20
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(l)
	}()
	t.Cleanup(func() {
		s.Close()
		l.Close()
		<-done
	})
	return &smtpTestServer{smtpBackend: be, port: l.Addr().(*net.TCPAddr).Port, caPEM: caPEM, server: s}
}

// parsedMail is a received message decoded the way a mail client would.
type parsedMail struct {
	Envelope   smtpReceived
	Header     mail.Header
	HeaderRaw  string // the header block as received
	Subject    string
	To         []*mail.Address
	Text, HTML string
	Entries    []digestEntry
	// Attachments maps file names to content types; not decoded.
	Attachments map[string]string
	// PartHeaders are the headers of every MIME part, nested ones too.
	PartHeaders []textproto.MIMEHeader
}

// digestEntry is one notice of a digest, read back from the text body.
type digestEntry struct {
	Level string // 督办通知, 到期提醒, 今日到期, 逾期催办, 问责预警, 邮件投递失败
	Title string
	Late  bool // marked （补发）
	ID    string
	Lines []string // the entry's detail lines, trimmed
}

// digestLevelNames are the subject tags of the notice levels (notify/render.go).
var digestLevelNames = map[string]string{
	"assigned": "督办通知", "reminder": "到期提醒", "due": "今日到期",
	"overdue": "逾期催办", "escalation": "问责预警", "failure": "邮件投递失败",
}

// parseMail decodes a received message with net/mail, mime.WordDecoder,
// mime/multipart and quoted-printable, and reads the digest entries back
// from the text part.
func parseMail(t *testing.T, r smtpReceived) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v\n%s", err, r.Data)
	}
	head, _, _ := bytes.Cut(r.Data, []byte("\r\n\r\n"))
	p := parsedMail{Envelope: r, Header: msg.Header, HeaderRaw: string(head)}
	dec := new(mime.WordDecoder)
	if p.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	if p.To, err = msg.Header.AddressList("To"); err != nil {
		t.Fatalf("parse To %q: %v", msg.Header.Get("To"), err)
	}
	walkMailPart(t, &p, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	p.Text = strings.ReplaceAll(p.Text, "\r\n", "\n")
	p.Entries = parseDigestText(p.Text)
	return p
}

func walkMailPart(t *testing.T, p *parsedMail, ctype, cte string, body io.Reader) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("Content-Type %q: %v", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatalf("next part: %v", err)
			}
			p.PartHeaders = append(p.PartHeaders, part.Header)
			if cd := part.Header.Get("Content-Disposition"); cd != "" {
				// An attachment (e.g. deadline.ics on assigned notices).
				_, dp, err := mime.ParseMediaType(cd)
				if err != nil {
					t.Fatalf("Content-Disposition %q: %v", cd, err)
				}
				if p.Attachments == nil {
					p.Attachments = map[string]string{}
				}
				p.Attachments[dp["filename"]] = part.Header.Get("Content-Type")
				continue
			}
			walkMailPart(t, p, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part)
		}
	}
	var r io.Reader
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	default:
		r = body
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s body: %v", cte, err)
	}
	if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "UTF-8") {
		t.Fatalf("charset %q, want UTF-8", cs)
	}
	switch mt {
	case "text/plain":
		p.Text = string(data)
	case "text/html":
		p.HTML = string(data)
	default:
		t.Fatalf("unexpected part %s", mt)
	}
}

// parseDigestText reads the entries of a digest's text body: a heading
// "一、【级别】标题[（补发）]" then detail lines up to "事项编号：ID".
func parseDigestText(text string) []digestEntry {
	var out []digestEntry
	var cur *digestEntry
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "、【"); i > 0 && !strings.HasPrefix(line, "　") {
			rest := line[i+len("、【"):]
			level, title, ok := strings.Cut(rest, "】")
			if !ok {
				continue
			}
			e := digestEntry{Level: level, Title: title}
			if t, ok := strings.CutSuffix(title, "（补发）"); ok {
				e.Title, e.Late = t, true
			}
			out = append(out, e)
			cur = &out[len(out)-1]
			continue
		}
		if cur == nil {
			continue
		}
		l := strings.TrimSpace(strings.TrimLeft(line, "　"))
		if l == "" {
			cur = nil
			continue
		}
		cur.Lines = append(cur.Lines, l)
		if id, ok := strings.CutPrefix(l, "事项编号："); ok {
			cur.ID = id
		}
	}
	return out
}

// entry returns the first entry of p with instance id and level name, or nil.
func (p parsedMail) entry(id, level string) *digestEntry {
	for i := range p.Entries {
		if p.Entries[i].ID == id && p.Entries[i].Level == digestLevelNames[level] {
			return &p.Entries[i]
		}
	}
	return nil
}

// has reports whether the entry has a detail line with this prefix and
// returns its value.
func (e *digestEntry) field(name string) (string, bool) {
	for _, l := range e.Lines {
		if v, ok := strings.CutPrefix(l, name+"："); ok {
			return v, true
		}
	}
	return "", false
}

package notify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"duban/notify"
	"duban/notify/smtptest"
)

// mustStartServer serves SMTP on loopback: mode is "starttls",
// "implicit" or "none" (no TLS, AUTH allowed in clear).
func mustStartServer(tb testing.TB, mode string) *smtptest.Server {
	tb.Helper()
	modes := map[string]smtptest.TLSMode{"starttls": smtptest.StartTLS, "implicit": smtptest.Implicit, "none": smtptest.None}
	m, ok := modes[mode]
	if !ok {
		tb.Fatalf("unknown server mode %q", mode)
	}
	return smtptest.Start(tb, smtptest.Options{TLS: m})
}

// options returns client options for ts.
func options(ts *smtptest.Server, tlsMode, auth string) notify.SMTPOptions {
	o := notify.SMTPOptions{
		Host: ts.Host, Port: ts.Port, TLS: tlsMode, RootCAs: ts.CertPool,
		Auth: auth, Timeout: 5 * time.Second, HelloName: "duban.test",
	}
	if auth != "none" {
		o.Username, o.Password = smtptest.User, smtptest.Password
	}
	return o
}

// mustSender returns a sender closed at the end of the test.
func mustSender(tb testing.TB, o notify.SMTPOptions) *notify.SMTPSender {
	tb.Helper()
	s, err := notify.NewSMTPSender(o)
	if err != nil {
		tb.Fatalf("NewSMTPSender: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestSMTPDelivery(t *testing.T) {
	tests := []struct {
		name, server, tls, auth string
		userPrompt, passPrompt  string
	}{
		{"starttls login", "starttls", "starttls", "login", "Username:", "Password:"},
		{"starttls login lower-case prompts", "starttls", "starttls", "login", "username:", "password:"},
		{"starttls login NUL prompts", "starttls", "starttls", "login", "User Name\x00", "Password\x00"},
		{"starttls login empty prompts", "starttls", "starttls", "login", "", ""},
		{"starttls plain", "starttls", "starttls", "plain", "", ""},
		{"implicit login", "implicit", "implicit", "login", "Username:", "Password:"},
		{"implicit plain", "implicit", "implicit", "plain", "", ""},
		{"loopback cleartext plain", "none", "none", "plain", "", ""},
		{"loopback cleartext no auth", "none", "none", "none", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := mustStartServer(t, tt.server)
			ts.SetLoginPrompts(tt.userPrompt, tt.passPrompt)
			s := mustSender(t, options(ts, tt.tls, tt.auth))
			if err := s.Send(t.Context(), sampleMessage()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := ts.Messages()
			if len(msgs) != 1 {
				t.Fatalf("server got %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if got.From != "ducha@example.gov.cn" || strings.Join(got.To, " ") != "fzj@example.gov.cn wang@example.gov.cn li@example.gov.cn" {
				t.Errorf("envelope from %s to %v", got.From, got.To)
			}
			checkSampleDecodes(t, got.Data)
			authed := len(ts.Auths())
			hellos := ts.HelloNames()
			hello := hellos[len(hellos)-1]
			if hello != "duban.test" {
				t.Errorf("EHLO name after TLS = %q, want HelloName", hello)
			}
			if want := map[bool]int{true: 0, false: 1}[tt.auth == "none"]; authed != want {
				t.Errorf("%d successful AUTHs, want %d", authed, want)
			}
		})
	}
}

func TestSMTPWrongPassword(t *testing.T) {
	for _, auth := range []string{"login", "plain"} {
		t.Run(auth, func(t *testing.T) {
			ts := mustStartServer(t, "starttls")
			o := options(ts, "starttls", auth)
			o.Password = "wrong-授权码-hunter2"
			err := mustSender(t, o).Send(t.Context(), sampleMessage())
			var se *smtp.SMTPError
			if !errors.As(err, &se) || se.Code != 535 {
				t.Fatalf("Send error = %v, want SMTP 535", err)
			}
			if !notify.IsPermanent(err) || !errors.Is(err, notify.ErrAuth) {
				t.Errorf("error %v: want permanent and ErrAuth", err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), smtptest.Password) {
				t.Errorf("error leaks the password: %v", err)
			}
			if n := len(ts.Messages()); n != 0 {
				t.Errorf("server got %d messages", n)
			}
		})
	}
}

func TestSMTPUntrustedCertificate(t *testing.T) {
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			ts := mustStartServer(t, mode)
			o := options(ts, mode, "login")
			o.RootCAs = nil // system roots do not know the test CA
			err := mustSender(t, o).Send(t.Context(), sampleMessage())
			var uae x509.UnknownAuthorityError
			if !errors.As(err, &uae) {
				t.Fatalf("Send error = %v, want x509.UnknownAuthorityError in the chain", err)
			}
			if notify.IsPermanent(err) {
				t.Errorf("certificate error %v reported permanent", err)
			}
			if n := len(ts.Messages()); n != 0 {
				t.Errorf("server got %d messages", n)
			}
		})
	}
}

func TestSMTPNoSTARTTLSNoDowngrade(t *testing.T) {
	ts := mustStartServer(t, "none") // offers no STARTTLS, and AUTH in clear
	err := mustSender(t, options(ts, "starttls", "login")).Send(t.Context(), sampleMessage())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("Send to a server without STARTTLS: %v, want a STARTTLS error", err)
	}
	if len(ts.Auths()) != 0 || len(ts.Messages()) != 0 {
		t.Errorf("credentials or message sent without TLS")
	}
}

func TestSMTPCAFile(t *testing.T) {
	ts := mustStartServer(t, "starttls")
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ts.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	o := options(ts, "starttls", "plain")
	o.RootCAs, o.CAFile = nil, path
	if err := mustSender(t, o).Send(t.Context(), sampleMessage()); err != nil {
		t.Fatalf("Send with CAFile: %v", err)
	}
}

func TestNewSMTPSenderValidates(t *testing.T) {
	ok := notify.SMTPOptions{Host: "smtp.example.gov.cn", Username: "ducha", Password: "x", Auth: "login"}
	tests := []struct {
		name   string
		mutate func(o *notify.SMTPOptions)
		want   string // "" means valid
	}{
		{"defaults", func(o *notify.SMTPOptions) {}, ""},
		{"implicit", func(o *notify.SMTPOptions) { o.TLS = "implicit" }, ""},
		{"none on 127.0.0.1", func(o *notify.SMTPOptions) { o.Host, o.TLS = "127.0.0.1", "none" }, ""},
		{"none on ::1", func(o *notify.SMTPOptions) { o.Host, o.TLS = "::1", "none" }, ""},
		{"none on localhost", func(o *notify.SMTPOptions) { o.Host, o.TLS = "LocalHost", "none" }, ""},
		{"none on remote host", func(o *notify.SMTPOptions) { o.TLS = "none" }, "only for a loopback host"},
		{"none on LAN address", func(o *notify.SMTPOptions) { o.Host, o.TLS = "10.0.0.25", "none" }, "only for a loopback host"},
		{"none on localhost-like name", func(o *notify.SMTPOptions) { o.Host, o.TLS = "localhost.example.com", "none" }, "only for a loopback host"},
		{"unknown tls", func(o *notify.SMTPOptions) { o.TLS = "ssl" }, "must be starttls, implicit or none"},
		{"no host", func(o *notify.SMTPOptions) { o.Host = "" }, "host is empty"},
		{"host with port", func(o *notify.SMTPOptions) { o.Host = "smtp.example.gov.cn:587" }, "must not include a port"},
		{"IPv6 host", func(o *notify.SMTPOptions) { o.Host = "2001:db8::25" }, ""},
		{"host with CRLF", func(o *notify.SMTPOptions) { o.Host = "smtp\r\n.example" }, "control character"},
		{"bad port", func(o *notify.SMTPOptions) { o.Port = 70000 }, "1-65535"},
		{"negative timeout", func(o *notify.SMTPOptions) { o.Timeout = -time.Second }, "timeout"},
		{"unknown auth", func(o *notify.SMTPOptions) { o.Auth = "cram-md5" }, "plain, login or none"},
		{"login without password", func(o *notify.SMTPOptions) { o.Password = "" }, "needs a username and a password"},
		{"empty auth with username", func(o *notify.SMTPOptions) { o.Auth = "" }, "auth is empty"},
		{"no auth", func(o *notify.SMTPOptions) { o.Auth, o.Username, o.Password = "", "", "" }, ""},
		{"bad hello", func(o *notify.SMTPOptions) { o.HelloName = "a b" }, "hello name"},
		{"missing CA file", func(o *notify.SMTPOptions) { o.CAFile = "/nonexistent/ca.pem" }, "ca file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.mutate(&o)
			_, err := notify.NewSMTPSender(o)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("NewSMTPSender: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("NewSMTPSender error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestSMTPTemporaryAndPermanentReplies(t *testing.T) {
	ts := mustStartServer(t, "starttls")
	s := mustSender(t, options(ts, "starttls", "login"))

	ts.FailData(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	err := s.Send(t.Context(), sampleMessage())
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || notify.IsPermanent(err) {
		t.Fatalf("451 at DATA: error %v, permanent %v; want SMTP 451, temporary", err, notify.IsPermanent(err))
	}
	if !strings.Contains(err.Error(), "smtp DATA") {
		t.Errorf("error %q does not name the DATA step", err)
	}

	ts.FailData(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected"})
	if err := s.Send(t.Context(), sampleMessage()); !notify.IsPermanent(err) {
		t.Fatalf("550 at DATA: error %v, want permanent", err)
	}

	ts.FailData(nil)
	ts.FailRecipient("wang@example.gov.cn", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"})
	err = s.Send(t.Context(), sampleMessage())
	if !errors.As(err, &se) || se.Code != 550 || !notify.IsPermanent(err) {
		t.Fatalf("550 at RCPT: error %v, want SMTP 550, permanent", err)
	}
	if !strings.Contains(err.Error(), "smtp RCPT wang@example.gov.cn") {
		t.Errorf("error %q does not name the RCPT step and address", err)
	}

	ts.FailRecipient("wang@example.gov.cn", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"})
	if err := s.Send(t.Context(), sampleMessage()); err == nil || notify.IsPermanent(err) {
		t.Fatalf("452 at RCPT: error %v, want temporary", err)
	}

	// After rejections the connection was reset, not dropped.
	ts.FailRecipient("wang@example.gov.cn", nil)
	if err := s.Send(t.Context(), sampleMessage()); err != nil {
		t.Fatalf("Send after rejections: %v", err)
	}
	if n := len(ts.Messages()); n != 1 {
		t.Errorf("server accepted %d messages, want 1 (rejected ones must not count)", n)
	}
	if n := ts.Connections(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestSMTPReusesConnection(t *testing.T) {
	ts := mustStartServer(t, "starttls")
	s := mustSender(t, options(ts, "starttls", "login"))
	for i := range 3 {
		m := sampleMessage()
		m.Key = fmt.Sprintf("item-%d|1|0", i)
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if n := ts.Connections(); n != 1 {
		t.Errorf("%d connections for 3 messages, want 1", n)
	}
	if n := len(ts.Messages()); n != 3 {
		t.Errorf("server got %d messages, want 3", n)
	}
}

func TestSMTPRedialsAfterServerDrop(t *testing.T) {
	for _, mode := range []string{"starttls", "implicit"} {
		t.Run(mode, func(t *testing.T) {
			ts := mustStartServer(t, mode)
			s := mustSender(t, options(ts, mode, "plain"))
			if err := s.Send(t.Context(), sampleMessage()); err != nil {
				t.Fatalf("first Send: %v", err)
			}
			ts.DropConnections()
			if err := s.Send(t.Context(), sampleMessage()); err != nil {
				t.Fatalf("Send after the server dropped the connection: %v", err)
			}
			if n := ts.Connections(); n != 2 {
				t.Errorf("%d connections, want 2", n)
			}
			if n := len(ts.Messages()); n != 2 {
				t.Errorf("server got %d messages, want 2", n)
			}
		})
	}
}

func TestSMTPTimeoutOnSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c // hold it open, never greet
		}
	}()
	s := mustSender(t, notify.SMTPOptions{
		Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "starttls",
		Auth: "none", Timeout: 100 * time.Millisecond,
	})
	err = s.Send(t.Context(), sampleMessage())
	if !errors.Is(err, context.DeadlineExceeded) || notify.IsPermanent(err) {
		t.Errorf("Send to a silent server: %v; want a temporary deadline error", err)
	}
	(<-accepted).Close()
}

func TestSMTPCancelledContext(t *testing.T) {
	ts := mustStartServer(t, "starttls")
	s := mustSender(t, options(ts, "starttls", "login"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Send(ctx, sampleMessage()); !errors.Is(err, context.Canceled) || notify.IsPermanent(err) {
		t.Errorf("Send with a cancelled context: %v", err)
	}
	if n := ts.Connections(); n != 0 {
		t.Errorf("%d connections, want none", n)
	}
}

func TestSMTPInvalidMessageNeverDials(t *testing.T) {
	ts := mustStartServer(t, "starttls")
	s := mustSender(t, options(ts, "starttls", "login"))
	m := sampleMessage()
	m.To[0] = mail.Address{Address: "fzj@example.gov.cn\r\nRCPT TO:<evil@attacker.example>"}
	if err := s.Send(t.Context(), m); !errors.Is(err, notify.ErrInvalid) || !notify.IsPermanent(err) {
		t.Errorf("Send invalid message: %v", err)
	}
	if n := ts.Connections(); n != 0 {
		t.Errorf("%d connections, want none", n)
	}
}

func TestSMTPSendAfterClose(t *testing.T) {
	ts := mustStartServer(t, "starttls")
	s := mustSender(t, options(ts, "starttls", "login"))
	if err := s.Send(t.Context(), sampleMessage()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Send(t.Context(), sampleMessage()); !errors.Is(err, notify.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestSMTPSecretsNotPrinted(t *testing.T) {
	o := notify.SMTPOptions{Host: "smtp.example.gov.cn", Username: "ducha", Password: "hunter2-授权码", Auth: "login"}
	s, err := notify.NewSMTPSender(o)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("config", "smtp", o)
	for _, out := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%+v", s), s.String(), logBuf.String()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("password printed in %q", out)
		}
	}
	if !strings.Contains(logBuf.String(), "[redacted]") {
		t.Errorf("log %s does not show the password as redacted", logBuf.String())
	}
}

package notify_test

import (
	"testing"

	"duban/notify/smtptest"
)

// BenchmarkSMTPSendReused measures messages per second over one STARTTLS +
// AUTH LOGIN connection to the in-process server on loopback.
func BenchmarkSMTPSendReused(b *testing.B) {
	ts := smtptest.Start(b, smtptest.Options{TLS: smtptest.StartTLS, RequireAuth: true, Discard: true})
	s := mustSender(b, options(ts, "starttls", "login"))
	m := sampleMessage()
	if err := s.Send(b.Context(), m); err != nil { // dial outside the timing
		b.Fatal(err)
	}
	n := 0
	for b.Loop() {
		if err := s.Send(b.Context(), m); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	if c := ts.Connections(); c != 1 {
		b.Errorf("%d connections, want 1", c)
	}
}

// BenchmarkMessageBytes measures building the sample message (Chinese
// headers, text + HTML, one attachment).
func BenchmarkMessageBytes(b *testing.B) {
	m := sampleMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

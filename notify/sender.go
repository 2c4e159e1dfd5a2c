package notify

import "context"

// Sender delivers messages. Send may be called many times, and concurrently;
// an SMTP sender reuses one connection across calls until Close. Errors keep
// their causes in the %w chain: use IsPermanent to decide whether to retry.
type Sender interface {
	Send(ctx context.Context, m *Message) error
	Close() error
}

var (
	_ Sender = (*SMTPSender)(nil)
	_ Sender = (*FileSender)(nil)
)

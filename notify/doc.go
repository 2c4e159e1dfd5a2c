// Package notify builds and delivers duban's notice emails.
//
// A Message is validated and turned into RFC 5322 bytes by Message.Bytes, which
// uses jordan-wright/email for the MIME body and writes the address and Subject
// headers itself, so that display names, long Chinese subjects and attachment
// names can never inject or overflow a header line. A Sender delivers messages:
// SMTPSender speaks SMTP through emersion/go-smtp over one reused connection,
// FileSender writes .eml files. A Renderer turns a Digest (everything one
// recipient gets in one pass) into a zh-CN subject, text body and HTML body.
//
// Errors from a Sender keep every cause in their %w chain; IsPermanent tells a
// failure that will never succeed (SMTP 5xx, invalid message) from one worth
// retrying.
package notify

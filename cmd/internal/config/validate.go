package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"duban/tracker/kvstore"
)

// ErrUnknownKey is wrapped by the *ValidationError that Load returns for a key that
// the configuration does not have (usually a typo).
var ErrUnknownKey = errors.New("unknown key")

// ValidationError is one problem with one configuration key.
type ValidationError struct {
	// Key is the YAML key, dotted for nesting, with an index for list entries:
	// "mail.smtp.port", "report.leaders[1]".
	Key string
	// Err says what was expected.
	Err error
}

// Error returns "key: problem", e.g. "mail.smtp.port: must be 1-65535 (got 0)",
// or "unknown key mail.smtp.pasword".
func (e *ValidationError) Error() string {
	if errors.Is(e.Err, ErrUnknownKey) {
		return "unknown key " + e.Key
	}
	return e.Key + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *ValidationError) Unwrap() error { return e.Err }

var (
	clockRE   = regexp.MustCompile(`^([0-9]{2}):([0-9]{2})$`)
	horizonRE = regexp.MustCompile(`^([0-9]+)d$`)
)

// MaxHorizonDays is the largest horizon accepted (about ten years).
const MaxHorizonDays = 3660

// Validate checks every key and fills the parsed fields (Location, DayEndMin,
// SendTimeMin, HorizonDays). It returns nil or the errors.Join of one
// *ValidationError per problem found. It reads no file and changes nothing but c's
// parsed fields. The smtp keys are checked only when mail.transport is smtp.
func (c *Config) Validate() error {
	c.Location, c.DayEndMin, c.SendTimeMin, c.HorizonDays = nil, 0, 0, 0
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ValidationError{Key: key, Err: fmt.Errorf(format, args...)})
	}

	if err := CheckDB(c.DB); err != nil {
		bad("db", "%w", err)
	}

	switch c.Timezone {
	case "":
		bad("timezone", "required (an IANA time zone such as Asia/Shanghai)")
	default:
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			bad("timezone", "must be an IANA time zone such as Asia/Shanghai (got %q)", c.Timezone)
		} else {
			c.Location = loc
		}
	}

	if m, ok := parseClock(c.DayEnd); ok {
		c.DayEndMin = m
	} else {
		bad("day_end", "must be HH:MM from 00:00 to 24:00 (got %q)", c.DayEnd)
	}
	if m, ok := parseClock(c.SendTime); ok {
		c.SendTimeMin = m
	} else {
		bad("send_time", "must be HH:MM from 00:00 to 24:00 (got %q)", c.SendTime)
	}

	if n, ok := parseHorizon(c.Horizon); ok {
		c.HorizonDays = n
	} else {
		bad("horizon", "must be a number of days from 1d to %dd, such as 40d (got %q)", MaxHorizonDays, c.Horizon)
	}

	if !oneOf(c.Catchup, "latest", "all", "none") {
		bad("catchup", "must be latest, all or none (got %q)", c.Catchup)
	}

	for i, f := range c.Tracking {
		if strings.TrimSpace(f) == "" {
			bad(fmt.Sprintf("tracking[%d]", i), "must be a file path, not empty")
		}
	}
	for i, f := range c.Calendar.Files {
		if strings.TrimSpace(f) == "" {
			bad(fmt.Sprintf("calendar.files[%d]", i), "must be a file path, not empty")
		}
	}

	errs = append(errs, c.Mail.validate()...)

	if !oneOf(c.Log.Level, "debug", "info", "warn", "error") {
		bad("log.level", "must be debug, info, warn or error (got %q)", c.Log.Level)
	}
	if !oneOf(c.Log.Format, "text", "json") {
		bad("log.format", "must be text or json (got %q)", c.Log.Format)
	}

	if c.Admin.Socket == "" {
		bad("admin.socket", "required (path of the admin unix socket)")
	}

	if l := c.Web.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil || port == "" {
			bad("web.listen", "must be host:port, e.g. 127.0.0.1:8080, or \"\" to turn the workspace off (got %q)", l)
		}
	}
	if u := c.Web.BaseURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad("web.base_url", "must be an http:// or https:// URL (got %q)", u)
		}
	}
	if (c.Web.TLS.Cert == "") != (c.Web.TLS.Key == "") {
		bad("web.tls", "cert and key go together: set both or neither")
	}
	if m := c.Inbound.IMAP; m.Host != "" {
		if m.Port < 1 || m.Port > 65535 {
			bad("inbound.imap.port", "must be 1-65535 (got %d)", m.Port)
		}
		switch m.TLS {
		case "implicit", "starttls":
		case "none":
			if !isLoopback(m.Host) {
				bad("inbound.imap.tls", "none is allowed only for a loopback host (127.0.0.1, ::1, localhost), not %q; use implicit or starttls", m.Host)
			}
		default:
			bad("inbound.imap.tls", "must be implicit, starttls or none (got %q)", m.TLS)
		}
		if m.Username == "" {
			bad("inbound.imap.username", "required when inbound.imap.host is set")
		}
		if m.Mailbox == "" {
			bad("inbound.imap.mailbox", "must name a mailbox, e.g. INBOX")
		}
		if m.Poll < time.Second {
			bad("inbound.imap.poll", "must be at least 1s (got %s)", m.Poll)
		}
	}
	if _, err := parseSize(c.Web.Attachments.MaxSize); err != nil {
		bad("web.attachments.max_size", "must be a size like 20MB or 512KB (got %q)", c.Web.Attachments.MaxSize)
	}

	for i, a := range c.Report.Leaders {
		if err := checkAddress(a); err != nil {
			errs = append(errs, &ValidationError{Key: fmt.Sprintf("report.leaders[%d]", i), Err: err})
		}
	}
	for i, a := range c.Report.WeeklyTo {
		if err := checkAddress(a); err != nil {
			errs = append(errs, &ValidationError{Key: fmt.Sprintf("report.weekly_to[%d]", i), Err: err})
		}
	}
	if c.Report.PraiseMin < 1 {
		bad("report.praise_min", "must be a whole number of at least 1 (got %d)", c.Report.PraiseMin)
	}
	if p := strings.TrimSpace(c.Sheets.Prefix); p == "" || strings.ContainsAny(p, "〔〕\r\n") {
		bad("sheets.prefix", "must be the start of a sheet number such as 督 or 洛督, without 〔〕 (got %q)", c.Sheets.Prefix)
	}

	errs = append(errs, c.validateRobots()...)
	errs = append(errs, c.Cluster.validate()...)

	return errors.Join(errs...)
}

var robotNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// validateRobots checks each robot: a name usable in tracking files and
// environment variables, a known kind, an http(s) webhook URL, and a
// secret only where the vendor signs.
func (c *Config) validateRobots() []error {
	var errs []error
	names := make([]string, 0, len(c.Robots))
	for name := range c.Robots {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		r := c.Robots[name]
		key := "robots." + name
		bad := func(field, format string, args ...any) {
			k := key
			if field != "" {
				k += "." + field
			}
			errs = append(errs, &ValidationError{Key: k, Err: fmt.Errorf(format, args...)})
		}
		if !robotNameRE.MatchString(name) {
			bad("", "a robot name must be lower-case letters, digits, - or _ (got %q)", name)
		}
		switch r.Kind {
		case "dingtalk", "feishu":
		case "wecom":
			if r.Secret != "" {
				bad("secret", "must be empty for kind wecom: 企业微信 robots are not signed (the key in the url is the credential)")
			}
		case "":
			bad("kind", "required: dingtalk (钉钉), wecom (企业微信 / 政务微信) or feishu (飞书 / Lark)")
		default:
			bad("kind", "must be dingtalk, wecom or feishu (got %q)", r.Kind)
		}
		u, err := url.Parse(string(r.URL))
		switch {
		case r.URL == "":
			bad("url", "required: the webhook address shown in the group robot's settings (or set %s)", RobotEnvName(name, "URL"))
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			bad("url", "must be the robot's webhook, an http(s) address such as https://oapi.dingtalk.com/robot/send?access_token=…")
		}
		if strings.ContainsAny(r.Keyword, "\r\n") {
			bad("keyword", "must be one line")
		}
	}
	return errs
}

func (m *MailConfig) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ValidationError{Key: key, Err: fmt.Errorf(format, args...)})
	}

	if err := checkAddress(m.From); err != nil {
		errs = append(errs, &ValidationError{Key: "mail.from", Err: err})
	}
	if m.Office != "" {
		if err := checkAddress(m.Office); err != nil {
			errs = append(errs, &ValidationError{Key: "mail.office", Err: err})
		}
	}

	if m.Retry.Initial <= 0 {
		bad("mail.retry.initial", "must be greater than 0, such as 1m (got %s)", m.Retry.Initial)
	} else if m.Retry.Max < m.Retry.Initial {
		bad("mail.retry.max", "must be at least mail.retry.initial (%s) (got %s)", m.Retry.Initial, m.Retry.Max)
	}

	switch m.Transport {
	case "file":
		if m.File.Dir == "" {
			bad("mail.file.dir", "required when mail.transport is file")
		}
	case "smtp":
		errs = append(errs, m.SMTP.validate()...)
	default:
		bad("mail.transport", "must be smtp or file (got %q)", m.Transport)
	}
	return errs
}

func (s *SMTPConfig) validate() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ValidationError{Key: key, Err: fmt.Errorf(format, args...)})
	}

	if s.Host == "" {
		bad("mail.smtp.host", "required when mail.transport is smtp")
	}
	if s.Port < 1 || s.Port > 65535 {
		bad("mail.smtp.port", "must be 1-65535 (got %d)", s.Port)
	}
	switch s.TLS {
	case "starttls", "implicit":
	case "none":
		if s.Host != "" && !isLoopback(s.Host) {
			bad("mail.smtp.tls", "none is allowed only for a loopback host (127.0.0.1, ::1, localhost), not %q; use starttls or implicit", s.Host)
		}
	default:
		bad("mail.smtp.tls", "must be starttls, implicit or none (got %q)", s.TLS)
	}
	switch s.Auth {
	case "none":
	case "plain", "login":
		if s.Username == "" {
			bad("mail.smtp.username", "required when mail.smtp.auth is %s", s.Auth)
		}
		if s.Password == "" {
			bad("mail.smtp.password", "required when mail.smtp.auth is %s (set %s)", s.Auth, EnvName("mail.smtp.password"))
		}
	default:
		bad("mail.smtp.auth", "must be plain, login or none (got %q)", s.Auth)
	}
	if s.Timeout <= 0 {
		bad("mail.smtp.timeout", "must be greater than 0, such as 30s (got %s)", s.Timeout)
	}
	return errs
}

// parseClock parses "HH:MM" from 00:00 to 24:00 into minutes since midnight.
func parseClock(s string) (int, bool) {
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	h, _ := strconv.Atoi(m[1])
	mm, _ := strconv.Atoi(m[2])
	if h > 24 || mm > 59 || (h == 24 && mm != 0) {
		return 0, false
	}
	return h*60 + mm, true
}

// parseHorizon parses "Nd" with 1 <= N <= MaxHorizonDays.
func parseHorizon(s string) (int, bool) {
	m := horizonRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > MaxHorizonDays {
		return 0, false
	}
	return n, true
}

// checkAddress reports why s is not a single RFC 5322 address safe to put in a
// header, or nil.
func checkAddress(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return errors.New("must not contain a line break")
	}
	if s == "" {
		return errors.New(`required (an email address such as "督查室 <ducha@example.gov.cn>")`)
	}
	if _, err := mail.ParseAddress(s); err != nil {
		return fmt.Errorf(`must be an email address such as "督查室 <ducha@example.gov.cn>" (got %q: %v)`, s, err)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return ip != nil && ip.IsLoopback()
}

func oneOf(s string, allowed ...string) bool { return slices.Contains(allowed, s) }

// ErrDBPassword is wrapped by the error for a db URL that carries a
// password (in its user part or as a password parameter).
var ErrDBPassword = errors.New("数据库 URL 里不能写密码：请用环境变量 PGPASSWORD 或 DUBAN_DB_PASSWORD，或 .pgpass 文件")

// CheckDB checks db: a bbolt file path, or a PostgreSQL URL without a
// password. Its messages never repeat the URL (it may hold a password).
func CheckDB(db string) error {
	switch {
	case strings.TrimSpace(db) == "":
		return errors.New("required (path of the database file, or a postgres:// URL)")
	case !kvstore.IsURL(db):
		return nil
	}
	u, err := url.Parse(db)
	if err != nil {
		return errors.New("不是有效的 PostgreSQL URL（例如 postgres://duban@db1:5432/duban?sslmode=verify-full）")
	}
	if _, ok := u.User.Password(); ok {
		return ErrDBPassword
	}
	for k := range u.Query() {
		if strings.EqualFold(k, "password") {
			return ErrDBPassword
		}
	}
	return nil
}

// SetDB sets db as given by --db: a URL as it is, a path relative to dir.
// It is checked like the configuration's db.
func (c *Config) SetDB(db, dir string) error {
	if err := CheckDB(db); err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	if !kvstore.IsURL(db) && !filepath.IsAbs(db) {
		db = filepath.Join(dir, db)
	}
	c.DB = db
	return nil
}

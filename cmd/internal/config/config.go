// Package config reads duban's configuration: a YAML file (SPEC §9) over built-in
// defaults, overridden key by key from DUBAN_* environment variables, then validated.
//
// It is the only package that imports viper. Everything else receives plain values
// from a *Config.
package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time.LoadLocation must work on hosts without /usr/share/zoneinfo.
)

// EnvPrefix is the prefix of the environment variables that override configuration
// keys: key mail.smtp.password is read from DUBAN_MAIL_SMTP_PASSWORD.
const EnvPrefix = "DUBAN"

// Config is the validated configuration.
//
// Config returned by Load has absolute paths: relative ones (from the file or the
// environment) are resolved against the directory of the config file, or against the
// working directory when no file was read. The parsed fields (Location, DayEndMin,
// SendTimeMin, HorizonDays) are filled by Validate and are meaningful only when it
// returned nil.
type Config struct {
	// File is the absolute path of the file read, "" when running on the built-in
	// defaults and the environment only.
	File string `mapstructure:"-"`

	DB        string         `mapstructure:"db"`        // bbolt file, or a postgres:// URL without a password
	Timezone  string         `mapstructure:"timezone"`  // IANA name, e.g. Asia/Shanghai
	DayEnd    string         `mapstructure:"day_end"`   // "HH:MM", when a day deadline ends; "24:00" is midnight
	SendTime  string         `mapstructure:"send_time"` // "HH:MM", when day-offset notices go out
	Horizon   string         `mapstructure:"horizon"`   // "Nd": how far ahead recurring instances are materialised
	Digest    bool           `mapstructure:"digest"`    // one email per recipient per pass
	Catchup   string         `mapstructure:"catchup"`   // latest | all | none
	Tracking  []string       `mapstructure:"tracking"`  // tracking files loaded at start and on SIGHUP
	Calendar  CalendarConfig `mapstructure:"calendar"`
	Mail      MailConfig     `mapstructure:"mail"`
	Templates string         `mapstructure:"templates"` // directory overriding the built-in templates; "" for none
	Admin     AdminConfig    `mapstructure:"admin"`
	Log       LogConfig      `mapstructure:"log"`
	Report    ReportConfig   `mapstructure:"report"`
	Web       WebConfig      `mapstructure:"web"`
	Sheets    SheetsConfig   `mapstructure:"sheets"`
	Inbound   InboundConfig  `mapstructure:"inbound"`
	Cluster   ClusterConfig  `mapstructure:"cluster"`
	// Robots are the work-group robots by name (SPEC §13); tracking files
	// point units and the office at them.
	Robots map[string]RobotConfig `mapstructure:"robots"`

	// Location is Timezone loaded.
	Location *time.Location `mapstructure:"-"`
	// DayEndMin is DayEnd in minutes since midnight, 0..1440 ("24:00" is 1440).
	DayEndMin int `mapstructure:"-"`
	// SendTimeMin is SendTime in minutes since midnight, 0..1440.
	SendTimeMin int `mapstructure:"-"`
	// HorizonDays is the N of Horizon ("40d" is 40).
	HorizonDays int `mapstructure:"-"`
}

// CalendarConfig lists extra working-calendar data.
type CalendarConfig struct {
	// Files are holiday-cn style JSON files, loaded after the embedded data; later
	// files override earlier ones.
	Files []string `mapstructure:"files"`
}

// MailConfig says how notices are delivered.
type MailConfig struct {
	Transport string         `mapstructure:"transport"` // smtp | file
	From      string         `mapstructure:"from"`      // RFC 5322 address, display name allowed
	Office    string         `mapstructure:"office"`    // supervision office address; optional
	File      FileMailConfig `mapstructure:"file"`
	SMTP      SMTPConfig     `mapstructure:"smtp"`
	Retry     RetryConfig    `mapstructure:"retry"`
}

// FileMailConfig configures the file transport, which writes one .eml per message.
type FileMailConfig struct {
	Dir string `mapstructure:"dir"`
}

// SMTPConfig configures the smtp transport. It is validated only when
// MailConfig.Transport is "smtp".
type SMTPConfig struct {
	Host     string        `mapstructure:"host"`
	Port     int           `mapstructure:"port"`
	TLS      string        `mapstructure:"tls"`     // starttls | implicit | none (none only for a loopback host)
	CAFile   string        `mapstructure:"ca_file"` // extra CA bundle (PEM); "" for the system pool
	Username string        `mapstructure:"username"`
	Password Secret        `mapstructure:"password"` // prefer DUBAN_MAIL_SMTP_PASSWORD
	Auth     string        `mapstructure:"auth"`     // plain | login | none
	Timeout  time.Duration `mapstructure:"timeout"`  // per connection
}

// RetryConfig is the back-off for temporary delivery failures: from Initial,
// doubling up to Max.
type RetryConfig struct {
	Initial time.Duration `mapstructure:"initial"`
	Max     time.Duration `mapstructure:"max"`
}

// AdminConfig configures the local admin endpoint the CLI uses while the daemon runs.
type AdminConfig struct {
	Socket string `mapstructure:"socket"` // unix socket path, created 0600
}

// WebConfig configures the workspace (SPEC §10) that `duban serve` serves.
type WebConfig struct {
	// Listen is the host:port of the workspace; "" turns it off.
	Listen string `mapstructure:"listen"`
	// BaseURL is how browsers reach it (behind a reverse proxy: its public
	// URL); "" means http(s)://Listen.
	BaseURL string    `mapstructure:"base_url"`
	TLS     TLSConfig `mapstructure:"tls"`
	// Attachments are the files units upload with their reports (SPEC §11).
	Attachments AttachmentsConfig `mapstructure:"attachments"`
}

// AttachmentsConfig says where uploaded files are kept (named by their
// content hash) and how large one may be.
type AttachmentsConfig struct {
	Dir     string `mapstructure:"dir"`
	MaxSize string `mapstructure:"max_size"` // e.g. 20MB, 512KB
}

// MaxBytes is MaxSize in bytes (0 if it does not parse; Validate refuses that).
func (a AttachmentsConfig) MaxBytes() int64 {
	n, _ := parseSize(a.MaxSize)
	return n
}

// parseSize reads "20MB", "512KB", "1GB" or a plain number of bytes.
func parseSize(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size like 20MB")
	}
	return n * mult, nil
}

// LinkBase is the URL that links in mail start with: web.base_url, or
// http(s)://web.listen when it is empty ("" when the workspace is off).
func (w WebConfig) LinkBase() string {
	if w.BaseURL != "" {
		return strings.TrimRight(w.BaseURL, "/")
	}
	if w.Listen == "" {
		return ""
	}
	if w.TLS.Cert != "" {
		return "https://" + w.Listen
	}
	return "http://" + w.Listen
}

// InboundConfig configures reading replies to notices (SPEC §11).
type InboundConfig struct {
	IMAP IMAPConfig `mapstructure:"imap"`
}

// IMAPConfig is the mailbox the daemon polls for replies; Host "" turns
// it off.
type IMAPConfig struct {
	Host     string        `mapstructure:"host"`
	Port     int           `mapstructure:"port"`
	TLS      string        `mapstructure:"tls"` // implicit | starttls | none (none only for a loopback host)
	CAFile   string        `mapstructure:"ca_file"`
	Username string        `mapstructure:"username"`
	Password Secret        `mapstructure:"password"` // prefer DUBAN_INBOUND_IMAP_PASSWORD
	Mailbox  string        `mapstructure:"mailbox"`
	Poll     time.Duration `mapstructure:"poll"`
}

// TLSConfig makes the workspace serve HTTPS itself: both files or neither.
type TLSConfig struct {
	Cert string `mapstructure:"cert"` // PEM certificate chain
	Key  string `mapstructure:"key"`  // PEM private key
}

// LogConfig configures the daemon's slog handler.
type LogConfig struct {
	Level  string `mapstructure:"level"`  // debug | info | warn | error
	Format string `mapstructure:"format"` // text | json
}

// SlogLevel returns Level as a slog.Level, slog.LevelInfo for an unknown level.
func (l LogConfig) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// ReportConfig configures the office's own mails: the monthly bulletin
// and the weekly summary.
type ReportConfig struct {
	// Leaders are addresses that also receive the monthly bulletin. Optional.
	Leaders []string `mapstructure:"leaders"`
	// WeeklyTo are the addresses of the weekly summary (每周综合报告);
	// empty means the office's address.
	WeeklyTo []string `mapstructure:"weekly_to"`
	// PraiseMin is how many instances a unit must have due in the month,
	// all handled on time, to be praised in the bulletin (SPEC §15).
	PraiseMin int `mapstructure:"praise_min"`
}

// SheetsConfig configures the 督办事项通知单 (SPEC §15).
type SheetsConfig struct {
	// Prefix starts every sheet number: <prefix>〔YYYY〕N号.
	Prefix string `mapstructure:"prefix"`
}

// RobotConfig is one work-group robot (自定义机器人 / 群机器人).
type RobotConfig struct {
	Kind    string `mapstructure:"kind"`    // dingtalk | wecom | feishu
	URL     Secret `mapstructure:"url"`     // the webhook; its token is a credential (DUBAN_ROBOTS_<NAME>_URL)
	Secret  Secret `mapstructure:"secret"`  // signing secret (加签); prefer DUBAN_ROBOTS_<NAME>_SECRET
	Keyword string `mapstructure:"keyword"` // put in every message (自定义关键词)
}

// RobotNames returns the names of the configured robots, sorted.
func (c *Config) RobotNames() []string {
	names := make([]string, 0, len(c.Robots))
	for n := range c.Robots {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RobotEnvName is the environment variable giving field (SECRET, URL) of
// robot name: robot mishu-group's secret is DUBAN_ROBOTS_MISHU_GROUP_SECRET.
func RobotEnvName(name, field string) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, name)
	return EnvPrefix + "_ROBOTS_" + n + "_" + field
}

// Secret is a string that is never printed: String, GoString, LogValue and
// MarshalText give "[redacted]" when it is non-empty, and "" when it is empty.
// Use string(s) where the value itself is needed.
type Secret string

const redacted = "[redacted]"

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "[redacted]", or "" when s is empty.
func (s Secret) String() string { return s.shown() }

// GoString makes %#v redact s too.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.shown()) }

// LogValue makes slog redact s.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }

// MarshalText makes encoding/json and YAML encoders redact s.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// Default returns the built-in configuration: every key set to its SPEC §9 default,
// with the parsed fields filled. Its paths are relative; Load resolves them.
// Each call returns fresh slices.
func Default() Config {
	c := Config{
		DB:       "duban.db",
		Timezone: "Asia/Shanghai",
		DayEnd:   "24:00",
		SendTime: "09:00",
		Horizon:  "40d",
		Digest:   true,
		Catchup:  "latest",
		Tracking: []string{},
		Calendar: CalendarConfig{Files: []string{}},
		Mail: MailConfig{
			Transport: "file",
			From:      "督查室 <ducha@example.gov.cn>",
			File:      FileMailConfig{Dir: "outbox"},
			SMTP: SMTPConfig{
				Port:    587,
				TLS:     "starttls",
				Auth:    "login",
				Timeout: 30 * time.Second,
			},
			Retry: RetryConfig{Initial: time.Minute, Max: time.Hour},
		},
		Admin:   AdminConfig{Socket: "duban.sock"},
		Web:     WebConfig{Attachments: AttachmentsConfig{Dir: "attachments", MaxSize: "20MB"}},
		Log:     LogConfig{Level: "info", Format: "text"},
		Report:  ReportConfig{Leaders: []string{}, WeeklyTo: []string{}, PraiseMin: 3},
		Sheets:  SheetsConfig{Prefix: "督"},
		Inbound: InboundConfig{IMAP: IMAPConfig{Port: 993, TLS: "implicit", Mailbox: "INBOX", Poll: time.Minute}},
		Cluster: ClusterConfig{LeaseTTL: 15 * time.Second, Renew: 5 * time.Second},
	}
	if err := c.Validate(); err != nil {
		panic("config: invalid built-in defaults: " + err.Error())
	}
	return c
}

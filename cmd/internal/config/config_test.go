package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"duban/cmd/internal/config"
)

// clearEnv blanks every DUBAN_* override for the test, so the host's environment
// cannot leak in. Empty variables are ignored by Load.
func clearEnv(tb testing.TB) {
	tb.Helper()
	for _, k := range config.Keys() {
		tb.Setenv(config.EnvName(k), "")
	}
}

// mustWrite writes a config file in a fresh temporary directory and returns its path.
func mustWrite(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func mustLoad(tb testing.TB, path string) *config.Config {
	tb.Helper()
	c, err := config.Load(path)
	if err != nil {
		tb.Fatalf("Load(%q): %v", path, err)
	}
	return c
}

// validationErrors returns every *ValidationError in err's tree.
func validationErrors(err error) []*config.ValidationError {
	var out []*config.ValidationError
	var walk func(error)
	walk = func(e error) {
		if ve, ok := e.(*config.ValidationError); ok {
			out = append(out, ve)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

func keysOf(err error) []string {
	var keys []string
	for _, ve := range validationErrors(err) {
		keys = append(keys, ve.Key)
	}
	return keys
}

func TestDefaultValidates(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if got := c.Location.String(); got != "Asia/Shanghai" {
		t.Errorf("Location = %s, want Asia/Shanghai", got)
	}
	if c.DayEndMin != 1440 || c.SendTimeMin != 9*60 || c.HorizonDays != 40 {
		t.Errorf("DayEndMin, SendTimeMin, HorizonDays = %d, %d, %d, want 1440, 540, 40", c.DayEndMin, c.SendTimeMin, c.HorizonDays)
	}
	if c.Tracking == nil || c.Calendar.Files == nil || c.Report.Leaders == nil || c.Report.WeeklyTo == nil {
		t.Errorf("default lists must be empty, not nil: %#v %#v %#v", c.Tracking, c.Calendar.Files, c.Report.Leaders)
	}
	// Each call returns fresh slices.
	c.Tracking = append(c.Tracking, "x")
	if d := config.Default(); len(d.Tracking) != 0 {
		t.Errorf("Default() shares slices between calls: %v", d.Tracking)
	}
}

// The example in the repository must load as is, relative to the repository root.
func TestLoadExample(t *testing.T) {
	clearEnv(t)
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, "../../../config.example.yaml")
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"File", c.File, filepath.Join(root, "config.example.yaml")},
		{"DB", c.DB, filepath.Join(root, "duban.db")},
		{"Mail.File.Dir", c.Mail.File.Dir, filepath.Join(root, "outbox")},
		{"Admin.Socket", c.Admin.Socket, filepath.Join(root, "duban.sock")},
		{"Mail.Transport", c.Mail.Transport, "file"},
		{"Templates", c.Templates, ""},
		{"Mail.SMTP.CAFile", c.Mail.SMTP.CAFile, ""},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
	wantTracking := []string{
		filepath.Join(root, "docs/example/units.yaml"),
		filepath.Join(root, "docs/example/tracked.yaml"),
	}
	if !slices.Equal(c.Tracking, wantTracking) {
		t.Errorf("Tracking = %q, want %q", c.Tracking, wantTracking)
	}
	if len(c.Report.Leaders) != 0 || len(c.Calendar.Files) != 0 {
		t.Errorf("Report.Leaders = %q, Calendar.Files = %q, want both empty", c.Report.Leaders, c.Calendar.Files)
	}

	// Apart from paths and the illustrative smtp/office values, the example shows the defaults.
	d := config.Default()
	c.File, c.DB, c.Tracking, c.Mail.File.Dir, c.Admin.Socket = "", d.DB, d.Tracking, d.Mail.File.Dir, d.Admin.Socket
	c.Web.Attachments.Dir = d.Web.Attachments.Dir
	c.Mail.Office, c.Mail.SMTP.Host, c.Mail.SMTP.Username = "", "", ""
	// The example turns the workspace on; the built-in default keeps it off.
	if c.Web.Listen != "127.0.0.1:8080" {
		t.Errorf("Web.Listen = %q, want 127.0.0.1:8080", c.Web.Listen)
	}
	c.Web.Listen = d.Web.Listen
	if !reflect.DeepEqual(*c, d) {
		t.Errorf("example differs from Default():\n got %+v\nwant %+v", *c, d)
	}
}

func TestLoadGood(t *testing.T) {
	clearEnv(t)
	c := mustLoad(t, "testdata/good.yaml")
	dir, _ := filepath.Abs("testdata")
	want := config.Config{
		File:      filepath.Join(dir, "good.yaml"),
		DB:        filepath.Join(dir, "data/duban.db"),
		Timezone:  "Europe/Berlin",
		DayEnd:    "17:30",
		SendTime:  "08:15",
		Horizon:   "90d",
		Digest:    false,
		Catchup:   "all",
		Tracking:  []string{filepath.Join(dir, "units.yaml"), filepath.Join(dir, "items/tracked.yaml")},
		Calendar:  config.CalendarConfig{Files: []string{filepath.Join(dir, "holidays/2027.json")}},
		Templates: filepath.Join(dir, "tmpl"),
		Mail: config.MailConfig{
			Transport: "smtp",
			From:      "文电处 <wendian@example.gov.cn>",
			Office:    "office@example.gov.cn",
			File:      config.FileMailConfig{Dir: filepath.Join(dir, "spool")},
			SMTP: config.SMTPConfig{
				Host: "smtp.example.gov.cn", Port: 465, TLS: "implicit", CAFile: "/etc/duban/ca.pem",
				Username: "wendian", Password: "s3cret-in-file", Auth: "plain", Timeout: time.Minute,
			},
			Retry: config.RetryConfig{Initial: 30 * time.Second, Max: 2 * time.Hour},
		},
		Admin: config.AdminConfig{Socket: "/run/duban/duban.sock"},
		Log:   config.LogConfig{Level: "debug", Format: "json"},
		Report: config.ReportConfig{Leaders: []string{"秘书长 <msz@example.gov.cn>", "fgld@example.gov.cn"},
			WeeklyTo: []string{"办公室主任 <zhuren@example.gov.cn>", "ducha@example.gov.cn"}, PraiseMin: 3},
		Sheets:      config.SheetsConfig{Prefix: "督"},
		Inbound:     config.Default().Inbound,
		Cluster:     config.ClusterConfig{Node: "duban-2", LeaseTTL: 30 * time.Second, Renew: 10 * time.Second},
		Web:         config.WebConfig{Attachments: config.AttachmentsConfig{Dir: filepath.Join(dir, "attachments"), MaxSize: "20MB"}},
		DayEndMin:   17*60 + 30,
		SendTimeMin: 8*60 + 15,
		HorizonDays: 90,
	}
	if c.Location == nil || c.Location.String() != "Europe/Berlin" {
		t.Errorf("Location = %v, want Europe/Berlin", c.Location)
	}
	c.Location = nil
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("Load(good.yaml):\n got %+v\nwant %+v", *c, want)
	}
	if got := c.Log.SlogLevel(); got != slog.LevelDebug {
		t.Errorf("SlogLevel() = %v, want DEBUG", got)
	}
}

// With no file, Load gives the defaults with paths resolved against the working directory.
func TestLoadNoFile(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	t.Chdir(dir)
	c := mustLoad(t, "")
	if c.File != "" {
		t.Errorf("File = %q, want empty", c.File)
	}
	if want := filepath.Join(dir, "duban.db"); c.DB != want {
		t.Errorf("DB = %q, want %q", c.DB, want)
	}
	if want := filepath.Join(dir, "duban.sock"); c.Admin.Socket != want {
		t.Errorf("Admin.Socket = %q, want %q", c.Admin.Socket, want)
	}
	if c.Timezone != "Asia/Shanghai" || c.Mail.Transport != "file" || !c.Digest {
		t.Errorf("got %+v, want the defaults", c)
	}
}

func TestLoadMissingFile(t *testing.T) {
	clearEnv(t)
	_, err := config.Load(filepath.Join(t.TempDir(), "duban.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestEnvOverride(t *testing.T) {
	const file = `day_end: "17:30"
mail:
  smtp:
    host: smtp.example.gov.cn
    username: ducha
`
	tests := []struct {
		name  string
		env   map[string]string
		check func(*config.Config) error
	}{
		{
			name: "key present in the file",
			env:  map[string]string{"DUBAN_DAY_END": "18:00"},
			check: func(c *config.Config) error {
				if c.DayEnd != "18:00" || c.DayEndMin != 18*60 {
					return fmt.Errorf("DayEnd = %q (%d), want 18:00 (1080)", c.DayEnd, c.DayEndMin)
				}
				return nil
			},
		},
		{
			name: "secret absent from the file",
			env:  map[string]string{"DUBAN_MAIL_SMTP_PASSWORD": "from-env"},
			check: func(c *config.Config) error {
				if c.Mail.SMTP.Password != "from-env" {
					return fmt.Errorf("password not taken from DUBAN_MAIL_SMTP_PASSWORD")
				}
				return nil
			},
		},
		{
			name: "int absent from the file, nested section present",
			env:  map[string]string{"DUBAN_MAIL_SMTP_PORT": "2525"},
			check: func(c *config.Config) error {
				if c.Mail.SMTP.Port != 2525 {
					return fmt.Errorf("Port = %d, want 2525", c.Mail.SMTP.Port)
				}
				return nil
			},
		},
		{
			name: "nested section absent from the file",
			env:  map[string]string{"DUBAN_MAIL_RETRY_MAX": "3h", "DUBAN_LOG_FORMAT": "json", "DUBAN_ADMIN_SOCKET": "/tmp/x.sock"},
			check: func(c *config.Config) error {
				if c.Mail.Retry.Max != 3*time.Hour || c.Log.Format != "json" || c.Admin.Socket != "/tmp/x.sock" {
					return fmt.Errorf("Retry.Max, Log.Format, Admin.Socket = %v, %q, %q", c.Mail.Retry.Max, c.Log.Format, c.Admin.Socket)
				}
				return nil
			},
		},
		{
			name: "bool and lists",
			env: map[string]string{
				"DUBAN_DIGEST":           "false",
				"DUBAN_TRACKING":         "/a.yaml, /b.yaml",
				"DUBAN_REPORT_LEADERS":   "a@example.gov.cn,b@example.gov.cn",
				"DUBAN_REPORT_WEEKLY_TO": "主任 <zr@example.gov.cn>",
			},
			check: func(c *config.Config) error {
				if c.Digest {
					return errors.New("Digest = true, want false")
				}
				if want := []string{"/a.yaml", "/b.yaml"}; !slices.Equal(c.Tracking, want) {
					return fmt.Errorf("Tracking = %q, want %q", c.Tracking, want)
				}
				if len(c.Report.Leaders) != 2 {
					return fmt.Errorf("Report.Leaders = %q, want 2", c.Report.Leaders)
				}
				if want := []string{"主任 <zr@example.gov.cn>"}; !slices.Equal(c.Report.WeeklyTo, want) {
					return fmt.Errorf("Report.WeeklyTo = %q, want %q", c.Report.WeeklyTo, want)
				}
				return nil
			},
		},
		{
			name: "smtp transport from the environment only",
			env:  map[string]string{"DUBAN_MAIL_TRANSPORT": "smtp", "DUBAN_MAIL_SMTP_PASSWORD": "pw"},
			check: func(c *config.Config) error {
				if c.Mail.Transport != "smtp" || c.Mail.SMTP.Host != "smtp.example.gov.cn" {
					return fmt.Errorf("Transport, Host = %q, %q", c.Mail.Transport, c.Mail.SMTP.Host)
				}
				return nil
			},
		},
		{
			name: "empty variable is ignored",
			env:  map[string]string{"DUBAN_DAY_END": ""},
			check: func(c *config.Config) error {
				if c.DayEnd != "17:30" {
					return fmt.Errorf("DayEnd = %q, want the file's 17:30", c.DayEnd)
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c := mustLoad(t, mustWrite(t, "duban.yaml", file))
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}

	t.Run("no file", func(t *testing.T) {
		clearEnv(t)
		t.Setenv("DUBAN_DAY_END", "17:00")
		t.Setenv("DUBAN_MAIL_SMTP_PORT", "25")
		t.Setenv("DUBAN_MAIL_SMTP_PASSWORD", "pw")
		c := mustLoad(t, "")
		if c.DayEnd != "17:00" || c.Mail.SMTP.Port != 25 || c.Mail.SMTP.Password != "pw" {
			t.Errorf("DayEnd, Port, Password-set = %q, %d, %t", c.DayEnd, c.Mail.SMTP.Port, c.Mail.SMTP.Password != "")
		}
	})
}

// Bad values from the environment name the variable.
func TestEnvBadValue(t *testing.T) {
	tests := []struct {
		env, value, key string
	}{
		{"DUBAN_MAIL_SMTP_PORT", "abc", "mail.smtp.port"}, // type error
		{"DUBAN_DIGEST", "maybe", "digest"},
		{"DUBAN_MAIL_RETRY_INITIAL", "5 minutes", "mail.retry.initial"},
		{"DUBAN_DAY_END", "25:00", "day_end"}, // validation error
		{"DUBAN_LOG_LEVEL", "verbose", "log.level"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.env, tt.value)
			_, err := config.Load(mustWrite(t, "duban.yaml", "db: duban.db\n"))
			if keys := keysOf(err); !slices.Equal(keys, []string{tt.key}) {
				t.Fatalf("Load: %v; keys %q, want [%s]", err, keys, tt.key)
			}
			if !strings.HasPrefix(err.Error(), tt.env+": "+tt.key+": ") || !strings.Contains(err.Error(), tt.value) {
				t.Errorf("Load: %q, want it to start with %q and show %q", err, tt.env+": "+tt.key+": ", tt.value)
			}
		})
	}
}

func TestUnknownKey(t *testing.T) {
	clearEnv(t)
	_, err := config.Load("testdata/bad-unknown.yaml")
	if !errors.Is(err, config.ErrUnknownKey) {
		t.Fatalf("Load = %v, want ErrUnknownKey", err)
	}
	if keys := keysOf(err); !slices.Equal(keys, []string{"mail.smtp.pasword", "remind_days"}) {
		t.Errorf("keys = %q, want [mail.smtp.pasword remind_days]", keys)
	}
	for _, want := range []string{
		"testdata/bad-unknown.yaml: line 6: unknown key mail.smtp.pasword",
		"testdata/bad-unknown.yaml: line 7: unknown key remind_days",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load: %q, want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the misspelt password: %q", err)
	}
}

func TestSyntaxError(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"mapping value", "", "bad-syntax.yaml: line 4: mapping values are not allowed in this context"},
		{"tab", "mail:\n\ttransport: file\n", "duban.yaml: line 2: "},
		{"unterminated quote", "db: duban.db\nday_end: \"17:30\n", "duban.yaml: line 2: found unexpected end of stream"},
		{"duplicate key", "db: a.db\ndb: b.db\n", `duban.yaml: line 2: mapping key "db" already defined at line 1`},
		{"not a mapping", "- db\n", "duban.yaml: line 1: the document must be a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			path := "testdata/bad-syntax.yaml"
			if tt.content != "" {
				path = mustWrite(t, "duban.yaml", tt.content)
			}
			_, err := config.Load(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "While parsing config") {
				t.Errorf("Load = %q, leaks viper's wording", err)
			}
		})
	}
}

// Wrong types in the file name the key and the line.
func TestTypeError(t *testing.T) {
	tests := []struct {
		name, content, env, key, want string
	}{
		{"int", "mail:\n  smtp:\n    port: lots\n", "", "mail.smtp.port", `duban.yaml: line 3: mail.smtp.port: must be an integer (got "lots")`},
		{"duration", "mail:\n  retry:\n    max: forever\n", "", "mail.retry.max", `line 3: mail.retry.max: must be a duration`},
		{"section", "mail: smtp\n", "", "mail", `line 1: mail: must be a mapping of keys (got "smtp")`},
		// viper would let the variable replace the scalar silently.
		{"section with a variable inside", "mail: smtp\n", "DUBAN_MAIL_TRANSPORT", "mail", `line 1: mail: must be a mapping of keys (got "smtp")`},
		{"list for a string", "db: [a.db, b.db]\n", "", "db", "line 1: db: must be a string (got a list)"},
		{"mapping for a list", "tracking: {a: 1}\n", "", "tracking[0]", "line 1: tracking[0]: must be a string (got a mapping)"},
		{"secret", "mail:\n  smtp:\n    password: {p: leaked-secret}\n", "", "mail.smtp.password", "line 3: mail.smtp.password: must be a string (got a mapping)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.env != "" {
				t.Setenv(tt.env, "file")
			}
			_, err := config.Load(mustWrite(t, "duban.yaml", tt.content))
			if keys := keysOf(err); !slices.Equal(keys, []string{tt.key}) {
				t.Fatalf("Load: %v; keys %q, want [%s]", err, keys, tt.key)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "leaked-secret") {
				t.Errorf("Load: %q shows the password", err)
			}
		})
	}
}

// Validation errors of a loaded file carry the file and the line of the key.
func TestLoadValidationPlaced(t *testing.T) {
	clearEnv(t)
	_, err := config.Load("testdata/bad-values.yaml")
	wantKeys := []string{"day_end", "horizon", "mail.smtp.port", "mail.smtp.tls", "report.leaders[1]"}
	if keys := keysOf(err); !slices.Equal(keys, wantKeys) {
		t.Fatalf("Load: %v\nkeys %q, want %q", err, keys, wantKeys)
	}
	for _, want := range []string{
		`testdata/bad-values.yaml: line 2: day_end: must be HH:MM from 00:00 to 24:00 (got "25:00")`,
		`testdata/bad-values.yaml: line 3: horizon: `,
		`testdata/bad-values.yaml: line 8: mail.smtp.port: must be 1-65535 (got 0)`,
		`testdata/bad-values.yaml: line 9: mail.smtp.tls: none is allowed only for a loopback host`,
		`testdata/bad-values.yaml: line 14: report.leaders[1]: must be an email address`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load: %q\nwant it to contain %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	smtp := func(c *config.Config) {
		c.Mail.Transport = "smtp"
		c.Mail.SMTP.Host = "smtp.example.gov.cn"
		c.Mail.SMTP.Username = "ducha"
		c.Mail.SMTP.Password = "pw"
	}
	tests := []struct {
		name   string
		modify func(*config.Config)
		key    string // "" when valid
	}{
		{"defaults", func(c *config.Config) {}, ""},
		{"smtp complete", smtp, ""},
		{"db empty", func(c *config.Config) { c.DB = "" }, "db"},
		{"timezone unknown", func(c *config.Config) { c.Timezone = "Asia/Shangai" }, "timezone"},
		{"timezone empty", func(c *config.Config) { c.Timezone = "" }, "timezone"},
		{"timezone UTC", func(c *config.Config) { c.Timezone = "UTC" }, ""},
		{"day_end 25:00", func(c *config.Config) { c.DayEnd = "25:00" }, "day_end"},
		{"day_end 24:01", func(c *config.Config) { c.DayEnd = "24:01" }, "day_end"},
		{"day_end 17:60", func(c *config.Config) { c.DayEnd = "17:60" }, "day_end"},
		{"day_end 9:00", func(c *config.Config) { c.DayEnd = "9:00" }, "day_end"},
		{"day_end 00:00", func(c *config.Config) { c.DayEnd = "00:00" }, ""},
		{"send_time empty", func(c *config.Config) { c.SendTime = "" }, "send_time"},
		{"send_time 9am", func(c *config.Config) { c.SendTime = "9am" }, "send_time"},
		{"horizon 0d", func(c *config.Config) { c.Horizon = "0d" }, "horizon"},
		{"horizon 3661d", func(c *config.Config) { c.Horizon = "3661d" }, "horizon"},
		{"horizon 3660d", func(c *config.Config) { c.Horizon = "3660d" }, ""},
		{"horizon weeks", func(c *config.Config) { c.Horizon = "6w" }, "horizon"},
		{"horizon working days", func(c *config.Config) { c.Horizon = "40wd" }, "horizon"},
		{"horizon huge", func(c *config.Config) { c.Horizon = "99999999999999999999d" }, "horizon"},
		{"catchup", func(c *config.Config) { c.Catchup = "some" }, "catchup"},
		{"catchup none", func(c *config.Config) { c.Catchup = "none" }, ""},
		{"tracking empty entry", func(c *config.Config) { c.Tracking = []string{"a.yaml", " "} }, "tracking[1]"},
		{"calendar empty entry", func(c *config.Config) { c.Calendar.Files = []string{""} }, "calendar.files[0]"},
		{"transport", func(c *config.Config) { c.Mail.Transport = "sendmail" }, "mail.transport"},
		{"from not an address", func(c *config.Config) { c.Mail.From = "督查室" }, "mail.from"},
		{"from empty", func(c *config.Config) { c.Mail.From = "" }, "mail.from"},
		{"from CRLF", func(c *config.Config) { c.Mail.From = "a@example.gov.cn\r\nBcc: evil@example.com" }, "mail.from"},
		{"office bad", func(c *config.Config) { c.Mail.Office = "office" }, "mail.office"},
		{"office LF", func(c *config.Config) { c.Mail.Office = "office@example.gov.cn\n" }, "mail.office"},
		{"file dir empty", func(c *config.Config) { c.Mail.File.Dir = "" }, "mail.file.dir"},
		{"file dir ignored with smtp", func(c *config.Config) { smtp(c); c.Mail.File.Dir = "" }, ""},
		{"smtp ignored with file", func(c *config.Config) { c.Mail.SMTP.Port = 0; c.Mail.SMTP.TLS = "none" }, ""},
		{"smtp host empty", func(c *config.Config) { smtp(c); c.Mail.SMTP.Host = "" }, "mail.smtp.host"},
		{"smtp port 0", func(c *config.Config) { smtp(c); c.Mail.SMTP.Port = 0 }, "mail.smtp.port"},
		{"smtp port 65536", func(c *config.Config) { smtp(c); c.Mail.SMTP.Port = 65536 }, "mail.smtp.port"},
		{"smtp tls bad", func(c *config.Config) { smtp(c); c.Mail.SMTP.TLS = "ssl" }, "mail.smtp.tls"},
		{"smtp tls none remote", func(c *config.Config) { smtp(c); c.Mail.SMTP.TLS = "none" }, "mail.smtp.tls"},
		{"smtp tls none 10.0.0.1", func(c *config.Config) { smtp(c); c.Mail.SMTP.Host = "10.0.0.1"; c.Mail.SMTP.TLS = "none" }, "mail.smtp.tls"},
		{"smtp tls none 127.0.0.1", func(c *config.Config) { smtp(c); c.Mail.SMTP.Host = "127.0.0.1"; c.Mail.SMTP.TLS = "none" }, ""},
		{"smtp tls none ::1", func(c *config.Config) { smtp(c); c.Mail.SMTP.Host = "::1"; c.Mail.SMTP.TLS = "none" }, ""},
		{"smtp tls none localhost", func(c *config.Config) { smtp(c); c.Mail.SMTP.Host = "localhost"; c.Mail.SMTP.TLS = "none" }, ""},
		{"smtp auth bad", func(c *config.Config) { smtp(c); c.Mail.SMTP.Auth = "cram-md5" }, "mail.smtp.auth"},
		{"smtp username missing", func(c *config.Config) { smtp(c); c.Mail.SMTP.Username = "" }, "mail.smtp.username"},
		{"smtp password missing", func(c *config.Config) { smtp(c); c.Mail.SMTP.Password = "" }, "mail.smtp.password"},
		{"smtp auth none", func(c *config.Config) {
			smtp(c)
			c.Mail.SMTP.Auth, c.Mail.SMTP.Username, c.Mail.SMTP.Password = "none", "", ""
		}, ""},
		{"smtp timeout 0", func(c *config.Config) { smtp(c); c.Mail.SMTP.Timeout = 0 }, "mail.smtp.timeout"},
		{"retry initial 0", func(c *config.Config) { c.Mail.Retry.Initial = 0 }, "mail.retry.initial"},
		{"retry max < initial", func(c *config.Config) { c.Mail.Retry.Max = 30 * time.Second }, "mail.retry.max"},
		{"retry max = initial", func(c *config.Config) { c.Mail.Retry.Max = c.Mail.Retry.Initial }, ""},
		{"log level", func(c *config.Config) { c.Log.Level = "verbose" }, "log.level"},
		{"log format", func(c *config.Config) { c.Log.Format = "xml" }, "log.format"},
		{"admin socket", func(c *config.Config) { c.Admin.Socket = "" }, "admin.socket"},
		{"leaders bad", func(c *config.Config) { c.Report.Leaders = []string{"a@example.gov.cn", "秘书长"} }, "report.leaders[1]"},
		{"leaders CR", func(c *config.Config) { c.Report.Leaders = []string{"a@example.gov.cn\r"} }, "report.leaders[0]"},
		{"leaders ok", func(c *config.Config) { c.Report.Leaders = []string{"秘书长 <msz@example.gov.cn>"} }, ""},
		{"weekly_to bad", func(c *config.Config) { c.Report.WeeklyTo = []string{"a@example.gov.cn", "主任"} }, "report.weekly_to[1]"},
		{"weekly_to ok", func(c *config.Config) { c.Report.WeeklyTo = []string{"主任 <zr@example.gov.cn>"} }, ""},
		{"cluster node ok", func(c *config.Config) { c.Cluster.Node = "db1.example.gov.cn:duban-1" }, ""},
		{"cluster node space", func(c *config.Config) { c.Cluster.Node = "node 1" }, "cluster.node"},
		{"cluster node CRLF", func(c *config.Config) { c.Cluster.Node = "n1\r\nBcc: evil@example.com" }, "cluster.node"},
		{"cluster node Chinese", func(c *config.Config) { c.Cluster.Node = "北京节点" }, "cluster.node"},
		{"cluster node too long", func(c *config.Config) { c.Cluster.Node = strings.Repeat("n", config.MaxNodeName+1) }, "cluster.node"},
		{"cluster lease_ttl 0", func(c *config.Config) { c.Cluster.LeaseTTL = 0 }, "cluster.lease_ttl"},
		{"cluster lease_ttl 3s", func(c *config.Config) { c.Cluster.LeaseTTL, c.Cluster.Renew = 3*time.Second, time.Second }, ""},
		{"cluster renew 0", func(c *config.Config) { c.Cluster.Renew = 0 }, "cluster.renew"},
		{"cluster renew over a third", func(c *config.Config) { c.Cluster.Renew = 6 * time.Second }, "cluster.renew"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if keys := keysOf(err); !slices.Equal(keys, []string{tt.key}) {
				t.Fatalf("Validate() = %v; keys %q, want [%s]", err, keys, tt.key)
			}
			if ve.Err == nil || !strings.HasPrefix(ve.Error(), tt.key+": ") {
				t.Errorf("Error() = %q, want it to start with %q", ve.Error(), tt.key+": ")
			}
		})
	}
}

func TestValidationErrorFormat(t *testing.T) {
	c := config.Default()
	c.Mail.Transport = "smtp"
	c.Mail.SMTP.Host, c.Mail.SMTP.Username, c.Mail.SMTP.Password = "h", "u", "p"
	c.Mail.SMTP.Port = 0
	err := c.Validate()
	if got, want := err.Error(), "mail.smtp.port: must be 1-65535 (got 0)"; got != want {
		t.Errorf("Validate() = %q, want %q", got, want)
	}
	// Several problems are all reported.
	c.Log.Level, c.Admin.Socket = "", ""
	if keys := keysOf(c.Validate()); len(keys) != 3 {
		t.Errorf("keys = %q, want 3", keys)
	}
}

func TestSecretRedacted(t *testing.T) {
	const pw = "hunter2-xyzzy"
	c := config.Default()
	c.Mail.SMTP.Password = pw
	s := c.Mail.SMTP.Password

	var out []string
	for _, f := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x"} {
		out = append(out, fmt.Sprintf(f, s), fmt.Sprintf(f, c), fmt.Sprintf(f, &c), fmt.Sprintf(f, c.Mail))
	}
	out = append(out, fmt.Sprint(s), fmt.Sprintln(c.Mail.SMTP))

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Info("config", "password", s, "smtp", c.Mail.SMTP, "config", c)
	}
	out = append(out, logs.String())

	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))

	for _, o := range out {
		if strings.Contains(o, pw) || strings.Contains(o, fmt.Sprintf("%x", pw)) {
			t.Errorf("password shown: %s", o)
		}
	}
	if got := fmt.Sprint(s); got != "[redacted]" {
		t.Errorf("Sprint(secret) = %q, want [redacted]", got)
	}
	if !strings.Contains(logs.String(), "password=[redacted]") || !strings.Contains(logs.String(), `"password":"[redacted]"`) {
		t.Errorf("slog output lacks the redacted password:\n%s", logs.String())
	}
	if string(s) != pw {
		t.Errorf("string(secret) = %q, want the value", string(s))
	}
	if got := fmt.Sprint(config.Secret("")); got != "" {
		t.Errorf("Sprint(empty secret) = %q, want empty", got)
	}
}

func TestRelativePaths(t *testing.T) {
	clearEnv(t)
	path := mustWrite(t, "etc/duban.yaml", `db: data/duban.db
tracking: [../items/a.yaml, /abs/b.yaml]
calendar: {files: [2027.json]}
templates: tmpl
mail:
  file: {dir: ./outbox}
  smtp: {ca_file: ca.pem}
admin: {socket: /run/duban.sock}
`)
	dir := filepath.Dir(path)
	t.Setenv("DUBAN_REPORT_LEADERS", "a@example.gov.cn")
	t.Setenv("DUBAN_MAIL_FILE_DIR", "spool") // relative from the environment: also against the file
	t.Chdir(t.TempDir())                     // the working directory must not matter

	c := mustLoad(t, path)
	checks := []struct{ name, got, want string }{
		{"DB", c.DB, filepath.Join(dir, "data/duban.db")},
		{"Tracking[0]", c.Tracking[0], filepath.Join(filepath.Dir(dir), "items/a.yaml")},
		{"Tracking[1]", c.Tracking[1], "/abs/b.yaml"},
		{"Calendar.Files[0]", c.Calendar.Files[0], filepath.Join(dir, "2027.json")},
		{"Templates", c.Templates, filepath.Join(dir, "tmpl")},
		{"Mail.File.Dir", c.Mail.File.Dir, filepath.Join(dir, "spool")},
		{"Mail.SMTP.CAFile", c.Mail.SMTP.CAFile, filepath.Join(dir, "ca.pem")},
		{"Admin.Socket", c.Admin.Socket, "/run/duban.sock"},
		{"Report.Leaders[0]", c.Report.Leaders[0], "a@example.gov.cn"}, // not a path
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}

	// A relative config path is made absolute against the working directory.
	rel, err := filepath.Rel(mustGetwd(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if c := mustLoad(t, rel); c.File != path || c.DB != filepath.Join(dir, "data/duban.db") {
		t.Errorf("Load(%q): File, DB = %q, %q", rel, c.File, c.DB)
	}
}

func mustGetwd(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	return wd
}

// tls none is refused for a remote host, through Load as well.
func TestLoadTLSNoneRemote(t *testing.T) {
	clearEnv(t)
	t.Setenv("DUBAN_MAIL_SMTP_PASSWORD", "pw")
	const file = `mail:
  transport: smtp
  smtp: {host: %s, port: 25, tls: none, username: u}
`
	_, err := config.Load(mustWrite(t, "duban.yaml", fmt.Sprintf(file, "smtp.example.gov.cn")))
	if keys := keysOf(err); !slices.Equal(keys, []string{"mail.smtp.tls"}) {
		t.Fatalf("Load(remote, tls none) = %v, want mail.smtp.tls", err)
	}
	if _, err := config.Load(mustWrite(t, "duban.yaml", fmt.Sprintf(file, "127.0.0.1"))); err != nil {
		t.Errorf("Load(127.0.0.1, tls none) = %v", err)
	}
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"mail.smtp.password": "DUBAN_MAIL_SMTP_PASSWORD",
		"day_end":            "DUBAN_DAY_END",
		"report.leaders[3]":  "DUBAN_REPORT_LEADERS",
		"mail.smtp.ca_file":  "DUBAN_MAIL_SMTP_CA_FILE",
	} {
		if got := config.EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
	keys := config.Keys()
	seen := map[string]string{}
	for _, k := range keys {
		if other, ok := seen[config.EnvName(k)]; ok {
			t.Errorf("keys %q and %q share %s", other, k, config.EnvName(k))
		}
		seen[config.EnvName(k)] = k
	}
	for _, k := range []string{"db", "calendar.files", "mail.smtp.password", "mail.retry.max", "report.leaders"} {
		if !slices.Contains(keys, k) {
			t.Errorf("Keys() lacks %q: %q", k, keys)
		}
	}
	if slices.Contains(keys, "mail") || slices.Contains(keys, "file") {
		t.Errorf("Keys() = %q, want leaf keys only", keys)
	}
}

// NodeName defaults to <hostname>:<pid>, a name the validation accepts.
func TestNodeName(t *testing.T) {
	c := config.Default()
	host, _ := os.Hostname()
	got := c.Cluster.NodeName()
	if !strings.HasSuffix(got, ":"+strconv.Itoa(os.Getpid())) || (host != "" && !strings.HasPrefix(got, host[:1])) {
		t.Errorf("NodeName() = %q, want <hostname>:%d", got, os.Getpid())
	}
	c.Cluster.Node = got
	if err := c.Validate(); err != nil {
		t.Errorf("the default node name %q does not validate: %v", got, err)
	}
	c.Cluster.Node = "duban-1"
	if got := c.Cluster.NodeName(); got != "duban-1" {
		t.Errorf("NodeName() = %q, want the configured duban-1", got)
	}
}

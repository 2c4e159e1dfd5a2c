package notify

import (
	"errors"
	"strings"
	"testing"
)

func TestAuthAllowed(t *testing.T) {
	tests := []struct {
		tls  bool
		host string
		ok   bool
	}{
		{true, "smtp.example.gov.cn", true},
		{false, "smtp.example.gov.cn", false},
		{false, "10.0.0.25", false},
		{false, "localhost.example.gov.cn", false},
		{false, "127.0.0.1", true},
		{false, "127.8.9.10", true},
		{false, "::1", true},
		{false, "[::1]", true},
		{false, "LOCALHOST", true},
		{false, "localhost.", true},
	}
	for _, tt := range tests {
		err := authAllowed(tt.tls, tt.host)
		if (err == nil) != tt.ok {
			t.Errorf("authAllowed(%v, %q) = %v, want ok=%v", tt.tls, tt.host, err, tt.ok)
		}
		if err != nil && !errors.Is(err, errAuthWithoutTLS) {
			t.Errorf("authAllowed(%v, %q) = %v, want errAuthWithoutTLS", tt.tls, tt.host, err)
		}
	}
}

func TestLoginClientIgnoresChallengeText(t *testing.T) {
	for _, prompts := range [][2]string{
		{"Username:", "Password:"},
		{"username:", "password:"},
		{"User Name\x00", "Password\x00"},
		{"", ""},
		{"VXNlcm5hbWU6", "UGFzc3dvcmQ6"}, // a server that double-encodes
	} {
		c := newLoginClient("ducha", "hunter2")
		mech, ir, err := c.Start()
		if mech != "LOGIN" || ir != nil || err != nil {
			t.Fatalf("Start() = %q, %q, %v", mech, ir, err)
		}
		user, err1 := c.Next([]byte(prompts[0]))
		pass, err2 := c.Next([]byte(prompts[1]))
		if string(user) != "ducha" || string(pass) != "hunter2" || err1 != nil || err2 != nil {
			t.Errorf("prompts %q: answered %q, %q (%v, %v)", prompts, user, pass, err1, err2)
		}
		_, err = c.Next([]byte("again"))
		if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "again") {
			t.Errorf("third challenge: error %v", err)
		}
	}
}

func TestCnIndex(t *testing.T) {
	for i, want := range map[int]string{0: "一", 8: "九", 9: "十", 10: "十一", 18: "十九", 19: "二十", 20: "二十一", 98: "九十九", 99: "100"} {
		if got := cnIndex(i); got != want {
			t.Errorf("cnIndex(%d) = %q, want %q", i, got, want)
		}
	}
}

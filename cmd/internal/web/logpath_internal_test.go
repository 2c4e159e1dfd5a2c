package web

import "testing"

// TestLogPathHidesLinkTokens: a personal link's token never reaches the log.
func TestLogPathHidesLinkTokens(t *testing.T) {
	for in, want := range map[string]string{
		"/r/abc.def":              "/r/…",
		"/r/abc.def/files/0f1e2d": "/r/…/files/0f1e2d",
		"/instances/minutes-31":   "/instances/minutes-31",
	} {
		if got := logPath(in); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}

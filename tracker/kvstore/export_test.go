package kvstore

// RedactURL exports redactURL to the tests.
var RedactURL = redactURL

// SetHandOver sets handOver for a test; the returned function restores it.
func SetHandOver(n int) (restore func()) {
	old := handOver
	handOver = n
	return func() { handOver = old }
}

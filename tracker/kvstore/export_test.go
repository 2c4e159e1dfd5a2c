package kvstore

// RedactURL exports redactURL to the tests.
var RedactURL = redactURL

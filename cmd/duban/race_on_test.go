//go:build race

package main

// raceDetector is true when the tests run with -race (about 5× slower).
const raceDetector = true

//go:build unix

package kvstore_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) this process has used.
// Benchmarks report it next to wall time: on a shared machine it is the
// steadier number.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

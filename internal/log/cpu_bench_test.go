package log

import (
	"syscall"
	"testing"
	"time"
)

// processCPU is the process's user+system CPU time. On a loaded machine a
// benchmark's wall time says more about its neighbours than about the
// code; the CPU it spent per operation (cpu-ns/op) stays put.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

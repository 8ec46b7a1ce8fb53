package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// startBrokerProfile writes a CPU profile of the broker's whole run to
// cpuPath (skiff broker --cpuprofile), for `go tool pprof`:
// bench/broker-ingest.sh uses it to find where ingest time goes. With
// tracePath (--trace) it also writes a runtime execution trace, for `go
// tool trace`: bench/latency.sh uses it to see where a slow request waited
// (scheduler, GC, syscalls). The returned stop ends both and closes the
// files.
func startBrokerProfile(cpuPath, tracePath string) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for _, s := range stops {
			s()
		}
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
		stops = append(stops, func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			stop()
			return nil, fmt.Errorf("--trace: %w", err)
		}
		if err := trace.Start(f); err != nil {
			stop()
			return nil, errors.Join(fmt.Errorf("--trace: %w", err), f.Close())
		}
		stops = append(stops, func() {
			trace.Stop()
			f.Close()
		})
	}
	return stop, nil
}

package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startBrokerProfile writes a CPU profile of the broker's whole run to
// path (skiff broker --cpuprofile), for `go tool pprof`:
// bench/broker-ingest.sh uses it to find where ingest time goes. The
// returned stop ends the profile and closes the file.
func startBrokerProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

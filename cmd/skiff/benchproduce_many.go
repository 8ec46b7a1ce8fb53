package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"
)

// benchGate, when set, is where every client's timed part waits, warmed up
// (connection, metadata, producer id), for the others (--producers). A
// variable rather than a parameter of timed, which each client's runner
// calls.
var benchGate func()

// benchManyMain is `skiff bench-produce --producers N`: N independent
// clients, each with its own connection, share --records (issue 14: the
// broker's aggregate rate with 200 producer connections against 8). The
// clock starts once every client has warmed up, and stops when the last
// one has every record acknowledged. It prints the same line as one
// client, with producers=N, so bench/broker-ingest.sh reads either.
func benchManyMain(ctx context.Context, run func(context.Context, benchProduceSettings) (time.Duration, uint64, error),
	s benchProduceSettings, client string, n int, profiling bool, stdout, stderr io.Writer) int {
	if profiling {
		fmt.Fprintln(stderr, "skiff bench-produce: --cpuprofile profiles one client; not with --producers")
		return 2
	}
	if s.records < n {
		fmt.Fprintf(stderr, "skiff bench-produce: --records %d cannot be split between %d producers\n", s.records, n)
		return 2
	}
	var (
		arrived = make(chan struct{}, n)
		start   = make(chan struct{})
		failed  = make(chan error, n)
		wg      sync.WaitGroup
	)
	benchGate = func() {
		arrived <- struct{}{}
		<-start
	}
	defer func() { benchGate = nil }()
	for i := range n {
		one := s
		one.records = s.records / n
		if i < s.records%n {
			one.records++
		}
		wg.Go(func() {
			if _, _, err := run(ctx, one); err != nil {
				failed <- fmt.Errorf("producer %d: %w", i, err)
			}
		})
	}
	// report waits for every client and prints what failed, if anything.
	report := func() int {
		wg.Wait()
		close(failed)
		var errs []error
		for err := range failed {
			errs = append(errs, err)
		}
		if len(errs) > 0 {
			fmt.Fprintf(stderr, "skiff bench-produce: %s: %v\n", client, errors.Join(errs...))
			return 1
		}
		return 0
	}
	for ready := 0; ready < n; {
		select {
		case <-arrived:
			ready++
		case err := <-failed: // in its warm-up: the others would wait forever
			failed <- err
			close(start) // the warmed-up ones go on, and finish or stop with ctx
			return report()
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuStart := processCPU()
	counts := takeBenchCounts()
	began := time.Now()
	close(start)
	if code := report(); code != 0 {
		return code
	}
	elapsed := time.Since(began)
	cpu := processCPU() - cpuStart
	sent := takeBenchCounts().minus(counts)
	runtime.ReadMemStats(&after)
	fmt.Fprintf(stdout, "client=%s producers=%d records=%d seconds=%.3f records/s=%.0f allocs/record=%.3f cpu-ns/record=%.0f %s\n",
		client, n, s.records, elapsed.Seconds(), float64(s.records)/elapsed.Seconds(),
		float64(after.Mallocs-before.Mallocs)/float64(s.records), float64(cpu.Nanoseconds())/float64(s.records), sent.fields())
	return 0
}

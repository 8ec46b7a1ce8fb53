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

// benchManyMain is `skiff bench-produce --producers N`: N independent
// clients, each with its own connection, share --records (issue 14: the
// broker's aggregate rate with 200 producer connections against 8). Every
// client warms up first (connection, metadata, producer id); the clock
// starts when all have, and stops when the last one has every record
// acknowledged. It prints the same line as one client, with producers=N,
// so bench/broker-ingest.sh reads either.
func benchManyMain(ctx context.Context, run func(context.Context, benchProduceSettings) (time.Duration, uint64, error),
	s benchProduceSettings, client string, n int, stdout, stderr io.Writer) int {
	if s.profile != nil {
		fmt.Fprintln(stderr, "skiff bench-produce: --cpuprofile profiles one client; not with --producers")
		return 2
	}
	if s.records < n {
		fmt.Fprintf(stderr, "skiff bench-produce: --records %d cannot be split between %d producers\n", s.records, n)
		return 2
	}
	var (
		warmed sync.WaitGroup // every client is warmed up, or gave up
		start  = make(chan struct{})
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
	)
	warmed.Add(n)
	for i := range n {
		one := s
		one.records = s.records / n
		if i < s.records%n {
			one.records++
		}
		var once sync.Once
		ready := func() { once.Do(warmed.Done) }
		one.gate = func() {
			ready()
			<-start
		}
		wg.Go(func() {
			defer ready() // a client that failed before its gate
			if _, _, err := run(ctx, one); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("producer %d: %w", i, err))
				mu.Unlock()
			}
		})
	}
	warmed.Wait()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuStart := processCPU()
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	cpu := processCPU() - cpuStart
	runtime.ReadMemStats(&after)
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "skiff bench-produce: %s: %v\n", client, err)
		return 1
	}
	fmt.Fprintf(stdout, "client=%s producers=%d records=%d seconds=%.3f records/s=%.0f allocs/record=%.3f cpu-ns/record=%.0f\n",
		client, n, s.records, elapsed.Seconds(), float64(s.records)/elapsed.Seconds(),
		float64(after.Mallocs-before.Mallocs)/float64(s.records), float64(cpu.Nanoseconds())/float64(s.records))
	return 0
}

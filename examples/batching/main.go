// Command batching sends the same 50,000 records with three linger.ms /
// batch.size settings and prints what each achieved: waiting a little
// longer and allowing bigger batches means fewer, fuller requests.
//
//	go run ./examples/batching
//
// Without SKIFF_BROKERS it starts the bundled broker in a temporary
// directory (examples/internal/cluster); with SKIFF_BROKERS=host:port it uses
// that cluster, creating the topic if needed.
// For a full sweep with latency percentiles, run: skiff bench
package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/examples/internal/cluster"
	"github.com/skiffkit/skiff/producer"
)

// batchCounter is a producer hook (producer.HookBatchSent) counting batches.
type batchCounter struct{ batches, records atomic.Int64 }

func (c *batchCounter) OnBatchSent(_ string, _ int32, records, _ int) {
	c.batches.Add(1)
	c.records.Add(int64(records))
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	brokers, stop, err := cluster.Start(ctx, "batching", 3)
	if err != nil {
		return err
	}
	defer stop()

	value := []byte(strings.Repeat("x", 100))
	settings := []struct {
		linger    time.Duration
		batchSize int
	}{{producer.NoLinger, 16 << 10}, {5 * time.Millisecond, 64 << 10}, {20 * time.Millisecond, 256 << 10}}
	for _, s := range settings {
		var counter batchCounter
		p, err := producer.New(producer.Config{Brokers: brokers, Linger: s.linger, BatchSize: s.batchSize, Hooks: []producer.Hook{&counter}})
		if err != nil {
			return err
		}
		start := time.Now()
		for range 50_000 {
			if err := p.Send(ctx, producer.Record{Topic: "batching", Value: value}, nil); err != nil {
				return err
			}
		}
		if err := p.Flush(ctx); err != nil {
			return err
		}
		elapsed := time.Since(start)
		if err := p.Close(ctx); err != nil {
			return err
		}
		fmt.Printf("linger=%-5v batch.size=%3dKiB: %7.0f records/s, %6.1f records/batch\n", max(s.linger, 0), s.batchSize>>10,
			50_000/elapsed.Seconds(), float64(counter.records.Load())/float64(counter.batches.Load()))
	}
	return nil
}

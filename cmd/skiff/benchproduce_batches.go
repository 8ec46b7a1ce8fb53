package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchBatches counts the batches and Produce requests the clients of one
// bench-produce process sent, so a run shows how well it batched: at 1,000
// partitions records per batch decides most of what a broker spends per
// record (issue 14). Both clients count through their hooks; the counts
// taken before the timed part are subtracted (see timed).
var benchBatches struct {
	batches, records, requests atomic.Int64
}

// benchCounts is a snapshot of benchBatches.
type benchCounts struct{ batches, records, requests int64 }

func takeBenchCounts() benchCounts {
	return benchCounts{benchBatches.batches.Load(), benchBatches.records.Load(), benchBatches.requests.Load()}
}

// lastBatches is what the last timed run sent (set by timed).
var lastBatches benchCounts

// fields formats c for the bench-produce line.
func (c benchCounts) fields() string {
	perBatch, perReq := 0.0, 0.0
	if c.batches > 0 {
		perBatch = float64(c.records) / float64(c.batches)
	}
	if c.requests > 0 {
		perReq = float64(c.batches) / float64(c.requests)
	}
	return fmt.Sprintf("batches=%d requests=%d records/batch=%.1f batches/request=%.1f", c.batches, c.requests, perBatch, perReq)
}

// skiffBatchCounter counts skiff's batches as they go into a request, and
// its Produce requests as they are answered.
type skiffBatchCounter struct{}

func (skiffBatchCounter) OnBatchSent(_ string, _ int32, records, _ int) {
	benchBatches.batches.Add(1)
	benchBatches.records.Add(int64(records))
}

func (skiffBatchCounter) OnProduceResponse(int32, time.Duration, error) {
	benchBatches.requests.Add(1)
}

// kgoBatchCounter counts kgo's batches once written (acknowledged) and its
// Produce requests (key 0) once on the wire.
type kgoBatchCounter struct{}

func (kgoBatchCounter) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	benchBatches.batches.Add(1)
	benchBatches.records.Add(int64(m.NumRecords))
}

func (kgoBatchCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil {
		benchBatches.requests.Add(1)
	}
}

// minus is what was counted between before and c.
func (c benchCounts) minus(before benchCounts) benchCounts {
	return benchCounts{c.batches - before.batches, c.records - before.records, c.requests - before.requests}
}

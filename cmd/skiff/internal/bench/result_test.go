package bench

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNewResult(t *testing.T) {
	p := Point{Linger: time.Millisecond, BatchSize: 16 << 10, Acks: AcksAll}
	w := Workload{RecordSize: 100}.withDefaults()
	peak := phase{
		acks:    ackSnapshot{Acked: 50_000, Bytes: 5_000_000},
		meter:   meterSnapshot{Batches: 100, BatchRecords: 50_000, Wire: 1, Requests: 50, SawBatch: true, SawRequest: true},
		elapsed: 500 * time.Millisecond, sent: 50_000, sending: 400 * time.Millisecond,
	}
	load := phase{
		acks: ackSnapshot{Acked: 40_000, Bytes: 4_000_000, Failed: 2, FirstErr: errors.New("NOT_ENOUGH_REPLICAS"),
			Latency: LatencySummary{P50: time.Millisecond, P99: 3 * time.Millisecond, P999: 4 * time.Millisecond}},
		meter: meterSnapshot{Batches: 400, BatchRecords: 40_000, OffsetDeltaBytes: 400 * offsetDeltaBytes(100),
			Wire: 2_000_000, Requests: 200, RequestTime: 200 * time.Millisecond, SawBatch: true, SawRequest: true},
		elapsed: 1000 * time.Millisecond, sent: 40_002, sending: 500 * time.Millisecond,
	}

	r := newResult(p, "t", w, peak, &load)
	assert.InDelta(t, 100_000, r.RecordsPerSec, 1e-6, "peak: acknowledged records over the saturated phase")
	assert.InDelta(t, 10, r.MBPerSec, 1e-9)
	assert.InDelta(t, 80_004, r.LoadRecordsPerSec, 1e-6, "load: records offered over the sending time")
	assert.Equal(t, 3*time.Millisecond, r.Latency.P99, "latency comes from the load phase")
	assert.InDelta(t, 100, r.RecordsPerBatch, 1e-9, "batch figures come from the load phase")
	assert.InDelta(t, 200, r.RequestsPerSec, 1e-9)
	assert.Equal(t, time.Millisecond, r.RequestLatency)
	assert.EqualValues(t, 2, r.Failed)
	assert.Equal(t, "NOT_ENOUGH_REPLICAS", r.Err)
	// 400 batches of 100 records: header, offset deltas and 40,000 × the record size.
	want := float64(400*61+400*offsetDeltaBytes(100)) + 40_000*recordBytes(w)
	assert.InDelta(t, want/2_000_000, r.CompressionRatio, 1e-9)

	single := newResult(p, "t", w, peak, nil)
	assert.InDelta(t, 125_000, single.LoadRecordsPerSec, 1e-6, "one phase: the load is the saturated sending rate")
	assert.Zero(t, single.Failed)
	assert.Empty(t, single.Err)

	empty := newResult(p, "t", w, phase{}, nil)
	assert.Zero(t, empty.RecordsPerSec)
	assert.Zero(t, empty.CompressionRatio, "no hooks, no ratio")
	assert.False(t, empty.HasBatchStats)
}

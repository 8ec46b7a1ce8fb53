package bench

import (
	"sync/atomic"
	"time"
)

// Meter collects what only the producer knows — how it grouped records into
// batches and batches into requests — from the producer's hooks. All methods
// are safe for concurrent use and lock-free: hooks run on the producer's
// sender goroutines, once per batch or request, never per record.
type Meter struct {
	batches      atomic.Int64
	batchRecords atomic.Int64
	offsetDeltas atomic.Int64 // Σ offset-delta varint bytes, see ratio.go
	wire         atomic.Int64
	requests     atomic.Int64
	requestNanos atomic.Int64
	sawBatch     atomic.Bool
	sawRequest   atomic.Bool
}

// ObserveBatch records one batch sent: its record count and its size on the
// wire (compressed, header included).
func (m *Meter) ObserveBatch(records, wireBytes int) {
	m.sawBatch.Store(true)
	m.batches.Add(1)
	m.batchRecords.Add(int64(records))
	m.offsetDeltas.Add(offsetDeltaBytes(records))
	m.wire.Add(int64(wireBytes))
}

// ObserveRequest records one Produce request and its round-trip time.
func (m *Meter) ObserveRequest(latency time.Duration) {
	m.sawRequest.Store(true)
	m.requests.Add(1)
	m.requestNanos.Add(int64(latency))
}

// reset forgets everything observed, for instance during a warm-up.
func (m *Meter) reset() {
	m.batches.Store(0)
	m.batchRecords.Store(0)
	m.offsetDeltas.Store(0)
	m.wire.Store(0)
	m.requests.Store(0)
	m.requestNanos.Store(0)
}

// meterSnapshot is a consistent-enough copy of a Meter once the producer is flushed.
type meterSnapshot struct {
	Batches, BatchRecords, OffsetDeltaBytes, Wire, Requests int64
	RequestTime                                             time.Duration
	SawBatch, SawRequest                                    bool
}

func (m *Meter) snapshot() meterSnapshot {
	return meterSnapshot{
		Batches:          m.batches.Load(),
		BatchRecords:     m.batchRecords.Load(),
		OffsetDeltaBytes: m.offsetDeltas.Load(),
		Wire:             m.wire.Load(),
		Requests:         m.requests.Load(),
		RequestTime:      time.Duration(m.requestNanos.Load()),
		SawBatch:         m.sawBatch.Load(),
		SawRequest:       m.sawRequest.Load(),
	}
}

package bench

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1µs to 5 minutes with three
// significant digits: 0.1% error, and the histogram stays a few hundred KiB.
const (
	histMinMicros = 1
	histMaxMicros = int64(5 * time.Minute / time.Microsecond)
	histSigFigs   = 3
)

// ackRecorder counts acknowledged records and their send→ack latencies.
// Callbacks of one Produce response arrive on one goroutine in a burst, so
// the mutex is uncontended in practice; a sharded or lock-free recorder would
// cost more than it saves here.
type ackRecorder struct {
	mu       sync.Mutex // guards everything below
	hist     *hdrhistogram.Histogram
	acked    int64
	bytes    int64
	failed   int64
	firstErr error
	lastAck  time.Time
	want     int64         // completions expect waits for; 0 while not waiting
	reached  chan struct{} // closed once acked+failed >= want
}

func newAckRecorder() *ackRecorder {
	return &ackRecorder{hist: hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)}
}

// done records one record's outcome; sent is when its Send was called.
func (r *ackRecorder) done(sent time.Time, size int, err error) {
	now := time.Now()
	us := max(now.Sub(sent).Microseconds(), histMinMicros)
	us = min(us, histMaxMicros)
	r.mu.Lock()
	if err != nil {
		r.failed++
		if r.firstErr == nil {
			r.firstErr = err
		}
	} else {
		r.acked++
		r.bytes += int64(size)
		_ = r.hist.RecordValue(us) // cannot fail: us is clamped to the histogram's range
	}
	r.lastAck = now
	if r.reached != nil && r.acked+r.failed >= r.want {
		close(r.reached)
		r.reached = nil
	}
	r.mu.Unlock()
}

// expect returns a channel closed once n records have completed.
func (r *ackRecorder) expect(n int) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan struct{})
	if r.acked+r.failed >= int64(n) {
		close(ch)
		return ch
	}
	r.want, r.reached = int64(n), ch
	return ch
}

type ackSnapshot struct {
	Acked, Bytes, Failed int64
	FirstErr             error
	LastAck              time.Time
	Latency              LatencySummary
}

func (r *ackRecorder) snapshot() ackSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return ackSnapshot{
		Acked: r.acked, Bytes: r.bytes, Failed: r.failed, FirstErr: r.firstErr, LastAck: r.lastAck,
		Latency: summarize(r.hist),
	}
}

// LatencySummary holds the send→ack latency percentiles of one point.
type LatencySummary struct {
	Min, Mean, P50, P99, P999, Max time.Duration
}

func summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h.TotalCount() == 0 {
		return LatencySummary{}
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return LatencySummary{
		Min:  us(h.Min()),
		Mean: time.Duration(h.Mean() * float64(time.Microsecond)),
		P50:  us(h.ValueAtQuantile(50)),
		P99:  us(h.ValueAtQuantile(99)),
		P999: us(h.ValueAtQuantile(99.9)),
		Max:  us(h.Max()),
	}
}

package bench

import (
	"context"
	"testing"
	"time"
)

// instantProducer acknowledges every record inside Send, so a benchmark of
// the send loop measures only the engine's own per-record cost.
type instantProducer struct{}

func (instantProducer) Send(_ context.Context, _ string, _, _ []byte, done Completion) {
	done.Done(nil)
}
func (instantProducer) Flush(context.Context) error { return nil }
func (instantProducer) Close(context.Context) error { return nil }

// BenchmarkSendLoop is the engine's overhead per record: payload lookup,
// timestamp, ack bookkeeping and the latency histogram. It must not allocate:
// the only per-record allocation on a real run is the producer adapter's
// callback closure.
func BenchmarkSendLoop(b *testing.B) {
	w := Workload{Records: b.N, KeyCardinality: 1000}.withDefaults()
	pl := newPayloads(w)
	rec := newAckRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent := sendLoop(b.Context(), instantProducer{}, "t", w, pl, rec, start, 0)
	b.StopTimer()
	if sent != b.N || rec.snapshot().Acked != int64(b.N) {
		b.Fatalf("sent %d, acked %d, want %d", sent, rec.snapshot().Acked, b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

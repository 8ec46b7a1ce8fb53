package bench

import (
	"time"

	"github.com/skiffkit/skiff/internal/compress"
)

// fixedResults is a hand-made sweep for the renderer and recommendation tests:
// throughput grows with linger while p99 grows too, so the bound decides.
func fixedResults() []Result {
	mk := func(linger time.Duration, size int, c compress.Codec, rps float64, p99 time.Duration) Result {
		return Result{
			Point:   Point{Linger: linger, BatchSize: size, Compression: c, Acks: AcksAll},
			Topic:   "skiff-bench-x-000",
			Records: int64(rps), Bytes: int64(rps) * 100, Elapsed: time.Second,
			RecordsPerSec: rps, MBPerSec: rps * 100 / 1e6,
			Latency:       LatencySummary{Min: 100 * time.Microsecond, P50: p99 / 4, P99: p99, P999: p99 * 2, Max: p99 * 3},
			HasBatchStats: true, HasRequestStats: true,
			RecordsPerBatch: rps / 1000, RequestsPerSec: 1000, CompressionRatio: 1.6,
		}
	}
	return []Result{
		mk(0, 16<<10, compress.None, 100_000, 2*time.Millisecond),
		mk(5*time.Millisecond, 16<<10, compress.None, 300_000, 12*time.Millisecond),
		mk(0, 16<<10, compress.Zstd, 150_000, 4*time.Millisecond),
		mk(5*time.Millisecond, 16<<10, compress.Zstd, 400_000, 80*time.Millisecond),
	}
}

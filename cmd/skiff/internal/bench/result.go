package bench

import "time"

// Result is what one Point measured.
//
// Unless Workload.Rate is set, a point runs in two phases: a saturated one
// whose throughput is the point's peak (RecordsPerSec, MBPerSec), then one at
// Workload.Load of that peak (LoadRecordsPerSec) that measures latency and
// how the producer batched at that load.
type Result struct {
	Point Point
	Topic string

	// Records and Bytes count acknowledged records of the throughput phase
	// and their key+value bytes (before compression); Failed counts records
	// of either phase whose callback got an error.
	Records, Bytes, Failed int64
	// Err is the first send error of the point, if any ("" otherwise).
	Err string
	// Elapsed runs from the first Send of the throughput phase to its last acknowledgement.
	Elapsed time.Duration
	// Interrupted is set when the run was cancelled during this point; its
	// figures cover what was acknowledged until then.
	Interrupted bool

	RecordsPerSec float64
	MBPerSec      float64 // 10^6 bytes of keys and values per second
	// Runs holds the peak records/s of each run when the point was
	// measured more than once (Runner.Repeat); RecordsPerSec and MBPerSec
	// are then their means, and Latency is the run with the worse p99.
	Runs []float64
	// P99Runs holds each run's p99 send→ack latency, alongside Runs.
	P99Runs []time.Duration

	// LoadRecordsPerSec is the rate at which records were offered to the
	// producer while latency was measured (sent ÷ sending time).
	LoadRecordsPerSec float64
	Latency           LatencySummary

	// The figures below come from the producer's hooks during the latency
	// phase; HasBatchStats and HasRequestStats say whether the producer
	// reported any.
	HasBatchStats    bool
	HasRequestStats  bool
	Batches          int64
	Requests         int64
	RecordsPerBatch  float64
	RequestsPerSec   float64
	RequestLatency   time.Duration // mean Produce round trip
	CompressionRatio float64       // uncompressed batch bytes / wire batch bytes (see ratio.go)
}

// newResult combines the throughput phase tp and the latency phase latPhase
// (nil when the point ran only one phase, which then serves as both).
func newResult(p Point, topic string, w Workload, tp phase, latPhase *phase) Result {
	lat := tp
	if latPhase != nil {
		lat = *latPhase
	}
	m := lat.meter
	r := Result{
		Point: p, Topic: topic,
		Records: tp.acks.Acked, Bytes: tp.acks.Bytes, Failed: tp.acks.Failed,
		Elapsed: tp.elapsed, Latency: lat.acks.Latency,
		Interrupted:   tp.interrupted || lat.interrupted,
		HasBatchStats: m.SawBatch, HasRequestStats: m.SawRequest,
		Batches: m.Batches, Requests: m.Requests,
	}
	firstErr := tp.acks.FirstErr
	if latPhase != nil {
		r.Failed += lat.acks.Failed
		if firstErr == nil {
			firstErr = lat.acks.FirstErr
		}
	}
	if firstErr != nil {
		r.Err = firstErr.Error()
	}
	if secs := tp.elapsed.Seconds(); secs > 0 {
		r.RecordsPerSec = float64(tp.acks.Acked) / secs
		r.MBPerSec = float64(tp.acks.Bytes) / secs / 1e6
	}
	if secs := lat.sending.Seconds(); secs > 0 {
		r.LoadRecordsPerSec = float64(lat.sent) / secs
	}
	if secs := lat.elapsed.Seconds(); secs > 0 {
		r.RequestsPerSec = float64(m.Requests) / secs
	}
	if m.Batches > 0 {
		r.RecordsPerBatch = float64(m.BatchRecords) / float64(m.Batches)
	}
	if m.Wire > 0 {
		r.CompressionRatio = float64(estimateUncompressed(m, w)) / float64(m.Wire)
	}
	if m.Requests > 0 {
		r.RequestLatency = m.RequestTime / time.Duration(m.Requests)
	}
	return r
}

// mergeRun folds a repeated measurement of the same point into r.
func mergeRun(r, again Result) Result {
	if len(r.Runs) == 0 {
		r.Runs = []float64{r.RecordsPerSec}
		r.P99Runs = []time.Duration{r.Latency.P99}
	}
	n := float64(len(r.Runs))
	r.Runs = append(r.Runs, again.RecordsPerSec)
	r.P99Runs = append(r.P99Runs, again.Latency.P99)
	r.RecordsPerSec = (r.RecordsPerSec*n + again.RecordsPerSec) / (n + 1)
	r.MBPerSec = (r.MBPerSec*n + again.MBPerSec) / (n + 1)
	r.Records += again.Records
	r.Bytes += again.Bytes
	r.Failed += again.Failed
	if r.Err == "" {
		r.Err = again.Err
	}
	r.Interrupted = r.Interrupted || again.Interrupted
	if again.Latency.P99 > r.Latency.P99 {
		// The recommendation promises p99 ≤ --max-p99: keep the worse run.
		r.Latency = again.Latency
		r.LoadRecordsPerSec = again.LoadRecordsPerSec
	}
	return r
}

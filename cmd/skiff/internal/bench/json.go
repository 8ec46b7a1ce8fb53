package bench

import (
	"encoding/json"
	"io"
	"time"
)

// jsonResult is the stable line format of WriteJSON: units in the field names.
type jsonResult struct {
	LingerMs          float64   `json:"linger_ms"`
	BatchSize         int       `json:"batch_size"`
	Compression       string    `json:"compression"`
	Acks              string    `json:"acks"`
	Topic             string    `json:"topic"`
	Records           int64     `json:"records"`
	Bytes             int64     `json:"bytes"`
	Failed            int64     `json:"failed"`
	Error             string    `json:"error,omitempty"`
	Interrupted       bool      `json:"interrupted,omitempty"`
	ElapsedMs         float64   `json:"elapsed_ms"`
	RecordsPerSec     float64   `json:"records_per_sec"`
	MBPerSec          float64   `json:"mb_per_sec"`
	RunsRecordsPerSec []float64 `json:"runs_records_per_sec,omitempty"` // each run's peak when the setting ran more than once (records_per_sec is their mean)
	RunsP99Ms         []float64 `json:"runs_p99_ms,omitempty"`          // each run's p99 when the setting ran more than once (p99_ms is the worse)
	LoadRecordsPerSec float64   `json:"load_records_per_sec"`           // the rate latency was measured at
	P50Ms             float64   `json:"p50_ms"`
	P99Ms             float64   `json:"p99_ms"`
	P999Ms            float64   `json:"p999_ms"`
	MaxMs             float64   `json:"max_ms"`
	RecordsPerBatch   *float64  `json:"records_per_batch"` // null without producer hooks
	RequestsPerSec    *float64  `json:"requests_per_sec"`
	CompressionRatio  *float64  `json:"compression_ratio"`
}

func toMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func runsMs(ds []time.Duration) []float64 {
	if len(ds) == 0 {
		return nil
	}
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = toMs(d)
	}
	return out
}

func optional(ok bool, v float64) *float64 {
	if !ok {
		return nil
	}
	return &v
}

// WriteJSON writes one JSON object per result per line.
func WriteJSON(w io.Writer, results []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range results {
		if err := enc.Encode(jsonResult{
			LingerMs: toMs(r.Point.Linger), BatchSize: r.Point.BatchSize,
			Compression: r.Point.Compression.String(), Acks: r.Point.Acks.String(),
			Topic: r.Topic, Records: r.Records, Bytes: r.Bytes, Failed: r.Failed, Error: r.Err,
			Interrupted: r.Interrupted, ElapsedMs: toMs(r.Elapsed),
			RecordsPerSec: r.RecordsPerSec, MBPerSec: r.MBPerSec, RunsRecordsPerSec: r.Runs, RunsP99Ms: runsMs(r.P99Runs), LoadRecordsPerSec: r.LoadRecordsPerSec,
			P50Ms: toMs(r.Latency.P50), P99Ms: toMs(r.Latency.P99), P999Ms: toMs(r.Latency.P999), MaxMs: toMs(r.Latency.Max),
			RecordsPerBatch:  optional(r.HasBatchStats, r.RecordsPerBatch),
			RequestsPerSec:   optional(r.HasRequestStats, r.RequestsPerSec),
			CompressionRatio: optional(r.HasBatchStats && r.CompressionRatio > 0, r.CompressionRatio),
		}); err != nil {
			return err
		}
	}
	return nil
}

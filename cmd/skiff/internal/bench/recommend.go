package bench

import "time"

// DefaultMaxP99 is the p99 latency bound Recommend applies unless told otherwise.
const DefaultMaxP99 = 50 * time.Millisecond

// Recommendation is the outcome of Recommend.
type Recommendation struct {
	// Found is false when no point qualified; Index is then -1.
	Found  bool
	Index  int // index into the results
	Result Result
	MaxP99 time.Duration
}

// Recommend picks the result with the highest throughput (records/s) whose
// p99 send→ack latency is at most maxP99. Points that failed records, were
// interrupted or acknowledged nothing never qualify: their figures describe
// a broken or partial run, not a setting. Ties keep the earlier point.
func Recommend(results []Result, maxP99 time.Duration) Recommendation {
	rec := Recommendation{Index: -1, MaxP99: maxP99}
	for i, r := range results {
		if !rec.Qualifies(r) {
			continue
		}
		if !rec.Found || r.RecordsPerSec > rec.Result.RecordsPerSec {
			rec = Recommendation{Found: true, Index: i, Result: r, MaxP99: maxP99}
		}
	}
	return rec
}

// Qualifies says whether r is eligible under rec's bound (for highlighting).
func (rec Recommendation) Qualifies(r Result) bool {
	return r.Records > 0 && r.Failed == 0 && !r.Interrupted && r.Latency.P99 <= rec.MaxP99
}

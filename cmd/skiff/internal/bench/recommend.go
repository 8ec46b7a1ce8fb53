package bench

import (
	"slices"
	"time"
)

// DefaultMaxP99 is the p99 latency bound Recommend applies unless told otherwise.
const DefaultMaxP99 = 50 * time.Millisecond

// DefaultRepeat is how many of the fastest qualifying settings a Runner
// measures a second time to estimate the run-to-run noise.
const DefaultRepeat = 3

// Recommendation is the outcome of Recommend.
type Recommendation struct {
	// Found is false when no point qualified; Index is then -1.
	Found  bool
	Index  int // index into the results
	Result Result
	MaxP99 time.Duration
	// Noise is the run-to-run spread of throughput measured in this sweep
	// (see MeasuredNoise), as a fraction; Repeated is how many settings ran
	// more than once to measure it (0: no estimate, Noise is 0).
	Noise    float64
	Repeated int
	// P99Noise is the same spread of the p99 latency of those settings
	// (see MeasuredP99Noise); 0 without repeats.
	P99Noise float64
	// Fastest is the qualifying result with the highest throughput. It
	// differs from Index when a setting within Noise of it had a lower p99.
	Fastest              int
	FastestRecordsPerSec float64
}

// MeasuredNoise estimates how much a setting's throughput varies between
// runs: for each result measured more than once (Result.Runs), the spread
// (max−min)/mean of its runs, and the median of those spreads. A sweep is
// noisy (a shared machine, page cache, a broker warming up), as the README
// warns; the estimate comes from the sweep itself, not a constant. The
// median, not the maximum, so one disturbed run does not make every
// setting "equal".
func MeasuredNoise(results []Result) (noise float64, repeated int) {
	runs := make([][]float64, 0, len(results))
	for _, r := range results {
		runs = append(runs, r.Runs)
	}
	return medianSpread(runs)
}

// MeasuredP99Noise is MeasuredNoise for the p99 latency (Result.P99Runs).
// A p99 rests on the slowest 1% of records, so it usually varies between
// runs far more than throughput does.
func MeasuredP99Noise(results []Result) float64 {
	runs := make([][]float64, 0, len(results))
	for _, r := range results {
		ms := make([]float64, len(r.P99Runs))
		for i, d := range r.P99Runs {
			ms[i] = float64(d)
		}
		runs = append(runs, ms)
	}
	noise, _ := medianSpread(runs)
	return noise
}

// medianSpread is the median over the lists with two or more values of
// (max−min)/mean, and how many lists that was.
func medianSpread(lists [][]float64) (float64, int) {
	var spreads []float64
	for _, runs := range lists {
		if len(runs) < 2 {
			continue
		}
		lo, hi, sum := runs[0], runs[0], 0.0
		for _, v := range runs {
			lo, hi, sum = min(lo, v), max(hi, v), sum+v
		}
		if mean := sum / float64(len(runs)); mean > 0 {
			spreads = append(spreads, (hi-lo)/mean)
		}
	}
	if len(spreads) == 0 {
		return 0, 0
	}
	slices.Sort(spreads)
	n := len(spreads)
	if n%2 == 1 {
		return spreads[n/2], n
	}
	return (spreads[n/2-1] + spreads[n/2]) / 2, n
}

// Recommend picks, among the results whose p99 send→ack latency is at most
// maxP99 and whose throughput (records/s) is within the measured noise of
// the highest, the one with the lowest p99: two throughputs closer than
// the noise are the same as far as this sweep can tell, and then the lower
// latency is the better setting. The p99s are compared the same way: the
// settings whose p99 is within the measured p99 noise of the lowest are
// equally fast to answer, and of those the one with the highest throughput
// wins (comparing p99s exactly would trade real throughput for a latency
// difference the next run may reverse). Without repeated runs both noises
// are 0: the fastest wins unless one within 0% has a lower p99. Points
// that failed records, were interrupted or acknowledged nothing never
// qualify: their figures describe a broken or partial run, not a setting.
// Ties keep the earlier point.
func Recommend(results []Result, maxP99 time.Duration) Recommendation {
	rec := Recommendation{Index: -1, Fastest: -1, MaxP99: maxP99}
	rec.Noise, rec.Repeated = MeasuredNoise(results)
	rec.P99Noise = MeasuredP99Noise(results)
	for i, r := range results {
		if rec.Qualifies(r) && (rec.Fastest < 0 || r.RecordsPerSec > results[rec.Fastest].RecordsPerSec) {
			rec.Fastest = i
		}
	}
	if rec.Fastest < 0 {
		return rec
	}
	rec.FastestRecordsPerSec = results[rec.Fastest].RecordsPerSec
	floor := rec.FastestRecordsPerSec * (1 - rec.Noise)
	candidate := func(r Result) bool { return rec.Qualifies(r) && r.RecordsPerSec >= floor }
	lowest := results[rec.Fastest].Latency.P99
	for _, r := range results {
		if candidate(r) && r.Latency.P99 < lowest {
			lowest = r.Latency.P99
		}
	}
	ceiling := time.Duration(float64(lowest) * (1 + rec.P99Noise))
	best := -1
	for i, r := range results {
		if !candidate(r) || r.Latency.P99 > ceiling {
			continue
		}
		if best < 0 || r.RecordsPerSec > results[best].RecordsPerSec {
			best = i
		}
	}
	rec.Found, rec.Index, rec.Result = true, best, results[best]
	return rec
}

// Qualifies says whether r is eligible under rec's bound (for highlighting).
func (rec Recommendation) Qualifies(r Result) bool {
	return r.Records > 0 && r.Failed == 0 && !r.Interrupted && r.Latency.P99 <= rec.MaxP99
}

// repeatCandidates returns the indexes of the n fastest qualifying results:
// the settings whose order the recommendation depends on, so the ones worth
// measuring again.
func repeatCandidates(results []Result, maxP99 time.Duration, n int) []int {
	rec := Recommendation{MaxP99: maxP99}
	var idx []int
	for i, r := range results {
		if rec.Qualifies(r) {
			idx = append(idx, i)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch ra, rb := results[a].RecordsPerSec, results[b].RecordsPerSec; {
		case ra > rb:
			return -1
		case ra < rb:
			return 1
		}
		return 0
	})
	return idx[:min(n, len(idx))]
}

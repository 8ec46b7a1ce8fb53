package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRecommend(t *testing.T) {
	base := fixedResults()
	failed := fixedResults()
	failed[1].Failed, failed[1].Err = 3, "NOT_ENOUGH_REPLICAS"
	interrupted := fixedResults()
	interrupted[1].Interrupted = true
	tests := []struct {
		name    string
		results []Result
		maxP99  time.Duration
		want    int // -1: none qualifies
	}{
		{"bound excludes the fastest", base, 50 * time.Millisecond, 1},
		{"loose bound takes the fastest", base, time.Second, 3},
		{"bound is inclusive", base, 12 * time.Millisecond, 1},
		{"tight bound", base, 3 * time.Millisecond, 0},
		{"nothing qualifies", base, time.Millisecond, -1},
		{"failed points never qualify", failed, 50 * time.Millisecond, 2},
		{"interrupted points never qualify", interrupted, 50 * time.Millisecond, 2},
		{"empty sweep", nil, time.Second, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := Recommend(tt.results, tt.maxP99)
			assert.Equal(t, tt.want, rec.Index)
			assert.Equal(t, tt.want >= 0, rec.Found)
			assert.Equal(t, tt.maxP99, rec.MaxP99)
			if tt.want >= 0 {
				assert.Equal(t, tt.results[tt.want], rec.Result)
			}
		})
	}
}

// TestRecommendWithinNoise: the case. 4.349 M/s at p99 11.7 ms and
// 4.325 M/s at p99 3.3 ms differ by 0.55 %; once the sweep measured a
// larger run-to-run spread, they are equal and the lower p99 wins. Without
// repeated runs there is no noise estimate and the faster one wins.
func TestRecommendWithinNoise(t *testing.T) {
	mk := func(rps float64, p99 time.Duration, runs ...float64) Result {
		return Result{Records: 1, RecordsPerSec: rps, Latency: LatencySummary{P99: p99}, Runs: runs}
	}
	tests := []struct {
		name      string
		results   []Result
		want      int
		wantNoise float64
	}{
		{"no repeats: fastest wins", []Result{mk(4_349_000, 11700*time.Microsecond), mk(4_325_000, 3300*time.Microsecond)}, 0, 0},
		{"within the noise: lower p99 wins", []Result{
			mk(4_349_000, 11700*time.Microsecond, 4_400_000, 4_298_000), // spread 102k / 4.349M = 2.35 %
			mk(4_325_000, 3300*time.Microsecond, 4_330_000, 4_320_000),
			mk(1_000_000, time.Millisecond),
		}, 1, (102_000.0/4_349_000 + 10_000.0/4_325_000) / 2}, // median of two: their mean
		{"outside the noise: fastest wins", []Result{
			mk(4_349_000, 11700*time.Microsecond, 4_350_000, 4_348_000),
			mk(4_000_000, 3300*time.Microsecond, 4_001_000, 3_999_000),
		}, 0, (2000.0/4_349_000 + 2000.0/4_000_000) / 2},
		{"over the bound never wins", []Result{
			mk(4_349_000, 11700*time.Microsecond, 4_400_000, 4_298_000),
			mk(4_325_000, 60*time.Millisecond),
		}, 0, 102_000.0 / 4_349_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := Recommend(tt.results, 50*time.Millisecond)
			assert.Equal(t, tt.want, rec.Index)
			assert.InDelta(t, tt.wantNoise, rec.Noise, 1e-9)
			assert.Equal(t, 0, rec.Fastest)
		})
	}
}

func TestRecommendationText(t *testing.T) {
	mk := func(rps float64, p99 time.Duration, runs ...float64) Result {
		return Result{Records: 1, RecordsPerSec: rps, MBPerSec: rps / 1e4, Latency: LatencySummary{P99: p99}, Runs: runs}
	}
	rec := Recommend([]Result{
		mk(4_349_000, 11700*time.Microsecond, 4_400_000, 4_298_000),
		mk(4_325_000, 3300*time.Microsecond, 4_330_000, 4_320_000),
	}, 50*time.Millisecond)
	text := recommendationText(rec)
	assert.Contains(t, text, "recommendation: #2 ")
	assert.Contains(t, text, "4,325,000 records/s")
	assert.Contains(t, text, "within the measured noise (1.3%) of the fastest with p99 ≤ 50ms, #1 at 4,349,000 records/s")
	assert.Contains(t, text, "noise: the median run-to-run spread of the 2 fastest settings, each run twice: 1.3% in records/s, 0.0% in p99")
}

// TestMeasuredNoiseMedian: one disturbed repeat does not widen the band
// to everything.
func TestMeasuredNoiseMedian(t *testing.T) {
	rs := []Result{{Runs: []float64{100, 110}}, {Runs: []float64{200, 190}}, {Runs: []float64{300, 150}}, {}}
	noise, n := MeasuredNoise(rs)
	assert.Equal(t, 3, n)
	assert.InDelta(t, 10.0/105, noise, 1e-12, "spreads 9.5%, 5.1%, 66.7%: the median")
}

func TestCount(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 4_349_120.4: "4,349,120", -1234567: "-1,234,567", 100_000: "100,000"} {
		assert.Equal(t, want, count(in), "%v", in)
	}
}

// TestRecommendP99WithinNoise, after a loaded sweep: one setting at
// 1.77 M/s with p99 4.82 ms, another 8% slower (within the 8.9% throughput
// noise the two repeats measure) with p99 4.76 ms. Once the repeats also
// measured how much a p99 varies between runs, 4.76 and 4.82 ms are the
// same latency and the faster setting wins; a p99 lower by more than that
// noise still wins.
func TestRecommendP99WithinNoise(t *testing.T) {
	mk := func(rps float64, p99 time.Duration, runs []float64, p99Runs ...time.Duration) Result {
		return Result{Records: 1, RecordsPerSec: rps, Latency: LatencySummary{P99: p99}, Runs: runs, P99Runs: p99Runs}
	}
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	fast := []float64{1_806_404, 1_724_982}
	slow := []float64{1_773_428, 1_554_645} // spreads 4.6% and 13.1%: noise ~8.9%
	tests := []struct {
		name    string
		results []Result
		want    int
	}{
		{"p99 noise unknown: the lower p99 wins", []Result{
			mk(1_650_000, ms(29.5), slow),
			mk(1_620_000, ms(4.755), nil),
			mk(1_765_693, ms(4.819), fast),
		}, 1},
		{"p99s within the p99 noise: the faster wins", []Result{
			mk(1_650_000, ms(29.5), slow, ms(29.5), ms(22)),
			mk(1_620_000, ms(4.755), nil),
			mk(1_765_693, ms(4.819), fast, ms(4.819), ms(4.2)),
		}, 2},
		{"a p99 lower by more than the p99 noise wins", []Result{
			mk(1_650_000, ms(29.5), slow, ms(29.5), ms(28)),
			mk(1_620_000, ms(3.3), nil),
			mk(1_765_693, ms(4.819), fast, ms(4.819), ms(4.7)),
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := Recommend(tt.results, 50*time.Millisecond)
			assert.Equal(t, tt.want, rec.Index)
			assert.Equal(t, 2, rec.Fastest)
		})
	}
}

func TestMeasuredP99Noise(t *testing.T) {
	ms := time.Millisecond
	rs := []Result{{P99Runs: []time.Duration{4 * ms, 6 * ms}}, {P99Runs: []time.Duration{10 * ms, 11 * ms}}, {P99Runs: []time.Duration{ms, 9 * ms}}, {}}
	assert.InDelta(t, 2.0/5, MeasuredP99Noise(rs), 1e-12, "spreads 40%, 9.5%, 160%: the median")
	assert.Zero(t, MeasuredP99Noise([]Result{{}, {P99Runs: []time.Duration{ms}}}))
}

// TestMergeRunKeepsEachRun: a repeat adds its throughput and p99 to the
// runs; the result's p99 is the worse run's, its throughput the mean.
func TestMergeRunKeepsEachRun(t *testing.T) {
	first := Result{Records: 10, RecordsPerSec: 100, Latency: LatencySummary{P99: 5 * time.Millisecond}, LoadRecordsPerSec: 80}
	again := Result{Records: 12, RecordsPerSec: 120, Latency: LatencySummary{P99: 7 * time.Millisecond}, LoadRecordsPerSec: 90}
	m := mergeRun(first, again)
	assert.Equal(t, []float64{100, 120}, m.Runs)
	assert.Equal(t, []time.Duration{5 * time.Millisecond, 7 * time.Millisecond}, m.P99Runs)
	assert.InDelta(t, 110, m.RecordsPerSec, 1e-9)
	assert.Equal(t, 7*time.Millisecond, m.Latency.P99)
	assert.InDelta(t, 90, m.LoadRecordsPerSec, 1e-9)
	assert.Equal(t, int64(22), m.Records)
}

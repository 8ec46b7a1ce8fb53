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
	assert.Contains(t, text, "noise: the median run-to-run spread of the 2 fastest settings, each run twice")
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

package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/compress"
)

func twoLingerGrid() Grid {
	return Grid{
		Lingers:      []time.Duration{0, 5 * time.Millisecond},
		BatchSizes:   []int{16 << 10},
		Compressions: []compress.Codec{compress.None},
		Acks:         []Acks{AcksAll},
	}
}

// assertSane checks the invariants every measured point must satisfy.
func assertSane(t testing.TB, r Result) {
	t.Helper()
	assert.Positive(t, r.Records, r.Point.Label())
	assert.Positive(t, r.RecordsPerSec, r.Point.Label())
	assert.Positive(t, r.MBPerSec, r.Point.Label())
	assert.Positive(t, r.Elapsed, r.Point.Label())
	assert.Positive(t, r.Latency.P50, r.Point.Label())
	assert.LessOrEqual(t, r.Latency.P50, r.Latency.P99, r.Point.Label())
	assert.LessOrEqual(t, r.Latency.P99, r.Latency.P999, r.Point.Label())
	assert.LessOrEqual(t, r.Latency.P999, r.Latency.Max, r.Point.Label())
}

func TestRunnerMeasuresEveryPoint(t *testing.T) {
	target := &fakeTarget{ackDelay: 200 * time.Microsecond}
	var events []Progress
	r := Runner{
		Target:   target,
		Grid:     twoLingerGrid(),
		Workload: Workload{Records: 10000, RecordSize: 50, Partitions: 4},
		Progress: func(p Progress) { events = append(events, p) },
	}
	results, err := r.Run(t.Context())
	require.NoError(t, err)
	require.Len(t, results, 2)

	for _, res := range results {
		assertSane(t, res)
		assert.EqualValues(t, 10000, res.Records, "warm-up record must not be counted")
		assert.EqualValues(t, 10000*50, res.Bytes)
		assert.Zero(t, res.Failed)
		assert.True(t, res.HasBatchStats)
		assert.True(t, res.HasRequestStats)
		assert.InEpsilon(t, 2.0, res.CompressionRatio, 0.01, "estimated uncompressed size vs the fake's real encoding")
		assert.Equal(t, 4, target.topics[res.Topic])
		// The pacer holds the latency phase at 80% of the peak; how close it
		// gets from below depends on spare CPU, so only the ceiling is exact.
		assert.LessOrEqual(t, res.LoadRecordsPerSec, 0.8*res.RecordsPerSec*1.12, "latency is measured at 80%% of the peak")
		assert.Positive(t, res.LoadRecordsPerSec)
	}
	assert.NotEqual(t, results[0].Topic, results[1].Topic, "each point gets a fresh topic")
	assert.Equal(t, []string{results[0].Topic, results[1].Topic}, target.deleted, "and deletes it once measured")
	assert.InDelta(t, 1.0, results[0].RecordsPerBatch, 0.001, "linger 0 sends every record alone in the fake")
	assert.Greater(t, results[1].RecordsPerBatch, results[0].RecordsPerBatch, "linger must grow batches")

	require.Len(t, events, 4)
	assert.Nil(t, events[0].Result)
	assert.NotNil(t, events[1].Result)
	assert.Equal(t, 1, events[2].Index)
	assert.Equal(t, 2, events[3].Total)
}

func TestRunnerCancelReturnsPartialResults(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := Runner{
		Target:   &fakeTarget{},
		Grid:     twoLingerGrid(),
		Workload: Workload{Duration: time.Minute},
		Progress: func(p Progress) {
			if p.Result == nil {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
		},
	}
	start := time.Now()
	results, err := r.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 10*time.Second, "cancel must stop the point promptly")
	require.Len(t, results, 1, "the interrupted point is reported, the next one never starts")
	assert.True(t, results[0].Interrupted)
	assertSane(t, results[0])
}

type undeletableTarget struct{ fakeTarget }

func (*undeletableTarget) DeleteTopic(context.Context, string) error {
	return errors.New("TOPIC_DELETION_DISABLED")
}

func TestRunnerWarnsWhenTopicsStay(t *testing.T) {
	var warnings []error
	r := Runner{Target: &undeletableTarget{}, Grid: twoLingerGrid(), Workload: Workload{Records: 10},
		Warn: func(err error) { warnings = append(warnings, err) }}
	results, err := r.Run(t.Context())
	require.NoError(t, err, "a topic left behind does not spoil the measurement")
	assert.Len(t, results, 2)
	require.Len(t, warnings, 2)
	assert.ErrorContains(t, warnings[0], "TOPIC_DELETION_DISABLED")
}

func TestRunnerKeepTopics(t *testing.T) {
	target := &fakeTarget{}
	r := Runner{Target: target, Grid: twoLingerGrid(), Workload: Workload{Records: 10, KeepTopics: true}}
	results, err := r.Run(t.Context())
	require.NoError(t, err)
	assert.Len(t, results, 2)
	assert.Len(t, target.topics, 2)
	assert.Empty(t, target.deleted)
}

func TestRunnerCountsFailures(t *testing.T) {
	r := Runner{
		Target:   &fakeTarget{failEvery: 10},
		Grid:     twoLingerGrid(),
		Workload: Workload{Records: 1000},
	}
	results, err := r.Run(t.Context())
	require.NoError(t, err)
	for _, res := range results {
		// The warm-up record is the first Send, so the 10th, 20th... of the
		// fake's count are records 9, 19... of the measured ones.
		// Two phases of 1000 records each.
		assert.EqualValues(t, 200, res.Failed)
		assert.EqualValues(t, 900, res.Records)
		assert.Equal(t, errFake.Error(), res.Err)
	}
	assert.False(t, Recommend(results, time.Hour).Found, "points with failures never qualify")
}

func TestRunnerRateCapsThroughput(t *testing.T) {
	r := Runner{
		Target:   &fakeTarget{},
		Grid:     Grid{Lingers: []time.Duration{0}, BatchSizes: []int{1024}, Compressions: []compress.Codec{compress.None}, Acks: []Acks{AcksAll}},
		Workload: Workload{Records: 200, Rate: 1000},
	}
	results, err := r.Run(t.Context())
	require.NoError(t, err)
	require.Len(t, results, 1)
	// 200 records at 1000/s take at least 199ms.
	assert.GreaterOrEqual(t, results[0].Elapsed, 190*time.Millisecond)
	assert.LessOrEqual(t, results[0].RecordsPerSec, 1100.0)
}

func TestRunnerRejectsBadConfig(t *testing.T) {
	_, err := (&Runner{Target: &fakeTarget{}, Workload: Workload{RecordSize: -1}}).Run(t.Context())
	require.Error(t, err)
	assert.ErrorContains(t, err, "no linger values")
	assert.ErrorContains(t, err, "record size -1")

	_, err = (&Runner{Grid: twoLingerGrid()}).Run(t.Context())
	assert.ErrorContains(t, err, "Target is nil")
}

type failingTarget struct{ fakeTarget }

func (*failingTarget) NewProducer(context.Context, Point, int64, *Meter) (Producer, error) {
	return nil, errors.New("no brokers reachable")
}

func TestRunnerReportsSetupErrors(t *testing.T) {
	results, err := (&Runner{Target: &failingTarget{}, Grid: twoLingerGrid()}).Run(t.Context())
	assert.ErrorContains(t, err, "no brokers reachable")
	assert.Empty(t, results)
}

// TestRunnerRepeatsTheFastest: after the sweep, the Repeat fastest
// settings within the bound run again, so the recommendation has a noise
// estimate; the others run once.
func TestRunnerRepeatsTheFastest(t *testing.T) {
	target := &fakeTarget{ackDelay: 200 * time.Microsecond}
	grid := twoLingerGrid()
	grid.Lingers = append(grid.Lingers, 10*time.Millisecond)
	var events []Progress
	r := Runner{Target: target, Grid: grid, Repeat: 2,
		Workload: Workload{Records: 2000, RecordSize: 50, Partitions: 2},
		Progress: func(p Progress) { events = append(events, p) }}
	results, err := r.Run(t.Context())
	require.NoError(t, err)
	require.Len(t, results, 3)
	repeated := 0
	for _, res := range results {
		switch len(res.Runs) {
		case 2:
			repeated++
			assert.InDelta(t, (res.Runs[0]+res.Runs[1])/2, res.RecordsPerSec, 1e-6, "the mean of the runs")
			assert.EqualValues(t, 4000, res.Records)
		case 0:
		default:
			t.Errorf("%s ran %d times", res.Point.Label(), len(res.Runs))
		}
	}
	assert.Equal(t, 2, repeated)
	var again int
	for _, e := range events {
		if e.Repeat && e.Result != nil {
			again++
			assert.Equal(t, 5, e.Total, "the sweep's 3 and the 2 repeats")
		}
	}
	assert.Equal(t, 2, again)
	rec := Recommend(results, DefaultMaxP99)
	assert.Equal(t, 2, rec.Repeated)
}

package bench

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAckRecorderPercentiles(t *testing.T) {
	rec := newAckRecorder()
	now := time.Now()
	// 1000 records acknowledged 1..1000 ms after their send (within the
	// histogram's 0.1% precision, since done measures from now).
	for i := 1; i <= 1000; i++ {
		rec.done(now.Add(-time.Duration(i)*time.Millisecond), 10, nil)
	}
	rec.done(now, 10, errors.New("boom"))
	s := rec.snapshot()
	assert.EqualValues(t, 1000, s.Acked)
	assert.EqualValues(t, 10_000, s.Bytes)
	assert.EqualValues(t, 1, s.Failed)
	assert.EqualError(t, s.FirstErr, "boom")
	l := s.Latency
	assert.InEpsilon(t, 500*time.Millisecond, l.P50, 0.01)
	assert.InEpsilon(t, 990*time.Millisecond, l.P99, 0.01)
	assert.InEpsilon(t, 999*time.Millisecond, l.P999, 0.01)
	assert.InEpsilon(t, 1000*time.Millisecond, l.Max, 0.01)
	assert.InEpsilon(t, 1*time.Millisecond, l.Min, 0.05)
	assert.InEpsilon(t, 500500*time.Microsecond, l.Mean, 0.01)
}

func TestAckRecorderClampsAndWaits(t *testing.T) {
	rec := newAckRecorder()
	done := rec.expect(2)
	rec.done(time.Now().Add(time.Hour), 1, nil)       // clock went backwards: clamped to 1µs
	rec.done(time.Now().Add(-10*time.Minute), 1, nil) // beyond the histogram: clamped to 5 minutes
	select {
	case <-done:
	default:
		require.Fail(t, "expect(2) must fire after two completions")
	}
	l := rec.snapshot().Latency
	assert.Equal(t, time.Microsecond, l.Min)
	assert.InEpsilon(t, 5*time.Minute, l.Max, 0.01)
	select {
	case <-rec.expect(2):
	default:
		require.Fail(t, "expect of an already reached count is closed at once")
	}
}

func TestSummarizeEmpty(t *testing.T) {
	assert.Equal(t, LatencySummary{}, newAckRecorder().snapshot().Latency)
}

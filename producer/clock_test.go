package producer

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startClock runs a record clock until the test ends.
func startClock(t testing.TB) *recordClock {
	t.Helper()
	c := &recordClock{}
	c.init()
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.run(quit)
	}()
	t.Cleanup(func() {
		close(quit)
		wg.Wait()
	})
	return c
}

func TestRecordClockTracksWallClock(t *testing.T) {
	c := startClock(t)
	deadline := time.Now().Add(50 * time.Millisecond)
	cached := 0
	for time.Now().Before(deadline) {
		before := time.Now().UnixMilli()
		got := c.nowMillis()
		after := time.Now().UnixMilli()
		// One tick of lag plus scheduling slack on a loaded machine.
		assert.GreaterOrEqual(t, got, before-25)
		assert.LessOrEqual(t, got, after)
		if c.ms.Load() != 0 {
			cached++
		}
	}
	assert.Positive(t, cached, "the clock served cached values while read")
}

func TestRecordClockParksWhenIdle(t *testing.T) {
	c := startClock(t)
	require.Eventually(t, func() bool {
		c.nowMillis() // starts the ticker and keeps it busy
		return c.ms.Load() != 0
	}, time.Second, time.Millisecond, "ticker started")
	// Nobody reads: within a couple of ticks the cache is cleared, so a
	// read after a pause cannot see a stale value.
	require.Eventually(t, func() bool { return c.ms.Load() == 0 }, time.Second, time.Millisecond, "ticker parked")
	time.Sleep(20 * time.Millisecond)
	before := time.Now().UnixMilli()
	assert.GreaterOrEqual(t, c.nowMillis(), before, "first read after idling is fresh")
}

func TestRecordClockKeepsExplicitTimestamps(t *testing.T) {
	c := startClock(t)
	ts := time.UnixMilli(1_700_000_000_123)
	assert.Equal(t, int64(1_700_000_000_123), c.millis(ts))
	before := time.Now().UnixMilli()
	assert.GreaterOrEqual(t, c.millis(time.Time{}), before)
}

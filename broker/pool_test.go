package broker

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPoolsDropOversizedBuffers: every broker pool keeps buffers up to its
// max and refuses larger ones, so one huge request or response does not
// stay pinned in the pool after it was written.
func TestPoolsDropOversizedBuffers(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool *bufPool
	}{
		{"request frames", reqPool},
		{"response frames", framePool},
		{"fetch data", fetchDataPool},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok := make([]byte, 10, tc.pool.max)
			assert.True(t, tc.pool.put(&ok), "a buffer of the max size is kept")

			big := make([]byte, 0, tc.pool.max+1)
			assert.False(t, tc.pool.put(&big), "a buffer above the max is dropped")
			// Whatever the pool hands out now is never the big buffer.
			for range 4 {
				bp := tc.pool.get()
				assert.LessOrEqual(t, cap(*bp), tc.pool.max)
				assert.Empty(t, *bp)
			}
		})
	}
	// The response pool in particular: a 55 MiB fetch.max.bytes response is
	// not kept.
	assert.Less(t, framePool.max, defaultFetchMaxBytes)
}

// TestReqPoolKeepsWideProduceFrames: the produce request of a client writing
// to 1,000 partitions is 2–4 MB (issue 14's ingest with kgo); the pool must
// keep such a frame, or every request regrows one from 64 KiB by doubling
// (BenchmarkConnProduceWide: 7.3 MB allocated per request instead of 0.5).
func TestReqPoolKeepsWideProduceFrames(t *testing.T) {
	wide := make([]byte, 0, 4<<20)
	assert.True(t, reqPool.put(&wide), "a 4 MiB produce frame is kept")
}

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

package broker

import (
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoolsDropOversizedBuffers: every broker pool keeps buffers up to its
// max and refuses larger ones, so one huge request or response does not
// stay pinned in the pool after it was written.
func TestPoolsDropOversizedBuffers(t *testing.T) {
	for _, tc := range []struct {
		name string
		pool *bufPool
	}{
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
// to 1,000 partitions is 2–5 MB (issue 14's ingest with kgo); the pool must
// keep such a frame across garbage collections, or every request allocates,
// zeroes and faults in a fresh one (as with the sync.Pool it used to be).
func TestReqPoolKeepsWideProduceFrames(t *testing.T) {
	p := newFramesPool(reqPool.initial, reqPool.max, reqPool.limit)
	wide := make([]byte, 0, 5<<20)
	require.True(t, p.put(&wide), "a 5 MiB produce frame is kept")
	runtime.GC()
	runtime.GC() // a sync.Pool would be empty now
	got := p.get(4 << 20)
	assert.Equal(t, 5<<20, cap(*got), "the frame outlives garbage collections")
}

// TestFramesPool: get hands out the tightest kept buffer that holds the
// body (else a new one for all of it), and put keeps at most limit bytes,
// dropping the smallest buffers first and anything above max.
func TestFramesPool(t *testing.T) {
	caps := func(p *framesPool) []int {
		var cs []int
		for _, bp := range p.free {
			cs = append(cs, cap(*bp))
		}
		slices.Sort(cs)
		return cs
	}
	fill := func(p *framesPool, cs ...int) {
		for _, c := range cs {
			b := make([]byte, 5, c)
			require.True(t, p.put(&b))
		}
	}
	for _, tc := range []struct {
		name     string
		kept     []int
		n        int
		wantCap  int
		wantLeft []int
	}{
		{"empty pool: the body and an eighth", nil, 800, 900, nil},
		{"empty pool: at most max", nil, 990, 1000, nil},
		{"empty pool, above max: initial, to grow", nil, 5000, 64, nil},
		{"tightest fit", []int{100, 400, 200}, 150, 200, []int{100, 400}},
		{"exact fit", []int{100, 400, 200}, 400, 400, []int{100, 200}},
		{"none fits: a new one", []int{100, 400, 200}, 480, 540, []int{100, 200, 400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFramesPool(64, 1000, 2000)
			fill(p, tc.kept...)
			bp := p.get(tc.n)
			assert.Equal(t, tc.wantCap, cap(*bp))
			assert.Empty(t, *bp)
			assert.Equal(t, tc.wantLeft, caps(p))
		})
	}

	p := newFramesPool(64, 1000, 2000)
	big := make([]byte, 0, 1001)
	assert.False(t, p.put(&big), "above max")
	fill(p, 1000, 300, 500)
	assert.Equal(t, 1800, p.bytes)
	b := make([]byte, 0, 400)
	assert.True(t, p.put(&b), "the 300 makes room")
	assert.Equal(t, []int{400, 500, 1000}, caps(p))
	small := make([]byte, 0, 200)
	assert.False(t, p.put(&small), "smaller than everything kept, with no room")
	assert.Equal(t, 1900, p.bytes)
}

package accum

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPendingAcrossInlineBoundary: callbacks stay in append order, with
// their offset deltas, whether a batch holds fewer callbacks than fit
// inline, exactly that many, or more (moved to a pooled slice).
func TestPendingAcrossInlineBoundary(t *testing.T) {
	for _, n := range []int{1, pendingInline - 1, pendingInline, pendingInline + 1, 3*pendingInline + 2} {
		a := newAcc(t, Config{Linger: time.Hour})
		for i := range n {
			r := rec(i, tag(i))
			if i%3 == 2 {
				r.Callback = nil // records without a callback leave no entry
			}
			require.NoError(t, a.Append(context.Background(), "t", 0, r))
		}
		bs := drainAll(t, a, n)
		require.Len(t, bs, 1)
		var got []int
		for _, pe := range bs[0].Pending() {
			i := id(pe.Callback)
			got = append(got, i)
			assert.Equal(t, int32(i), pe.OffsetDelta, "n=%d", n)
		}
		var want []int
		for i := range n {
			if i%3 != 2 {
				want = append(want, i)
			}
		}
		assert.Equal(t, want, got, "n=%d", n)
		a.Done(bs[0], true)
		a.Release(bs[0])
		assert.Nil(t, bs[0].Pending())
	}
}

// TestDoneMadeOnDemand: Done before Release closes on Release; Done first
// asked after Release is closed at once; a flush waiting meanwhile sees it.
func TestDoneMadeOnDemand(t *testing.T) {
	a := newAcc(t, Config{Linger: time.Hour})
	require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
	require.NoError(t, a.Append(context.Background(), "t", 1, rec(1, nil)))
	bs := drainAll(t, a, 2)
	require.Len(t, bs, 2)
	early := bs[0].Done()
	select {
	case <-early:
		t.Fatal("Done closed before Release")
	default:
	}
	for _, b := range bs {
		a.Done(b, true)
		a.Release(b)
	}
	select {
	case <-early:
	default:
		t.Fatal("Release did not close the channel asked for before")
	}
	select {
	case <-bs[1].Done():
	default:
		t.Fatal("Done asked after Release is not closed")
	}
	assert.Zero(t, a.NumIncomplete())
}

// TestSmallBatchAllocs: opening a batch (what a producer spread over 1,000
// partitions does every few records) costs one allocation, the batch,
// with or without callbacks that fit inline.
func TestSmallBatchAllocs(t *testing.T) {
	const parts = 64
	// Every partition on node 1, without the test helper's formatting.
	leader := func(string, int32) (int32, bool) { return 1, true }
	a := newAcc(t, Config{Linger: time.Hour, BufferMemory: 64 << 20, BatchSize: 1024, Leader: leader})
	cb := func(*int, error) {}
	r := *rec(1, cb)
	var drained []*Batch[*int]
	cycle := func() {
		for p := range parts {
			for range 4 {
				_ = a.Append(context.Background(), "t", int32(p), &r)
			}
		}
		a.BeginFlush()
		a.Ready(time.Now(), nil)
		drained = a.Drain(1, 1<<30, time.Now(), drained[:0])
		a.EndFlush()
		for _, b := range drained {
			a.Done(b, true)
			a.Release(b)
		}
	}
	cycle() // partitions and pools warm
	allocs := testing.AllocsPerRun(20, cycle)
	assert.LessOrEqual(t, allocs, float64(parts)+2, "one allocation per batch of 4 records")
}

// TestBufPool: a buffer comes back for a batch it can hold without
// growing, never for a larger one, and the free list is bounded in bytes.
func TestBufPool(t *testing.T) {
	var p bufPool
	b := p.get(1000)
	assert.GreaterOrEqual(t, cap(b), wireBound(1000))
	p.put(append(b, 1, 2, 3))
	again := p.get(900)
	assert.Equal(t, cap(b), cap(again), "reused")
	assert.Empty(t, again)
	p.put(again)
	big := p.get(16 << 10)
	assert.GreaterOrEqual(t, cap(big), wireBound(16<<10), "the small one does not do")
	assert.Equal(t, 1, p.freeN, "and stays for a smaller batch")

	var q bufPool
	for range maxFreeBytes/(32<<10) + 10 {
		q.put(make([]byte, 0, 32<<10))
	}
	assert.LessOrEqual(t, q.freeBytes, maxFreeBytes)
	assert.Equal(t, maxFreeBytes/(32<<10), q.freeN)
}

func TestSizeClass(t *testing.T) {
	for n, want := range map[int]int{1: 256, 256: 256, 257: 512, 1000: 1024, wireBound(16300): 20480, wireBound(16384): 20480, 1 << 20: 1 << 20, 1<<20 + 1: 1<<20 + 1<<18} {
		assert.Equal(t, want, sizeClass(n), "n=%d", n)
	}
}

// TestBufPoolClasses: freed buffers of mixed sizes each serve a batch of
// their size class (or the class below), whichever was freed last, so
// small drained batches of varying sizes keep finding a buffer.
func TestBufPoolClasses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		freed  []int // batch sizes whose buffers go back, in order
		want   int   // the next batch's size
		reused bool  // whether it gets a freed buffer
		cap    int   // of the buffer it gets (when reused)
	}{
		{"same class under a smaller one", []int{3000, 700}, 3000, true, sizeClass(wireBound(3000))},
		{"same class under a larger one", []int{700, 3000}, 700, true, sizeClass(wireBound(700))},
		{"one class up", []int{1200}, 900, true, sizeClass(wireBound(1200))},
		{"two classes up stays", []int{3000}, 700, false, 0},
		{"too small", []int{700}, 3000, false, 0},
		{"larger than any class", []int{2 << 20}, 2 << 20, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p bufPool
			for _, n := range tc.freed {
				p.put(p.get(n))
			}
			before := p.freeN
			b := p.get(tc.want)
			assert.GreaterOrEqual(t, cap(b), wireBound(tc.want))
			if tc.reused {
				assert.Equal(t, before-1, p.freeN, "a freed buffer")
				assert.Equal(t, tc.cap, cap(b))
			} else {
				assert.Equal(t, before, p.freeN, "a new buffer")
			}
		})
	}
}

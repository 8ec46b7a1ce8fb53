package partitioner

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// currentPick exposes the sticky state for white-box checks.
func currentPick(p *StickyPartitioner, topic string) *stickyPick {
	return p.topics.get(topic, newStickyTopic).cur.Load()
}

func TestStickySwitchesAfterBatchSize(t *testing.T) {
	p, err := NewSticky(StickyConfig{BatchSize: 1000})
	require.NoError(t, err)
	const n = 8
	first := p.PartitionSized("t", nil, 100, n)
	pick := currentPick(p, "t")
	require.NotNil(t, pick)
	for i := 2; i <= 9; i++ {
		assert.Equal(t, first, p.PartitionSized("t", nil, 100, n), "record %d stays", i)
		assert.Same(t, pick, currentPick(p, "t"))
	}
	// The 10th record reaches 1000 bytes: it still goes to the current
	// partition, and the next record starts a new pick.
	assert.Equal(t, first, p.PartitionSized("t", nil, 100, n))
	next := currentPick(p, "t")
	assert.NotSame(t, pick, next, "switched at batch.size")
	assert.Zero(t, next.produced.Load())
	got := p.PartitionSized("t", nil, 100, n)
	assert.Equal(t, next.partition, got)

	// One record larger than the batch switches right after itself.
	before := currentPick(p, "t")
	p.PartitionSized("t", nil, 5000, n)
	assert.NotSame(t, before, currentPick(p, "t"))
}

// TestStickyRunLengths checks the switching from the outside: the
// partition only changes at batch boundaries, so every run of equal
// picks (a repeated draw merges two runs) is a multiple of the records
// per batch.
func TestStickyRunLengths(t *testing.T) {
	p := Sticky(1000)
	var runs []int
	last, run := int32(-1), 0
	for range 20000 {
		got := p.PartitionSized("t", []byte("keys are ignored"), 100, 3)
		require.True(t, got >= 0 && got < 3)
		if got != last && run > 0 {
			runs = append(runs, run)
			run = 0
		}
		last = got
		run++
	}
	require.Greater(t, len(runs), 100, "must switch partitions")
	for _, r := range runs {
		require.Zero(t, r%10, "run of %d records is not whole batches", r)
	}
}

func TestStickyUniformOverBatches(t *testing.T) {
	p := Default()
	const n, batches = 10, 20000
	counts := make([]int, n)
	for range batches * 16 {
		counts[p.PartitionSized("t", nil, 1024, n)]++ // 16 records per 16 KiB batch
	}
	mean := batches * 16 / n
	for part, c := range counts {
		// 2000 batches expected per partition, std dev ~42 batches:
		// 15% is over 7 standard deviations.
		assert.InDelta(t, mean, c, float64(mean)*0.15, "partition %d", part)
	}
}

func TestStickyKeys(t *testing.T) {
	p := Default()
	for _, k := range []string{"a", "user-1", "order-99"} {
		assert.Equal(t, KeyPartition([]byte(k), 12), p.PartitionSized("t", []byte(k), 50, 12))
		assert.Equal(t, KeyPartition([]byte(k), 12), p.Partition("t", []byte(k), 12))
	}
	// An empty key is a key (Java hashes byte[0]); only nil is keyless.
	assert.Equal(t, KeyPartition([]byte{}, 12), p.Partition("t", []byte{}, 12))
	assert.Nil(t, currentPick(p, "t"), "keyed records do not touch sticky state")

	ignore := Sticky(0)
	a := ignore.Partition("t", []byte("x"), 1000)
	b := ignore.Partition("t", []byte("y"), 1000)
	assert.Equal(t, a, b, "IgnoreKeys: keys stick too")
}

func TestStickyPartitionCountChanges(t *testing.T) {
	p := Default()
	var got int32
	for got < 50 { // find a pick that a shrink invalidates
		p = Default()
		got = p.PartitionSized("t", nil, 10, 100)
	}
	assert.Less(t, p.PartitionSized("t", nil, 10, 50), int32(50), "a pick beyond the new count is replaced")
	assert.Equal(t, int32(-1), p.PartitionSized("t", nil, 10, 0))
}

func TestStickyPerTopic(t *testing.T) {
	p := Sticky(1000)
	p.PartitionSized("a", nil, 900, 4)
	pa := currentPick(p, "a")
	p.PartitionSized("b", nil, 900, 4)
	assert.Same(t, pa, currentPick(p, "a"), "bytes on b do not count for a")
	assert.Equal(t, int64(900), pa.produced.Load())
}

func TestStickyUnsized(t *testing.T) {
	p := Sticky(1000)
	first := currentPickAfter(p, func() { p.Partition("t", nil, 5) })
	for range 9 {
		p.Partition("t", nil, 5)
	}
	assert.NotSame(t, first, currentPick(p, "t"), "Partition charges 100 bytes a record")
}

func currentPickAfter(p *StickyPartitioner, f func()) *stickyPick {
	f()
	return currentPick(p, "t")
}

func TestStickyConfigValidate(t *testing.T) {
	_, err := NewSticky(StickyConfig{BatchSize: -1})
	require.Error(t, err)
	assert.ErrorContains(t, err, "batch.size")
	p, err := NewSticky(StickyConfig{})
	require.NoError(t, err)
	assert.Equal(t, int64(DefaultBatchSize), p.batchSize)
}

func TestStickyAdaptiveLoad(t *testing.T) {
	p := Sticky(1)
	// Queue sizes 0 and 100: weights 101 and 1.
	p.UpdateLoad("t", []int32{0, 1}, []int32{0, 100})
	counts := map[int32]int{}
	for range 20000 {
		counts[p.PartitionSized("t", nil, 1, 2)]++
	}
	assert.Greater(t, counts[0], 19000, "the idle partition takes ~99%%")
	assert.Positive(t, counts[1], "the backed-up partition is still drawn")

	// Only the available partitions are drawn. (The pick in place when
	// the load changes still takes its batch.size bytes.)
	p.UpdateLoad("t", []int32{2, 5}, []int32{3, 3})
	p.PartitionSized("t", nil, 1, 8)
	for range 1000 {
		got := p.PartitionSized("t", nil, 1, 8)
		require.True(t, got == 2 || got == 5, "drew unavailable partition %d", got)
	}

	// Stale stats (a partition beyond the count) are ignored.
	p.UpdateLoad("t", []int32{9}, []int32{0})
	seen := map[int32]bool{}
	for range 1000 {
		seen[p.PartitionSized("t", nil, 1, 4)] = true
	}
	assert.Len(t, seen, 4)

	// Mismatched input clears the stats.
	p.UpdateLoad("t", []int32{1}, []int32{0})
	p.UpdateLoad("t", []int32{1, 2}, []int32{0})
	seen = map[int32]bool{}
	for range 1000 {
		seen[p.PartitionSized("t", nil, 1, 4)] = true
	}
	assert.Len(t, seen, 4)

	// The caller may reuse its slices.
	parts, sizes := []int32{3}, []int32{0}
	p.UpdateLoad("t", parts, sizes)
	parts[0] = 0
	p.PartitionSized("t", nil, 1, 4)
	for range 100 {
		require.Equal(t, int32(3), p.PartitionSized("t", nil, 1, 4))
	}
}

func TestStickyNonAdaptiveKeepsAvailability(t *testing.T) {
	p, err := NewSticky(StickyConfig{BatchSize: 1, DisableAdaptive: true})
	require.NoError(t, err)
	p.UpdateLoad("t", []int32{0, 1}, []int32{0, 1000})
	p.PartitionSized("t", nil, 1, 3)
	counts := map[int32]int{}
	for range 10000 {
		counts[p.PartitionSized("t", nil, 1, 3)]++
	}
	assert.Zero(t, counts[2], "unavailable partition")
	assert.InDelta(t, 5000, counts[1], 500, "uniform, queue sizes ignored")
}

func TestStickyConcurrent(t *testing.T) {
	p := Sticky(4096)
	const goroutines, perG, n = 8, 5000, 6
	var wg sync.WaitGroup
	counts := make([][n]int, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perG {
				part := p.PartitionSized("t", nil, 64, n)
				if part < 0 || part >= n {
					t.Errorf("partition %d", part)
					return
				}
				counts[g][part]++
				if i%100 == 0 {
					p.UpdateLoad("t", []int32{0, 1, 2, 3, 4, 5}, []int32{int32(i % 7), 1, 2, 3, 4, 5})
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		for _, x := range c {
			total += x
		}
	}
	assert.Equal(t, goroutines*perG, total)
}

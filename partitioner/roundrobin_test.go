package partitioner

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundRobinCycles(t *testing.T) {
	p := RoundRobin()
	prev := p.Partition("t", []byte("keys ignored"), 5)
	for range 20 {
		got := p.Partition("t", []byte("k"), 5)
		assert.Equal(t, (prev+1)%5, got)
		prev = got
	}
	// Topics have their own counters.
	a1 := p.Partition("a", nil, 1000)
	p.Partition("b", nil, 1000)
	assert.Equal(t, (a1+1)%1000, p.Partition("a", nil, 1000))
	assert.Equal(t, int32(-1), p.Partition("t", nil, 0))
}

func TestRoundRobinConcurrentEven(t *testing.T) {
	p := RoundRobin()
	const n, goroutines, per = 7, 4, 7000
	var mu sync.Mutex
	counts := make([]int, n)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			local := make([]int, n)
			for range per {
				local[p.Partition("t", nil, n)]++
			}
			mu.Lock()
			for i, c := range local {
				counts[i] += c
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, c := range counts {
		assert.Equal(t, goroutines*per/n, c, "every partition gets exactly its share")
	}
}

func TestHash(t *testing.T) {
	p := Hash()
	for _, k := range []string{"", "a", "order-17"} {
		assert.Equal(t, KeyPartition([]byte(k), 9), p.Partition("t", []byte(k), 9))
	}
	prev := p.Partition("t", nil, 4)
	for range 8 {
		got := p.Partition("t", nil, 4)
		require.Equal(t, (prev+1)%4, got, "keyless records rotate")
		prev = got
	}
	assert.Equal(t, int32(-1), p.Partition("t", []byte("k"), 0))
	assert.Equal(t, int32(-1), p.Partition("t", nil, 0))
}

func TestPartitionerFunc(t *testing.T) {
	var p Partitioner = PartitionerFunc(func(topic string, key []byte, n int32) int32 {
		return int32(len(topic)+len(key)) % n
	})
	assert.Equal(t, int32(3), p.Partition("abc", nil, 10))
	assert.Equal(t, int32(1), p.Partition("abc", []byte("xy"), 4))
}

// The implementations advertise the optional interfaces the producer
// looks for.
func TestOptionalInterfaces(t *testing.T) {
	var p Partitioner = Default()
	_, sized := p.(SizeAware)
	_, load := p.(LoadAware)
	assert.True(t, sized)
	assert.True(t, load)
	_, sized = RoundRobin().(SizeAware)
	assert.False(t, sized)
}

package accum

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDrainGivesSmallBatchBufferBack: a drained batch that uses little of
// its batch.size buffer keeps only its bytes counted against
// buffer.memory, so an appender waiting for memory gets it at the drain,
// not only once the answer comes back; the bytes sent are unchanged.
func TestDrainGivesSmallBatchBufferBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const batchSize = 4096
		// Room for one batch and a half: the second batch needs the first's buffer.
		// Partition 1 is led by node 2, so draining node 1 takes only partition 0.
		l := &leaders{m: map[string]int32{"t/1": 2}}
		a := newAcc(t, Config{BatchSize: batchSize, BufferMemory: batchSize * 3 / 2, MaxBlock: time.Minute, Linger: -1, Leader: l.leader})
		for i := range 3 {
			require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, tag(i))))
		}
		require.Equal(t, int64(batchSize), a.MemoryUsed())
		errc := make(chan error, 1)
		go func() { errc <- a.Append(context.Background(), "t", 1, rec(3, nil)) }()
		synctest.Wait()
		require.Empty(t, errc, "no room for a second batch")

		bs := a.Drain(1, 1<<20, time.Now(), nil)
		require.Len(t, bs, 1)
		require.NoError(t, <-errc, "the drain gave the buffer back")
		small := int64(cap(bs[0].wireBuf))
		assert.Less(t, small, int64(batchSize/2))
		assert.Equal(t, batchSize+small, a.MemoryUsed(), "the new batch's buffer, and the bytes in flight")

		recs := decode(t, bs[0])
		require.Len(t, recs, 3)
		for i, r := range recs {
			assert.Equal(t, rec(i, nil).Value, r.Value)
		}
		// A retry sends the same bytes, restamped in place.
		a.Reenqueue(bs[0], time.Now())
		again := a.Drain(1, 1<<20, time.Now().Add(time.Hour), nil)
		require.Len(t, again, 1)
		assert.Same(t, bs[0], again[0])
		assert.Len(t, decode(t, again[0]), 3)

		a.Done(again[0], true)
		a.Release(again[0])
		assert.Equal(t, int64(batchSize), a.MemoryUsed(), "only the open batch of partition 1 is left")
	})
}

// TestDrainKeepsFullBatchBuffer: a batch that fills its buffer is sent
// from it, with no copy.
func TestDrainKeepsFullBatchBuffer(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 1024, Linger: -1})
	for i := range 100 {
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, nil)))
	}
	bs := a.Drain(1, 1<<20, time.Now(), nil)
	require.Len(t, bs, 1)
	assert.Nil(t, bs[0].wireBuf, "sent from its own buffer")
	assert.NotNil(t, bs[0].buf)
	a.Done(bs[0], true)
	a.Release(bs[0])
}

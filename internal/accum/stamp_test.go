package accum

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
)

// closedBatches returns every queued batch that is closed, per partition
// in queue order.
func closedBatches(a *acc) map[int32][]*Batch[*int] {
	out := map[int32][]*Batch[*int]{}
	for _, p := range *a.all.Load() {
		p.mu.Lock()
		for _, b := range p.q {
			if b != p.open {
				out[p.id] = append(out[p.id], b)
			}
		}
		p.mu.Unlock()
	}
	return out
}

// TestCompressWorkerStampsProducerFields: a compression worker writes the
// producer id, epoch and base sequence Drain is going to assign, so the
// header and its CRC are written once, off the sender goroutine; when the
// identity changes before the drain, Drain restamps and the CRC holds.
func TestCompressWorkerStampsProducerFields(t *testing.T) {
	const n = 400
	a := newAcc(t, Config{Codec: int8(compress.Zstd), CompressWorkers: 2, BatchSize: 512, Linger: time.Hour, Idempotent: true})
	a.SetProducerID(9, 2)
	for i := range n {
		require.NoError(t, a.Append(context.Background(), "t", int32(i%2), rec(i, nil)))
	}
	// No event says "every closed batch is compressed" (the workers wake
	// the sender only for a partition's head), so poll.
	require.Eventually(t, func() bool {
		for _, bs := range closedBatches(a) {
			for _, b := range bs {
				b.p.mu.Lock()
				done := b.cstate == cCompressed
				b.p.mu.Unlock()
				if !done {
					return false
				}
			}
		}
		return true
	}, 10*time.Second, time.Millisecond)

	queued := closedBatches(a)
	require.Len(t, queued, 2)
	for part, bs := range queued {
		require.Greater(t, len(bs), 2, "several batches queued ahead of each other")
		seq := int32(0)
		for _, b := range bs {
			h, err := batch.Validate(b.wire)
			require.NoError(t, err, "partition %d", part)
			assert.Equal(t, int64(9), h.ProducerID)
			assert.Equal(t, int16(2), h.ProducerEpoch)
			assert.Equal(t, seq, h.BaseSequence, "partition %d: the sequence Drain will assign", part)
			seq += int32(b.NumRecords())
		}
	}

	// A new epoch before the drain: every guess is stale.
	a.SetProducerID(9, 3)
	nextSeq := map[int32]int32{}
	for _, b := range drainAll(t, a, n) {
		h, err := batch.Validate(b.Records())
		require.NoError(t, err)
		assert.Equal(t, int16(3), h.ProducerEpoch, "restamped at drain")
		assert.Equal(t, nextSeq[b.Partition()], h.BaseSequence)
		nextSeq[b.Partition()] += int32(b.NumRecords())
		a.Done(b, true)
		a.Release(b)
	}
	assert.Equal(t, int32(n), nextSeq[0]+nextSeq[1])
}

package accum

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
)

// TestAbortQueued: a transaction's abort takes every queued batch, retried
// ones included (they keep their sequence, so the caller knows to bump the
// epoch), leaves in-flight ones alone, and keeps accepting records.
func TestAbortQueued(t *testing.T) {
	a := newAcc(t, Config{Linger: -1, Idempotent: true, Transactional: true})
	a.SetProducerID(7, 0)
	ctx := context.Background()
	for p := range int32(3) {
		require.NoError(t, a.Append(ctx, "t", p, rec(int(p), nil)))
	}
	drained := a.Drain(1, 1<<20, time.Now(), nil)
	require.Len(t, drained, 3)
	byPart := map[int32]*Batch[*int]{}
	for _, b := range drained {
		byPart[b.Partition()] = b
	}
	a.Reenqueue(byPart[0], time.Now())                      // p0: a retry, queued again
	require.NoError(t, a.Append(ctx, "t", 1, rec(10, nil))) // p1: a new batch behind the in-flight one

	aborted := a.AbortQueued(nil)
	require.Len(t, aborted, 2)
	got := map[int32]int32{}
	for _, b := range aborted {
		got[b.Partition()] = b.BaseSequence()
	}
	assert.Equal(t, map[int32]int32{0: 0, 1: -1}, got, "partition -> base sequence of the aborted batches")
	assert.Equal(t, 2, a.InFlight(), "p1's and p2's first batches are still in flight")

	require.NoError(t, a.Append(ctx, "t", 1, rec(11, nil)))
	nodes, _, _ := a.Ready(time.Now(), nil)
	assert.Equal(t, []int32{1}, nodes)
}

// TestTransactionalAttribute: batches of a transactional accumulator carry
// the transactional bit, compressed or not; others do not.
func TestTransactionalAttribute(t *testing.T) {
	for _, tc := range []struct {
		txn   bool
		codec int8
	}{{false, 0}, {true, 0}, {true, 4}, {false, 4}} {
		a := newAcc(t, Config{Linger: -1, Idempotent: true, Transactional: tc.txn, Codec: tc.codec, CompressWorkers: 1})
		a.SetProducerID(7, 0)
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		var bs []*Batch[*int]
		require.Eventually(t, func() bool {
			bs = a.Drain(1, 1<<20, time.Now(), nil)
			return len(bs) == 1
		}, 5*time.Second, time.Millisecond)
		h, err := batch.Validate(bs[0].Records())
		require.NoError(t, err)
		assert.Equal(t, tc.txn, h.Attributes&batch.AttrTransactional != 0, "txn=%v codec=%d", tc.txn, tc.codec)
	}
}

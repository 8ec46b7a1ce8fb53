package accum

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// partitions lists the partitions of bs, in order.
func partitions(bs []*Batch[*int]) []int32 {
	var ps []int32
	for _, b := range bs {
		ps = append(ps, b.Partition())
	}
	return ps
}

// TestYoungBatchWaitsItsOwnLinger is issue 14's 1,000-partition fix: when
// one partition's linger ends, a partition on the same node whose small
// batch is younger stays, where Kafka's drain would take it along, and it
// goes out when its own linger ends.
func TestYoungBatchWaitsItsOwnLinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const linger = 5 * time.Millisecond
		a := newAcc(t, Config{Linger: linger})
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		old := time.Now()
		time.Sleep(4 * time.Millisecond)
		require.NoError(t, a.Append(context.Background(), "t", 1, rec(1, nil)))
		young := time.Now()

		nodes, next, _ := a.Ready(time.Now(), nil)
		assert.Empty(t, nodes, "nothing has lingered enough")
		assert.Equal(t, old.Add(linger), next, "one wake-up, for the earliest linger")
		time.Sleep(time.Until(next))

		nodes, next, _ = a.Ready(time.Now(), nil)
		assert.Equal(t, []int32{1}, nodes, "partition 0 lingered: its node is ready")
		assert.Equal(t, young.Add(linger), next, "then partition 1's linger")
		bs := a.Drain(1, 1<<20, time.Now(), nil)
		assert.Equal(t, []int32{0}, partitions(bs), "the young batch of partition 1 stays")
		assert.Empty(t, a.Drain(1, 1<<20, time.Now(), nil))

		// A record arriving now joins partition 1's lingering batch.
		require.NoError(t, a.Append(context.Background(), "t", 1, rec(2, nil)))
		time.Sleep(time.Until(young.Add(linger)))
		bs = a.Drain(1, 1<<20, time.Now(), nil)
		require.Equal(t, []int32{1}, partitions(bs), "partition 1 leaves once its own linger ends")
		assert.Equal(t, 2, bs[0].NumRecords())
	})
}

// TestDrainGathersEveryDuePartition: the slack lets one wake-up gather the
// partitions whose lingers end shortly after, in one request, and none
// waits past its linger.
func TestDrainGathersEveryDuePartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const linger = 5 * time.Millisecond
		a := newAcc(t, Config{Linger: linger})
		for p := range int32(4) {
			require.NoError(t, a.Append(context.Background(), "t", p, rec(int(p), nil)))
			time.Sleep(lingerSlack(linger) / 4)
		}
		_, next, _ := a.Ready(time.Now(), nil)
		time.Sleep(time.Until(next))
		bs := a.Drain(1, 1<<20, time.Now(), nil)
		assert.ElementsMatch(t, []int32{0, 1, 2, 3}, partitions(bs), "lingers ending within the slack go out together")
		for _, b := range bs {
			assert.LessOrEqual(t, time.Since(b.created), linger, "no batch waits past its linger")
		}
	})
}

// TestUrgentDrainsYoungBatches: Flush, Close and linger 0 send every
// batch at once, however young (memory pressure: TestBufferFullUnblocksOnRelease).
func TestUrgentDrainsYoungBatches(t *testing.T) {
	for _, tc := range []struct {
		name   string
		linger time.Duration
		urgent func(a *acc)
	}{
		{"flush", time.Hour, func(a *acc) { a.BeginFlush() }},
		{"close", time.Hour, func(a *acc) { a.Close() }},
		{"linger 0", -1, func(*acc) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := newAcc(t, Config{Linger: tc.linger})
				for p := range int32(3) {
					require.NoError(t, a.Append(context.Background(), "t", p, rec(int(p), nil)))
				}
				tc.urgent(a)
				nodes, next, _ := a.Ready(time.Now(), nil)
				assert.Equal(t, []int32{1}, nodes)
				assert.Equal(t, time.Now().Add(a.Config().DeliveryTimeout), next, "no linger wake-up left, only expiry")
				bs := a.Drain(1, 1<<20, time.Now(), nil)
				assert.ElementsMatch(t, []int32{0, 1, 2}, partitions(bs))
			})
		})
	}
}

// TestHalfFullBatchRidesAlong: a request that goes out for a due batch
// also takes other partitions' heads that are at least half full, one
// batch per partition, but never tiny young ones; and no request goes
// out for half-full batches alone.
func TestHalfFullBatchRidesAlong(t *testing.T) {
	const batchSize = 1024
	a := newAcc(t, Config{BatchSize: batchSize, Linger: time.Hour})
	fill := func(p int32, bytes int) {
		t.Helper()
		for i := 0; ; i++ {
			require.NoError(t, a.Append(context.Background(), "t", p, rec(i, nil)))
			if a.openSize(p) >= bytes {
				return
			}
		}
	}
	fill(1, batchSize*2/3) // half full: rides along
	fill(2, 1)             // tiny: stays
	fill(3, batchSize*2/3)
	assert.Empty(t, a.Drain(1, 1<<20, time.Now(), nil), "half-full batches do not make a request by themselves")

	fill(0, batchSize*2/3)
	for i := 0; len(a.queue(0)) < 2; i++ {
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, nil))) // partition 0's first batch fills: due
	}
	fill(0, batchSize*2/3) // and its second is half full too
	bs := a.Drain(1, 1<<20, time.Now(), nil)
	assert.ElementsMatch(t, []int32{0, 1, 3}, partitions(bs), "one batch per partition; partition 2's tiny batch stays")
	assert.Len(t, a.queue(0), 1, "partition 0's second batch waits for the next request")
	assert.Len(t, a.queue(2), 1)
}

package accum

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
)

// drainAll flushes a and drains every batch of node 1, waiting on Wakeup
// while batches are being compressed, and returns them in drain order.
func drainAll(tb testing.TB, a *acc, want int) []*Batch[*int] {
	tb.Helper()
	a.BeginFlush()
	defer a.EndFlush()
	var out []*Batch[*int]
	deadline := time.After(10 * time.Second)
	for n := 0; n < want; {
		nodes, _, _ := a.Ready(time.Now(), nil)
		if len(nodes) > 0 {
			bs := a.Drain(1, 1<<30, time.Now(), nil)
			for _, b := range bs {
				n += b.NumRecords()
			}
			out = append(out, bs...)
			if len(bs) > 0 {
				continue
			}
		}
		select {
		case <-a.Wakeup():
		case <-deadline:
			tb.Fatalf("drained %d of %d records", n, want)
		}
	}
	return out
}

// TestCompressWorkersKeepOrderAndSequences compresses on workers while
// many partitions fill: every drained batch was compressed by a worker (not
// on the drain), carries the producer id, epoch and a base sequence that
// continues its partition's, has a valid CRC, and the records come out in
// append order per partition.
func TestCompressWorkersKeepOrderAndSequences(t *testing.T) {
	for _, codec := range []compress.Codec{compress.LZ4, compress.Zstd} {
		t.Run(codec.String(), func(t *testing.T) {
			const partitions, n = 16, 4000
			a := newAcc(t, Config{Codec: int8(codec), CompressWorkers: 2, BatchSize: 1024, Linger: time.Hour, Idempotent: true})
			a.SetProducerID(9, 2)
			for i := range n {
				require.NoError(t, a.Append(context.Background(), "t", int32(i%partitions), rec(i, nil)))
			}
			bs := drainAll(t, a, n)
			nextSeq := map[int32]int32{}
			last := map[int32]int{}
			got := 0
			for _, b := range bs {
				assert.Equal(t, cCompressed, b.cstate, "compressed by a worker")
				h, err := batch.Validate(b.Records())
				require.NoError(t, err)
				assert.Equal(t, codec, h.Codec())
				assert.Equal(t, int64(9), h.ProducerID)
				assert.Equal(t, int16(2), h.ProducerEpoch)
				assert.Equal(t, nextSeq[b.Partition()], h.BaseSequence, "partition %d", b.Partition())
				nextSeq[b.Partition()] += int32(b.NumRecords())
				for _, r := range decode(t, b) {
					var i int
					_, err := fmt.Sscanf(string(r.Value), "value-%d", &i)
					require.NoError(t, err)
					if l, ok := last[b.Partition()]; ok {
						assert.Greater(t, i, l, "partition %d out of order", b.Partition())
					}
					last[b.Partition()] = i
					got++
				}
			}
			assert.Equal(t, n, got)
			for _, b := range bs {
				a.Done(b, true)
				a.Release(b)
			}
			assert.Zero(t, a.MemoryUsed(), "buffer.memory all returned")
			assert.Empty(t, a.Abort(nil))
			a.comp.mu.Lock()
			assert.Zero(t, a.comp.running, "Abort stopped the workers")
			a.comp.mu.Unlock()
		})
	}
}

// TestCompressorStoppedDrainCompresses aborts while batches are queued for
// compression: Abort returns every record once and leaves no worker
// running; a compressor stopped with work queued hands it back raw, and
// Drain then compresses it itself.
func TestCompressorStoppedDrainCompresses(t *testing.T) {
	a := newAcc(t, Config{Codec: int8(compress.Zstd), CompressWorkers: 1, BatchSize: 512, Linger: time.Hour})
	for i := range 500 {
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, nil)))
	}
	aborted := a.Abort(nil)
	a.comp.mu.Lock()
	assert.Zero(t, a.comp.running)
	assert.True(t, a.comp.stopped)
	a.comp.mu.Unlock()
	total := 0
	for _, b := range aborted {
		total += b.NumRecords()
		a.Release(b)
	}
	assert.Equal(t, 500, total)
	assert.Zero(t, a.MemoryUsed())

	b := newAcc(t, Config{Codec: int8(compress.Zstd), CompressWorkers: 1, BatchSize: 512, Linger: -1})
	b.comp.stop()
	for i := range 100 {
		require.NoError(t, b.Append(context.Background(), "t", 0, rec(i, nil)))
	}
	bs := drainAll(t, b, 100)
	got := 0
	for _, x := range bs {
		assert.Equal(t, cRaw, x.cstate, "compressed on the drain")
		h, err := batch.Validate(x.Records())
		require.NoError(t, err)
		assert.Equal(t, compress.Zstd, h.Codec())
		got += len(decode(t, x))
	}
	assert.Equal(t, 100, got)
}

// TestExpireLeavesCompressingBatch: a batch a worker holds is not expired
// under it (its buffer would go back to the pool mid-compression); it
// expires once the worker let go.
func TestExpireLeavesCompressingBatch(t *testing.T) {
	a := newAcc(t, Config{Codec: int8(compress.Zstd), CompressWorkers: 1, Linger: time.Hour, DeliveryTimeout: time.Second})
	require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
	p := a.partitionFor("t", 0)
	p.mu.Lock()
	p.q[0].cstate = cCompressing // as if a worker held it
	p.mu.Unlock()
	later := time.Now().Add(time.Hour)
	assert.Empty(t, a.Expire(later, nil))
	p.mu.Lock()
	p.q[0].cstate = cCompressed
	p.mu.Unlock()
	assert.Len(t, a.Expire(later, nil), 1)
}

func TestCompressWorkersValidate(t *testing.T) {
	_, err := New[*int](Config{CompressWorkers: -1, Leader: (&leaders{}).leader})
	assert.ErrorContains(t, err, "CompressWorkers is negative")
}

// TestSleepUntilSkipsNeedlessWakeups: a new batch wakes the sender only if
// the sender would not wake by the batch's linger deadline by itself.
func TestSleepUntilSkipsNeedlessWakeups(t *testing.T) {
	const linger = time.Second
	for _, tc := range []struct {
		name  string
		until func(now time.Time) time.Time
		wake  bool
	}{
		{"awake or no deadline", func(time.Time) time.Time { return time.Time{} }, true},
		{"wakes before the deadline", func(now time.Time) time.Time { return now.Add(linger / 2) }, false},
		{"wakes after the deadline", func(now time.Time) time.Time { return now.Add(2 * linger) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAcc(t, Config{Linger: linger})
			a.SleepUntil(tc.until(time.Now()))
			require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
			select {
			case <-a.Wakeup():
				assert.True(t, tc.wake, "woken needlessly")
			default:
				assert.False(t, tc.wake, "not woken for a batch due before the sender's wake-up")
			}
		})
	}
}

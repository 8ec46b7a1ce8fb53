package accum

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// leaders is a fixed leader map for tests: every partition on node 1 unless
// listed.
type leaders struct {
	mu sync.Mutex
	m  map[string]int32 // "topic/partition" -> node, -1 unknown
}

func (l *leaders) leader(topic string, p int32) (int32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.m[fmt.Sprintf("%s/%d", topic, p)]; ok {
		return n, n >= 0
	}
	return 1, true
}

// The tests' callbacks carry the number of the record they belong to:
// tag(i) writes i through the metadata pointer, and id reads it back.
type acc = Accumulator[*int]

func tag(i int) func(*int, error) { return func(md *int, _ error) { *md = i } }

func id(cb func(*int, error)) int {
	var n int
	cb(&n, nil)
	return n
}

func newAcc(tb testing.TB, cfg Config) *acc {
	tb.Helper()
	if cfg.Leader == nil {
		l := &leaders{m: map[string]int32{}}
		cfg.Leader = l.leader
	}
	a, err := New[*int](cfg)
	require.NoError(tb, err)
	return a
}

func rec(i int, cb func(*int, error)) *Record[*int] {
	return &Record[*int]{
		Timestamp: 1_700_000_000_000 + int64(i),
		Key:       []byte(fmt.Sprintf("k%d", i)),
		Value:     []byte(fmt.Sprintf("value-%d", i)),
		Headers:   []Header{{Key: "h", Value: []byte{byte(i)}}},
		Callback:  cb,
	}
}

// decode returns the records of a drained batch.
func decode(tb testing.TB, b *Batch[*int]) []batch.Record {
	tb.Helper()
	_, err := batch.Validate(b.Records())
	require.NoError(tb, err)
	var d batch.Decoder
	var out []batch.Record
	require.NoError(tb, d.Records(b.Records(), func(h *batch.Header, r *batch.Record) error {
		c := *r
		c.Key = append([]byte(nil), r.Key...)
		c.Value = append([]byte(nil), r.Value...)
		c.Headers = append([]batch.RecordHeader(nil), r.Headers...)
		out = append(out, c)
		return nil
	}))
	return out
}

func TestAppendDrainRoundTrip(t *testing.T) {
	for _, codec := range []int8{0, 1, 2, 3, 4} {
		t.Run(fmt.Sprint("codec", codec), func(t *testing.T) {
			a := newAcc(t, Config{Codec: codec, Linger: -1})
			for i := range 50 {
				require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, tag(i))))
			}
			nodes, _, unknown := a.Ready(time.Now(), nil)
			assert.Equal(t, []int32{1}, nodes)
			assert.False(t, unknown)
			bs := a.Drain(1, 1<<20, time.Now(), nil)
			require.Len(t, bs, 1)
			b := bs[0]
			assert.Equal(t, 50, b.NumRecords())
			recs := decode(t, b)
			require.Len(t, recs, 50)
			for i, r := range recs {
				want := rec(i, nil)
				assert.Equal(t, want.Key, r.Key)
				assert.Equal(t, want.Value, r.Value)
				assert.Equal(t, want.Timestamp, r.Timestamp)
				require.Len(t, r.Headers, 1)
				assert.Equal(t, want.Headers[0].Value, r.Headers[0].Value)
			}
			require.Len(t, b.Pending(), 50)
			for i, p := range b.Pending() {
				assert.Equal(t, i, id(p.Callback))
				assert.Equal(t, int32(i), p.OffsetDelta)
			}
			a.Done(b, true)
			a.Release(b)
			assert.Zero(t, a.NumIncomplete())
			assert.Zero(t, a.MemoryUsed())
			select {
			case <-b.Done():
			default:
				t.Fatal("Done not closed after Release")
			}
		})
	}
}

func TestBatchFullClosesAndOpensNew(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 1024, Linger: time.Hour})
	for i := range 100 {
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, nil)))
	}
	// Linger is an hour, but full batches are ready.
	nodes, _, _ := a.Ready(time.Now(), nil)
	assert.Equal(t, []int32{1}, nodes)
	total := 0
	drain := func() {
		for {
			bs := a.Drain(1, 1<<20, time.Now(), nil)
			if len(bs) == 0 {
				break
			}
			require.Len(t, bs, 1, "one batch per partition per request")
			assert.LessOrEqual(t, len(bs[0].Records()), 1024)
			recs := decode(t, bs[0])
			for _, r := range recs {
				assert.Equal(t, fmt.Sprintf("k%d", total), string(r.Key))
				total++
			}
			a.Done(bs[0], true)
			a.Release(bs[0])
		}
	}
	drain()
	// The last batch is open and young: it lingers until a flush.
	assert.Less(t, total, 100)
	assert.Equal(t, 1, a.NumIncomplete())
	a.BeginFlush()
	drain()
	a.EndFlush()
	assert.Equal(t, 100, total)
}

func TestOversizedRecordGetsOwnBatch(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 1024, Linger: -1})
	big := &Record[*int]{Value: make([]byte, 5000)}
	require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
	require.NoError(t, a.Append(context.Background(), "t", 0, big))
	require.NoError(t, a.Append(context.Background(), "t", 0, rec(1, nil)))
	var sizes []int
	for {
		bs := a.Drain(1, 1<<20, time.Now(), nil)
		if len(bs) == 0 {
			break
		}
		sizes = append(sizes, bs[0].NumRecords())
		a.Done(bs[0], true)
		a.Release(bs[0])
	}
	assert.Equal(t, []int{1, 1, 1}, sizes)
	assert.Zero(t, a.MemoryUsed())
}

func TestRecordTooLarge(t *testing.T) {
	a := newAcc(t, Config{MaxRequestSize: 1000})
	err := a.Append(context.Background(), "t", 0, &Record[*int]{Value: make([]byte, 2000)})
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.MessageTooLarge)
	assert.ErrorIs(t, err, ErrRecordTooLarge)

	a = newAcc(t, Config{BufferMemory: 4096, BatchSize: 1024})
	err = a.Append(context.Background(), "t", 0, &Record[*int]{Value: make([]byte, 5000)})
	assert.ErrorIs(t, err, kerr.MessageTooLarge)
	assert.Zero(t, a.NumIncomplete())
}

func TestLingerAndNextWakeup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAcc(t, Config{Linger: 50 * time.Millisecond})
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		start := time.Now()
		nodes, next, _ := a.Ready(start, nil)
		assert.Empty(t, nodes, "not full and linger not elapsed")
		assert.Equal(t, start.Add(50*time.Millisecond), next, "the linger deadline")
		<-a.Wakeup() // opening the batch signalled

		time.Sleep(50 * time.Millisecond)
		nodes, _, _ = a.Ready(time.Now(), nil)
		assert.Equal(t, []int32{1}, nodes)
	})
}

func TestFlushMakesReady(t *testing.T) {
	a := newAcc(t, Config{Linger: time.Hour})
	require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
	nodes, _, _ := a.Ready(time.Now(), nil)
	assert.Empty(t, nodes)
	a.BeginFlush()
	nodes, _, _ = a.Ready(time.Now(), nil)
	assert.Equal(t, []int32{1}, nodes)
	a.EndFlush()
	nodes, _, _ = a.Ready(time.Now(), nil)
	assert.Empty(t, nodes)
}

func TestUnknownLeader(t *testing.T) {
	l := &leaders{m: map[string]int32{"t/0": -1}}
	a := newAcc(t, Config{Linger: -1, Leader: l.leader})
	require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
	require.NoError(t, a.Append(context.Background(), "t", 1, rec(1, nil)))
	nodes, _, unknown := a.Ready(time.Now(), nil)
	assert.True(t, unknown)
	assert.Equal(t, []int32{1}, nodes)
	bs := a.Drain(1, 1<<20, time.Now(), nil)
	require.Len(t, bs, 1)
	assert.Equal(t, int32(1), bs[0].Partition())
}

func TestDrainRespectsMaxRequestSize(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 1024, Linger: -1})
	for p := range int32(4) {
		for i := range 30 {
			require.NoError(t, a.Append(context.Background(), "t", p, rec(i, nil)))
		}
	}
	bs := a.Drain(1, 2000, time.Now(), nil)
	require.Len(t, bs, 2, "two ~1KiB batches fit in 2000 bytes")
	seen := map[int32]bool{}
	for _, b := range bs {
		assert.False(t, seen[b.Partition()], "at most one batch per partition")
		seen[b.Partition()] = true
	}
	// The first batch is always taken, even above the limit.
	bs2 := a.Drain(1, 10, time.Now(), nil)
	assert.Len(t, bs2, 1)
}

func TestIdempotentSequencesAndInFlightLimit(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 512, Linger: -1, Idempotent: true, MaxInFlightPerPartition: 2})
	a.SetProducerID(7, 3)
	for i := range 60 {
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, nil)))
	}
	b1 := a.Drain(1, 1<<20, time.Now(), nil)
	b2 := a.Drain(1, 1<<20, time.Now(), nil)
	b3 := a.Drain(1, 1<<20, time.Now(), nil)
	require.Len(t, b1, 1)
	require.Len(t, b2, 1)
	assert.Empty(t, b3, "two in flight is the limit")
	assert.Equal(t, int32(0), b1[0].BaseSequence())
	assert.Equal(t, int32(b1[0].NumRecords()), b2[0].BaseSequence())
	h, err := batch.Validate(b2[0].Records())
	require.NoError(t, err)
	assert.Equal(t, int64(7), h.ProducerID)
	assert.Equal(t, int16(3), h.ProducerEpoch)
	assert.Equal(t, b2[0].BaseSequence(), h.BaseSequence)
	assert.True(t, a.IsNextExpected(b1[0]))
	assert.False(t, a.IsNextExpected(b2[0]))

	// b1 fails retriably, b2 then fails too (out of order): both come back
	// in drain order whatever order they are re-enqueued in.
	now := time.Now()
	a.Reenqueue(b2[0], now)
	a.Reenqueue(b1[0], now)
	later := now.Add(time.Hour)
	r1 := a.Drain(1, 1<<20, later, nil)
	require.Len(t, r1, 1)
	assert.Same(t, b1[0], r1[0])
	assert.Empty(t, a.Drain(1, 1<<20, later, nil), "a retry waits for earlier in-flight batches")
	a.Done(r1[0], true)
	r2 := a.Drain(1, 1<<20, later, nil)
	require.Len(t, r2, 1)
	assert.Same(t, b2[0], r2[0])
	assert.True(t, a.IsNextExpected(r2[0]))

	// An epoch bump resets sequences and restamps on the next drain.
	a.Reenqueue(r2[0], later)
	a.SetProducerID(7, 4)
	r3 := a.Drain(1, 1<<20, later.Add(time.Hour), nil)
	require.Len(t, r3, 1)
	h, err = batch.Validate(r3[0].Records())
	require.NoError(t, err)
	assert.Equal(t, int16(4), h.ProducerEpoch)
	assert.Equal(t, int32(0), h.BaseSequence)
}

func TestBackoffGrowsWithJitter(t *testing.T) {
	a := newAcc(t, Config{RetryBackoff: 100 * time.Millisecond, RetryBackoffMax: time.Second})
	for _, tc := range []struct {
		attempts int
		base     time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {20, time.Second}} {
		for range 50 {
			d := a.Backoff(tc.attempts)
			assert.GreaterOrEqual(t, d, tc.base*8/10, "attempt %d", tc.attempts)
			assert.LessOrEqual(t, d, tc.base*12/10, "attempt %d", tc.attempts)
		}
	}
}

func TestReenqueueBackoffDelaysReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAcc(t, Config{Linger: -1, RetryBackoff: 100 * time.Millisecond})
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		bs := a.Drain(1, 1<<20, time.Now(), nil)
		require.Len(t, bs, 1)
		a.Reenqueue(bs[0], time.Now())
		nodes, next, _ := a.Ready(time.Now(), nil)
		assert.Empty(t, nodes)
		wait := next.Sub(time.Now())
		assert.InDelta(t, float64(100*time.Millisecond), float64(wait), float64(20*time.Millisecond))
		time.Sleep(wait)
		nodes, _, _ = a.Ready(time.Now(), nil)
		assert.Equal(t, []int32{1}, nodes)
	})
}

func TestExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &leaders{m: map[string]int32{"t/0": -1}}
		a := newAcc(t, Config{Leader: l.leader, DeliveryTimeout: time.Second})
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		_, next, unknown := a.Ready(time.Now(), nil)
		assert.True(t, unknown)
		assert.Equal(t, time.Now().Add(5*time.Millisecond), next, "linger comes first")
		assert.Empty(t, a.Expire(time.Now(), nil))
		time.Sleep(time.Second)
		exp := a.Expire(time.Now(), nil)
		require.Len(t, exp, 1)
		assert.Zero(t, exp[0].Attempts())
		a.Release(exp[0])
		assert.Zero(t, a.NumIncomplete())
		// The partition accepts new records in a fresh batch.
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(1, nil)))
		assert.Equal(t, 1, a.NumIncomplete())
	})
}

func TestBufferFullBlocksThenFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAcc(t, Config{BatchSize: 1024, BufferMemory: 2048, MaxBlock: time.Second, Linger: time.Hour})
		// Two partitions take the whole budget.
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		require.NoError(t, a.Append(context.Background(), "t", 1, rec(1, nil)))
		start := time.Now()
		err := a.Append(context.Background(), "t", 2, rec(2, nil))
		assert.ErrorIs(t, err, ErrBufferFull)
		assert.Equal(t, time.Second, time.Since(start))

		// A context ending earlier wins, and its error is wrapped.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err = a.Append(ctx, "t", 2, rec(2, nil))
		assert.ErrorIs(t, err, ErrBufferFull)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 2, a.NumIncomplete(), "nothing accepted was lost")
	})
}

func TestBufferFullUnblocksOnRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAcc(t, Config{BatchSize: 1024, BufferMemory: 1024, MaxBlock: time.Minute, Linger: time.Hour})
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		errc := make(chan error, 1)
		go func() { errc <- a.Append(context.Background(), "t", 1, rec(1, nil)) }()
		synctest.Wait()
		// Memory pressure makes everything ready despite the hour of linger.
		nodes, _, _ := a.Ready(time.Now(), nil)
		assert.Equal(t, []int32{1}, nodes)
		bs := a.Drain(1, 1<<20, time.Now(), nil)
		require.Len(t, bs, 1)
		a.Done(bs[0], true)
		a.Release(bs[0])
		require.NoError(t, <-errc)
	})
}

func TestCloseFailsWaitersAndAppends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAcc(t, Config{BatchSize: 1024, BufferMemory: 1024, Linger: time.Hour})
		require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
		errc := make(chan error, 1)
		go func() { errc <- a.Append(context.Background(), "t", 1, rec(1, nil)) }()
		synctest.Wait()
		a.Close()
		assert.ErrorIs(t, <-errc, ErrClosed)
		assert.ErrorIs(t, a.Append(context.Background(), "t", 0, rec(2, nil)), ErrClosed)
		nodes, _, _ := a.Ready(time.Now(), nil)
		assert.Equal(t, []int32{1}, nodes, "closing makes queued batches sendable")
		ab := a.Abort(nil)
		require.Len(t, ab, 1)
	})
}

func TestAppendNOneGroup(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 1024, Linger: -1})
	n, err := a.AppendN(context.Background(), "t", 3, 100, func(i int, r *Record[*int]) { *r = *rec(i, tag(i)) })
	require.NoError(t, err)
	assert.Equal(t, 100, n)
	total := 0
	for {
		bs := a.Drain(1, 1<<20, time.Now(), nil)
		if len(bs) == 0 {
			break
		}
		for _, r := range decode(t, bs[0]) {
			assert.Equal(t, fmt.Sprintf("k%d", total), string(r.Key))
			total++
		}
		a.Done(bs[0], true)
		a.Release(bs[0])
	}
	assert.Equal(t, 100, total)

	n, err = a.AppendN(context.Background(), "t", 3, 3, func(i int, r *Record[*int]) {
		*r = Record[*int]{Value: make([]byte, 2<<20*i)}
	})
	assert.Equal(t, 1, n)
	assert.True(t, errors.Is(err, kerr.MessageTooLarge))
}

func TestConcurrentAppend(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 2048, Linger: -1, BufferMemory: 1 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	counts := make(chan int, 1)
	go func() { // a sender
		n := 0
		for ctx.Err() == nil || a.NumIncomplete() > 0 {
			for _, b := range a.Drain(1, 1<<20, time.Now(), nil) {
				n += b.NumRecords()
				a.Done(b, true)
				a.Release(b)
			}
		}
		counts <- n
	}()
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				assert.NoError(t, a.Append(context.Background(), "t", int32(g%2), rec(i, nil)))
			}
		}()
	}
	wg.Wait()
	cancel()
	assert.Equal(t, 8000, <-counts)
	assert.Zero(t, a.MemoryUsed())
}

func TestAppendAllocs(t *testing.T) {
	a := newAcc(t, Config{Linger: -1, BufferMemory: 64 << 20})
	r := rec(1, nil)
	cb := func(*int, error) {}
	rc := *r
	rc.Callback = cb
	// Warm up: open the batch.
	require.NoError(t, a.Append(context.Background(), "t", 0, r))
	allocs := testing.AllocsPerRun(100, func() {
		_ = a.Append(context.Background(), "t", 0, r)
		_ = a.Append(context.Background(), "t", 0, &rc)
	})
	// A new batch every ~370 records costs a few allocations; per record
	// this rounds to zero.
	assert.Less(t, allocs, 0.5)
}

func TestConfigValidate(t *testing.T) {
	_, err := New[*int](Config{BatchSize: -1, Codec: 9})
	require.Error(t, err)
	for _, want := range []string{"batch.size", "Codec 9", "Leader is required"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestTopicsAndQueueSizes(t *testing.T) {
	a := newAcc(t, Config{BatchSize: 512, Linger: time.Hour})
	for i := range 60 {
		require.NoError(t, a.Append(context.Background(), "t", 1, rec(i, nil)))
	}
	require.NoError(t, a.Append(context.Background(), "u", 0, rec(0, nil)))
	topics := a.Topics(nil)
	assert.ElementsMatch(t, []string{"t", "u"}, topics)
	sizes := make([]int32, 3)
	a.QueueSizes("t", []int32{0, 1, 7}, sizes)
	assert.Equal(t, int32(0), sizes[0], "never used")
	assert.Greater(t, sizes[1], int32(1), "several ~512-byte batches")
	assert.Equal(t, int32(0), sizes[2], "beyond the known partitions")
}

func TestSplitTooLargeBatch(t *testing.T) {
	for _, codec := range []int8{0, 4} {
		t.Run(fmt.Sprint("codec", codec), func(t *testing.T) {
			a := newAcc(t, Config{Linger: -1, Idempotent: true, Codec: codec})
			a.SetProducerID(1, 0)
			for i := range 11 {
				var cb func(*int, error)
				if i%2 == 0 {
					cb = tag(i)
				}
				require.NoError(t, a.Append(context.Background(), "t", 0, rec(i, cb)))
			}
			bs := a.Drain(1, 1<<20, time.Now(), nil)
			require.Len(t, bs, 1)
			orig := bs[0]
			require.True(t, a.Split(orig, time.Now()))
			assert.Zero(t, a.InFlight())

			later := time.Now().Add(time.Hour)
			var all []batch.Record
			var seqs []int32
			var callbacks []int
			for range 2 {
				hs := a.Drain(1, 1<<20, later, nil)
				require.Len(t, hs, 1)
				h := hs[0]
				seqs = append(seqs, h.BaseSequence())
				recs := decode(t, h)
				for _, p := range h.Pending() {
					callbacks = append(callbacks, id(p.Callback))
					assert.Equal(t, fmt.Sprintf("k%d", id(p.Callback)), string(recs[p.OffsetDelta].Key), "callback stays with its record")
				}
				all = append(all, recs...)
				select {
				case <-orig.Done():
					t.Fatal("the split batch completed before its halves")
				default:
				}
				a.Done(h, true)
				a.Release(h)
			}
			require.Len(t, all, 11)
			for i, r := range all {
				assert.Equal(t, fmt.Sprintf("k%d", i), string(r.Key))
				assert.Equal(t, rec(i, nil).Timestamp, r.Timestamp)
			}
			assert.Equal(t, []int32{0, 5}, seqs, "halves keep the original sequence range")
			assert.Equal(t, []int{0, 2, 4, 6, 8, 10}, callbacks)
			<-orig.Done()
			assert.Zero(t, a.NumIncomplete())
			assert.Zero(t, a.MemoryUsed())
		})
	}
}

func TestSplitSingleRecordRefused(t *testing.T) {
	a := newAcc(t, Config{Linger: -1})
	require.NoError(t, a.Append(context.Background(), "t", 0, rec(0, nil)))
	bs := a.Drain(1, 1<<20, time.Now(), nil)
	require.Len(t, bs, 1)
	assert.False(t, a.Split(bs[0], time.Now()))
	assert.Equal(t, 1, a.InFlight(), "a refused split leaves the batch to the caller")
	assert.NotEmpty(t, bs[0].Records())
}

// An epoch bump fences only the partition whose sequences broke: the others
// keep draining under the old identity, and each moves to the new one (at
// sequence 0) once its batches sent under the old one are back.
func TestFenceIsPerPartition(t *testing.T) {
	a := newAcc(t, Config{Linger: -1, Idempotent: true, MaxInFlightPerPartition: 5})
	ctx := context.Background()
	assert.Empty(t, a.Drain(1, 1<<20, time.Now(), nil), "nothing drains before the first producer id")
	a.SetProducerID(7, 0)
	appendTo := func(part int32, i int) {
		require.NoError(t, a.Append(ctx, "t", part, rec(i, nil)))
	}
	drainOne := func(part int32) *Batch[*int] {
		t.Helper()
		for _, b := range a.Drain(1, 1<<20, time.Now(), nil) {
			require.Equal(t, part, b.Partition(), "only partition %d may drain", part)
			return b
		}
		return nil
	}
	stamp := func(b *Batch[*int]) (int16, int32) {
		h, err := batch.Validate(b.Records())
		require.NoError(t, err)
		return h.ProducerEpoch, h.BaseSequence
	}

	appendTo(0, 0)
	a0 := drainOne(0)
	require.NotNil(t, a0)
	appendTo(1, 1)
	b0 := drainOne(1) // partition 1 has a batch in flight under epoch 0
	require.NotNil(t, b0)

	// Partition 0's batch fails for good: fence it, ask for a new epoch.
	assert.True(t, a.Fence(a0), "partition 0 used the current identity: a new one is needed")
	a.Done(a0, false)
	a.Release(a0)
	appendTo(0, 2)
	appendTo(1, 3)
	b1 := drainOne(1)
	require.NotNil(t, b1, "partition 1 keeps flowing while the bump is pending")
	ep, seq := stamp(b1)
	assert.Equal(t, int16(0), ep)
	assert.Equal(t, int32(1), seq)
	nodes, _, _ := a.Ready(time.Now(), nil)
	assert.Empty(t, nodes, "fenced partition 0 is not ready")

	a.SetProducerID(7, 1)
	a0 = drainOne(0)
	require.NotNil(t, a0, "partition 0 moves to the new epoch at once: nothing in flight")
	ep, seq = stamp(a0)
	assert.Equal(t, int16(1), ep)
	assert.Equal(t, int32(0), seq)

	appendTo(1, 4)
	assert.Nil(t, drainOne(1), "partition 1 waits for its epoch-0 batches")
	assert.False(t, a.Fence(b0), "epoch 1 is installed already: partition 1 moves to it anyway")
	a.Done(b0, true)
	a.Release(b0)
	assert.Nil(t, drainOne(1))
	a.Done(b1, true)
	a.Release(b1)
	b2 := drainOne(1)
	require.NotNil(t, b2)
	ep, seq = stamp(b2)
	assert.Equal(t, int16(1), ep)
	assert.Equal(t, int32(0), seq, "a new epoch starts at sequence 0")
}

// TestCloseWaitsForOpeningAppend holds an Append between its closed check
// and the registration of the batch it opens, then closes. Close must wait
// for it: its caller lists Incomplete right after to know what to wait
// for, and a batch missing there would be aborted with ErrClosed although
// its record was accepted and Close's context had time.
func TestCloseWaitsForOpeningAppend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newAcc(t, Config{})
		inWindow, release := make(chan struct{}), make(chan struct{})
		testHookOpening = func() {
			close(inWindow)
			<-release
		}
		defer func() { testHookOpening = nil }()

		appended := make(chan error, 1)
		go func() { appended <- a.Append(context.Background(), "t", 0, rec(0, nil)) }()
		<-inWindow
		closed := make(chan []*Batch[*int], 1)
		go func() {
			a.Close()
			closed <- a.Incomplete(nil) // what the producer's Close waits for
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while an accepted Append was still registering its batch")
		default:
		}
		close(release)
		require.NoError(t, <-appended, "the Append saw the accumulator open")
		assert.Len(t, <-closed, 1, "Close's caller sees the accepted record's batch")
		assert.ErrorIs(t, a.Append(context.Background(), "t", 0, rec(1, nil)), ErrClosed)
	})
}

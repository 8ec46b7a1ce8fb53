package accumulator_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/accumulator"
	"github.com/skiffkit/skiff/internal/batch"
)

func newAcc(tb testing.TB, cfg accumulator.Config) *accumulator.Accumulator[int64] {
	tb.Helper()
	if cfg.Leader == nil {
		cfg.Leader = func(string, int32) (int32, bool) { return 1, true }
	}
	a, err := accumulator.New[int64](cfg)
	require.NoError(tb, err)
	return a
}

// A sender built on the public API alone: every record comes out in a
// batch, its callback gets the sender's metadata, and Release frees
// everything.
func TestPublicSenderLifeCycle(t *testing.T) {
	a := newAcc(t, accumulator.Config{Linger: time.Hour, Codec: 4, MaxInFlightPerPartition: 1})
	ctx := context.Background()
	var got []int64
	for i := range 20 {
		r := &accumulator.Record[int64]{
			Key:      fmt.Appendf(nil, "k%d", i),
			Value:    fmt.Appendf(nil, "v%d", i),
			Headers:  []accumulator.Header{{Key: "h", Value: []byte{byte(i)}}},
			Callback: func(off int64, err error) { assert.NoError(t, err); got = append(got, off) },
		}
		require.NoError(t, a.Append(ctx, "t", int32(i%2), r))
	}
	n, err := a.AppendN(ctx, "t", 0, 2, func(i int, r *accumulator.Record[int64]) {
		*r = accumulator.Record[int64]{Value: []byte("no callback")}
	})
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	nodes, _, unknown := a.Ready(time.Now(), nil)
	assert.Empty(t, nodes, "linger holds the batches")
	assert.False(t, unknown)

	select { // the appends' signal
	case <-a.Wakeup():
	default:
	}
	flushed := make(chan error, 1)
	go func() { flushed <- a.Flush(ctx) }()
	<-a.Wakeup() // Flush began
	nodes, _, _ = a.Ready(time.Now(), nil)
	require.Equal(t, []int32{1}, nodes)
	bs := a.Drain(1, 1<<20, time.Now(), nil)
	require.Len(t, bs, 2, "one batch per partition")
	assert.Empty(t, a.Drain(1, 1<<20, time.Now(), nil), "MaxInFlightPerPartition 1: nothing more until Release")
	records := 0
	for _, b := range bs {
		h, err := batch.Validate(b.Records())
		require.NoError(t, err)
		assert.Equal(t, int16(4), int16(h.Codec()))
		records += b.NumRecords()
		for p := range b.Pending() {
			p.Callback(int64(b.Partition())*1000+int64(p.OffsetDelta), nil)
		}
		select {
		case err := <-flushed:
			t.Fatalf("Flush returned %v before every batch was released", err)
		default:
		}
		a.Release(b)
		<-b.Done()
	}
	require.NoError(t, <-flushed)
	assert.Equal(t, 22, records)
	assert.Len(t, got, 20)
	assert.Zero(t, a.MemoryUsed())

	a.Close()
	err = a.Append(ctx, "t", 0, &accumulator.Record[int64]{Value: []byte("late")})
	assert.ErrorIs(t, err, accumulator.ErrClosed)
}

func TestPublicErrors(t *testing.T) {
	_, err := accumulator.New[int64](accumulator.Config{BatchSize: -1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Leader is required")

	a := newAcc(t, accumulator.Config{MaxRequestSize: 1000})
	err = a.CheckSize(&accumulator.Record[int64]{Value: make([]byte, 2000)})
	assert.ErrorIs(t, err, accumulator.ErrRecordTooLarge)

	small := newAcc(t, accumulator.Config{BufferMemory: 2048, BatchSize: 1024, MaxBlock: -1})
	ctx := context.Background()
	require.NoError(t, small.Append(ctx, "t", 0, &accumulator.Record[int64]{Value: make([]byte, 900)}))
	require.NoError(t, small.Append(ctx, "t", 1, &accumulator.Record[int64]{Value: make([]byte, 900)}))
	err = small.Append(ctx, "t", 2, &accumulator.Record[int64]{Value: make([]byte, 900)})
	assert.True(t, errors.Is(err, accumulator.ErrBufferFull), "got %v", err)
}

// The facade costs nothing per record: Append through it allocates no
// more than the machinery does (a new batch every few hundred records).
func TestPublicAppendAllocs(t *testing.T) {
	a := newAcc(t, accumulator.Config{Linger: -1, BufferMemory: 64 << 20})
	cb := func(int64, error) {}
	r := &accumulator.Record[int64]{Key: []byte("k"), Value: make([]byte, 20), Callback: cb}
	require.NoError(t, a.Append(context.Background(), "t", 0, r))
	allocs := testing.AllocsPerRun(200, func() {
		_ = a.Append(context.Background(), "t", 0, r)
	})
	assert.Less(t, allocs, 0.5)
}

package broker

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

func TestByteBudget(t *testing.T) {
	never := make(chan struct{})
	q := newByteBudget(100)
	require.True(t, q.acquire(60, never, never))
	require.True(t, q.acquire(60, never, never), "admitted while budget is left, even past the limit")
	assert.EqualValues(t, 120, q.used.Load())

	got := make(chan bool, 1)
	go func() { got <- q.acquire(10, never, never) }()
	require.Eventually(t, func() bool { return q.waiting.Load() == 1 }, 5*time.Second, time.Millisecond)
	select {
	case <-got:
		t.Fatal("acquired with the budget used up")
	default:
	}
	q.release(60) // 60 used: below the limit again
	assert.True(t, <-got)
	assert.EqualValues(t, 70, q.used.Load())

	// A blocked reader whose connection closes takes nothing.
	require.True(t, q.acquire(40, never, never))
	done := make(chan struct{})
	go func() { got <- q.acquire(10, done, never) }()
	require.Eventually(t, func() bool { return q.waiting.Load() == 1 }, 5*time.Second, time.Millisecond)
	close(done)
	assert.False(t, <-got)
	assert.EqualValues(t, 110, q.used.Load())

	unbounded := newByteBudget(-1)
	assert.True(t, unbounded.acquire(1<<40, never, never))
	assert.True(t, unbounded.acquire(1<<40, never, never))
}

// TestQueuedMaxRequestBytes: with the one worker stuck, connections keep
// sending produce requests; the broker reads only while the queued bytes
// are below queued.max.request.bytes (plus the one request that crosses
// it), and the other readers wait without reading. Once the worker moves
// again, every request is answered.
func TestQueuedMaxRequestBytes(t *testing.T) {
	const (
		limit = 64 << 10
		conns = 8
	)
	stuck := make(chan struct{})
	var once sync.Once
	entered := make(chan struct{})
	b := startBroker(t, Config{
		NumIOThreads:          1,
		QueuedMaxRequestBytes: limit,
		Faults: func(key, _ int16) Fault {
			if key == produceKey {
				once.Do(func() { close(entered); <-stuck })
			}
			return Fault{}
		},
	})
	var unstick sync.Once
	release := func() { unstick.Do(func() { close(stuck) }) }
	t.Cleanup(release) // before the broker's Close, which waits for the worker
	require.NoError(t, b.CreateTopic("t", 1, nil))
	records := makeBatch(20, 1000, batch.NoProducer) // ~20 KiB
	req := produceReq("t", 0, records)
	req.Acks = 1
	size := len(frame(req, 8, 0)) - 4

	rcs := make([]*rawConn, conns)
	for i := range rcs {
		rcs[i] = dialRaw(t, b)
		rcs[i].write(frame(req, 8, 1))
		if i == 0 {
			<-entered // the worker holds the first request (and its bytes)
		}
	}
	// 20 KiB requests against 64 KiB: the one in the worker, then those
	// read while under the limit, the last of them crossing it; the rest
	// wait unread.
	admitted := (limit + size - 1) / size
	require.Equal(t, 4, admitted)
	require.Eventually(t, func() bool { return int(b.queueBytes.waiting.Load()) == conns-admitted },
		10*time.Second, time.Millisecond, "readers blocked on the byte budget")
	assert.Equal(t, admitted-1, len(b.queue), "queued requests")
	assert.Equal(t, int64(admitted*size), b.queueBytes.used.Load())
	assert.LessOrEqual(t, b.queueBytes.used.Load(), int64(limit+size))

	release()
	for i, rc := range rcs {
		body, err := rc.readFrame(10 * time.Second)
		require.NoError(t, err, "conn %d", i)
		var resp kmsg.ProduceResponse
		resp.SetVersion(8)
		require.NoError(t, resp.ReadFrom(body[4:]))
		assert.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
	}
	// The worker gives the bytes back after the handler returned, which
	// may be just after its answer was read.
	assert.Eventually(t, func() bool { return b.queueBytes.used.Load() == 0 }, 5*time.Second, time.Millisecond,
		"every request gave its bytes back")
}

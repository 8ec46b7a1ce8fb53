package producer

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// holdInitProducerID makes kfake hold every InitProducerId request until
// the test ends or the returned release func is called; held receives the
// node that holds it as each one arrives.
func holdInitProducerID(tb testing.TB, c *kfake.Cluster) (held <-chan int32, release func()) {
	ch := make(chan int32, 16)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	tb.Cleanup(release) // before the cluster's Close, which waits for held requests
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case ch <- c.CurrentNode():
		default:
		}
		sleepUntil(c, gate)
		return nil, nil, false
	})
	return ch, release
}

// waitFor fails the test if ch does not deliver within a generous bound;
// the bound only turns a hang into a failure.
func waitFor[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		tb.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestEpochBumpDoesNotStallOtherPartitions fails a batch of partition 0 for
// good, which needs a new epoch, and holds the InitProducerId that asks for
// it. A partition led by the other broker must still be acknowledged
// meanwhile (its sequences are intact), partition 0 must wait for the new
// epoch, and both go through once the broker answers. When the sender
// itself waited for InitProducerId (up to request.timeout.ms, 30s here),
// every partition stalled with it.
//
// Two brokers, because a broker answers one connection's requests in order
// (Kafka mutes a connection while it handles a request): whatever the
// producer does, a Produce queued behind the held InitProducerId on the same
// connection waits for it.
func TestEpochBumpDoesNotStallOtherPartitions(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(2), kfake.SeedTopics(3, "bump"))
	for part, node := range []int32{0, 0, 1} {
		require.NoError(t, c.MoveTopicPartition("bump", int32(part), node))
	}
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), RetryBackoff: 10 * time.Millisecond})
	ctx := context.Background()
	leaders := map[int32]int32{}
	for part := range int32(3) {
		_, err := p.SendSync(ctx, Record{Topic: "bump", Partition: ToPartition(part), Value: []byte("warm")})
		require.NoError(t, err)
		leaders[part] = c.LeaderFor("bump", part)
	}
	require.NotEqual(t, leaders[1], leaders[2], "partitions 1 and 2 on different brokers")

	held, release := holdInitProducerID(t, c)
	failProduce(c, 1, kerr.TopicAuthorizationFailed.Code)
	_, err := p.SendSync(ctx, Record{Topic: "bump", Partition: ToPartition(0), Value: []byte("refused")})
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	holder := waitFor(t, held, "the epoch bump's InitProducerId")
	flowing := int32(1)
	if leaders[flowing] == holder {
		flowing = 2
	}

	p0 := make(chan error, 1)
	require.NoError(t, p.Send(ctx, Record{Topic: "bump", Partition: ToPartition(0), Value: []byte("after")},
		func(_ RecordMetadata, err error) { p0 <- err }))
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := p.SendSync(sctx, Record{Topic: "bump", Partition: ToPartition(flowing), Value: []byte("flowing")})
	require.NoError(t, err, "partition %d is acknowledged while the InitProducerId is held", flowing)
	assert.Equal(t, int64(1), md.Offset)
	select {
	case err := <-p0:
		t.Fatalf("partition 0 completed (%v) before its new epoch arrived", err)
	default:
	}

	release()
	require.NoError(t, waitFor(t, p0, "partition 0 after the bump"))
	md, err = p.SendSync(ctx, Record{Topic: "bump", Partition: ToPartition(flowing), Value: []byte("new epoch")})
	require.NoError(t, err, "partition %d moves to the new epoch", flowing)
	assert.Equal(t, int64(2), md.Offset)
	got := consume(t, c.ListenAddrs(), "bump", 6)
	var values []string
	for _, r := range got {
		values = append(values, string(r.Value))
	}
	assert.ElementsMatch(t, []string{"warm", "warm", "warm", "after", "flowing", "new epoch"}, values, "once each, nothing refused")
}

// TestCloseWhileInitProducerIDHeld: the broker never answers the first
// InitProducerId. Flush and Close must still end with their contexts, fail
// every record with ErrClosed and leave no goroutine behind (the request's
// own goroutine included).
func TestCloseWhileInitProducerIDHeld(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCluster(t, kfake.SeedTopics(1, "held"))
	held, release := holdInitProducerID(t, c)
	p, err := New(Config{Brokers: c.ListenAddrs()})
	require.NoError(t, err)
	col := newCollector(t)
	for i := range 10 {
		require.NoError(t, col.send(context.Background(), p, testRecord("held", i)))
	}
	waitFor(t, held, "the first InitProducerId")

	fctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Flush(fctx), context.DeadlineExceeded, "Flush ends with its context")

	cctx, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	closed := make(chan error, 1)
	go func() { closed <- p.Close(cctx) }()
	assert.ErrorIs(t, waitFor(t, closed, "Close"), context.DeadlineExceeded)
	results := col.wait(t)
	require.Len(t, results, 10)
	for _, r := range results {
		assert.ErrorIs(t, r.err, ErrClosed)
	}
	release()
	c.Close()
	waitGoroutines(t, before)
}

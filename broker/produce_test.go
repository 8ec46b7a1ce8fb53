package broker

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/purgatory"
	"github.com/skiffkit/skiff/kerr"
)

// parkedProduce parks an acks=all answer for partition p's offsets up to
// last, as handleProduce does under FsyncAlways, on an in-memory conn.
func parkedProduce(t *testing.T, b *Broker, p *partition, last int64, deadline time.Time) *conn {
	t.Helper()
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	c := newConn(b, c1)
	r := &request{c: c, key: produceKey, version: 9, corr: 5}
	resp := kmsg.NewPtrProduceResponse()
	rt := kmsg.NewProduceResponseTopic()
	rt.Topic = p.t.name
	rt.Partitions = []kmsg.ProduceResponseTopicPartition{kmsg.NewProduceResponseTopicPartition()}
	resp.Topics = append(resp.Topics, rt)
	op := &produceOp{r: r, resp: resp, pending: []pendingSync{{p: p, last: last}}}
	b.purg.Watch([]purgatory.Key{p.key}, op, deadline)
	return c
}

func answerCode(t *testing.T, c *conn, wait time.Duration) (int16, bool) {
	t.Helper()
	select {
	case r := <-c.respCh:
		var resp kmsg.ProduceResponse
		resp.SetVersion(9)
		require.NoError(t, resp.ReadFrom((*r.frame)[4+4+1:]))
		return resp.Topics[0].Partitions[0].ErrorCode, true
	case <-time.After(wait):
		return 0, false
	}
}

// TestProducePurgatory drives the acks=all wait directly: on a broker that
// never fsyncs by itself, parked answers time out with REQUEST_TIMED_OUT,
// and a single fsync plus one notification answers every waiter.
func TestProducePurgatory(t *testing.T) {
	b := startBroker(t, Config{Fsync: FsyncNone})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	p := b.topics.partition("t", 0)
	info, err := p.log.Append(makeBatch(5, 10, batch.NoProducer), time.Now())
	require.NoError(t, err)
	require.Less(t, p.log.SyncedOffset(), info.LastOffset+1, "not fsynced yet")

	timedOut := parkedProduce(t, b, p, info.LastOffset, time.Now().Add(50*time.Millisecond))
	code, ok := answerCode(t, timedOut, 5*time.Second)
	require.True(t, ok)
	assert.Equal(t, kerr.RequestTimedOut.Code, code)

	var waiters []*conn
	for range 3 {
		waiters = append(waiters, parkedProduce(t, b, p, info.LastOffset, time.Now().Add(time.Minute)))
	}
	// Watch tried each op before it returned, and nothing but a Notify or
	// the deadline (a minute away) can answer them now: no window to wait.
	require.Equal(t, 3, b.purg.Len())
	for _, c := range waiters {
		require.Empty(t, c.respCh, "answered before the fsync")
	}
	_, err = p.log.Sync()
	require.NoError(t, err)
	assert.Equal(t, 3, b.purg.Notify(p.key), "one fsync completes every waiter")
	for _, c := range waiters {
		code, ok := answerCode(t, c, time.Second)
		require.True(t, ok)
		assert.Zero(t, code)
	}
}

//go:build linux

package broker

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// TestAppendAnswersParkedFetchesBeforeAck: produce→consume latency rests
// on the append itself completing parked fetches (Kafka's
// DelayedFetch.tryComplete on the append path), never a timer or a poll.
// The append's Notify runs before the produce answer is built, so once the
// producer holds its acks=1 answer the purgatory is already empty and the
// fetch answers, with the new batch, are queued to their connections.
func TestAppendAnswersParkedFetchesBeforeAck(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("lat", 1, nil))
	const fetchers = 3
	results := make(chan *kmsg.FetchResponse, fetchers)
	for range fetchers {
		rc := dialRaw(t, b)
		go func() {
			// An hour of max wait: only the append can answer in time.
			results <- rc.roundTrip(fetchReq("lat", 0, 1, 3_600_000), 12).(*kmsg.FetchResponse)
		}()
	}
	require.Eventually(t, func() bool { return b.purg.Len() == fetchers }, 5*time.Second, time.Millisecond, "fetches parked")

	producer := dialRaw(t, b)
	req := produceReq("lat", 0, makeBatch(3, 50, batch.NoProducer))
	req.Acks = 1
	code, _ := produceCode(t, producer, req, 9)
	require.Zero(t, code)
	assert.Zero(t, b.purg.Len(), "the append answered every parked fetch before the produce answer")
	for range fetchers {
		select {
		case resp := <-results:
			p := resp.Topics[0].Partitions[0]
			assert.Zero(t, p.ErrorCode)
			assert.EqualValues(t, 3, p.HighWatermark)
			assert.NotEmpty(t, p.RecordBatches)
		case <-time.After(10 * time.Second):
			t.Fatal("a parked fetch was not answered by the append")
		}
	}
}

// TestConnectionsHaveNagleOff: a 100-byte fetch answer must leave at once,
// not wait up to 40 ms for an ACK (Nagle with delayed ACKs). Go sets
// TCP_NODELAY on every TCP connection; this guards that nothing turns it
// off on the broker's side.
func TestConnectionsHaveNagleOff(t *testing.T) {
	b := startBroker(t, Config{})
	rc := dialRaw(t, b)
	rc.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3) // the connection is registered by now
	b.connsMu.Lock()
	var conns []*conn
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.connsMu.Unlock()
	require.Len(t, conns, 1)
	raw, err := conns[0].nc.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	var nodelay int
	var serr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		nodelay, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
	}))
	require.NoError(t, serr)
	assert.Equal(t, 1, nodelay, "TCP_NODELAY")
	assert.NotNil(t, conns[0].zc, "a plaintext connection fetches with sendfile")
}

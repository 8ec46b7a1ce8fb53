package broker

import (
	"context"
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
)

// TestPipelinedResponsesInOrder: a parked fetch answered at its max wait
// holds back the answers to requests sent after it on the same connection.
func TestPipelinedResponsesInOrder(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)
	var out []byte
	out = append(out, frame(fetchReq("t", 0, 1, 300), 12, 1)...)
	out = append(out, frame(kmsg.NewPtrApiVersionsRequest(), 3, 2)...)
	out = append(out, frame(metadataReq(false, "t"), 12, 3)...)
	start := time.Now()
	rc.write(out)
	for want := int32(1); want <= 3; want++ {
		body, err := rc.readFrame(5 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, want, int32(binary.BigEndian.Uint32(body)))
		if want == 1 {
			assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
		}
	}
}

// TestManyPipelinedRequests sends more requests at once than one
// connection may have in flight, through a one-slot queue and one worker.
func TestManyPipelinedRequests(t *testing.T) {
	b := startBroker(t, Config{QueuedMaxRequests: 1, NumIOThreads: 1})
	rc := dialRaw(t, b)
	const n = 3 * maxInFlight
	var out []byte
	for i := range n {
		out = append(out, frame(kmsg.NewPtrApiVersionsRequest(), 3, int32(i))...)
	}
	go rc.c.Write(out)
	for i := range n {
		body, err := rc.readFrame(10 * time.Second)
		require.NoError(t, err)
		require.Equal(t, int32(i), int32(binary.BigEndian.Uint32(body)))
	}
}

func TestAcksZero(t *testing.T) {
	b := startBroker(t, Config{})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)
	req := produceReq("t", 0, makeBatch(2, 10, batch.NoProducer))
	req.Acks = 0
	rc.write(frame(req, 7, 1))
	resp := rc.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3).(*kmsg.ApiVersionsResponse)
	assert.Zero(t, resp.ErrorCode, "the acks=0 produce got no answer; the next request did")
	assert.EqualValues(t, 2, endOffset(t, b, "t", 0))

	bad := produceReq("t", 5, makeBatch(1, 10, batch.NoProducer)) // no such partition
	bad.Acks = 0
	rc.write(frame(bad, 7, 9))
	rc.requireClosed()
}

func TestFsyncAlwaysAnswersAfterSync(t *testing.T) {
	b := startBroker(t, Config{Fsync: FsyncAlways})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)
	l := b.topics.partition("t", 0).log
	for i := range 20 {
		code, off := produceCode(t, rc, produceReq("t", 0, makeBatch(3, 50, batch.NoProducer)), 9)
		require.Zero(t, code)
		require.EqualValues(t, 3*i, off)
		assert.GreaterOrEqual(t, l.SyncedOffset(), off+3, "acks=all answered only once fsynced")
	}
}

func TestMaxConnections(t *testing.T) {
	b := startBroker(t, Config{MaxConnections: 2})
	c1, c2 := dialRaw(t, b), dialRaw(t, b)
	c1.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3)
	c2.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3)
	c3 := dialRaw(t, b)
	c3.requireClosed()
	c1.c.Close()
	require.Eventually(t, func() bool {
		b.connsMu.Lock()
		defer b.connsMu.Unlock()
		return len(b.conns) == 1
	}, 5*time.Second, time.Millisecond)
	c4 := dialRaw(t, b)
	c4.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3)
}

func TestIdleConnectionClosed(t *testing.T) {
	b := startBroker(t, Config{ConnectionsMaxIdle: 100 * time.Millisecond})
	rc := dialRaw(t, b)
	rc.roundTrip(kmsg.NewPtrApiVersionsRequest(), 3)
	rc.requireClosed()
}

// TestCloseStopsEverything closes a broker with clients connected and
// requests parked; every goroutine it started is gone afterwards.
func TestCloseStopsEverything(t *testing.T) {
	b, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Logger: discardLogger(), Fsync: FsyncAlways})
	require.NoError(t, err)
	require.NoError(t, b.CreateTopic("t", 2, nil))
	rc := dialRaw(t, b)
	rc.write(frame(fetchReq("t", 0, 1, 60_000), 12, 1))
	require.Eventually(t, func() bool { return b.purg.Len() == 1 }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, b.Close(ctx))
	require.NoError(t, b.Close(ctx), "Close is idempotent")
	require.ErrorIs(t, b.CreateTopic("late", 1, nil), ErrClosed)
	rc.requireClosed()
	_, err = net.DialTimeout("tcp", b.Addr(), time.Second)
	assert.Error(t, err, "the listener is closed")
	leaked := brokerGoroutines()
	for deadline := time.Now().Add(5 * time.Second); leaked != "" && time.Now().Before(deadline); leaked = brokerGoroutines() {
		time.Sleep(10 * time.Millisecond) // Close returned; only stragglers' exits remain
	}
	require.Empty(t, leaked, "goroutines left running after Close")

	// The logs were closed cleanly: a restart needs no recovery and finds
	// both partitions.
	b2 := startBroker(t, Config{DataDir: b.cfg.DataDir})
	assert.Len(t, b2.topics.byName("t").parts, 2)
}

// brokerGoroutines returns the stacks of goroutines running broker or
// purgatory code, other than tests.
func brokerGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "skiff/broker.Test") || strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "skiff/broker.(*") {
			continue
		}
		if strings.Contains(g, "skiff/broker.") || strings.Contains(g, "skiff/internal/purgatory.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

func TestConfigValidate(t *testing.T) {
	_, err := Start(context.Background(), Config{NumPartitions: -1, SegmentBytes: 3, QueuedMaxRequests: -1})
	require.ErrorIs(t, err, ErrInvalidConfig)
	for _, want := range []string{"DataDir", "NumPartitions", "SegmentBytes", "QueuedMaxRequests"} {
		assert.Contains(t, err.Error(), want)
	}
	p, err := ParseFsyncPolicy("always")
	require.NoError(t, err)
	assert.Equal(t, FsyncAlways, p)
	_, err = ParseFsyncPolicy("sometimes")
	assert.Error(t, err)
}

// TestStalledClientIsolated: a client that pipelines fetches and never reads
// the answers stalls only its own connection.
func TestStalledClientIsolated(t *testing.T) {
	b := startBroker(t, Config{NumIOThreads: 2})
	require.NoError(t, b.CreateTopic("t", 1, nil))
	rc := dialRaw(t, b)
	for range 4 {
		code, _ := produceCode(t, rc, produceReq("t", 0, makeBatch(64, 1000, batch.NoProducer)), 7)
		require.Zero(t, code)
	}
	stalled := dialRaw(t, b)
	// A small receive window fills after a few ~260 KiB answers.
	require.NoError(t, stalled.c.(*net.TCPConn).SetReadBuffer(4<<10))
	stalledNow, _ := stallConn(t, b, stalled.c, 8*maxInFlight)

	for range 20 {
		rc.roundTrip(metadataReq(false, "t"), 12)
		code, _ := produceCode(t, rc, produceReq("t", 0, makeBatch(1, 10, batch.NoProducer)), 7)
		require.Zero(t, code)
	}
	assert.True(t, stalledNow(), "the other connection was served while this one stayed stalled")
}

// stallConn writes n pipelined fetches of topic t on c, which reads
// nothing, and waits until the stall is in place: every in-flight slot of
// the connection taken and every one of those requests answered (a fetch
// with min bytes 0 is answered at once), so the answers wait for a writer
// blocked on the socket and the reader can read nothing more. stalledNow
// reports whether that still holds; wrote gets the write's result once the
// client reads again.
func stallConn(t testing.TB, b *Broker, c net.Conn, n int) (stalledNow func() bool, wrote <-chan error) {
	t.Helper()
	var out []byte
	for i := range n {
		out = append(out, frame(fetchReq("t", 0, 0, 0), 12, int32(i))...)
	}
	w := make(chan error, 1)
	go func() { _, err := c.Write(out); w <- err }() // blocks once the broker stops reading
	sc := serverConn(t, b, c)
	stalledNow = func() bool {
		return len(sc.inflight) == maxInFlight && len(sc.turn) == 0 && len(b.queue) == 0
	}
	require.Eventually(t, stalledNow, 10*time.Second, time.Millisecond, "the connection never stalled")
	return stalledNow, w
}

// serverConn finds the broker's side of the client connection c.
func serverConn(t testing.TB, b *Broker, c net.Conn) *conn {
	t.Helper()
	var found *conn
	require.Eventually(t, func() bool {
		b.connsMu.Lock()
		defer b.connsMu.Unlock()
		for sc := range b.conns {
			if sc.remote == c.LocalAddr().String() {
				found = sc
				return true
			}
		}
		return false
	}, 5*time.Second, time.Millisecond)
	return found
}

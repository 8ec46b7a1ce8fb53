package producer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// lossyListener wraps kfake's listener so that, on the broker side, every
// nth Produce response is never written: the connection closes instead.
// The broker did append the records, the client cannot know: the "unknown
// outcome" case that idempotence exists for.
type lossyListener struct {
	net.Listener
	every    int32
	shared   *lossyListener // holds the counters for every broker's listener
	produces atomic.Int32
	dropped  atomic.Int32
}

func (l *lossyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lossyConn{Conn: c, l: l.shared}, nil
}

// lossyConn tracks the API key of each request read, in order, so it
// knows which request each written response answers (kfake writes one
// response per Write call, in request order).
type lossyConn struct {
	net.Conn
	l *lossyListener

	mu   sync.Mutex
	in   []byte  // unparsed request bytes
	keys []int16 // keys of requests awaiting a response
}

func (c *lossyConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.in = append(c.in, p[:n]...)
	for len(c.in) >= 6 {
		size := int(binary.BigEndian.Uint32(c.in))
		if len(c.in) < 4+size {
			break
		}
		key := int16(binary.BigEndian.Uint16(c.in[4:]))
		c.keys = append(c.keys, key)
		c.in = c.in[4+size:]
	}
	c.mu.Unlock()
	return n, err
}

func (c *lossyConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	var key int16 = -1
	if len(c.keys) > 0 {
		key = c.keys[0]
		c.keys = c.keys[1:]
	}
	c.mu.Unlock()
	if key == int16(kmsg.Produce) && c.l.produces.Add(1)%c.l.every == 0 {
		c.l.dropped.Add(1)
		_ = c.Conn.Close()
		return 0, errors.New("lossy: response dropped")
	}
	return c.Conn.Write(p)
}

func lossyCluster(t *testing.T, partitions int32, topic string, every int32, opts ...kfake.Opt) (*kfake.Cluster, *lossyListener) {
	// One lossyListener wraps every broker's listener; they share the count.
	ll := &lossyListener{every: every}
	opts = append(opts, kfake.SeedTopics(partitions, topic), kfake.ListenFn(func(network, addr string) (net.Listener, error) {
		l, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		return &lossyListener{Listener: l, every: every, shared: ll}, nil
	}))
	return newCluster(t, opts...), ll
}

func TestLostResponsesNoDuplicates(t *testing.T) {
	const n, partitions = 2000, 3
	c, ll := lossyCluster(t, partitions, "lossy", 4)
	p := newProducer(t, Config{
		Brokers:         c.ListenAddrs(),
		BatchSize:       1024,
		Linger:          NoLinger,
		RetryBackoff:    time.Millisecond,
		RetryBackoffMax: 5 * time.Millisecond,
	})
	col := newCollector(t)
	var want []Record
	for i := range n {
		r := testRecord("lossy", i)
		want = append(want, r)
		require.NoError(t, col.send(context.Background(), p, r))
	}
	require.NoError(t, p.Flush(context.Background()))
	results := col.wait(t)
	for _, r := range results {
		require.NoError(t, r.err)
	}
	assert.Positive(t, ll.dropped.Load(), "responses were lost")
	got := consume(t, c.ListenAddrs(), "lossy", n)
	checkReadBack(t, want, got, partitions)
	t.Logf("%d produce responses dropped", ll.dropped.Load())
}

// TestLostResponsesDuplicateWithoutIdempotence is the control experiment:
// the same faults without idempotence do duplicate records, as in Kafka,
// so the test above would catch a producer that lost its dedupe.
func TestLostResponsesDuplicateWithoutIdempotence(t *testing.T) {
	const n = 500
	c, ll := lossyCluster(t, 1, "dups", 3)
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), DisableIdempotence: true, BatchSize: 1024, Linger: NoLinger, RetryBackoff: time.Millisecond})
	for i := range n {
		require.NoError(t, p.Send(context.Background(), testRecord("dups", i), nil))
	}
	require.NoError(t, p.Flush(context.Background()))
	require.Positive(t, ll.dropped.Load())
	got := consume(t, c.ListenAddrs(), "dups", n)
	assert.Greater(t, len(got), n, "resent batches were written twice")
}

// TestLeaderlessPartitionWaitsForMetadata serves metadata in which
// partition 0 has no leader (as during an election) for a while: records
// for it wait, the sender keeps refreshing metadata, and they are
// delivered once a leader shows up.
func TestLeaderlessPartitionWaitsForMetadata(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "elect"))
	host, portS, err := net.SplitHostPort(c.ListenAddrs()[0])
	require.NoError(t, err)
	port, err := strconv.Atoi(portS)
	require.NoError(t, err)
	var leaderless atomic.Int32
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.MetadataRequest)
		if leaderless.Add(1) > 4 {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 0, host, int32(port)
		resp.Brokers = append(resp.Brokers, b)
		for _, rt := range req.Topics {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			for p := range int32(2) {
				mp := kmsg.NewMetadataResponseTopicPartition()
				mp.Partition = p
				mp.Leader = 0
				if p == 0 {
					mp.Leader = -1
					mp.ErrorCode = kerr.LeaderNotAvailable.Code
				}
				mt.Partitions = append(mt.Partitions, mp)
			}
			resp.Topics = append(resp.Topics, mt)
		}
		return resp, nil, true
	})
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), RetryBackoff: 5 * time.Millisecond})
	md, err := p.SendSync(context.Background(), Record{Topic: "elect", Partition: ToPartition(0), Value: []byte("v")})
	require.NoError(t, err)
	assert.Equal(t, int32(0), md.Partition)
	assert.Greater(t, leaderless.Load(), int32(4), "metadata was refreshed until a leader appeared")
}

// TestUnreachableLeaderRetriesDial advertises the leader at a dead address
// for a while: the sender's dials fail, it backs off and refreshes
// metadata, and delivers once the real address is advertised.
func TestUnreachableLeaderRetriesDial(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "dial"))
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadPort := dead.Addr().(*net.TCPAddr).Port
	require.NoError(t, dead.Close())
	var served atomic.Int32
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.MetadataRequest)
		if len(req.Topics) == 0 || served.Add(1) > 3 {
			return nil, nil, false // the bootstrap and, later, the truth
		}
		c.KeepControl()
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 0, "127.0.0.1", int32(deadPort)
		resp.Brokers = append(resp.Brokers, b)
		for _, rt := range req.Topics {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic = rt.Topic
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Leader = 0
			mt.Partitions = append(mt.Partitions, mp)
			resp.Topics = append(resp.Topics, mt)
		}
		return resp, nil, true
	})
	logger, dialFailures := logCounter("connecting to broker failed")
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), RetryBackoff: 5 * time.Millisecond, Logger: logger})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = p.SendSync(ctx, Record{Topic: "dial", Value: []byte("v")})
	require.NoError(t, err)
	assert.Positive(t, dialFailures.Load(), "the dead address was tried")
}

// TestChaosExactlyOnceInOrder mixes every fault at once: lost responses,
// injected retriable errors, dropped connections and leader moves over
// three brokers, with keyed records from several goroutines. Every record
// must land once, in per-key order.
func TestChaosExactlyOnceInOrder(t *testing.T) {
	const partitions = 6
	n := 20_000
	if testing.Short() {
		n = 3000
	}
	c, ll := lossyCluster(t, partitions, "chaos", 7, kfake.NumBrokers(3))
	var injected atomic.Int32
	var count atomic.Int32
	codes := []int16{kerr.NotLeaderForPartition.Code, kerr.RequestTimedOut.Code, -1, kerr.NotEnoughReplicas.Code}
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		k := count.Add(1)
		if k%5 != 0 {
			return nil, nil, false
		}
		injected.Add(1)
		code := codes[int(k/5)%len(codes)]
		if code < 0 {
			return nil, errors.New("injected connection drop"), true
		}
		req := kreq.(*kmsg.ProduceRequest)
		return produceError(req, code), nil, true
	})
	p := newProducer(t, Config{
		Brokers:         c.ListenAddrs(),
		BatchSize:       2048,
		Linger:          time.Millisecond,
		RetryBackoff:    time.Millisecond,
		RetryBackoffMax: 10 * time.Millisecond,
		Compression:     CompressionLZ4,
	})
	const senders = 4
	var wg sync.WaitGroup
	var failures atomic.Int32
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += senders {
				// Each sender owns its keys, so per-key order is its send order.
				key := fmt.Sprintf("g%d-k%d", g, i%13)
				rec := Record{Topic: "chaos", Key: []byte(key), Value: []byte(fmt.Sprintf("%s|%08d", key, i))}
				if err := p.Send(context.Background(), rec, func(_ RecordMetadata, err error) {
					if err != nil {
						failures.Add(1)
					}
				}); err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	var moves sync.WaitGroup
	moves.Add(1)
	stop := make(chan struct{})
	go func() {
		defer moves.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			part := int32(i % partitions)
			_ = c.MoveTopicPartition("chaos", part, (c.LeaderFor("chaos", part)+1)%3)
		}
	}()
	wg.Wait()
	require.NoError(t, p.Flush(context.Background()))
	close(stop)
	moves.Wait()
	require.Zero(t, failures.Load())

	got := consume(t, c.ListenAddrs(), "chaos", n)
	require.Len(t, got, n, "exactly once")
	last := map[string]string{}
	for _, r := range got {
		key := string(r.Key)
		v := string(r.Value)
		if prev, ok := last[key]; ok {
			require.Less(t, prev, v, "key %s out of order", key)
		}
		last[key] = v
	}
	t.Logf("%d records, %d errors injected, %d responses lost", n, injected.Load(), ll.dropped.Load())
}

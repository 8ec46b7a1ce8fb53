package wire

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"net"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil means valid
	}{
		{"valid", Config{SeedBrokers: []string{"127.0.0.1:9092"}}, nil},
		{"no seeds", Config{}, []string{"SeedBrokers"}},
		{"bad seeds", Config{SeedBrokers: []string{"nohost", ":9092", "h:0", "h:x"}},
			[]string{`"nohost"`, `":9092": empty host`, `"h:0": invalid port`, `"h:x": invalid port`}},
		{"negative durations, all reported", Config{
			SeedBrokers:    []string{"h:1"},
			RequestTimeout: -1, MetadataMaxAge: -1, RetryBackoff: -1, ConnMaxIdle: -1, DialTimeout: -1,
			MaxResponseSize: -1,
		}, []string{"RequestTimeout", "MetadataMaxAge", "RetryBackoff", "ConnMaxIdle", "DialTimeout", "MaxResponseSize"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := NewClient(tt.cfg)
			if tt.want == nil {
				require.NoError(t, err)
				require.NoError(t, cl.Close())
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{SeedBrokers: []string{"h:1"}}.withDefaults()
	assert.Equal(t, "skiff", cfg.ClientID)
	assert.Equal(t, 10*time.Second, cfg.DialTimeout)
	assert.Equal(t, 30*time.Second, cfg.RequestTimeout)
	assert.Equal(t, 5*time.Minute, cfg.MetadataMaxAge)
	assert.Equal(t, 100*time.Millisecond, cfg.RetryBackoff)
	assert.Equal(t, 9*time.Minute, cfg.ConnMaxIdle)
	assert.Equal(t, int32(256<<20), cfg.MaxResponseSize)
	assert.NotNil(t, cfg.Logger)
	assert.NotNil(t, cfg.Dial)
}

func TestBootstrapSkipsDeadSeed(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	var dials atomic.Int32
	cl := newTestClient(t, Config{
		SeedBrokers:  append([]string{deadAddr(t)}, c.ListenAddrs()[0]),
		RetryBackoff: 10 * time.Millisecond,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	md, err := cl.Metadata(testCtx(t, 10*time.Second), nil)
	require.NoError(t, err)
	assert.Len(t, md.Brokers, 3)
	assert.GreaterOrEqual(t, dials.Load(), int32(2), "the dead seed was tried first")
	require.Contains(t, md.Topics, "t")
	assert.Len(t, md.Topics["t"].Partitions, 3)
	assert.Len(t, cl.Brokers(), 3)
	assert.GreaterOrEqual(t, cl.ControllerID(), int32(0))

	ti, ok := cl.CachedTopic("t")
	require.True(t, ok)
	assert.Equal(t, "t", ti.Name)
	assert.NotEqual(t, [16]byte{}, ti.ID)
	for i, p := range ti.Partitions {
		assert.Equal(t, int32(i), p.Partition)
		assert.Equal(t, c.LeaderFor("t", int32(i)), p.Leader)
	}
}

func TestAllSeedsDeadFailsAtDeadline(t *testing.T) {
	cl := newTestClient(t, Config{SeedBrokers: []string{deadAddr(t), deadAddr(t)}, RetryBackoff: 5 * time.Millisecond})
	_, err := cl.Request(testCtx(t, 200*time.Millisecond), kmsg.NewPtrMetadataRequest())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNoBrokers)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestPipelinedRequestsCompleteInOrder(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs()})
	ctx := testCtx(t, 20*time.Second)
	_, err := cl.Metadata(ctx, []string{"t"})
	require.NoError(t, err)
	cn, err := cl.Conn(ctx, 0)
	require.NoError(t, err)

	// Interleave request kinds: a correlation slip would hand a response to
	// the wrong caller and show up as a type mismatch.
	const n = 600
	var (
		mu   sync.Mutex
		got  []int
		errs []error
		wg   sync.WaitGroup
	)
	wg.Add(n)
	for i := range n {
		var req kmsg.Request
		var want string
		switch i % 3 {
		case 0:
			req, want = kmsg.NewPtrApiVersionsRequest(), "*kmsg.ApiVersionsResponse"
		case 1:
			r := kmsg.NewPtrMetadataRequest()
			r.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
			req, want = r, "*kmsg.MetadataResponse"
		case 2:
			r := kmsg.NewPtrFindCoordinatorRequest()
			r.CoordinatorKey, r.CoordinatorKeys = "g", []string{"g"}
			req, want = r, "*kmsg.FindCoordinatorResponse"
		}
		cn.DoAsync(req, func(resp kmsg.Response, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			got = append(got, i)
			if err != nil {
				errs = append(errs, err)
			} else if typ := fmt.Sprintf("%T", resp); typ != want {
				errs = append(errs, fmt.Errorf("request %d: got %s, want %s", i, typ, want))
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	for i := range got {
		require.Equal(t, i, got[i], "callbacks out of order")
	}

	// Concurrent synchronous callers on the shared conn, for -race.
	var g sync.WaitGroup
	for range 16 {
		g.Add(1)
		go func() {
			defer g.Done()
			for range 20 {
				resp, err := cn.Do(ctx, kmsg.NewPtrApiVersionsRequest())
				assert.NoError(t, err)
				assert.IsType(t, &kmsg.ApiVersionsResponse{}, resp)
			}
		}()
	}
	g.Wait()
	select {
	case <-cn.Closed():
		t.Fatal("conn closed")
	default:
	}
}

func TestAcksZeroProduceKeepsCorrelation(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs()})
	ctx := testCtx(t, 10*time.Second)
	leader := c.LeaderFor("t", 0)
	cn, err := cl.Conn(ctx, leader)
	require.NoError(t, err)

	for range 3 {
		resp, err := cn.Do(ctx, produceRequest("t", 0, 0, recordBatch(2, []byte("v"))))
		require.NoError(t, err)
		require.Nil(t, resp, "acks=0 has no response")
	}
	// The next request on the same conn must get its own response, not
	// be confused by the three unanswered correlation ids before it.
	resp, err := cn.Do(ctx, produceRequest("t", 0, 1, recordBatch(1, []byte("w"))))
	require.NoError(t, err)
	pr := resp.(*kmsg.ProduceResponse)
	require.Zero(t, pr.Topics[0].Partitions[0].ErrorCode)
	assert.Equal(t, int64(6), pr.Topics[0].Partitions[0].BaseOffset, "acks=0 batches landed before it")
	assert.Equal(t, int64(7), endOffset(t, ctx, cn, "t", 0))
}

func TestApiVersionsFallbackToV0(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []int16
	)
	fb := newFakeBroker(t, func(req kmsg.Request, corrID int32) fakeReply {
		switch r := req.(type) {
		case *kmsg.ApiVersionsRequest:
			mu.Lock()
			seen = append(seen, r.Version)
			mu.Unlock()
			if r.Version > 0 {
				// An old broker: UNSUPPORTED_VERSION in v0 format,
				// naming only its ApiVersions range.
				resp := apiVersionsReply(0, map[int16][2]int16{18: {0, 0}})
				resp.ErrorCode = kerr.UnsupportedVersion.Code
				return fakeReply{resp: resp}
			}
			return fakeReply{resp: apiVersionsReply(0, map[int16][2]int16{18: {0, 0}, 3: {0, 1}, 10: {0, 0}})}
		case *kmsg.MetadataRequest:
			resp := r.ResponseKind().(*kmsg.MetadataResponse)
			resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 7, Host: "127.0.0.1", Port: 1}}
			resp.ControllerID = 7
			return fakeReply{resp: resp}
		}
		return fakeReply{close: true}
	})
	cl := newTestClient(t, Config{SeedBrokers: []string{fb.addr()}})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, []int16{kmsg.NewPtrApiVersionsRequest().MaxVersion(), 0}, seen)
	mu.Unlock()

	v := cn.Versions()
	maxMeta, ok := v.Max(3)
	require.True(t, ok)
	assert.Equal(t, int16(1), maxMeta)
	assert.Equal(t, []int16{3, 10, 18}, v.Keys())

	// Capped at the broker's max.
	md, err := cl.Metadata(ctx, []string{})
	require.NoError(t, err)
	assert.Equal(t, int32(7), md.ControllerID)
	assert.Equal(t, []BrokerInfo{{NodeID: 7, Host: "127.0.0.1", Port: 1}}, md.Brokers)

	tests := []struct {
		name string
		req  kmsg.Request
	}{
		{"key not advertised", kmsg.NewPtrProduceRequest()},
		{"below caller minimum", MinVersion(kmsg.NewPtrMetadataRequest(), 4)},
		{"transaction coordinator needs v1", MinVersion(kmsg.NewPtrFindCoordinatorRequest(), 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cn.Do(ctx, tt.req)
			require.Error(t, err)
			assert.ErrorIs(t, err, kerr.UnsupportedVersion)
			assert.NotErrorIs(t, err, ErrConnClosed)
		})
	}
	_, err = cl.Coordinator(ctx, "txn", CoordinatorTransaction)
	assert.ErrorIs(t, err, kerr.UnsupportedVersion)
	// A version error does not hurt the connection.
	_, err = cn.Do(ctx, kmsg.NewPtrMetadataRequest())
	require.NoError(t, err)
}

func TestConnDropFailsInFlightAndRedials(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs()})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)

	// Hold the first Metadata until several more are in flight, then drop
	// the connection.
	release := make(chan struct{})
	arrived := make(chan struct{})
	c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(arrived)
		<-release
		return nil, errors.New("drop"), true
	})
	const n = 20
	errs := make(chan error, n)
	for range n {
		cn.DoAsync(kmsg.NewPtrMetadataRequest(), func(_ kmsg.Response, err error) { errs <- err })
	}
	<-arrived
	close(release)
	for range n {
		err := <-errs
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrConnClosed)
	}
	<-cn.Closed()
	assert.ErrorIs(t, cn.Err(), ErrConnClosed)

	// Requests on the dead conn fail immediately; the client redials.
	_, err = cn.Do(ctx, kmsg.NewPtrApiVersionsRequest())
	assert.ErrorIs(t, err, ErrConnClosed)
	cn2, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	assert.NotSame(t, cn, cn2)
	_, err = cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	require.NoError(t, err)
}

func TestRequestTimeoutClosesConn(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), RequestTimeout: 150 * time.Millisecond})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)

	c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		return nil, nil, true // swallow: never answer
	})
	start := time.Now()
	_, err = cn.Do(ctx, kmsg.NewPtrMetadataRequest())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRequestTimeout)
	assert.ErrorIs(t, err, ErrConnClosed)
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	<-cn.Closed()

	_, err = cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	require.NoError(t, err, "next request redials")
}

func TestResponseTooLarge(t *testing.T) {
	topics := make([]string, 200)
	for i := range topics {
		topics[i] = fmt.Sprintf("topic-with-a-long-name-%03d", i)
	}
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), MaxResponseSize: 4096})
	ctx := testCtx(t, 10*time.Second)
	// The ApiVersions handshake fits; the metadata of 200 topics does not.
	_, err := cl.Metadata(ctx, []string{})
	require.NoError(t, err)
	_, err = cl.Metadata(ctx, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrResponseTooLarge)
	assert.ErrorIs(t, err, ErrConnClosed)
	assert.Contains(t, err.Error(), "limit 4096")
}

func TestUnknownTopicWaitsUntilDeadline(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	var asks atomic.Int32
	c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		asks.Add(1)
		c.KeepControl()
		return nil, nil, false
	})
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), RetryBackoff: 20 * time.Millisecond})
	start := time.Now()
	ti, err := cl.Topic(testCtx(t, 400*time.Millisecond), "missing")
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.UnknownTopicOrPartition)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.GreaterOrEqual(t, time.Since(start), 350*time.Millisecond)
	assert.GreaterOrEqual(t, asks.Load(), int32(3), "retried while waiting")
	assert.ErrorIs(t, ti.Err, kerr.UnknownTopicOrPartition)
	_, ok := cl.CachedTopic("missing")
	assert.False(t, ok)

	// A known topic is served from the cache without another request.
	_, err = cl.Topic(testCtx(t, 5*time.Second), "t")
	require.NoError(t, err)
	before := asks.Load()
	_, err = cl.Topic(testCtx(t, 5*time.Second), "t")
	require.NoError(t, err)
	assert.Equal(t, before, asks.Load())
}

func TestTopicAppearsWhileWaiting(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), RetryBackoff: 10 * time.Millisecond})
	var calls atomic.Int32
	// Answer UNKNOWN_TOPIC_OR_PARTITION twice, then let kfake answer.
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if calls.Add(1) > 2 {
			return nil, nil, false
		}
		c.KeepControl()
		req := kreq.(*kmsg.MetadataRequest)
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic = kmsg.StringPtr("t")
		rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	ti, err := cl.Topic(testCtx(t, 5*time.Second), "t")
	require.NoError(t, err)
	assert.Len(t, ti.Partitions, 1)
	assert.GreaterOrEqual(t, calls.Load(), int32(3))
}

func TestLeaderMoveSeenAfterRefresh(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), RetryBackoff: 10 * time.Millisecond})
	ctx := testCtx(t, 10*time.Second)
	_, err := cl.Topic(ctx, "t")
	require.NoError(t, err)
	old, oldEpoch, ok := cl.Leader("t", 1)
	require.True(t, ok)
	require.Equal(t, c.LeaderFor("t", 1), old)
	_, _, ok = cl.Leader("t", 3)
	assert.False(t, ok, "no partition 3")
	_, _, ok = cl.Leader("nope", 0)
	assert.False(t, ok)

	target := (old + 1) % 3
	require.NoError(t, c.MoveTopicPartition("t", 1, target))
	for {
		updated := cl.MetadataUpdated()
		cl.RefreshMetadata()
		select {
		case <-updated:
		case <-ctx.Done():
			t.Fatal("metadata never refreshed")
		}
		if n, _, _ := cl.Leader("t", 1); n == target {
			break
		}
	}
	_, epoch, _ := cl.Leader("t", 1)
	assert.Greater(t, epoch, oldEpoch)

	// The moved partition's leader answers produce; the old one refuses.
	resp, err := cl.RequestNode(ctx, target, produceRequest("t", 1, 1, recordBatch(1, []byte("x"))))
	require.NoError(t, err)
	assert.Zero(t, resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode)
	resp, err = cl.RequestNode(ctx, old, produceRequest("t", 1, 1, recordBatch(1, []byte("x"))))
	require.NoError(t, err)
	assert.Equal(t, kerr.NotLeaderForPartition, kerr.ForCode(resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode))
}

func TestStaleLeaderEpochIgnored(t *testing.T) {
	cl := &Client{}
	cl.meta.Store(emptySnapshot())
	id := [16]byte{1}
	mk := func(leader, epoch int32) *Metadata {
		return &Metadata{Topics: map[string]TopicInfo{"t": {Name: "t", ID: id, Partitions: []PartitionInfo{
			{Partition: 0, Leader: leader, LeaderEpoch: epoch},
		}}}}
	}
	cl.mergeMetadata(mk(2, 5), false)
	cl.mergeMetadata(mk(1, 4), false) // from a lagging broker
	n, e, ok := cl.Leader("t", 0)
	require.True(t, ok)
	assert.Equal(t, int32(2), n)
	assert.Equal(t, int32(5), e)
	cl.mergeMetadata(mk(3, 6), false)
	n, _, _ = cl.Leader("t", 0)
	assert.Equal(t, int32(3), n)
	cl.mergeMetadata(&Metadata{Topics: map[string]TopicInfo{}}, true)
	_, ok = cl.CachedTopic("t")
	assert.False(t, ok, "a full refresh drops deleted topics")
}

func TestCoordinatorCachedAndInvalidated(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3))
	var finds atomic.Int32
	c.ControlKey(int16(kmsg.FindCoordinator), func(kmsg.Request) (kmsg.Response, error, bool) {
		finds.Add(1)
		c.KeepControl()
		return nil, nil, false
	})
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs()})
	ctx := testCtx(t, 10*time.Second)
	node, err := cl.Coordinator(ctx, "g1", CoordinatorGroup)
	require.NoError(t, err)
	assert.Equal(t, c.CoordinatorFor("g1"), node)
	_, err = cl.Coordinator(ctx, "g1", CoordinatorGroup)
	require.NoError(t, err)
	assert.Equal(t, int32(1), finds.Load(), "cached")

	cl.InvalidateCoordinator("g1")
	node, err = cl.Coordinator(ctx, "g1", CoordinatorGroup)
	require.NoError(t, err)
	assert.Equal(t, c.CoordinatorFor("g1"), node)
	assert.Equal(t, int32(2), finds.Load())

	// The coordinator's address is usable before any Metadata request.
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "g1", "m", 1
	resp, err := cl.RequestNode(ctx, node, hb)
	require.NoError(t, err)
	assert.NotErrorIs(t, kerr.ForCode(resp.(*kmsg.HeartbeatResponse).ErrorCode), kerr.NotCoordinator)
}

func TestCoordinatorRetriesRetriableErrors(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1))
	var calls atomic.Int32
	c.ControlKey(int16(kmsg.FindCoordinator), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if calls.Add(1) > 2 {
			return nil, nil, false
		}
		c.KeepControl()
		req := kreq.(*kmsg.FindCoordinatorRequest)
		resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		for _, k := range req.CoordinatorKeys {
			co := kmsg.NewFindCoordinatorResponseCoordinator()
			co.Key, co.ErrorCode = k, kerr.CoordinatorNotAvailable.Code
			resp.Coordinators = append(resp.Coordinators, co)
		}
		return resp, nil, true
	})
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), RetryBackoff: 5 * time.Millisecond})
	node, err := cl.Coordinator(testCtx(t, 5*time.Second), "g", CoordinatorGroup)
	require.NoError(t, err)
	assert.Equal(t, c.CoordinatorFor("g"), node)
	assert.Equal(t, int32(3), calls.Load())
}

func TestCloseFailsOutstandingAndStopsEverything(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1))
	cl, err := NewClient(Config{SeedBrokers: c.ListenAddrs()})
	require.NoError(t, err)
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	c.ControlKey(int16(kmsg.Metadata), func(kmsg.Request) (kmsg.Response, error, bool) {
		return nil, nil, true // never answer
	})
	done := make(chan error, 1)
	cn.DoAsync(kmsg.NewPtrMetadataRequest(), func(_ kmsg.Response, err error) { done <- err })
	require.NoError(t, cl.Close())
	assert.ErrorIs(t, <-done, ErrConnClosed)
	requireNoWireGoroutines(t)
	_, err = cl.Conn(ctx, SeedNode(0))
	assert.ErrorIs(t, err, ErrClientClosed)
	_, err = cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	assert.ErrorIs(t, err, ErrClientClosed)
	require.NoError(t, cl.Close(), "idempotent")
}

func TestIdleConnectionsClosed(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1))
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs(), ConnMaxIdle: 50 * time.Millisecond})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	select {
	case <-cn.Closed():
	case <-ctx.Done():
		t.Fatal("idle conn never closed")
	}
	_, err = cl.Request(ctx, kmsg.NewPtrApiVersionsRequest())
	require.NoError(t, err)
}

func TestCorrelationMismatchKillsConn(t *testing.T) {
	fb := newFakeBroker(t, func(req kmsg.Request, corrID int32) fakeReply {
		switch r := req.(type) {
		case *kmsg.ApiVersionsRequest:
			return fakeReply{resp: apiVersionsReply(r.Version, map[int16][2]int16{18: {0, 4}, 12: {0, 4}})}
		case *kmsg.HeartbeatRequest:
			return fakeReply{raw: responseFrame(req, corrID+1, r.ResponseKind())}
		}
		return fakeReply{close: true}
	})
	cl := newTestClient(t, Config{SeedBrokers: []string{fb.addr()}})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	_, err = cn.Do(ctx, kmsg.NewPtrHeartbeatRequest())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrCorrelationMismatch)
	assert.ErrorIs(t, err, ErrConnClosed)
	<-cn.Closed()
}

// faultConn fails every write once armed, standing in for a socket reset.
type faultConn struct {
	net.Conn
	failWrites *atomic.Bool
}

func (f faultConn) Write(p []byte) (int, error) {
	if f.failWrites.Load() {
		return 0, errors.New("injected write failure")
	}
	return f.Conn.Write(p)
}

func TestWriteFailureFailsQueuedAndRedials(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1))
	var failWrites atomic.Bool
	var dials atomic.Int32
	cl := newTestClient(t, Config{
		SeedBrokers: c.ListenAddrs(),
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return faultConn{nc, &failWrites}, nil
		},
	})
	ctx := testCtx(t, 10*time.Second)
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(t, err)
	failWrites.Store(true)
	const n = 10
	errs := make(chan error, n)
	for range n {
		cn.DoAsync(kmsg.NewPtrApiVersionsRequest(), func(_ kmsg.Response, err error) { errs <- err })
	}
	for range n {
		err := <-errs
		assert.ErrorIs(t, err, ErrConnClosed)
		assert.Contains(t, err.Error(), "injected write failure")
	}
	failWrites.Store(false)
	_, err = cl.RequestNode(ctx, SeedNode(0), kmsg.NewPtrApiVersionsRequest())
	require.NoError(t, err)
	assert.Equal(t, int32(2), dials.Load())
}

func TestTopicFatalErrorReturnsAtOnce(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1))
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kreq.(*kmsg.MetadataRequest)
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		for _, rt := range req.Topics {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic, t.ErrorCode = rt.Topic, kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, t)
		}
		return resp, nil, true
	})
	cl := newTestClient(t, Config{SeedBrokers: c.ListenAddrs()})
	ctx := testCtx(t, 10*time.Second)
	_, err := cl.Topic(ctx, "secret")
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	assert.NoError(t, ctx.Err(), "did not wait for the deadline")
}

func TestReconnectBackoff(t *testing.T) {
	var dials atomic.Int32
	dead := deadAddr(t)
	cl := newTestClient(t, Config{
		SeedBrokers:  []string{dead},
		RetryBackoff: 300 * time.Millisecond,
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	ctx := testCtx(t, 10*time.Second)
	_, err := cl.Conn(ctx, SeedNode(0))
	require.Error(t, err)
	_, err2 := cl.Conn(ctx, SeedNode(0))
	require.Error(t, err2)
	assert.Same(t, err, err2, "inside the backoff the last failure comes back")
	assert.Equal(t, int32(1), dials.Load(), "second call inside the backoff did not dial")
	assert.Equal(t, 600*time.Millisecond, cl.reconnectBackoff(2))
	assert.Equal(t, time.Second, cl.reconnectBackoff(10))
}

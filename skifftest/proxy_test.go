package skifftest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/skifftest"
)

// pxCtx bounds one proxy test.
func pxCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pxWait waits for cond on p's stats, failing the test with what was seen
// if ctx ends first.
func pxWait(t testing.TB, ctx context.Context, p *skifftest.Proxy, what string, cond func(skifftest.ProxyStats) bool) skifftest.ProxyStats {
	t.Helper()
	s, err := p.Wait(ctx, cond)
	require.NoError(t, err, "waiting for %s; last stats %+v", what, s)
	return s
}

// echoServer is a TCP target that is not Kafka: it echoes what it reads
// and reports every read, so proxy faults are tested on plain bytes.
type echoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	reads chan []byte // every read, in order
	ends  chan error  // how each connection ended (nil: EOF)
}

func newEchoServer(t testing.TB) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e := &echoServer{ln: ln, reads: make(chan []byte, 1024), ends: make(chan error, 16)}
	var mu sync.Mutex
	var conns []net.Conn
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						e.reads <- append([]byte(nil), buf[:n]...)
						if _, werr := c.Write(buf[:n]); werr != nil {
							e.ends <- werr
							return
						}
					}
					if err != nil {
						if errors.Is(err, io.EOF) {
							err = nil
						}
						e.ends <- err
						_ = c.Close()
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func dialProxy(t testing.TB, p *skifftest.Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads its echo back.
func roundTrip(t testing.TB, c net.Conn, msg []byte) {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := c.Write(msg)
	require.NoError(t, err)
	got := make([]byte, len(msg))
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, msg, got)
}

func TestProxyForwardsAndCountsConnections(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	ctx := pxCtx(t, 10*time.Second)

	c := dialProxy(t, p)
	pxWait(t, ctx, p, "one live connection", func(s skifftest.ProxyStats) bool { return s.Accepted == 1 && s.Live == 1 })
	roundTrip(t, c, []byte("hello, broker"))

	// A client's half-close reaches the target, whose close comes back:
	// then the connection is gone on both sides.
	require.NoError(t, c.CloseWrite())
	select {
	case err := <-e.ends:
		require.NoError(t, err, "the target saw a clean EOF")
	case <-ctx.Done():
		t.Fatal("the client's close did not reach the target")
	}
	s := pxWait(t, ctx, p, "no live connection", func(s skifftest.ProxyStats) bool { return s.Live == 0 })
	assert.Equal(t, [2]int64{13, 13}, s.Forwarded)
	assert.Equal(t, [2]int64{0, 0}, s.Held)
	assert.Zero(t, s.Resets)
}

func TestProxyLatency(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("warm"))

	const lat = 150 * time.Millisecond
	p.SetLatency(skifftest.BothWays, lat, 50*time.Millisecond)
	start := time.Now()
	roundTrip(t, c, []byte("slow"))
	assert.GreaterOrEqual(t, time.Since(start), 2*lat, "latency applies each way")

	p.SetLatency(skifftest.BothWays, 0, 0)
	roundTrip(t, c, []byte("fast again")) // cleared: the test's deadline bounds it
}

func TestProxyBandwidth(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	c := dialProxy(t, p)

	const rate, size = 64 << 10, 64 << 10 // one second's worth
	p.SetBandwidth(skifftest.ToBroker, rate)
	start := time.Now()
	roundTrip(t, c, make([]byte, size))
	// The first 10ms piece goes at once; the rest waits for the rate.
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond)
}

func TestProxyResetAfter(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	ctx := pxCtx(t, 10*time.Second)
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("before"))

	p.ResetAfter(skifftest.ToBroker, 10)
	_, err := c.Write(make([]byte, 100))
	require.NoError(t, err)
	pxWait(t, ctx, p, "the reset", func(s skifftest.ProxyStats) bool { return s.Resets == 1 && s.Live == 0 })

	// The proxy wrote exactly 10 of the 100 bytes, then reset both sides.
	// The target may read fewer: an RST discards what its socket had not
	// yet handed to the reader.
	assert.Equal(t, int64(len("before")+10), p.Stats().Forwarded[0], "%+v", p.Stats())
	got := 0
	var end error
	for end == nil {
		select {
		case b := <-e.reads:
			got += len(b)
		case end = <-e.ends:
		case <-ctx.Done():
			t.Fatal("the target saw no end of its connection")
		}
	}
	for len(e.reads) > 0 {
		got += len(<-e.reads)
	}
	assert.LessOrEqual(t, got, len("before")+10)
	assert.ErrorIs(t, end, syscall.ECONNRESET, "the target is reset, not closed")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = io.ReadAll(c)
	assert.ErrorIs(t, err, syscall.ECONNRESET, "the client is reset, not closed")

	// The fault stays for new connections: each lives for 10 bytes.
	c2 := dialProxy(t, p)
	_, err = c2.Write(make([]byte, 11))
	require.NoError(t, err)
	pxWait(t, ctx, p, "the second reset", func(s skifftest.ProxyStats) bool { return s.Resets == 2 })

	p.Heal()
	roundTrip(t, dialProxy(t, p), make([]byte, 100))
}

func TestProxyBlackholeHoldsThenHeals(t *testing.T) {
	t.Parallel()
	for _, d := range []skifftest.Direction{skifftest.ToBroker, skifftest.ToClient, skifftest.BothWays} {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			e := newEchoServer(t)
			p := skifftest.NewProxy(t, e.ln.Addr().String())
			ctx := pxCtx(t, 10*time.Second)
			c := dialProxy(t, p)
			roundTrip(t, c, []byte("warm"))
			<-e.reads // the echo of warm-up

			p.Blackhole(d)
			_, err := c.Write([]byte("held"))
			require.NoError(t, err)
			// The proxy holds 4 bytes in the first blackholed direction
			// (to the client, the echo), and the connection stays open.
			i := 0
			if d == skifftest.ToClient {
				i = 1
			}
			s := pxWait(t, ctx, p, "bytes held", func(s skifftest.ProxyStats) bool { return s.Held[i] == 4 })
			assert.Equal(t, 1, s.Live)
			if d&skifftest.ToBroker != 0 {
				assert.Empty(t, e.reads, "nothing reached the target")
			}
			require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
			_, err = c.Read(make([]byte, 1))
			var ne net.Error
			require.ErrorAs(t, err, &ne, "a read times out: neither data nor a close came through")
			require.True(t, ne.Timeout())

			p.Heal()
			require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
			got := make([]byte, 4)
			_, err = io.ReadFull(c, got)
			require.NoError(t, err)
			assert.Equal(t, "held", string(got), "held bytes are delivered on Heal, not dropped")
		})
	}
}

func TestProxyResetAllAndDialErrors(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	ctx := pxCtx(t, 10*time.Second)
	a, b := dialProxy(t, p), dialProxy(t, p)
	pxWait(t, ctx, p, "two live connections", func(s skifftest.ProxyStats) bool { return s.Live == 2 })
	p.ResetAll()
	pxWait(t, ctx, p, "both reset", func(s skifftest.ProxyStats) bool { return s.Live == 0 && s.Resets == 2 })
	for _, c := range []net.Conn{a, b} {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err := c.Read(make([]byte, 1))
		assert.ErrorIs(t, err, syscall.ECONNRESET)
	}

	// A target that is gone: the client is reset instead of left hanging.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := ln.Addr().String()
	require.NoError(t, ln.Close())
	q := skifftest.NewProxy(t, gone)
	c, err := net.DialTimeout("tcp", q.Addr(), 5*time.Second)
	if err == nil { // else the RST came before connect returned
		defer c.Close()
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = c.Read(make([]byte, 1))
	}
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	pxWait(t, ctx, q, "the dial error", func(s skifftest.ProxyStats) bool { return s.DialErrors == 1 })
}

// TestProxyCloseEndsEverything: Close returns with connections held in a
// blackhole, a client in the middle of a write, and one waiting on
// latency; the race detector and the test's end catch a goroutine left.
func TestProxyCloseEndsEverything(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	ctx := pxCtx(t, 10*time.Second)
	p.SetLatency(skifftest.ToClient, time.Hour, 0)
	slow := dialProxy(t, p)
	_, err := slow.Write([]byte("x"))
	require.NoError(t, err)
	pxWait(t, ctx, p, "the echo held by latency", func(s skifftest.ProxyStats) bool { return s.Held[1] == 1 })
	p.Blackhole(skifftest.ToBroker)
	held := dialProxy(t, p)
	_, err = held.Write(make([]byte, 1<<20))
	require.NoError(t, err)
	pxWait(t, ctx, p, "bytes held", func(s skifftest.ProxyStats) bool { return s.Held[0] > 0 && s.Live == 2 })

	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Close did not return")
	}
	assert.Zero(t, p.Stats().Live)
	p.Close() // again: a no-op
}

// TestProxyKgoSeesOnlyTheProxy: franz-go, a client we did not write,
// bootstraps through the proxy and learns the proxy's address from
// Metadata and FindCoordinator, so a group's whole life (produce, join,
// fetch, commit) goes through the proxy.
func TestProxyKgoSeesOnlyTheProxy(t *testing.T) {
	t.Parallel()
	const topic = "via-proxy"
	b := skifftest.NewBroker(t, skifftest.WithTopic(topic, 2))
	p := skifftest.NewProxy(t, b.Addr())
	ctx := pxCtx(t, 20*time.Second)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr()), kgo.ConsumerGroup("via-proxy-group"),
		kgo.ConsumeTopics(topic), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()

	mreq := kmsg.NewPtrMetadataRequest()
	mresp, err := mreq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, mresp.Brokers, 1)
	assert.Equal(t, p.Addr(), net.JoinHostPort(mresp.Brokers[0].Host, itoa(mresp.Brokers[0].Port)))

	freq := kmsg.NewPtrFindCoordinatorRequest()
	freq.CoordinatorKeys = []string{"via-proxy-group"}
	fresp, err := freq.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, fresp.Coordinators, 1, "kgo speaks FindCoordinator v4+ (KIP-699)")
	co := fresp.Coordinators[0]
	assert.Equal(t, p.Addr(), net.JoinHostPort(co.Host, itoa(co.Port)))

	for i := range 20 {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{byte(i)}}).FirstErr())
	}
	got := 0
	for got < 20 {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		fs.EachError(func(_ string, _ int32, err error) { t.Errorf("fetch: %v", err) })
		got += fs.NumRecords()
	}
	require.NoError(t, cl.CommitUncommittedOffsets(ctx))
	s := p.Stats()
	assert.Equal(t, 20, got)
	assert.Positive(t, s.Rewritten)
	for _, key := range []int16{skifftest.Metadata, skifftest.FindCoordinator, skifftest.JoinGroup,
		skifftest.SyncGroup, skifftest.Produce, skifftest.Fetch, skifftest.OffsetCommit} {
		assert.Positive(t, s.Requests[key], "%s went through the proxy", kmsg.NameForKey(key))
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// TestNewProxiesCluster: one proxy per broker of a three-broker cluster
// (franz-go's kfake), mapped on all of them; a client bootstrapped through
// one proxy learns every broker as its proxy and produces to each
// partition's leader through that leader's proxy.
func TestNewProxiesCluster(t *testing.T) {
	t.Parallel()
	const topic = "spread"
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(6, topic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	ps := skifftest.NewProxies(t, addrs...)
	ctx := pxCtx(t, 20*time.Second)

	direct, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	require.NoError(t, err)
	defer direct.Close()
	dm, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, direct)
	require.NoError(t, err)
	proxyOf := map[int32]string{} // node ID → its proxy's address
	for _, br := range dm.Brokers {
		i := slices.Index(addrs, net.JoinHostPort(br.Host, itoa(br.Port)))
		require.GreaterOrEqual(t, i, 0, "broker %d advertises a listen address", br.NodeID)
		proxyOf[br.NodeID] = ps[i].Addr()
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(ps[0].Addr()), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	pm, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, pm.Brokers, 3)
	for _, br := range pm.Brokers {
		assert.Equal(t, proxyOf[br.NodeID], net.JoinHostPort(br.Host, itoa(br.Port)), "broker %d", br.NodeID)
	}

	leaders := map[string]bool{}
	for p := range int32(6) {
		require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("v")}).FirstErr())
		leaders[proxyOf[c.LeaderFor(topic, p)]] = true
	}
	for _, p := range ps {
		assert.Equal(t, leaders[p.Addr()], p.Stats().Requests[skifftest.Produce] > 0,
			"produce requests went through %s exactly if it leads a partition", p.Target())
	}
}

// TestProxyClearOneDirection: clearing one direction of a two-way
// blackhole lets requests through while responses stay held.
func TestProxyClearOneDirection(t *testing.T) {
	t.Parallel()
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	ctx := pxCtx(t, 10*time.Second)
	c := dialProxy(t, p)
	roundTrip(t, c, []byte("warm"))
	<-e.reads

	p.Blackhole(skifftest.BothWays)
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err)
	pxWait(t, ctx, p, "the request held", func(s skifftest.ProxyStats) bool { return s.Held[0] == 4 })
	p.Clear(skifftest.ToBroker)
	select {
	case b := <-e.reads:
		assert.Equal(t, "ping", string(b), "the request went through")
	case <-ctx.Done():
		t.Fatal("the request stayed held after Clear(ToBroker)")
	}
	pxWait(t, ctx, p, "the echo held", func(s skifftest.ProxyStats) bool { return s.Held[1] == 4 })

	p.Heal()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	got := make([]byte, 4)
	_, err = io.ReadFull(c, got)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(got))
}

// BenchmarkProxyThroughput: bytes one way through a fault-free proxy to a
// target that discards them, against the same without the proxy; what a
// test pays for running its client through one.
func BenchmarkProxyThroughput(b *testing.B) {
	for _, via := range []string{"direct", "proxy"} {
		b.Run(via, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(b, err)
			defer ln.Close()
			got := make(chan int64, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- 0
					return
				}
				n, _ := io.Copy(io.Discard, c)
				_ = c.Close()
				got <- n
			}()
			addr := ln.Addr().String()
			if via == "proxy" {
				addr = skifftest.NewProxy(b, addr).Addr()
			}
			c, err := net.Dial("tcp", addr)
			require.NoError(b, err)
			buf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_, err := c.Write(buf)
				require.NoError(b, err)
			}
			require.NoError(b, c.(*net.TCPConn).CloseWrite())
			n := <-got
			b.StopTimer()
			_ = c.Close()
			require.Equal(b, int64(b.N*len(buf)), n)
		})
	}
}

// TestProxyLeavesNoGoroutine: after Close, no goroutine of the proxy is
// left, whatever state its connections were in (held by a blackhole,
// waiting on latency, half-closed). Not parallel: no other test's proxy
// runs meanwhile, so any proxy goroutine in the dump is a leak.
func TestProxyLeavesNoGoroutine(t *testing.T) {
	e := newEchoServer(t)
	p := skifftest.NewProxy(t, e.ln.Addr().String())
	ctx := pxCtx(t, 10*time.Second)

	half := dialProxy(t, p)
	roundTrip(t, half, []byte("x"))
	require.NoError(t, half.CloseWrite())
	p.SetLatency(skifftest.ToClient, time.Hour, 0)
	slow := dialProxy(t, p)
	_, err := slow.Write([]byte("y"))
	require.NoError(t, err)
	pxWait(t, ctx, p, "the echo held by latency", func(s skifftest.ProxyStats) bool { return s.Held[1] >= 1 })
	p.Blackhole(skifftest.ToBroker)
	held := dialProxy(t, p)
	_, err = held.Write([]byte("z"))
	require.NoError(t, err)
	pxWait(t, ctx, p, "bytes held", func(s skifftest.ProxyStats) bool { return s.Held[0] >= 1 })

	proxyGoroutines := func() (string, bool) {
		buf := make([]byte, 1<<20)
		dump := string(buf[:runtime.Stack(buf, true)])
		return dump, strings.Contains(dump, "skifftest.(*proxyConn)") || strings.Contains(dump, "skifftest.(*Proxy)")
	}
	_, running := proxyGoroutines()
	require.True(t, running, "the dump names the proxy's goroutines")

	p.Close()
	// Goroutines have no exit event: Close waited for each to be done,
	// and the dump may still show one on its way out for a moment.
	var dump string
	assert.Eventually(t, func() bool {
		var left bool
		dump, left = proxyGoroutines()
		return !left
	}, 2*time.Second, 10*time.Millisecond, "proxy goroutines left after Close")
	if t.Failed() {
		t.Log(dump)
	}
}

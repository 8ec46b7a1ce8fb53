package wire

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// benchConn connects to an in-process fake broker that answers Heartbeat
// immediately, so the numbers measure this package, not a broker.
func benchConn(b *testing.B) *Conn {
	b.Helper()
	fb := newFakeBroker(b, func(req kmsg.Request, corrID int32) fakeReply {
		switch r := req.(type) {
		case *kmsg.ApiVersionsRequest:
			return fakeReply{resp: apiVersionsReply(r.Version, map[int16][2]int16{12: {0, 4}, 18: {0, 4}})}
		case *kmsg.HeartbeatRequest:
			return fakeReply{resp: r.ResponseKind()}
		}
		return fakeReply{close: true}
	})
	cl, err := NewClient(Config{SeedBrokers: []string{fb.addr()}})
	require.NoError(b, err)
	b.Cleanup(func() { _ = cl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cn, err := cl.Conn(ctx, SeedNode(0))
	require.NoError(b, err)
	return cn
}

func heartbeat() *kmsg.HeartbeatRequest {
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = "bench-group", "member-1", 1
	return hb
}

// BenchmarkPipelinedDo: many goroutines share one connection with
// synchronous Do calls, the way partitions' senders share a broker.
func BenchmarkPipelinedDo(b *testing.B) {
	cn := benchConn(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(64)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cn.Do(ctx, heartbeat()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkDoAsyncWindow: one goroutine keeps a window of 256 requests in
// flight with DoAsync, the producer's sender pattern.
func BenchmarkDoAsyncWindow(b *testing.B) {
	cn := benchConn(b)
	const window = 256
	sem := make(chan struct{}, window)
	done := make(chan struct{})
	var completed int
	b.ReportAllocs()
	start := time.Now()
	for range b.N {
		sem <- struct{}{}
		cn.DoAsync(heartbeat(), func(_ kmsg.Response, err error) {
			if err != nil {
				b.Error(err)
			}
			<-sem
			completed++ // callbacks run one at a time, in order
			if completed == b.N {
				close(done)
			}
		})
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkCachedLookups: the per-record metadata reads of the send path
// must not allocate or lock.
func BenchmarkCachedLookups(b *testing.B) {
	cl := &Client{}
	cl.meta.Store(emptySnapshot())
	parts := make([]PartitionInfo, 64)
	for i := range parts {
		parts[i] = PartitionInfo{Partition: int32(i), Leader: int32(i % 3), LeaderEpoch: 1}
	}
	cl.mergeMetadata(&Metadata{Topics: map[string]TopicInfo{"orders": {Name: "orders", Partitions: parts}}}, true)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int32(0)
		for pb.Next() {
			ti, ok := cl.CachedTopic("orders")
			if !ok || len(ti.Partitions) != 64 {
				b.Error("lookup failed")
				return
			}
			if _, _, ok := cl.Leader("orders", i%64); !ok {
				b.Error("no leader")
				return
			}
			i++
		}
	})
}

// BenchmarkEncodeRequest: framing a request into a reused buffer through
// kmsg's RequestFormatter allocates nothing.
func BenchmarkEncodeRequest(b *testing.B) {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("skiff"))
	req := heartbeat()
	req.SetVersion(4)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeRequest(buf, f, req)
	}
}

package broker

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/internal/batch"
)

// BenchmarkIngest measures a kgo producer (linger 5ms, 16 KiB batches,
// acks=all, 100-byte values, one partition) writing into the skiff broker,
// under both fsync policies, and into franz-go's in-memory kfake for
// reference.
//
//	go test -run '^$' -bench Ingest -benchtime 200000x ./broker/
func BenchmarkIngest(b *testing.B) {
	targets := []struct {
		name  string
		start func(b *testing.B) string
	}{
		{"skiff-fsync-interval", func(b *testing.B) string {
			br := startBroker(b, Config{Logger: discardLogger()})
			if err := br.CreateTopic("bench", 1, nil); err != nil {
				b.Fatal(err)
			}
			return br.Addr()
		}},
		{"skiff-fsync-always", func(b *testing.B) string {
			br := startBroker(b, Config{Logger: discardLogger(), Fsync: FsyncAlways})
			if err := br.CreateTopic("bench", 1, nil); err != nil {
				b.Fatal(err)
			}
			return br.Addr()
		}},
		{"kfake", func(b *testing.B) string {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "bench"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(c.Close)
			return c.ListenAddrs()[0]
		}},
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			addr := tg.start(b)
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("bench"),
				kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchMaxBytes(16<<10),
				kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MaxBufferedRecords(1<<20))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			value := make([]byte, 100)
			// Warm up: metadata, producer id, connections.
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
				b.Fatal(err)
			}
			var failed atomic.Int64
			cb := func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Add(1)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				cl.Produce(ctx, &kgo.Record{Value: value}, cb)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d records failed", n)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkHandleProduce measures the broker's produce path in process:
// parse a Produce v9 request of one 100-record batch, validate, append and
// encode the answer. Allocations are per request, not per record.
//
//	go test -run '^$' -bench HandleProduce -benchmem ./broker/
func BenchmarkHandleProduce(b *testing.B) {
	// Retention keeps the benchmark's disk use bounded.
	br := startBroker(b, Config{Logger: discardLogger(), RetentionCheckInterval: 100 * time.Millisecond})
	if err := br.CreateTopic("bench", 1, map[string]string{"segment.bytes": "16777216", "retention.bytes": "67108864"}); err != nil {
		b.Fatal(err)
	}
	raw := makeBatch(100, 100, batch.NoProducer)
	f := frame(produceReq("bench", 0, raw), 9, 1)[4:]
	buf := make([]byte, len(f))
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	c := newConn(br, c1)
	w := newWorker()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, f) // the log rewrites the batch in place
		r, err := parseRequest(buf)
		if err != nil {
			b.Fatal(err)
		}
		r.c = c
		br.serve(w, r)
		resp := <-c.respCh
		framePool.Put(resp.frame)
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

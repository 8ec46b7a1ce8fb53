package consumer

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
)

// benchData is one kfake cluster with pre-produced records, shared by the
// consume benchmarks of a run so skiff and kgo read the same data.
var benchData struct {
	once    sync.Once
	cluster *kfake.Cluster
	records int
	parts   int32
}

func benchCluster(b *testing.B) (*kfake.Cluster, int, int32) {
	benchData.once.Do(func() {
		n := 1_000_000
		if s := os.Getenv("SKIFF_BENCH_RECORDS"); s != "" {
			n, _ = strconv.Atoi(s)
		}
		const parts = 4
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "bench"))
		require.NoError(b, err)
		pr, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(5*time.Millisecond),
			kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(100_000), kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
		require.NoError(b, err)
		value := make([]byte, 100)
		_, _ = rand.NewChaCha8([32]byte{2}).Read(value)
		ctx := context.Background()
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			pr.Produce(ctx, &kgo.Record{Topic: "bench", Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					panic(err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		pr.Close()
		benchData.cluster, benchData.records, benchData.parts = c, n, parts
	})
	return benchData.cluster, benchData.records, benchData.parts
}

// consumeSkiff reads every record once with a skiff consumer.
func consumeSkiff(b *testing.B, addrs []string, n int, parts int32) {
	cons, err := New(Config{Brokers: addrs, Assign: allPartitions("bench", parts, OffsetEarliest), Logger: testLogger()})
	require.NoError(b, err)
	ctx := context.Background()
	got := 0
	for got < n {
		recs, err := cons.Poll(ctx)
		require.NoError(b, err)
		got += len(recs)
	}
	require.NoError(b, cons.Close(ctx))
}

// consumeKgo reads every record once with a franz-go client.
func consumeKgo(b *testing.B, addrs []string, n int, parts int32) {
	offsets := map[int32]kgo.Offset{}
	for p := int32(0); p < parts; p++ {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"bench": offsets}))
	require.NoError(b, err)
	ctx := context.Background()
	got := 0
	for got < n {
		fs := cl.PollRecords(ctx, 500)
		require.NoError(b, fs.Err0())
		got += fs.NumRecords()
	}
	cl.Close()
}

// BenchmarkConsume reads the same pre-produced records (1M × 100 B in 4
// partitions of one kfake broker by default; SKIFF_BENCH_RECORDS overrides)
// from the start with skiff and with franz-go's kgo, both at Kafka's default
// fetch sizes and max.poll.records 500. Each iteration runs both, in
// alternating order, so heap state and the broker's caches favour neither;
// it reports each client's records/s, skiff's ratio to kgo, and
// allocations per record of the whole process (kfake's included, which are
// the same for both) while each client runs.
func BenchmarkConsume(b *testing.B) {
	c, n, parts := benchCluster(b)
	benchmarkConsume(b, c.ListenAddrs(), n, parts)
}

// BenchmarkConsumeSynthetic is BenchmarkConsume against a kfake cluster in
// SyntheticFetch mode: every fetch is answered with copies of one canned
// 1 MB batch of 100 B records, so the broker does no log reads and the
// clients' own cost shows. 1M records (SKIFF_BENCH_RECORDS) per run.
func BenchmarkConsumeSynthetic(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("SKIFF_BENCH_RECORDS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const parts = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "bench"), kfake.SyntheticFetch(kfake.SyntheticBatch{}))
	require.NoError(b, err)
	defer c.Close()
	benchmarkConsume(b, c.ListenAddrs(), n, parts)
}

func benchmarkConsume(b *testing.B, addrs []string, n int, parts int32) {
	var elapsed [2]time.Duration
	var mallocs, bytes [2]uint64
	run := func(which int) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		if which == 0 {
			consumeSkiff(b, addrs, n, parts)
		} else {
			consumeKgo(b, addrs, n, parts)
		}
		elapsed[which] += time.Since(t0)
		runtime.ReadMemStats(&after)
		mallocs[which] += after.Mallocs - before.Mallocs
		bytes[which] += after.TotalAlloc - before.TotalAlloc
	}
	// Warm up both (connections, page cache of the broker's data).
	run(0)
	run(1)
	elapsed, mallocs, bytes = [2]time.Duration{}, [2]uint64{}, [2]uint64{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first := i % 2
		run(first)
		run(1 - first)
	}
	b.StopTimer()
	total := float64(n) * float64(b.N)
	skiff, kgoRate := total/elapsed[0].Seconds(), total/elapsed[1].Seconds()
	b.ReportMetric(skiff, "skiff-records/s")
	b.ReportMetric(kgoRate, "kgo-records/s")
	b.ReportMetric(skiff/kgoRate, "skiff/kgo")
	b.ReportMetric(float64(mallocs[0])/total, "skiff-allocs/record")
	b.ReportMetric(float64(mallocs[1])/total, "kgo-allocs/record")
	b.ReportMetric(float64(bytes[0])/total, "skiff-B/record")
	b.ReportMetric(float64(bytes[1])/total, "kgo-B/record")
}

// BenchmarkGroupRebalanceAfterLeave measures how long a three-member group
// takes, after one member closes (LeaveGroup), until the two others own
// every partition again. Heartbeats every 100ms: the survivors learn of the
// rebalance from their next heartbeat.
func BenchmarkGroupRebalanceAfterLeave(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "t"), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(b, err)
	defer c.Close()
	for _, assignor := range []string{AssignorRange, AssignorCooperativeSticky} {
		b.Run(assignor, func(b *testing.B) {
			cfg := fastGroupConfig(Config{Brokers: c.ListenAddrs(), GroupID: "bench-" + assignor, Topics: []string{"t"}, Assignors: []string{assignor}, Logger: testLogger()})
			type member struct {
				c    *Consumer
				stop chan struct{}
				done chan struct{}
			}
			start := func() *member {
				cons, err := New(cfg)
				require.NoError(b, err)
				m := &member{c: cons, stop: make(chan struct{}), done: make(chan struct{})}
				go func() {
					defer close(m.done)
					for {
						select {
						case <-m.stop:
							return
						default:
						}
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
						_, _ = cons.Poll(ctx)
						cancel()
					}
				}()
				return m
			}
			closeMember := func(m *member) {
				close(m.stop)
				<-m.done
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				require.NoError(b, m.c.Close(ctx))
			}
			owned := func(ms ...*member) (total int, ok bool) {
				for _, m := range ms {
					n := len(m.c.Assignment())
					if n == 0 || !m.c.g.stable() {
						return 0, false
					}
					total += n
				}
				return total, true
			}
			waitOwned := func(ms ...*member) {
				deadline := time.Now().Add(30 * time.Second)
				for {
					if n, ok := owned(ms...); ok && n == 6 {
						return
					}
					require.True(b, time.Now().Before(deadline), "group never settled")
					time.Sleep(time.Millisecond)
				}
			}
			a, bm := start(), start()
			defer closeMember(a)
			defer closeMember(bm)
			var total, closeTotal time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				third := start()
				waitOwned(a, bm, third)
				b.StartTimer()
				t0 := time.Now()
				closeMember(third)
				closed := time.Since(t0)
				waitOwned(a, bm)
				total += time.Since(t0)
				closeTotal += closed
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/rebalance")
			b.ReportMetric(float64(closeTotal.Milliseconds())/float64(b.N), "ms/close")
		})
	}
}

// BenchmarkDecodePartition is the consumer's per-fetch hot path without a
// network: 100 batches of 100 records of 100 B, header scan excluded. With
// -benchmem, allocs/op shows the per-partition cost (the record slice, the
// chunk), independent of the record count.
func BenchmarkDecodePartition(b *testing.B) {
	for _, codec := range []compress.Codec{compress.None, compress.Zstd} {
		b.Run(codec.String(), func(b *testing.B) {
			var data []byte
			// Random bytes: zeros would make zstd look free.
			value := make([]byte, 100)
			_, _ = rand.NewChaCha8([32]byte{1}).Read(value)
			for i := 0; i < 100; i++ {
				var bl batch.Builder
				bl.Reset(nil, 1_700_000_000_000)
				for j := 0; j < 100; j++ {
					batch.Append[batch.RecordHeader](&bl, 1_700_000_000_000, nil, value, nil)
				}
				p := batch.NoProducer
				p.Codec = codec
				raw, err := bl.AppendCompressed(nil, p)
				require.NoError(b, err)
				batch.SetBaseOffset(raw, int64(i*100))
				data = append(data, raw...)
			}
			c := &Consumer{cfg: Config{}.withDefaults()}
			fp := &fetchPart{ps: &partState{tp: TopicPartition{"t", 0}}}
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.RecordBatches = data
			var dec batch.Decoder
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ch, err := c.decodePartition(&dec, fp, &rp)
				if err != nil || len(ch.recs) != 10_000 {
					b.Fatal(err, len(ch.recs))
				}
			}
			b.ReportMetric(float64(b.N)*10_000/b.Elapsed().Seconds(), "records/s")
		})
	}
}

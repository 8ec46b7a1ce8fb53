package broker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/fastack"
)

// benchTarget is one Kafka endpoint a benchmark runs the same kgo client
// against: the skiff broker under each fsync policy, franz-go's in-memory
// kfake, and (ingest only) internal/fastack, a sink that acknowledges
// without storing and so measures the client's own ceiling.
type benchTarget struct {
	name string
	// start returns the address of a target where topic "bench" exists
	// with partitions partitions, and for the skiff broker a function
	// reporting the bytes its logs hold.
	start func(b *testing.B, partitions int) (addr string, logBytes func() int64)
}

func skiffTarget(name string, cfg Config) benchTarget {
	return benchTarget{name, func(b *testing.B, partitions int) (string, func() int64) {
		cfg.Logger = discardLogger()
		br := startBroker(b, cfg)
		if err := br.CreateTopic("bench", int32(partitions), nil); err != nil {
			b.Fatal(err)
		}
		return br.Addr(), func() int64 {
			var n int64
			for _, p := range br.topics.byName("bench").parts {
				n += p.log.Size()
			}
			return n
		}
	}}
}

var kfakeTarget = benchTarget{"kfake", func(b *testing.B, partitions int) (string, func() int64) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), "bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c.ListenAddrs()[0], nil
}}

var sinkTarget = benchTarget{"sink", func(b *testing.B, partitions int) (string, func() int64) {
	_, addr := fastack.Start(b, partitions)
	return addr, nil
}}

// benchCodec is the producer's compression in the ingest and fetch
// benchmarks. The default is none: the values are random, so compression
// would only cost CPU, and the bytes on disk are the bytes produced (which
// keeps MB/s comparable with the disk's sequential write speed).
var benchCodec = flag.String("bench.codec", "none", "compression of the benchmarks' producers: none, gzip, snappy, lz4, zstd")

func codecOpt(b *testing.B) kgo.Opt {
	c := map[string]kgo.CompressionCodec{
		"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
	}
	codec, ok := c[*benchCodec]
	if !ok {
		b.Fatalf("unknown -bench.codec %q", *benchCodec)
	}
	return kgo.ProducerBatchCompression(codec)
}

// randomValue is an incompressible 100-byte record value.
func randomValue() []byte {
	v := make([]byte, 100)
	rand.Read(v)
	return v
}

// latencyHist is a produce or end-to-end latency histogram, 1µs..60s at 3
// significant digits, safe for kgo's promise goroutines.
type latencyHist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newLatencyHist() *latencyHist {
	return &latencyHist{h: hdrhistogram.New(1, int64(time.Minute/time.Microsecond), 3)}
}

func (l *latencyHist) record(d time.Duration) {
	l.mu.Lock()
	_ = l.h.RecordValue(max(d.Microseconds(), 1)) // above a minute it is clamped out; the bench fails first
	l.mu.Unlock()
}

// report adds p50 and p99 in milliseconds to b's results.
func (l *latencyHist) report(b *testing.B, prefix string) {
	b.ReportMetric(float64(l.h.ValueAtQuantile(50))/1e3, prefix+"p50-ms")
	b.ReportMetric(float64(l.h.ValueAtQuantile(99))/1e3, prefix+"p99-ms")
}

// ingestOpts is the producer configuration every ingest target gets, as the
// issue states it: linger 5ms, 16 KiB batches, acks=all (kgo's default,
// idempotent).
func ingestOpts(b *testing.B, addr string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("bench"), codecOpt(b),
		kgo.ProducerLinger(5 * time.Millisecond), kgo.ProducerBatchMaxBytes(16 << 10),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	}
}

// BenchmarkIngest has one kgo producer (linger 5ms, 16 KiB batches,
// acks=all, idempotent, kgo's default 10,000 buffered records, random
// 100-byte values, no compression unless -bench.codec says otherwise)
// write b.N records into each target, on one partition and on three (kgo's
// sticky partitioner fills one partition's batch after another, so three
// partitions put up to three batches in one Produce request). It reports
// records/s, MB/s of record values, log-MB/s of what reached the log files
// (skiff only), and the per-record produce latency from the Produce call
// (including any wait for buffer space) to its promise.
//
// The targets: skiff with each fsync policy (the default, fsync every
// second, answers acks=all after the append; always answers after a group
// fsync; none leaves flushing to the OS), kfake (in memory), and
// internal/fastack, a sink that stores nothing: the client's own ceiling.
//
//	go test -run '^$' -bench 'Ingest' -benchtime 1000000x -count 5 ./broker/
func BenchmarkIngest(b *testing.B) {
	targets := []benchTarget{
		skiffTarget("skiff", Config{}),
		skiffTarget("skiff-fsync-always", Config{Fsync: FsyncAlways}),
		skiffTarget("skiff-fsync-none", Config{Fsync: FsyncNone}),
		kfakeTarget,
		sinkTarget,
	}
	for _, tg := range targets {
		for _, partitions := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/partitions=%d", tg.name, partitions), func(b *testing.B) {
				addr, logBytes := tg.start(b, partitions)
				benchIngest(b, addr, logBytes)
			})
		}
	}
}

func benchIngest(b *testing.B, addr string, logBytes func() int64) {
	cl, err := kgo.NewClient(ingestOpts(b, addr)...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	value := randomValue()
	// Warm up: metadata, producer id, connections.
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	var failed atomic.Int64
	lat := newLatencyHist()
	// The record's own timestamp (kgo keeps a non-zero one) carries the
	// start time to the promise without a closure per record.
	promise := func(r *kgo.Record, err error) {
		lat.record(time.Since(r.Timestamp))
		if err != nil {
			failed.Add(1)
		}
	}
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cl.Produce(ctx, &kgo.Record{Value: value, Timestamp: time.Now()}, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d records failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	lat.report(b, "produce-")
	if logBytes != nil {
		// What reached the log files (batch headers and record framing
		// included), to set beside the disk's own sequential write speed.
		b.ReportMetric(float64(logBytes())/1e6/b.Elapsed().Seconds(), "log-MB/s")
	}
}

// preload writes n 100-byte records to topic "bench" at addr in 16 KiB
// batches and waits until all are acknowledged.
func preload(b *testing.B, addr string, n int) {
	b.Helper()
	cl, err := kgo.NewClient(ingestOpts(b, addr)...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	value := randomValue()
	var failed atomic.Int64
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
		}
	}
	for range n {
		cl.Produce(ctx, &kgo.Record{Value: value}, cb)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if f := failed.Load(); f > 0 {
		b.Fatalf("preload: %d records failed", f)
	}
}

// BenchmarkFetch measures a kgo consumer reading b.N 100-byte records
// (written beforehand in 16 KiB batches, one partition) from the start of
// the log: records/s and MB/s of record values, kgo's default fetch sizes.
//
//	go test -run '^$' -bench 'Fetch$' -benchtime 1000000x -count 3 ./broker/
func BenchmarkFetch(b *testing.B) {
	for _, tg := range []benchTarget{skiffTarget("skiff", Config{}), kfakeTarget} {
		b.Run(tg.name, func(b *testing.B) {
			addr, _ := tg.start(b, 1)
			preload(b, addr, b.N)
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("bench"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			b.SetBytes(100)
			b.ReportAllocs()
			b.ResetTimer()
			got := 0
			for got < b.N {
				fs := cl.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					b.Fatalf("after %d records: %v", got, err)
				}
				got += fs.NumRecords()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkProduceConsumeLatency produces one record at a time with kgo at
// linger 0 and waits until a kgo consumer that is already polling the
// partition receives it; p50/p99 of that end-to-end latency. The consumer's
// fetch is parked in the broker's purgatory and woken by the append.
//
//	go test -run '^$' -bench ProduceConsumeLatency -benchtime 5000x -count 3 ./broker/
func BenchmarkProduceConsumeLatency(b *testing.B) {
	for _, tg := range []benchTarget{skiffTarget("skiff", Config{}), kfakeTarget} {
		b.Run(tg.name, func(b *testing.B) {
			addr, _ := tg.start(b, 1)
			// Compression stated: kgo would otherwise default to snappy.
			prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("bench"),
				kgo.ProducerLinger(0), kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.ProducerBatchCompression(kgo.NoCompression()))
			if err != nil {
				b.Fatal(err)
			}
			defer prod.Close()
			cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("bench"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			received := make(chan uint64, 1024)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(received)
				for {
					fs := cons.PollFetches(ctx)
					if ctx.Err() != nil {
						return
					}
					fs.EachRecord(func(r *kgo.Record) {
						if len(r.Value) == 8 {
							received <- binary.BigEndian.Uint64(r.Value)
						}
					})
				}
			}()
			defer func() {
				cancel()
				cons.Close()
				wg.Wait()
			}()

			produceOne := func(seq uint64) time.Duration {
				v := binary.BigEndian.AppendUint64(nil, seq)
				start := time.Now()
				prod.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
					if err != nil {
						b.Errorf("produce %d: %v", seq, err)
					}
				})
				select {
				case got, ok := <-received:
					if !ok || got != seq {
						b.Fatalf("consumed %d (open %v), want %d", got, ok, seq)
					}
				case <-time.After(30 * time.Second):
					b.Fatalf("record %d not consumed in 30s", seq)
				}
				return time.Since(start)
			}
			// The first record proves the consumer is positioned and polling.
			produceOne(0)
			lat := newLatencyHist()
			b.ResetTimer()
			for i := range b.N {
				lat.record(produceOne(uint64(i + 1)))
			}
			b.StopTimer()
			lat.report(b, "e2e-")
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
		framePool.put(resp.frame)
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

// pipelineFrames writes the request frame f b.N times over one TCP
// connection to addr with up to 5 requests in flight, as an idempotent
// producer pipelines them, reading every answer; the timer covers the
// requests only. The caller sets b's bytes.
func pipelineFrames(b *testing.B, addr string, f []byte) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	const inFlight = 5
	slots := make(chan struct{}, inFlight)
	done := make(chan error, 1)
	b.ReportAllocs()
	// CPU time (client and broker: one process) varies less than
	// wall time when other work shares the machine.
	cpu0 := processCPUTime()
	defer func() { b.ReportMetric(float64(processCPUTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
	b.ResetTimer()
	go func() {
		i := 0
		done <- readAnswers(nc, func() bool { i++; return i <= b.N }, func() { <-slots })
	}()
	for range b.N {
		slots <- struct{}{}
		if _, err := nc.Write(f); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
}

// BenchmarkHandleFetch measures the broker's fetch path in process: parse a
// Fetch v12 request for one partition, read up to 1 MiB of batches from the
// log (pread into a pooled buffer) and encode the answer. Allocations are
// per request, independent of the bytes returned.
//
//	go test -run '^$' -bench HandleFetch -benchmem ./broker/
func BenchmarkHandleFetch(b *testing.B) {
	br := startBroker(b, Config{Logger: discardLogger()})
	if err := br.CreateTopic("bench", 1, nil); err != nil {
		b.Fatal(err)
	}
	l := br.topics.byName("bench").parts[0].log
	for range 200 { // 100 records of 100 bytes each: about 2 MiB
		if _, err := l.Append(makeBatch(100, 100, batch.NoProducer), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	f := frame(fetchReq("bench", 0, 1, 0), 12, 1)[4:]
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	c := newConn(br, c1)
	w := newWorker()
	var size int
	b.ReportAllocs()
	for b.Loop() {
		r, err := parseRequest(f)
		if err != nil {
			b.Fatal(err)
		}
		r.c = c
		br.serve(w, r)
		resp := <-c.respCh
		size = len(*resp.frame)
		c.unwritten.Add(-int64(size)) // as the writer would
		framePool.put(resp.frame)
	}
	if size < 1<<20-32<<10 {
		b.Fatalf("response of %d bytes, want about 1 MiB", size)
	}
	b.SetBytes(int64(size))
}

// BenchmarkConnProduce drives the whole per-connection path over TCP:
// reading a Produce v9 frame of one 100-record batch (into a pooled
// buffer), the worker, the append, and writing the answer; up to 5 requests
// in flight, as an idempotent producer pipelines them. allocs/op and B/op
// are per request, so they show what the network path costs beside
// BenchmarkHandleProduce.
//
//	go test -run '^$' -bench ConnProduce -benchmem ./broker/
func BenchmarkConnProduce(b *testing.B) {
	br := startBroker(b, Config{Logger: discardLogger(), RetentionCheckInterval: 100 * time.Millisecond})
	if err := br.CreateTopic("bench", 1, map[string]string{"segment.bytes": "16777216", "retention.bytes": "67108864"}); err != nil {
		b.Fatal(err)
	}
	raw := makeBatch(100, 100, batch.NoProducer)
	f := frame(produceReq("bench", 0, raw), 9, 1)
	b.SetBytes(int64(len(raw)))
	pipelineFrames(b, br.Addr(), f)
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

// readAnswers reads response frames from nc while more reports true,
// calling each after every frame, and returns the first read error.
func readAnswers(nc io.Reader, more func() bool, each func()) error {
	var size [4]byte
	var body []byte
	for more() {
		if _, err := io.ReadFull(nc, size[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(size[:]))
		if cap(body) < n {
			body = make([]byte, n)
		}
		if _, err := io.ReadFull(nc, body[:n]); err != nil {
			return err
		}
		each()
	}
	return nil
}

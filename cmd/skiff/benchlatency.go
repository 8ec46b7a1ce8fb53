package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/producer"
)

func init() {
	register("bench-latency", "benchmark helper: produce→consume latency at a fixed rate against a broker in another process", runBenchLatency)
}

var benchLatencyUsage = usageText{
	synopsis: []string{"skiff bench-latency --brokers ADDR --topic T [flags]"},
	about: "A producer (--producer skiff or kgo) sends --rate records/s (linger 0, acks=1, no compression; each value starts\n" +
		"with its send time) to partition 0 of --topic while a consumer (--consumer skiff or kgo, assign\n" +
		"mode, from the end) in the same process reads them; it prints the percentiles of send→receive\n" +
		"latency over --duration, after --warmup, in one line (lost: sent while measuring, not received\n" +
		"within a second of the last send):\n\n" +
		"  producer=<p> consumer=<c> rate=<r/s> records=<n> lost=<n> p50=<µs> p90=<µs> p99=<µs> p999=<µs> max=<µs> | ack p50=<µs> ...\n\n" +
		"The ack figures are send→acknowledgement of the same records, to tell the produce half from the\n" +
		"fetch half. " +
		"The producer paces itself every millisecond (rate/1000 records per tick). bench/latency.sh runs it\n" +
		"against a `skiff broker`.",
	examples: []string{"skiff bench-latency --brokers 127.0.0.1:9092 --topic latency --rate 50000 --duration 10s"},
}

func runBenchLatency(ctx context.Context, args []string) int {
	return benchLatencyMain(ctx, args, os.Stdout, os.Stderr)
}

func benchLatencyMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const cmd = "skiff bench-latency"
	fs := newFlagSet(cmd, benchLatencyUsage, stdout, stderr)
	var (
		brokers   = fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers")
		topic     = fs.String("topic", "latency", "topic to use (partition 0)")
		rate      = fs.Int("rate", 50_000, "records per second")
		duration  = fs.Duration("duration", 10*time.Second, "measured time")
		warmup    = fs.Duration("warmup", 2*time.Second, "time sent before measuring (not counted)")
		valueSize = fs.Int("value-size", 100, "value size in bytes (at least 8: the send time)")
		cons      = fs.String("consumer", "skiff", "consumer: skiff or kgo")
		prod      = fs.String("producer", "skiff", "producer: skiff or kgo (for comparison)")
		timeline  = fs.String("timeline", "", "also write every measured record to this file, one line each in send order:\n"+
			"ms since the measured part began, send→receive µs, send→ack µs (-1: not received); to line spikes\n"+
			"up with the broker's GC, fsync rounds or a runtime trace")
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, cmd, "unexpected argument %q", pos[0])
	}
	if *rate <= 0 || *valueSize < 8 || *duration <= 0 {
		return usageErr(stderr, cmd, "--rate must be positive, --value-size at least 8, --duration positive")
	}
	for _, c := range []struct{ flag, v string }{{"consumer", *cons}, {"producer", *prod}} {
		if c.v != "skiff" && c.v != "kgo" {
			return usageErr(stderr, cmd, "--%s: want skiff or kgo, got %q", c.flag, c.v)
		}
	}
	seeds := strings.Split(*brokers, ",")
	var tl *latencyTimeline
	if *timeline != "" {
		tl = &latencyTimeline{e2e: make(map[int64]time.Duration), ack: make(map[int64]time.Duration)}
	}
	res, acks, lost, err := benchLatency(ctx, latencySettings{seeds: seeds, topic: *topic, rate: *rate, duration: *duration,
		warmup: *warmup, valueSize: *valueSize, consumer: *cons, producer: *prod, timeline: tl})
	if err == nil && tl != nil {
		err = tl.write(*timeline)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return 1
	}
	fmt.Fprintf(stdout, "producer=%s consumer=%s rate=%d records=%d lost=%d %s | ack %s\n", *prod, *cons, *rate, len(res), lost,
		latencyPercentiles(res), latencyPercentiles(acks))
	return 0
}

type latencySettings struct {
	seeds              []string
	topic              string
	rate               int
	duration, warmup   time.Duration
	valueSize          int
	consumer, producer string
	timeline           *latencyTimeline // nil: percentiles only
}

// latencyTimeline keeps each measured record's latencies by send time
// (--timeline): percentiles say how long the tail is, the timeline says
// whether it comes in bursts and when, which is what tells a GC pause or
// an fsync round from a scheduler that gave the CPU to a neighbour.
type latencyTimeline struct {
	mu       sync.Mutex
	start    int64                   // unix ns the measured part began
	e2e, ack map[int64]time.Duration // by send time (unix ns)
}

func (t *latencyTimeline) add(m map[int64]time.Duration, sent int64, d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	m[sent] = d
	t.mu.Unlock()
}

func (t *latencyTimeline) write(path string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	sent := make([]int64, 0, len(t.ack))
	for s := range t.ack {
		sent = append(sent, s)
	}
	slices.Sort(sent)
	// The first line dates the timeline, to match it with a broker's
	// trace (whose clock is the wall clock too) or its log.
	b := fmt.Appendf(nil, "# measured from %s (unix ns %d)\n", time.Unix(0, t.start).UTC().Format(time.RFC3339Nano), t.start)
	for _, s := range sent {
		e2e, ok := t.e2e[s]
		if !ok {
			e2e = -time.Microsecond
		}
		b = fmt.Appendf(b, "%.3f %d %d\n", float64(s-t.start)/1e6, e2e.Microseconds(), t.ack[s].Microseconds())
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("--timeline: %w", err)
	}
	return nil
}

// latencyPercentiles formats p50, p90, p99, p999 and max of ds (sorted
// here) in microseconds.
func latencyPercentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := min(int(q*float64(len(ds))), len(ds)-1)
		return float64(ds[i]) / 1e3
	}
	return fmt.Sprintf("p50=%.0f p90=%.0f p99=%.0f p999=%.0f max=%.0f", at(0.50), at(0.90), at(0.99), at(0.999), float64(ds[len(ds)-1])/1e3)
}

// benchLatency returns the latency of every record sent after the warm-up
// and received before the end.
// acks are the send→acknowledgement latencies of the same records.
func benchLatency(ctx context.Context, s latencySettings) (samples, acks []time.Duration, lost int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := newLatencyProducer(s)
	if err != nil {
		return nil, nil, 0, err
	}
	defer p.close()
	// The first record creates nothing (the topic must exist) but brings
	// metadata and the connection up before anything is timed.
	warm := make(chan error, 1)
	if err := p.send(ctx, make([]byte, s.valueSize), func(err error) { warm <- err }); err != nil {
		return nil, nil, 0, fmt.Errorf("warm-up send: %w", err)
	}
	if err := <-warm; err != nil {
		return nil, nil, 0, fmt.Errorf("warm-up send: %w", err)
	}

	samples = make([]time.Duration, 0, int(float64(s.rate)*s.duration.Seconds()*1.1))
	var (
		mu      sync.Mutex
		measure atomic.Int64 // unix nanos: records sent from then on count
		stop    atomic.Int64 // unix nanos: records received from then on do not
		newest  atomic.Int64 // send time of the newest record received
	)
	measure.Store(1<<63 - 1)
	stop.Store(1<<63 - 1)
	observe := func(v []byte, now time.Time) {
		if len(v) < 8 {
			return
		}
		sent := int64(binary.BigEndian.Uint64(v))
		if sent > newest.Load() {
			newest.Store(sent) // only the consumer goroutine writes it
		}
		if sent < measure.Load() || now.UnixNano() >= stop.Load() {
			return
		}
		d := time.Duration(now.UnixNano() - sent)
		mu.Lock()
		samples = append(samples, d)
		mu.Unlock()
		if s.timeline != nil {
			s.timeline.add(s.timeline.e2e, sent, d)
		}
	}
	consumed := make(chan error, 1)
	ready := make(chan struct{})
	go func() { consumed <- latencyConsume(ctx, s, observe, ready) }()
	select {
	case <-ready:
	case err := <-consumed:
		return nil, nil, 0, err
	}

	var (
		sendErr atomic.Pointer[error]
		ackMu   sync.Mutex
	)
	acks = make([]time.Duration, 0, cap(samples))
	ack := func(sent int64) func(error) {
		return func(err error) {
			if err != nil {
				sendErr.CompareAndSwap(nil, &err)
				return
			}
			if sent >= measure.Load() {
				d := time.Duration(time.Now().UnixNano() - sent)
				ackMu.Lock()
				acks = append(acks, d)
				ackMu.Unlock()
				if s.timeline != nil {
					s.timeline.add(s.timeline.ack, sent, d)
				}
			}
		}
	}
	start := time.Now()
	measure.Store(start.Add(s.warmup).UnixNano())
	if s.timeline != nil {
		s.timeline.start = measure.Load()
	}
	end := start.Add(s.warmup + s.duration)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	sent, counted, last := 0, 0, int64(0)
	for now := start; now.Before(end); now = time.Now() {
		// Catch up to the rate: on a busy machine a tick comes late, and
		// the records due meanwhile go at once.
		due := int(now.Sub(start).Seconds() * float64(s.rate))
		for ; sent < due; sent++ {
			v := make([]byte, s.valueSize)
			last = time.Now().UnixNano()
			binary.BigEndian.PutUint64(v, uint64(last))
			if last >= measure.Load() {
				counted++
			}
			if err := p.send(ctx, v, ack(last)); err != nil {
				return nil, nil, 0, fmt.Errorf("send: %w", err)
			}
		}
		if e := sendErr.Load(); e != nil {
			return nil, nil, 0, fmt.Errorf("send: %w", *e)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, nil, 0, ctx.Err()
		case err := <-consumed:
			return nil, nil, 0, fmt.Errorf("consumer: %w", err)
		}
	}
	// Records still in flight get a second to arrive; later is not
	// latency worth measuring but a stall, and such records are counted
	// as lost.
	if err := p.flush(ctx); err != nil {
		return nil, nil, 0, err
	}
	for grace := time.Now().Add(time.Second); newest.Load() < last && time.Now().Before(grace); {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, nil, 0, ctx.Err()
		}
	}
	stop.Store(time.Now().UnixNano())
	cancel()
	if err := <-consumed; err != nil && !errors.Is(err, context.Canceled) {
		return nil, nil, 0, fmt.Errorf("consumer: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	ackMu.Lock()
	defer ackMu.Unlock()
	return samples, acks, counted - len(samples), nil
}

// latencyProducer is the producer side: skiff's, or kgo's for comparison.
type latencyProducer struct {
	send  func(ctx context.Context, v []byte, done func(error)) error
	flush func(ctx context.Context) error
	close func()
}

// The latency benchmark's batch.size and buffer.memory, the same on both
// clients.
const (
	latencyBatchSize    = 16384
	latencyBufferMemory = 32 << 20
)

// newLatencyProducer sets linger 0, acks=1, no idempotence, no
// compression, 16 KiB batches and a 32 MiB buffer on either client, all
// explicitly (franz-go's defaults differ: snappy, 1 MB batches).
func newLatencyProducer(s latencySettings) (*latencyProducer, error) {
	if s.producer == "kgo" {
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite(),
			kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchMaxBytes(latencyBatchSize), kgo.MaxBufferedBytes(latencyBufferMemory))
		if err != nil {
			return nil, err
		}
		return &latencyProducer{
			send: func(ctx context.Context, v []byte, done func(error)) error {
				cl.Produce(ctx, &kgo.Record{Topic: s.topic, Partition: 0, Value: v}, func(_ *kgo.Record, err error) { done(err) })
				return nil
			},
			flush: cl.Flush,
			close: cl.Close,
		}, nil
	}
	p, err := producer.New(producer.Config{Brokers: s.seeds, Acks: producer.AcksLeader, DisableIdempotence: true,
		Linger: producer.NoLinger, Compression: producer.CompressionNone,
		BatchSize: latencyBatchSize, BufferMemory: latencyBufferMemory})
	if err != nil {
		return nil, err
	}
	return &latencyProducer{
		send: func(ctx context.Context, v []byte, done func(error)) error {
			return p.Send(ctx, producer.Record{Topic: s.topic, Partition: producer.ToPartition(0), Value: v},
				func(_ producer.RecordMetadata, err error) { done(err) })
		},
		flush: p.Flush,
		close: func() { p.Close(context.Background()) },
	}, nil
}

// latencyConsume reads partition 0 of the topic from its end, calling
// observe for each record, until ctx ends; ready is closed once the
// consumer has its position.
func latencyConsume(ctx context.Context, s latencySettings, observe func([]byte, time.Time), ready chan<- struct{}) error {
	switch s.consumer {
	case "kgo":
		cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.topic: {0: kgo.NewOffset().AtEnd()}}),
			kgo.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return err
		}
		defer cl.Close()
		if err := cl.Ping(ctx); err != nil {
			return err
		}
		close(ready)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) { observe(r.Value, now) })
		}
	default:
		c, err := consumer.New(consumer.Config{Brokers: s.seeds,
			Assign:       map[string][]consumer.TopicPartitionOffset{s.topic: {{Partition: 0, Offset: consumer.OffsetLatest}}},
			FetchMaxWait: 500 * time.Millisecond})
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		close(ready)
		for {
			recs, err := c.Poll(ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			for _, r := range recs {
				observe(r.Value, now)
			}
		}
	}
}

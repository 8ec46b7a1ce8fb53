package producer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/serializer"
)

// sent is what a test produced and what its callback said.
type sent struct {
	rec Record
	md  RecordMetadata
	err error
}

// collector gathers callback results and checks that callbacks of one
// partition come in order and never concurrently.
type collector struct {
	t       testing.TB
	mu      sync.Mutex
	results []sent
	running atomic.Int32
	lastOff map[int32]int64
	wg      sync.WaitGroup
}

func newCollector(t testing.TB) *collector {
	return &collector{t: t, lastOff: map[int32]int64{}}
}

func (c *collector) send(ctx context.Context, p *Producer, rec Record) error {
	c.wg.Add(1)
	err := p.Send(ctx, rec, func(md RecordMetadata, err error) {
		defer c.wg.Done()
		if c.running.Add(1) != 1 {
			c.t.Errorf("callbacks ran concurrently")
		}
		defer c.running.Add(-1)
		c.mu.Lock()
		defer c.mu.Unlock()
		if err == nil && md.Offset >= 0 {
			if last, ok := c.lastOff[md.Partition]; ok && md.Offset <= last {
				c.t.Errorf("partition %d: callback for offset %d after %d", md.Partition, md.Offset, last)
			}
			c.lastOff[md.Partition] = md.Offset
		}
		c.results = append(c.results, sent{rec: rec, md: md, err: err})
	})
	if err != nil {
		c.wg.Done()
	}
	return err
}

func (c *collector) wait(tb testing.TB) []sent {
	tb.Helper()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		tb.Fatal("callbacks did not all run")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sent(nil), c.results...)
}

// testRecord is record i of a stream: keyed, with headers and a
// millisecond timestamp, its value naming its position.
func testRecord(topic string, i int) Record {
	return Record{
		Topic:     topic,
		Key:       []byte(fmt.Sprintf("key-%d", i%37)),
		Value:     []byte(fmt.Sprintf("value-%06d-%s", i, bytes.Repeat([]byte{'x'}, i%50))),
		Headers:   []Header{{Key: "i", Value: []byte(fmt.Sprint(i))}, {Key: "empty", Value: nil}},
		Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)),
	}
}

// checkReadBack verifies that got holds exactly want, each once, with the
// same content, per-partition order of production, and keyed partitions as
// franz-go's Kafka-compatible partitioner picks them.
func checkReadBack(tb testing.TB, want []Record, got []*kgo.Record, partitions int) {
	tb.Helper()
	require.Len(tb, got, len(want), "records read back (duplicates or losses)")
	kp := kgo.StickyKeyPartitioner(nil).ForTopic(want[0].Topic)
	byValue := map[string]Record{}
	order := map[string]int{}
	for i, r := range want {
		byValue[string(r.Value)] = r
		order[string(r.Value)] = i
	}
	last := map[int32]int{}
	for _, g := range got {
		w, ok := byValue[string(g.Value)]
		if !assert.True(tb, ok, "unexpected record %q", g.Value) {
			continue
		}
		delete(byValue, string(g.Value))
		assert.Equal(tb, w.Key, g.Key)
		assert.Equal(tb, w.Timestamp.UnixMilli(), g.Timestamp.UnixMilli())
		require.Len(tb, g.Headers, len(w.Headers))
		for i, h := range w.Headers {
			assert.Equal(tb, h.Key, g.Headers[i].Key)
			assert.Equal(tb, h.Value, g.Headers[i].Value)
		}
		wantPart := kp.Partition(&kgo.Record{Key: w.Key}, partitions)
		assert.Equal(tb, int32(wantPart), g.Partition, "partition of key %q", w.Key)
		if l, ok := last[g.Partition]; ok {
			assert.Greater(tb, order[string(g.Value)], l, "partition %d out of order", g.Partition)
		}
		last[g.Partition] = order[string(g.Value)]
	}
	assert.Empty(tb, byValue, "records never read back")
}

func TestProduceCodecsAndAcks(t *testing.T) {
	const n, partitions = 300, 4
	c := newCluster(t, kfake.SeedTopics(partitions, "t"))
	for _, codec := range []Compression{CompressionNone, CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd} {
		for _, acks := range []Acks{AcksAll, AcksLeader, AcksNone} {
			t.Run(fmt.Sprintf("%s/acks=%s", codec, acks), func(t *testing.T) {
				topic := fmt.Sprintf("t-%s-%d", codec, acks)
				require.NoError(t, c.CreateTopic(topic, partitions, nil))
				p := newProducer(t, Config{
					Brokers:            c.ListenAddrs(),
					Acks:               acks,
					DisableIdempotence: acks != AcksAll,
					Compression:        codec,
					BatchSize:          2048, // several batches per partition
				})
				col := newCollector(t)
				var want []Record
				for i := range n {
					r := testRecord(topic, i)
					want = append(want, r)
					require.NoError(t, col.send(context.Background(), p, r))
				}
				require.NoError(t, p.Flush(context.Background()))
				results := col.wait(t)
				require.Len(t, results, n)
				got := consume(t, c.ListenAddrs(), topic, n)
				checkReadBack(t, want, got, partitions)
				offsets := map[string]int64{}
				for _, g := range got {
					offsets[string(g.Value)] = g.Offset
				}
				for _, r := range results {
					require.NoError(t, r.err)
					assert.Equal(t, r.rec.Timestamp.UnixMilli(), r.md.Timestamp.UnixMilli())
					if acks == AcksNone {
						assert.Equal(t, int64(-1), r.md.Offset)
					} else {
						assert.Equal(t, offsets[string(r.rec.Value)], r.md.Offset, "callback offset")
					}
				}
			})
		}
	}
}

// produceErrorsEvery makes every nth Produce request fail with code for all
// its partitions, before kfake handles it.
func produceErrorsEvery(c *kfake.Cluster, every int, code int16, injected *atomic.Int32) {
	var count atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if count.Add(1)%int32(every) != 0 {
			return nil, nil, false
		}
		injected.Add(1)
		if code < 0 {
			return nil, errors.New("injected connection drop"), true
		}
		req := kreq.(*kmsg.ProduceRequest)
		return produceError(req, code), nil, true
	})
}

func TestIdempotentRetriesInjectedErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int16
	}{
		{"not_leader", kerr.NotLeaderForPartition.Code},
		{"request_timed_out", kerr.RequestTimedOut.Code},
		{"not_enough_replicas", kerr.NotEnoughReplicas.Code},
		{"conn_drop", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n, partitions = 2000, 3
			c := newCluster(t, kfake.SeedTopics(partitions, "retry"))
			var injected atomic.Int32
			produceErrorsEvery(c, 3, tc.code, &injected)
			p := newProducer(t, Config{
				Brokers:         c.ListenAddrs(),
				BatchSize:       1024, // many requests, several in flight
				Linger:          NoLinger,
				RetryBackoff:    time.Millisecond,
				RetryBackoffMax: 5 * time.Millisecond,
			})
			col := newCollector(t)
			var want []Record
			for i := range n {
				r := testRecord("retry", i)
				want = append(want, r)
				require.NoError(t, col.send(context.Background(), p, r))
			}
			require.NoError(t, p.Flush(context.Background()))
			for _, r := range col.wait(t) {
				require.NoError(t, r.err)
			}
			assert.Positive(t, injected.Load())
			checkReadBack(t, want, consume(t, c.ListenAddrs(), "retry", n), partitions)
		})
	}
}

func TestLeaderChangeMidStream(t *testing.T) {
	const n, partitions = 3000, 3
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(partitions, "move"))
	logger, retries := logCounter("retrying batch")
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), BatchSize: 1024, Linger: time.Millisecond, RetryBackoff: time.Millisecond, Logger: logger})
	col := newCollector(t)
	var want []Record
	for i := range n {
		if i%(n/4) == n/8 {
			for part := range int32(partitions) {
				cur := c.LeaderFor("move", part)
				require.NoError(t, c.MoveTopicPartition("move", part, (cur+1)%3))
			}
		}
		r := testRecord("move", i)
		want = append(want, r)
		require.NoError(t, col.send(context.Background(), p, r))
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let requests interleave with moves
		}
	}
	require.NoError(t, p.Flush(context.Background()))
	for _, r := range col.wait(t) {
		require.NoError(t, r.err)
	}
	checkReadBack(t, want, consume(t, c.ListenAddrs(), "move", n), partitions)
	assert.Positive(t, retries.Load(), "batches hit the old leader and were retried")
}

func TestUnknownTopicFailsAfterMaxBlock(t *testing.T) {
	c := newCluster(t) // auto-create is off by default in kfake
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), MaxBlock: 300 * time.Millisecond})
	start := time.Now()
	err := p.Send(context.Background(), Record{Topic: "nope", Value: []byte("v")}, nil)
	require.Error(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.ErrorIs(t, err, ErrUnknownTopic)
	assert.ErrorIs(t, err, kerr.UnknownTopicOrPartition)
	assert.Contains(t, err.Error(), "nope")
}

// With no broker up, the error says so rather than blaming the topic.
func TestNoBrokerReachable(t *testing.T) {
	p := newProducer(t, Config{Brokers: []string{"127.0.0.1:1"}, MaxBlock: 300 * time.Millisecond})
	err := p.Send(context.Background(), Record{Topic: "t", Value: []byte("v")}, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, wire.ErrNoBrokers)
	assert.ErrorIs(t, err, ErrNoBrokers)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrUnknownTopic)
	// One sentence: the address with its OS error, once, and the wait;
	// no "wire:" chain, no placeholder node id.
	assert.Regexp(t, `^produce t \(max\.block 300ms\): metadata for topic "t": no broker reachable \(retried for \d+ms\): 127\.0\.0\.1:1: connection refused$`, err.Error())
	assert.Equal(t, 1, strings.Count(err.Error(), "127.0.0.1:1"))
}

// A broker that auto-creates topics gets asked to: the first Send to a new
// topic succeeds instead of waiting out max.block.
func TestBrokerAutoCreatesTopic(t *testing.T) {
	c := newCluster(t, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), MaxBlock: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md, err := p.SendSync(ctx, Record{Topic: "fresh", Value: []byte("v")})
	require.NoError(t, err)
	assert.Equal(t, "fresh", md.Topic)
	assert.Len(t, consume(t, c.ListenAddrs(), "fresh", 1), 1)
}

func TestOversizedRecordFailsAtOnce(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "big"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), MaxRequestSize: 10_000, BatchSize: 1000})
	called := false
	err := p.Send(context.Background(), Record{Topic: "big", Value: make([]byte, 20_000)}, func(RecordMetadata, error) { called = true })
	require.Error(t, err)
	assert.ErrorIs(t, err, kerr.MessageTooLarge)
	assert.ErrorIs(t, err, ErrRecordTooLarge)
	// Between batch.size and max.request.size: a batch of its own, delivered.
	md, err := p.SendSync(context.Background(), Record{Topic: "big", Value: make([]byte, 5000)})
	require.NoError(t, err)
	assert.Equal(t, int64(0), md.Offset)
	assert.False(t, called)
}

// stallProduce makes kfake hold every Produce request until release is
// closed.
func stallProduce(c *kfake.Cluster, release <-chan struct{}) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		sleepUntil(c, release)
		return nil, nil, false
	})
}

// sleepUntil parks the running kfake control function until gate closes,
// and does not sleep at all once it is closed.
//
// The second part matters: a request that waited on its connection behind a
// slept one, and then sleeps in its turn, makes kfake (01f206a7e32c) rewrite
// the queue head's sleep channels in bsleep.enqueue while bsleep.waitQueue
// reads them unlocked. CI's race detector caught that in
// TestHeapBoundedWhenBrokerStalls, whose producer pipelines Produce requests
// behind the held one. Such a waiting request only reaches its control
// function after the head's woke, that is after gate closed, so it never
// sleeps here.
func sleepUntil(c *kfake.Cluster, gate <-chan struct{}) {
	select {
	case <-gate:
		return
	default:
	}
	c.SleepControl(func() { <-gate })
}

func TestBufferFullBlocksThenFails(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "full"))
	p := newProducer(t, Config{
		Brokers:      c.ListenAddrs(),
		BatchSize:    4096,
		BufferMemory: 32 << 10,
		MaxBlock:     300 * time.Millisecond,
	})
	// Learn the topic first, so only memory can block.
	_, err := p.SendSync(context.Background(), testRecord("full", 0))
	require.NoError(t, err)
	release := make(chan struct{})
	stallProduce(c, release)

	col := newCollector(t)
	var want []Record
	var sendErr error
	var blocked time.Duration
	for i := 1; i < 100_000; i++ {
		r := testRecord("full", i)
		start := time.Now()
		if sendErr = col.send(context.Background(), p, r); sendErr != nil {
			blocked = time.Since(start)
			break
		}
		want = append(want, r)
	}
	require.Error(t, sendErr, "the buffer never filled")
	assert.ErrorIs(t, sendErr, ErrBufferFull)
	assert.GreaterOrEqual(t, blocked, 300*time.Millisecond, "Send blocked for max.block")

	// A context ending first wins, and its error shows.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// The record needs a fresh batch bigger than what the failed Send could
	// not get, so it cannot slip into an open batch with room left.
	big := testRecord("full", 100_001)
	big.Value = make([]byte, 5000)
	err = p.Send(ctx, big, nil)
	assert.ErrorIs(t, err, ErrBufferFull)
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	close(release)
	require.NoError(t, p.Flush(context.Background()))
	for _, r := range col.wait(t) {
		require.NoError(t, r.err)
	}
	got := consume(t, c.ListenAddrs(), "full", len(want)+1)
	assert.Len(t, got, len(want)+1, "everything accepted was delivered")
}

func TestCloseWithRecordsInFlight(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCluster(t, kfake.SeedTopics(2, "close"))
	p, err := New(Config{Brokers: c.ListenAddrs()})
	require.NoError(t, err)
	_, err = p.SendSync(context.Background(), testRecord("close", 0))
	require.NoError(t, err)
	release := make(chan struct{})
	stallProduce(c, release)

	col := newCollector(t)
	for i := range 500 {
		require.NoError(t, col.send(context.Background(), p, testRecord("close", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = p.Close(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	results := col.wait(t)
	require.Len(t, results, 500, "every callback ran")
	for _, r := range results {
		assert.ErrorIs(t, r.err, ErrClosed)
	}
	assert.ErrorIs(t, p.Send(context.Background(), testRecord("close", 0), nil), ErrClosed)
	assert.NoError(t, p.Close(context.Background()), "second Close")

	close(release)
	c.Close()
	waitGoroutines(t, before)
}

func waitGoroutines(tb testing.TB, want int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			tb.Fatalf("goroutines: %d, want <= %d\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseDeliversBuffered(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newCluster(t, kfake.SeedTopics(2, "closeok"))
	p, err := New(Config{Brokers: c.ListenAddrs(), Linger: 10 * time.Second})
	require.NoError(t, err)
	col := newCollector(t)
	for i := range 300 {
		require.NoError(t, col.send(context.Background(), p, testRecord("closeok", i)))
	}
	require.NoError(t, p.Close(context.Background()), "Close ignores linger")
	for _, r := range col.wait(t) {
		require.NoError(t, r.err)
	}
	assert.Len(t, consume(t, c.ListenAddrs(), "closeok", 300), 300)
	c.Close()
	waitGoroutines(t, before)
}

func TestFlushIgnoresLinger(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "flush"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), Linger: 10 * time.Second})
	var acked atomic.Int32
	for i := range 10 {
		require.NoError(t, p.Send(context.Background(), testRecord("flush", i), func(_ RecordMetadata, err error) {
			assert.NoError(t, err)
			acked.Add(1)
		}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, p.Flush(ctx))
	assert.Equal(t, int32(10), acked.Load(), "Flush returns after the callbacks")
}

func TestSendBatch(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "sb"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	var recs []Record
	for i := range 500 {
		recs = append(recs, testRecord("sb", i))
	}
	var mu sync.Mutex
	var errs []error
	n, err := p.SendBatch(context.Background(), recs, func(_ RecordMetadata, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})
	require.NoError(t, err)
	assert.Equal(t, 500, n)
	require.NoError(t, p.Flush(context.Background()))
	require.Len(t, errs, 500)
	for _, e := range errs {
		require.NoError(t, e)
	}
	checkReadBack(t, recs, consume(t, c.ListenAddrs(), "sb", 500), 3)
}

func TestExplicitPartition(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "ep"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	md, err := p.SendSync(context.Background(), Record{Topic: "ep", Partition: ToPartition(2), Key: []byte("x"), Value: []byte("v")})
	require.NoError(t, err)
	assert.Equal(t, int32(2), md.Partition)
	_, err = p.SendSync(context.Background(), Record{Topic: "ep", Partition: ToPartition(3), Value: []byte("v")})
	assert.ErrorIs(t, err, ErrInvalidPartition)
}

type order struct {
	ID    int    `json:"id"`
	Item  string `json:"item"`
	Count int    `json:"count"`
}

func TestTyped(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "orders"))
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	orders := NewTyped(p, serializer.String(), serializer.JSON[order]())
	for i := range 20 {
		_, err := orders.SendSync(context.Background(), TypedRecord[string, order]{
			Topic: "orders", Key: fmt.Sprint("customer-", i%3), Value: order{ID: i, Item: "boat", Count: i},
		})
		require.NoError(t, err)
	}
	got := consume(t, c.ListenAddrs(), "orders", 20)
	require.Len(t, got, 20)
	seen := map[string]bool{}
	for _, g := range got {
		assert.Contains(t, string(g.Key), "customer-")
		assert.Contains(t, string(g.Value), `"item":"boat"`)
		seen[string(g.Value)] = true
	}
	assert.Len(t, seen, 20)
}

func TestConfigValidate(t *testing.T) {
	_, err := New(Config{
		Acks:            AcksLeader,
		MaxInFlight:     6,
		DeliveryTimeout: time.Second,
		RequestTimeout:  2 * time.Second,
		Compression:     9,
	})
	require.Error(t, err)
	for _, want := range []string{"bootstrap.servers", "idempotence requires Acks=all", "<= 5", "delivery.timeout.ms", "compression.type"} {
		assert.Contains(t, err.Error(), want)
	}
	p, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Acks: AcksNone, DisableIdempotence: true})
	require.NoError(t, err)
	assert.NoError(t, p.Close(context.Background()))
}

// TestIdleSenderSleeps runs the producer in a synctest bubble against an
// in-memory broker. Once a record is acknowledged and everything is quiet,
// an hour of (fake) time must not wake the sender once: it has no timer
// armed and nothing to poll. A busy or polling sender would count wake-ups
// here; a sender stuck awake would keep the bubble from ever idling.
func TestIdleSenderSleeps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		usePipeBroker(t, "idle", 1)
		p, err := New(Config{Brokers: []string{"pipe:9092"}})
		require.NoError(t, err)
		defer func() { require.NoError(t, p.Close(context.Background())) }()
		md, err := p.SendSync(context.Background(), testRecord("idle", 0))
		require.NoError(t, err)
		require.Equal(t, int64(0), md.Offset)

		synctest.Wait() // every goroutine of the producer is blocked
		before := p.senderLoops.Load()
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, before, p.senderLoops.Load(), "an idle sender does not wake up")

		// Linger is a deadline, not a poll: one record costs a handful of
		// wake-ups (append, linger deadline, response, release), not one
		// per millisecond of linger.
		before = p.senderLoops.Load()
		md, err = p.SendSync(context.Background(), testRecord("idle", 1))
		require.NoError(t, err)
		require.Equal(t, int64(1), md.Offset)
		synctest.Wait()
		assert.LessOrEqual(t, p.senderLoops.Load()-before, int64(6))
	})
}

func TestParseAcksAndCompression(t *testing.T) {
	for in, want := range map[string]Acks{"all": AcksAll, "-1": AcksAll, "1": AcksLeader, "0": AcksNone} {
		got, err := ParseAcks(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	_, err := ParseAcks("2")
	assert.Error(t, err)
	for in, want := range map[string]Compression{"none": CompressionNone, "gzip": CompressionGzip, "snappy": CompressionSnappy, "lz4": CompressionLZ4, "zstd": CompressionZstd} {
		got, err := ParseCompression(in)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		assert.Equal(t, in, got.String())
	}
}

// loadRecorder is a LoadAware partitioner that sends everything to
// partition 0 and records the load it is told about.
type loadRecorder struct {
	mu    sync.Mutex
	calls map[string][]int32 // topic -> last partitions
}

func (l *loadRecorder) Partition(string, []byte, int32) int32 { return 0 }
func (l *loadRecorder) UpdateLoad(topic string, partitions, sizes []int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(partitions) != len(sizes) {
		panic("mismatched load slices")
	}
	l.calls[topic] = append([]int32(nil), partitions...)
}

func TestLoadPublishedToPartitioner(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(3, "load"))
	lr := &loadRecorder{calls: map[string][]int32{}}
	p := newProducer(t, Config{Brokers: c.ListenAddrs(), Partitioner: lr})
	for i := range 20 {
		md, err := p.SendSync(context.Background(), testRecord("load", i))
		require.NoError(t, err)
		assert.Equal(t, int32(0), md.Partition)
	}
	lr.mu.Lock()
	defer lr.mu.Unlock()
	assert.Equal(t, []int32{0, 1, 2}, lr.calls["load"], "every partition with a leader, including unused ones")
}

func TestProduceUsesTopicIDsWhenKnown(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "ids"))
	var version atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		version.Store(int32(kreq.GetVersion()))
		return nil, nil, false
	})
	p := newProducer(t, Config{Brokers: c.ListenAddrs()})
	md, err := p.SendSync(context.Background(), testRecord("ids", 0))
	require.NoError(t, err)
	assert.Equal(t, int64(0), md.Offset)
	// kfake speaks Produce v13 (KIP-516, topic ids only) and so do we.
	assert.GreaterOrEqual(t, version.Load(), int32(13))
}

package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/skiffkit/skiff/internal/accum"
	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/partitioner"
	"github.com/skiffkit/skiff/sasl"
)

// Producer sends records to Kafka. It is safe for concurrent use.
//
// Goroutines: one sender (drains the accumulator, builds and sends Produce
// requests, handles responses, retries, epoch bumps), one completer (runs
// callbacks in order and releases batch memory), the record clock (ticks
// only while records without a timestamp are being sent), and short-lived
// dialers and InitProducerId callers started by the sender, so that it
// never waits on the network itself. Close stops them all.
type Producer struct {
	cfg    Config
	log    *slog.Logger
	client *wire.Client
	acc    *accum.Accumulator[RecordMetadata]
	part   partitioner.Partitioner
	sized  partitioner.SizeAware // part, if it is size aware
	// hashKeys: part is the default sticky partitioner, which sends a
	// keyed record to KeyPartition(key, n) whatever its size, so Send
	// hashes directly and skips sizing the record.
	hashKeys bool
	hooks    hooks
	txn      *txnManager // nil unless Config.TransactionalID is set

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup // sender, completer, dialers

	closed   atomic.Bool
	closeMu  sync.Mutex // serializes Close
	quit     chan struct{}
	senderOK chan struct{} // closed when the sender has exited

	events    eventQueue
	completer completer
	clock     recordClock // stamps records sent without a Timestamp

	topicCache  atomic.Pointer[topicCount] // see partitionCount
	topicMisses atomic.Uint32

	senderLoops atomic.Int64 // sender wake-ups, for tests that catch busy loops
}

// New validates cfg and starts a producer. It does not contact the
// brokers: the first Send does.
func New(cfg Config) (*Producer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client, err := wire.NewClient(wire.Config{
		SeedBrokers:    cfg.Brokers,
		ClientID:       cfg.ClientID,
		RequestTimeout: cfg.RequestTimeout,
		MetadataMaxAge: cfg.MetadataMaxAge,
		RetryBackoff:   cfg.RetryBackoff,
		Logger:         cfg.Logger,
		Dial:           testDial,
		// The Java producer always lets the broker auto-create a topic it
		// sends to (auto.create.topics.enable decides).
		AllowAutoTopicCreation: true,
		TLS:                    cfg.TLS,
		SASL:                   wire.SASLFrom[sasl.Session](cfg.SASL),
	})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	maxPerPartition := 0
	switch {
	case !cfg.DisableIdempotence:
		maxPerPartition = cfg.MaxInFlight
	case cfg.MaxInFlight == 1:
		maxPerPartition = 1 // Kafka mutes the partition while a batch is in flight
	}
	acc, err := accum.New[RecordMetadata](accum.Config{
		BatchSize:               cfg.BatchSize,
		BufferMemory:            cfg.BufferMemory,
		MaxBlock:                cfg.MaxBlock,
		Linger:                  cfg.Linger,
		MaxRequestSize:          cfg.MaxRequestSize,
		RetryBackoff:            cfg.RetryBackoff,
		RetryBackoffMax:         cfg.RetryBackoffMax,
		DeliveryTimeout:         cfg.DeliveryTimeout,
		MaxInFlightPerPartition: maxPerPartition,
		Idempotent:              !cfg.DisableIdempotence,
		Transactional:           cfg.TransactionalID != "",
		Codec:                   int8(cfg.Compression),
		// Compress off the sender goroutine, on up to one worker per CPU.
		CompressWorkers: runtime.GOMAXPROCS(0),
		Leader:          (&leaderCache{client: client}).leader,
	})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("producer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{
		cfg:      cfg,
		log:      cfg.Logger,
		client:   client,
		acc:      acc,
		part:     cfg.Partitioner,
		hooks:    newHooks(cfg.Hooks),
		ctx:      ctx,
		cancel:   cancel,
		quit:     make(chan struct{}),
		senderOK: make(chan struct{}),
	}
	if cfg.TransactionalID != "" {
		p.txn = newTxnManager(p)
	}
	if p.part == nil {
		// Kafka's built-in partitioner, switching per batch.size bytes.
		sticky, err := partitioner.NewSticky(partitioner.StickyConfig{BatchSize: acc.Config().BatchSize})
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("producer: %w", err)
		}
		p.part = sticky
		p.hashKeys = true
	}
	p.sized, _ = p.part.(partitioner.SizeAware)
	p.events.init()
	p.completer.init(p)
	p.clock.init()
	s := newSender(p)
	p.goTracked(func() {
		defer close(p.senderOK)
		s.run()
	})
	p.goTracked(p.completer.run)
	p.goTracked(func() { p.clock.run(p.quit) })
	return p, nil
}

// testDial, nil outside tests, replaces the network: tests run the
// producer against an in-memory broker inside a testing/synctest bubble.
var testDial func(ctx context.Context, network, addr string) (net.Conn, error)

// goTracked starts fn as a goroutine Close waits for.
func (p *Producer) goTracked(fn func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
}

// Send buffers rec for sending and returns at once; cb (which may be nil)
// reports the outcome later. Send returns an error only when the record was
// not accepted: it is too large, buffer.memory stayed full for max.block or
// until ctx ended, the topic's metadata did not appear within max.block,
// the partition does not exist, or the producer is closed.
func (p *Producer) Send(ctx context.Context, rec Record, cb Callback) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if p.txn != nil {
		if err := p.txn.sendAllowed(); err != nil {
			return err
		}
	}
	partition, err := p.choosePartition(ctx, &rec)
	if err != nil {
		return err
	}
	ar := accum.Record[RecordMetadata]{Timestamp: p.clock.millis(rec.Timestamp), Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Callback: cb}
	if err := p.acc.Append(ctx, rec.Topic, partition, &ar); err != nil {
		return p.appendErr(rec.Topic, partition, err)
	}
	p.afterAppend(rec.Topic, partition, &rec)
	return nil
}

func (p *Producer) afterAppend(topic string, partition int32, rec *Record) {
	if len(p.hooks.buffered) == 0 {
		return
	}
	n := len(rec.Key) + len(rec.Value)
	for _, h := range p.hooks.buffered {
		h.OnRecordBuffered(topic, partition, n)
	}
}

func (p *Producer) appendErr(topic string, partition int32, err error) error {
	if errors.Is(err, accum.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("produce %s[%d]: %w", topic, partition, err)
}

// choosePartition resolves rec's partition, waiting up to max.block (or
// ctx) for the topic's first metadata.
func (p *Producer) choosePartition(ctx context.Context, rec *Record) (int32, error) {
	n := p.partitionCount(rec.Topic)
	if n == 0 {
		var err error
		if n, err = p.waitTopic(ctx, rec.Topic); err != nil {
			return 0, err
		}
	}
	if id, pinned := rec.Partition.ID(); pinned {
		if id < 0 || int(id) >= n {
			return 0, fmt.Errorf("produce %s[%d]: %w: topic has %d partitions", rec.Topic, id, ErrInvalidPartition, n)
		}
		return id, nil
	}
	var id int32
	if p.hashKeys && rec.Key != nil {
		id = partitioner.KeyPartition(rec.Key, int32(n))
	} else if p.sized != nil {
		id = p.sized.PartitionSized(rec.Topic, rec.Key, batch.EstimateRecordSize(rec.Key, rec.Value, rec.Headers), int32(n))
	} else {
		id = p.part.Partition(rec.Topic, rec.Key, int32(n))
	}
	if id < 0 || int(id) >= n {
		return 0, fmt.Errorf("produce %s: partitioner returned %d: %w: topic has %d partitions", rec.Topic, id, ErrInvalidPartition, n)
	}
	return id, nil
}

// topicCount caches one topic's partition count for one metadata snapshot
// (identified by its MetadataUpdated channel, which each snapshot has its
// own of).
type topicCount struct {
	snapshot <-chan struct{}
	topic    string
	n        int
}

// partitionCount is the topic's number of partitions in the cached
// metadata, 0 if it has none yet. Most producers send to one topic at a
// time, so the last answer is kept and reused while the metadata snapshot
// is the same: a pointer and a string compare instead of hashing the topic
// per record. A miss replaces the entry (one small allocation) only when
// it is for the same topic, or there is none, or on every 64th miss, so a
// producer alternating between topics does not allocate per record, and
// one that moved to another topic adopts it soon.
func (p *Producer) partitionCount(topic string) int {
	snapshot := p.client.MetadataUpdated()
	if tc := p.topicCache.Load(); tc != nil && tc.snapshot == snapshot && tc.topic == topic {
		return tc.n
	}
	ti, ok := p.client.CachedTopic(topic)
	if !ok || len(ti.Partitions) == 0 {
		return 0
	}
	n := len(ti.Partitions)
	// The snapshot read first may be older than the one CachedTopic read:
	// then the entry is stale at once and only costs a later miss.
	if tc := p.topicCache.Load(); tc == nil || tc.topic == topic || p.topicMisses.Add(1)%64 == 0 {
		p.topicCache.Store(&topicCount{snapshot: snapshot, topic: topic, n: n})
	}
	return n
}

func (p *Producer) waitTopic(ctx context.Context, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.MaxBlock)
	defer cancel()
	stop := context.AfterFunc(p.ctx, cancel)
	defer stop()
	ti, err := p.client.Topic(ctx, topic)
	if err != nil {
		if p.closed.Load() {
			return 0, ErrClosed
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable {
			return 0, fmt.Errorf("produce %s: metadata: %w", topic, err) // e.g. TOPIC_AUTHORIZATION_FAILED
		}
		if errors.Is(err, wire.ErrTLSRequired) || errors.Is(err, wire.ErrTLSHandshake) {
			// A configuration problem, returned at once: not a topic issue.
			return 0, fmt.Errorf("produce %s: %w", topic, err)
		}
		if errors.Is(err, wire.ErrNoBrokers) {
			// Say so first: "unknown topic" would send users looking for
			// a topic when the cluster is not there at all.
			// err names every address, its OS error and the time waited.
			return 0, fmt.Errorf("produce %s (max.block %v): %w", topic, p.cfg.MaxBlock, err)
		}
		// Whatever the last attempt saw (the topic missing, no leader, the
		// deadline mid-request), the topic did not
		// become usable in time: Kafka's "Topic not present in metadata
		// after max.block.ms".
		if !errors.Is(err, kerr.UnknownTopicOrPartition) {
			err = fmt.Errorf("%w: %w", kerr.UnknownTopicOrPartition, err)
		}
		return 0, fmt.Errorf("produce %s: %w: not in metadata within max.block (%v) or before ctx ended: %w", topic, ErrUnknownTopic, p.cfg.MaxBlock, err)
	}
	if len(ti.Partitions) == 0 {
		return 0, fmt.Errorf("produce %s: %w: no partitions: %w", topic, ErrUnknownTopic, kerr.UnknownTopicOrPartition)
	}
	return len(ti.Partitions), nil
}

// SendBatch sends recs with one callback for all of them (called once per
// record). Consecutive records for the same partition are appended under
// one lock acquisition. It returns how many records, from the start, were
// accepted; on error the rest were not.
func (p *Producer) SendBatch(ctx context.Context, recs []Record, cb Callback) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	if p.txn != nil {
		if err := p.txn.sendAllowed(); err != nil {
			return 0, err
		}
	}
	for i := 0; i < len(recs); {
		partition, err := p.choosePartition(ctx, &recs[i])
		if err != nil {
			return i, err
		}
		topic := recs[i].Topic
		// The run of records going to the same partition.
		j := i + 1
		for j < len(recs) && recs[j].Topic == topic {
			next, err := p.choosePartition(ctx, &recs[j])
			if err != nil || next != partition {
				break
			}
			j++
		}
		base := i
		n, err := p.acc.AppendN(ctx, topic, partition, j-i, func(k int, r *accum.Record[RecordMetadata]) {
			rec := &recs[base+k]
			*r = accum.Record[RecordMetadata]{Timestamp: p.clock.millis(rec.Timestamp), Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Callback: cb}
		})
		for k := range n {
			p.afterAppend(topic, partition, &recs[base+k])
		}
		if err != nil {
			return base + n, p.appendErr(topic, partition, err)
		}
		i = j
	}
	return len(recs), nil
}

// SendSync sends rec and waits for its acknowledgement or failure.
func (p *Producer) SendSync(ctx context.Context, rec Record) (RecordMetadata, error) {
	return sendSync(ctx, rec.Topic, func(cb Callback) error { return p.Send(ctx, rec, cb) })
}

// sendSync runs send with a callback and waits for that callback or ctx:
// the one implementation of SendSync, for Producer and Typed alike.
func sendSync(ctx context.Context, topic string, send func(Callback) error) (RecordMetadata, error) {
	type result struct {
		md  RecordMetadata
		err error
	}
	ch := make(chan result, 1)
	if err := send(func(md RecordMetadata, err error) { ch <- result{md, err} }); err != nil {
		return RecordMetadata{Topic: topic, Partition: -1, Offset: -1}, err
	}
	select {
	case r := <-ch:
		return r.md, r.err
	case <-ctx.Done():
		return RecordMetadata{Topic: topic, Partition: -1, Offset: -1}, fmt.Errorf("produce %s: waiting for acknowledgement: %w", topic, ctx.Err())
	}
}

// Flush sends every buffered record at once, ignoring linger, and waits
// until all records sent before the call have completed (their callbacks
// have run), or ctx ends.
func (p *Producer) Flush(ctx context.Context) error {
	p.acc.BeginFlush()
	defer p.acc.EndFlush()
	return p.waitIncomplete(ctx)
}

func (p *Producer) waitIncomplete(ctx context.Context) error {
	for _, b := range p.acc.Incomplete(nil) {
		select {
		case <-b.Done():
		case <-ctx.Done():
			return fmt.Errorf("producer: flush: %w", ctx.Err())
		}
	}
	return nil
}

// Close stops accepting records, sends what is buffered and waits for it
// within ctx; records still undelivered when ctx ends fail with ErrClosed.
// It returns once every callback has run and every goroutine of the
// producer has exited; the error is ctx's if it ended first.
//
// Close is idempotent, like every Close in skiff: only the first call does
// the work and may return an error; later calls, including concurrent
// ones (which wait for the first to finish), return nil.
//
// Order: refuse new Sends; flush (linger ignored, appenders waiting for
// memory fail with ErrClosed); on ctx end stop retries and fail queued
// batches; close the connections (failing in-flight requests); fail what
// they carried; run the last callbacks; stop the completer.
func (p *Producer) Close(ctx context.Context) error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed.Swap(true) {
		return nil
	}
	p.acc.Close()
	err := p.waitIncomplete(ctx)
	if err != nil {
		err = fmt.Errorf("producer: close: %w", ctx.Err())
	}
	p.cancel()
	close(p.quit)
	<-p.senderOK
	p.completer.stop()
	p.wg.Wait()
	return err
}

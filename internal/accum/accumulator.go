package accum

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
	"github.com/skiffkit/skiff/kerr"
)

// Accumulator holds the records waiting to be sent, per partition.
//
// Locks: each partition's mu guards its deque, open batch and in-flight
// count; pool.mu guards the memory budget; incompleteMu guards the set of
// unreleased batches; closeMu orders Close's wait for appends opening a
// batch with the last of them finishing (see beginOpen).
// A partition lock may be held while taking incompleteMu, closeMu, the
// compressor's mu or the pending pool's lock, never the other way round, and pool.get (which may
// block) is never called with a partition lock held.
type Accumulator[M any] struct {
	cfg   Config
	codec compress.Codec
	pool  *pool

	sizeLimit int // min(max.request.size, buffer.memory): CheckSize's bound

	wirePool    bufPool
	pendingPool pendingPool[M]
	comp        *compressor[M] // nil: Drain compresses (Config.CompressWorkers)

	// topics maps a topic to its partitions; copy-on-write so the append
	// path looks partitions up without a lock. lastTopic is the entry the
	// latest append used: most producers send to one topic at a time, and
	// a string compare is cheaper than hashing the topic per record. An
	// entry is never mutated once published and a partition never
	// replaced, so a stale lastTopic only sends a lookup to the slow path.
	topics    atomic.Pointer[map[string]*topicParts[M]]
	lastTopic atomic.Pointer[topicParts[M]]
	all       atomic.Pointer[[]*partition[M]] // every partition, for Ready/Drain/Expire
	slots     atomic.Pointer[[]*slotChunk]    // their slots, in the same order (slots.go); stored before all
	topicMu   sync.Mutex                      // serializes writers of topics, slots and all
	epoch     time.Time                       // slots' young batches are timed from here

	wake chan struct{} // cap 1: something may have become ready

	// sleepUntil is when the sender will wake up by itself (Unix nanos),
	// 0 while it is awake, math.MaxInt64 while it sleeps with no deadline;
	// see Awake and SleepUntil. awakeOpened is the earliest linger deadline
	// (Unix nanos) of the batches opened while it was awake, math.MaxInt64
	// if none: SleepUntil hands it over instead of each one waking it.
	sleepUntil  atomic.Int64
	awakeOpened atomic.Int64

	closed   atomic.Bool
	flushing atomic.Int32
	inFlight atomic.Int64 // drained batches not yet Done or re-enqueued

	incompleteMu sync.Mutex
	incomplete   incompleteList[M] // incomplete.go

	closeMu     sync.Mutex   // L of openingDone
	opening     atomic.Int64 // appends between beginOpen and endOpen
	openingDone sync.Cond    // opening dropped to 0 after Close began

	// ident is the producer identity new sequences are assigned under
	// (idempotence); partitions adopt it one by one (see SetProducerID).
	ident atomic.Pointer[identity]

	drainStart int    // rotates where Drain starts, so no partition starves; sender-owned
	drainGen   uint64 // counts Drain calls, to mark partitions already in the request; sender-owned

	// lockedVisits counts partitions Ready and Drain looked at under their
	// lock, for tests of the slots (slots.go); sender-owned.
	lockedVisits uint64

	slack time.Duration // lingerSlack(cfg.Linger), see linger.go
}

// topicParts is one topic's partitions, indexed by partition id (nil for
// ids not appended to yet).
type topicParts[M any] struct {
	name  string
	parts []*partition[M]
}

// partition is one partition's queue.
type partition[M any] struct {
	acc   *Accumulator[M]
	topic string
	id    int32
	slot  *slot // its queue's summary for the sender's scans (slots.go)

	// leaderless: no leader was known when the open batch was opened
	// (guarded by mu; slots.go).
	leaderless bool

	mu        sync.Mutex
	q         []*Batch[M] // q[0] is the oldest
	open      *Batch[M]   // the batch records are appended to, also q[len(q)-1]
	inFlight  int
	nextOrder uint64
	nextSeq   int32     // base sequence of the next newly drained batch
	ackedSeq  int32     // sequence after the last acknowledged batch
	ident     *identity // the producer identity nextSeq and ackedSeq belong to
	fenced    bool      // ident may not be used any more (see Fence)
	drainGen  uint64    // the Drain call that last took a batch from p
}

// identity is a producer id and epoch. Immutable once published; compared
// by pointer, since each SetProducerID publishes a new one.
type identity struct {
	id    int64
	epoch int16
}

// noIdentity is the identity before the first SetProducerID.
var noIdentity = &identity{id: -1, epoch: -1}

// New returns an accumulator for cfg.
func New[M any](cfg Config) (*Accumulator[M], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a := &Accumulator[M]{
		cfg:       cfg,
		codec:     compress.Codec(cfg.Codec),
		sizeLimit: int(min(int64(cfg.MaxRequestSize), cfg.BufferMemory)),
		pool:      newPool(cfg.BatchSize, cfg.BufferMemory),
		wake:      make(chan struct{}, 1),
		slack:     lingerSlack(cfg.Linger),
	}
	// An appender starting to wait is memory pressure: Ready then treats
	// every batch as sendable so memory comes back (Kafka's "exhausted").
	a.pool.onWait = a.signal
	if a.codec != compress.None && cfg.CompressWorkers > 0 {
		a.comp = newCompressor[M](a.codec, cfg.CompressWorkers, &a.wirePool, a.signal, cfg.Transactional)
	}
	a.openingDone.L = &a.closeMu
	a.awakeOpened.Store(math.MaxInt64)
	a.sleepUntil.Store(math.MaxInt64) // until Awake: every new batch signals
	a.topics.Store(&map[string]*topicParts[M]{})
	a.all.Store(&[]*partition[M]{})
	a.slots.Store(&[]*slotChunk{})
	a.epoch = time.Now()
	a.ident.Store(noIdentity)
	return a, nil
}

// Wakeup receives a value whenever the sender should call Ready again: a
// batch filled or was opened (a linger deadline starts), a batch came back
// for retry or completed, memory ran out, a flush or close began.
func (a *Accumulator[M]) Wakeup() <-chan struct{} { return a.wake }

func (a *Accumulator[M]) signal() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Config returns the effective configuration, defaults filled in.
func (a *Accumulator[M]) Config() Config { return a.cfg }

// partitionFor finds or creates the queue of topic/partition.
func (a *Accumulator[M]) partitionFor(topic string, id int32) *partition[M] {
	if tp := a.lastTopic.Load(); tp != nil && tp.name == topic {
		if p := tp.get(id); p != nil {
			return p
		}
	}
	if tp, ok := (*a.topics.Load())[topic]; ok {
		if p := tp.get(id); p != nil {
			a.lastTopic.Store(tp)
			return p
		}
	}
	a.topicMu.Lock()
	defer a.topicMu.Unlock()
	old := *a.topics.Load()
	var parts []*partition[M]
	if tp, ok := old[topic]; ok {
		if p := tp.get(id); p != nil {
			return p
		}
		parts = tp.parts
	}
	p := &partition[M]{acc: a, topic: topic, id: id, ident: noIdentity}
	p.slot = a.addSlot(len(*a.all.Load()))
	grown := growParts(parts, id)
	grown[id] = p
	next := make(map[string]*topicParts[M], len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	tp := &topicParts[M]{name: topic, parts: grown}
	next[topic] = tp
	// In place when there is room: see growParts.
	all := append(*a.all.Load(), p)
	a.all.Store(&all)
	a.topics.Store(&next)
	a.lastTopic.Store(tp)
	return p
}

// growParts returns parts with room for index id, reusing its array when
// id is past its end and within its capacity. That is safe although
// lock-free readers hold snapshots of parts: a snapshot reads only below
// its own length, and an element past it is written once, under topicMu,
// before the snapshot that covers it is published. An id inside parts
// (a gap, nil so far) is visible to them, so that case copies. Growing one
// partition at a time by copying made a producer's first record to each
// of 1,000 partitions cost O(n²) copies and allocations: with 200
// producers at 1,000 partitions, 46% of the client's CPU (perf, issue 14).
func growParts[M any](parts []*partition[M], id int32) []*partition[M] {
	n := int(id) + 1
	switch {
	case n > len(parts) && n <= cap(parts):
		return parts[:n]
	case n > len(parts):
		grown := make([]*partition[M], n, max(n, 2*cap(parts)))
		copy(grown, parts)
		return grown
	default:
		return append([]*partition[M](nil), parts...)
	}
}

// get is partition id's queue, nil if none.
func (tp *topicParts[M]) get(id int32) *partition[M] {
	if id < 0 || int(id) >= len(tp.parts) {
		return nil
	}
	return tp.parts[id]
}

// maxFixedRecordBytes bounds the bytes EstimateRecordSize adds to a
// header-less record's key and value: length prefix (5), attributes (1),
// timestamp delta (10), offset delta (5), key and value lengths (5 each),
// header count (1).
const maxFixedRecordBytes = 5 + 1 + 10 + 5 + 5 + 5 + 1

// CheckSize fails with an error wrapping kerr.MessageTooLarge and
// ErrRecordTooLarge when a record could never be sent: Kafka's
// RECORD_TOO_LARGE check against max.request.size and buffer.memory.
func (a *Accumulator[M]) CheckSize(r *Record[M]) error {
	// Without headers EstimateRecordSize is at most maxFixedRecordBytes
	// plus key and value, so most records pass without sizing every field.
	if len(r.Headers) == 0 && batch.HeaderSize+maxFixedRecordBytes+len(r.Key)+len(r.Value) <= a.sizeLimit {
		return nil
	}
	n := batch.HeaderSize + batch.EstimateRecordSize(r.Key, r.Value, r.Headers)
	if n > a.cfg.MaxRequestSize {
		return fmt.Errorf("%w: %w: %d bytes serialized exceed max.request.size %d", ErrRecordTooLarge, kerr.MessageTooLarge, n, a.cfg.MaxRequestSize)
	}
	if int64(n) > a.cfg.BufferMemory {
		return fmt.Errorf("%w: %w: %d bytes serialized exceed buffer.memory %d", ErrRecordTooLarge, kerr.MessageTooLarge, n, a.cfg.BufferMemory)
	}
	return nil
}

// Append adds one record to topic/partition. It blocks while buffer.memory
// is exhausted, up to max.block or ctx, and then fails with ErrBufferFull.
func (a *Accumulator[M]) Append(ctx context.Context, topic string, partition int32, r *Record[M]) error {
	if err := a.CheckSize(r); err != nil {
		return err
	}
	p := a.partitionFor(topic, partition)
	p.mu.Lock()
	if a.closed.Load() {
		p.mu.Unlock()
		return ErrClosed
	}
	if a.tryAppend(p, r) {
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	return a.appendSlow(ctx, p, r)
}

// AppendN adds n records to one partition under one acquisition of the
// partition lock (it is released only to wait for memory). rec fills in
// the i-th record. It returns how many records were accepted; on an error
// the first accepted ones stay accepted.
func (a *Accumulator[M]) AppendN(ctx context.Context, topic string, partition int32, n int, rec func(i int, r *Record[M])) (int, error) {
	p := a.partitionFor(topic, partition)
	var r Record[M]
	p.mu.Lock()
	for i := 0; i < n; i++ {
		rec(i, &r)
		if err := a.CheckSize(&r); err != nil {
			p.mu.Unlock()
			return i, err
		}
		if a.closed.Load() {
			p.mu.Unlock()
			return i, ErrClosed
		}
		if a.tryAppend(p, &r) {
			continue
		}
		p.mu.Unlock()
		if err := a.appendSlow(ctx, p, &r); err != nil {
			return i, err
		}
		p.mu.Lock()
	}
	p.mu.Unlock()
	return n, nil
}

// appendSlow opens a new batch for r, waiting for memory without holding
// the partition lock.
func (a *Accumulator[M]) appendSlow(ctx context.Context, p *partition[M], r *Record[M]) error {
	size := max(a.cfg.BatchSize, batch.HeaderSize+batch.EstimateRecordSize(r.Key, r.Value, r.Headers))
	buf, err := a.pool.get(ctx, size, a.cfg.MaxBlock)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !a.beginOpen() {
		a.pool.put(buf)
		return ErrClosed
	}
	defer a.endOpen() // after the batch is registered
	if testHookOpening != nil {
		testHookOpening()
	}
	// Another appender may have opened a batch while we waited.
	if a.tryAppend(p, r) {
		a.pool.put(buf)
		return nil
	}
	now := time.Now()
	b := &Batch[M]{
		p:        p,
		buf:      buf,
		created:  now,
		deadline: now.Add(a.cfg.DeliveryTimeout),
		seq:      -1,
	}
	b.b.Reset(buf[:0], r.Timestamp)
	p.q = append(p.q, b)
	p.open = b
	a.incompleteMu.Lock()
	a.incomplete.add(b)
	a.incompleteMu.Unlock()
	if !a.tryAppend(p, r) {
		// Cannot happen: the buffer was sized from the record's upper bound.
		panic("accumulator: record does not fit a batch sized for it")
	}
	_, known := a.cfg.Leader(p.topic, p.id)
	p.leaderless = !known
	a.publish(p)
	a.signalDeadline(a.lingerWake(b.created)) // a linger deadline starts
	return nil
}

// Awake tells the accumulator that the sender is awake, before it calls
// Ready: a batch opened from then on does not wake it, but its linger
// deadline is kept for the next SleepUntil. At 1,000 partitions a batch
// opens every few records, and while the sender was busy each used to
// leave a wake-up behind, so that it looped again at once for nothing
// (issue 14: about three of every four wake-ups).
func (a *Accumulator[M]) Awake() { a.sleepUntil.Store(0) }

// SleepUntil tells the accumulator that the sender, having called Ready,
// is about to sleep until t (zero: until signalled). A batch opened then
// with a linger deadline no earlier than t does not wake the sender: it
// wakes by t and finds the batch anyway. It returns when the sender must
// wake: t, or earlier if a batch opened while it was awake lingers out
// before t (with no monotonic clock reading then). A sender that never
// calls Awake or SleepUntil is woken for every new batch.
func (a *Accumulator[M]) SleepUntil(t time.Time) time.Time {
	until := int64(math.MaxInt64)
	if !t.IsZero() {
		until = max(t.UnixNano(), 1)
	}
	a.sleepUntil.Store(until)
	// Batches opened from here on compare with until themselves; those
	// opened before left their deadline in awakeOpened (see signalDeadline).
	if d := a.awakeOpened.Swap(math.MaxInt64); d < until {
		a.sleepUntil.Store(max(d, 1))
		return time.Unix(0, d)
	}
	return t
}

// signalDeadline wakes the sender for a batch that becomes sendable at d,
// unless it will wake by then anyway, or is awake and will learn of d
// from SleepUntil. The batch is already queued, so a sender that stores
// its wake-up time after the load scanned the queue after the batch was
// there (atomics are sequentially consistent, and the partition lock
// orders the queue). An awake sender that stores its wake-up time after
// the second load swaps awakeOpened after the batch's deadline went in.
func (a *Accumulator[M]) signalDeadline(d time.Time) {
	dn := d.UnixNano()
	until := a.sleepUntil.Load()
	if until == 0 {
		for old := a.awakeOpened.Load(); dn < old && !a.awakeOpened.CompareAndSwap(old, dn); old = a.awakeOpened.Load() {
		}
		if until = a.sleepUntil.Load(); until == 0 {
			return // SleepUntil will see dn
		}
	}
	if until > dn {
		a.signal()
	}
}

// tryAppend encodes r into p's open batch if it fits; p.mu must be held.
// A batch that cannot take the record is closed, and the sender woken.
func (a *Accumulator[M]) tryAppend(p *partition[M], r *Record[M]) bool {
	b := p.open
	if b == nil {
		return false
	}
	delta, ok := batch.AppendIfFits(&b.b, cap(b.buf), r.Timestamp, r.Key, r.Value, r.Headers)
	if !ok {
		b.full = true
		p.open = nil
		if a.comp != nil {
			a.predictStamp(p, b)
			a.comp.submit(b)
		}
		a.publish(p)
		a.signal()
		return false
	}
	b.recordsN++
	before := b.sizeBytes
	b.sizeBytes = b.b.Len()
	if before*2 < a.cfg.BatchSize && b.sizeBytes*2 >= a.cfg.BatchSize {
		a.publish(p) // half full: it may ride along now (slots.go)
	}
	if r.Callback != nil {
		b.addPending(&a.pendingPool, Pending[M]{Callback: r.Callback, OffsetDelta: delta, Timestamp: r.Timestamp})
	}
	return true
}

// BeginFlush makes every batch sendable at once until EndFlush, as
// KafkaProducer.flush does.
func (a *Accumulator[M]) BeginFlush() {
	a.flushing.Add(1)
	a.signal()
}

// EndFlush ends one BeginFlush.
func (a *Accumulator[M]) EndFlush() { a.flushing.Add(-1) }

// Incomplete appends every batch not yet released to dst: the batches a
// flush has to wait for.
func (a *Accumulator[M]) Incomplete(dst []*Batch[M]) []*Batch[M] {
	a.incompleteMu.Lock()
	defer a.incompleteMu.Unlock()
	for b := a.incomplete.head; b != nil; b = b.inc.next {
		dst = append(dst, b)
	}
	return dst
}

// NumIncomplete is the number of batches not yet released.
func (a *Accumulator[M]) NumIncomplete() int {
	a.incompleteMu.Lock()
	defer a.incompleteMu.Unlock()
	return a.incomplete.n
}

// InFlight is the number of drained batches not yet Done or re-enqueued.
func (a *Accumulator[M]) InFlight() int { return int(a.inFlight.Load()) }

// MemoryUsed is the part of buffer.memory currently backing batches.
func (a *Accumulator[M]) MemoryUsed() int64 { return a.pool.used() }

// Close stops accepting records, fails appenders waiting for memory with
// ErrClosed, and makes every queued batch sendable at once.
//
// When Close returns, every accepted record is in a batch listed by
// Incomplete, so a caller that then waits for those (the producer's Close)
// cannot miss one and abort a record it accepted with ErrClosed. Appends
// into an open batch need nothing for that: the batch is listed already.
// An append opening a new batch checks closed and registers the batch in
// two steps, so Close waits for those in between (see beginOpen).
func (a *Accumulator[M]) Close() {
	a.closeMu.Lock()
	a.closed.Store(true)
	for a.opening.Load() > 0 {
		a.openingDone.Wait()
	}
	a.closeMu.Unlock()
	a.pool.close()
	a.signal()
}

// beginOpen is an append's closed check before it opens a batch: false
// once Close began; otherwise Close waits until the matching endOpen.
//
// Atomics rather than closeMu, which every new batch took twice (at
// 1,000 partitions a batch opens every dozen records): beginOpen counts
// itself in, then looks at closed; Close sets closed, then looks at the
// count. Sequentially consistent atomics make at least one of them see
// the other: the append gives up, or Close waits. endOpen takes closeMu
// only once Close began, to wake it; Close holds closeMu from its look at
// the count until it waits, so that wake-up cannot come in between.
func (a *Accumulator[M]) beginOpen() bool {
	a.opening.Add(1)
	if a.closed.Load() {
		a.endOpen()
		return false
	}
	return true
}

func (a *Accumulator[M]) endOpen() {
	if a.opening.Add(-1) == 0 && a.closed.Load() {
		a.closeMu.Lock()
		a.openingDone.Broadcast()
		a.closeMu.Unlock()
	}
}

// testHookOpening, nil outside tests, runs between beginOpen and endOpen,
// so a test can hold an append inside the window Close must wait out.
var testHookOpening func()

// SetProducerID installs a new producer id and epoch. Partitions move to
// it one at a time, as the Java client's do: a partition keeps the identity
// its sequences belong to while it has batches in flight under it, and
// drains nothing new meanwhile; once they are back it restarts at sequence
// 0 under the new identity (KIP-360), its queued batches keeping their
// order and getting new sequences. So an epoch bump never needs every
// partition quiet at once.
func (a *Accumulator[M]) SetProducerID(id int64, epoch int16) {
	a.ident.Store(&identity{id: id, epoch: epoch})
	a.signal()
}

// Fence stops b's partition from draining under its current producer
// identity: its sequences can no longer be trusted (a batch failed or
// expired after being sent, or the broker lost the producer's state). It
// drains again once SetProducerID installed another identity and its
// in-flight batches are back. Other partitions are not affected. It reports
// whether a new identity is needed for that: false when one was installed
// since the partition's sequences began, which it moves to anyway.
func (a *Accumulator[M]) Fence(b *Batch[M]) (needNew bool) {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fenced = true
	return p.ident == a.ident.Load()
}

// ProducerID returns the id and epoch set by SetProducerID (-1, -1 before).
func (a *Accumulator[M]) ProducerID() (int64, int16) {
	id := a.ident.Load()
	return id.id, id.epoch
}

// Topics appends the topics that have had records appended to dst.
func (a *Accumulator[M]) Topics(dst []string) []string {
	for t := range *a.topics.Load() {
		dst = append(dst, t)
	}
	return dst
}

// QueueSizes sets sizes[i] to the number of batches queued (not in flight)
// for partitions[i] of topic: the load a partitioner weighs partitions by
// (KIP-794 adaptive partitioning). len(sizes) must be len(partitions).
func (a *Accumulator[M]) QueueSizes(topic string, partitions, sizes []int32) {
	tp, ok := (*a.topics.Load())[topic]
	for i, id := range partitions {
		sizes[i] = 0
		if !ok {
			continue
		}
		if p := tp.get(id); p != nil {
			p.mu.Lock()
			sizes[i] = int32(len(p.q))
			p.mu.Unlock()
		}
	}
}

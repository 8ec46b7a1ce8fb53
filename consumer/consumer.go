package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// posState is where a partition's fetch position comes from.
type posState uint8

const (
	posReady         posState = iota // fetchOffset is valid
	posNeedCommitted                 // look up the group's committed offset
	posNeedReset                     // ListOffsets with resetTo
	posFailed                        // stopped until Seek (error surfaced)
)

// partState is one assigned partition. Every field is guarded by
// Consumer.mu.
type partState struct {
	tp      TopicPartition
	topicID [16]byte

	// gen is bumped by Seek, reassignment and revocation: a fetch or a
	// buffered chunk of an older generation is dropped, so no record from
	// before a Seek is returned after it.
	gen     uint64
	state   posState
	resetTo int64 // OffsetEarliest or OffsetLatest while posNeedReset

	fetchOffset int64 // next offset to fetch
	fetchEpoch  int32 // leader epoch of the last fetched record
	// fetchSeq numbers the partition's chunks as fetches are accepted;
	// takeSeq is the next one Poll may return; chunks after stopSeq (a
	// corrupt batch) are dropped.
	fetchSeq, takeSeq, stopSeq uint64

	position      int64 // next offset to return from Poll
	positionEpoch int32
	// committable is position as of the start of the latest Poll: the
	// records returned before it are processed, so auto-commit and the
	// commit on revoke take it (Java's allConsumed semantics).
	committable      int64
	committableEpoch int32
	lastAutoCommit   int64 // what auto-commit last committed, to skip no-ops

	leader      int32 // -1 unknown
	leaderEpoch int32
	retryAt     time.Time

	paused   bool
	inflight bool
	removed  bool
	// held partitions were assigned by the group but OnAssigned has not
	// run yet: nothing is fetched for them, so Poll can never return a
	// record of a partition before announcing it.
	held bool
}

// Consumer reads records from Kafka, in assign mode (explicit partitions)
// or group mode (a subscription shared through a consumer group). A
// Consumer is safe for concurrent use, but Poll is meant to be called from
// one goroutine: rebalance callbacks run inside Poll, on the caller's
// goroutine, as in the Java client.
type Consumer struct {
	cfg Config
	// cl is the connection layer. Group and commit requests go on each
	// broker's coordinator connection (wire.IsCoordinatorRequest), so a
	// heartbeat never waits behind a Fetch parked for fetch.max.wait.ms on
	// the same broker.
	cl  cluster
	log *slog.Logger

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the consumer starts

	// autoCommitHook, when set (tests only), sees every auto-commit
	// attempt: what it tried to commit and the result.
	autoCommitHook atomic.Pointer[func(map[TopicPartition]TopicPartitionOffset, error)]

	closeMu     sync.Mutex // serializes Close
	closeCalled bool       // guarded by closeMu: Close ran or is running

	wakeFetch chan struct{} // fetch loop wake-up, capacity 1
	wakePoll  chan struct{} // Poll wake-up (data, error, event), capacity 1

	// mu guards the fields below and every partState. Lock order: mu is
	// never held across a network call or a user callback.
	mu            sync.Mutex
	parts         map[TopicPartition]*partState
	queue         []*chunk // fetched records not yet returned, FIFO
	queueBytes    int
	inflightNodes map[int32]bool
	// sessions are the KIP-227 fetch sessions, by broker
	// (fetch_session.go); each is used by its broker's one fetch in flight.
	sessions      map[int32]*fetchSession
	errs          []error
	missingTopics map[string]bool // assigned topics reported not in metadata
	dirty         []*partState    // positions moved by the last Poll
	closed        bool
	lastPoll      time.Time
	events        []*rebalanceEvent
	asyncQueue    []asyncCommit
	asyncRunning  bool

	g *group // nil in assign mode
}

// New creates a consumer and starts fetching (assign mode) or joining the
// group (group mode) in the background.
func New(cfg Config) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("consumer: invalid config: %w", err)
	}
	cl, err := newWireCluster(cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	return newConsumer(cfg, cl)
}

func newConsumer(cfg Config, cl cluster) (*Consumer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{
		cfg:           cfg,
		cl:            cl,
		log:           cfg.Logger.With("client_id", cfg.ClientID),
		ctx:           ctx,
		cancel:        cancel,
		wakeFetch:     make(chan struct{}, 1),
		wakePoll:      make(chan struct{}, 1),
		parts:         make(map[TopicPartition]*partState),
		inflightNodes: make(map[int32]bool),
		lastPoll:      time.Now(),
	}
	if len(cfg.Assign) > 0 {
		c.mu.Lock()
		c.assignLocked(cfg.Assign)
		c.mu.Unlock()
	}
	c.goFunc(c.fetchLoop)
	if len(cfg.Topics) > 0 {
		c.g = newGroup(c)
		c.goFunc(c.g.run)
	}
	if cfg.GroupID != "" && !cfg.DisableAutoCommit {
		c.goFunc(c.autoCommitLoop)
	}
	return c, nil
}

// goFunc starts a goroutine owned by the consumer; Close waits for it.
func (c *Consumer) goFunc(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Assign replaces the assignment with the given partitions and starting
// offsets (assign mode only; use OffsetCommitted, OffsetEarliest or
// OffsetLatest for a symbolic start). Partitions already assigned keep
// their position unless given a new offset.
func (c *Consumer) Assign(assign map[string][]TopicPartitionOffset) error {
	if c.g != nil {
		return errors.New("consumer: Assign in group mode (Topics is set)")
	}
	for t, ps := range assign {
		for _, p := range ps {
			if p.Offset == OffsetCommitted && c.cfg.GroupID == "" {
				return fmt.Errorf("consumer: assign %s[%d]: OffsetCommitted needs GroupID: %w", t, p.Partition, ErrNoGroup)
			}
			if p.Offset < OffsetCommitted || p.Partition < 0 {
				return fmt.Errorf("consumer: assign %s[%d]: invalid offset %d", t, p.Partition, p.Offset)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	keep := make(map[TopicPartition]bool)
	for t, ps := range assign {
		for _, p := range ps {
			keep[TopicPartition{t, p.Partition}] = true
		}
	}
	for tp, ps := range c.parts {
		if !keep[tp] {
			c.removeLocked(ps)
		}
	}
	c.assignLocked(assign)
	return nil
}

// assignLocked adds partitions, or moves existing ones to a new start.
func (c *Consumer) assignLocked(assign map[string][]TopicPartitionOffset) {
	for t, ps := range assign {
		for _, p := range ps {
			tp := TopicPartition{t, p.Partition}
			st := c.parts[tp]
			if st == nil {
				st = &partState{tp: tp, leader: -1, leaderEpoch: -1, fetchEpoch: -1, positionEpoch: -1, committable: -1, committableEpoch: -1, lastAutoCommit: -1}
				c.parts[tp] = st
			}
			// The epoch of a start offset is unknown until records come
			// (a zero LeaderEpoch in the literal would claim epoch 0).
			c.setStartLocked(st, p.Offset, -1)
		}
	}
	signal(c.wakeFetch)
}

// setStartLocked points a partition at an offset, symbolic or absolute.
func (c *Consumer) setStartLocked(ps *partState, offset int64, epoch int32) {
	ps.gen++
	ps.inflight = false // a fetch in flight is now stale; its result is dropped by gen
	ps.retryAt = time.Time{}
	ps.takeSeq, ps.stopSeq = ps.fetchSeq, math.MaxUint64
	switch offset {
	case OffsetCommitted:
		ps.state = posNeedCommitted
	case OffsetEarliest, OffsetLatest:
		ps.state, ps.resetTo = posNeedReset, offset
	default:
		ps.state = posReady
		ps.fetchOffset, ps.fetchEpoch = offset, epoch
		ps.position, ps.positionEpoch = offset, epoch
	}
}

func (c *Consumer) removeLocked(ps *partState) {
	ps.removed = true
	ps.gen++
	delete(c.parts, ps.tp)
}

// Assignment returns the partitions the consumer currently owns.
func (c *Consumer) Assignment() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TopicPartition, 0, len(c.parts))
	for tp := range c.parts {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

// Seek makes the next Poll return records of the partition from offset
// (or OffsetEarliest, OffsetLatest, OffsetCommitted). Buffered records of
// the partition are dropped.
func (c *Consumer) Seek(topic string, partition int32, offset int64) error {
	if offset < OffsetCommitted {
		return fmt.Errorf("consumer: seek %s[%d]: invalid offset %d", topic, partition, offset)
	}
	if offset == OffsetCommitted && c.cfg.GroupID == "" {
		return fmt.Errorf("consumer: seek %s[%d]: %w", topic, partition, ErrNoGroup)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	ps := c.parts[TopicPartition{topic, partition}]
	if ps == nil {
		return fmt.Errorf("consumer: seek %s[%d]: %w", topic, partition, ErrNotAssigned)
	}
	c.setStartLocked(ps, offset, -1)
	signal(c.wakeFetch)
	return nil
}

// Position returns the next offset Poll will return for the partition, or
// a negative value while it is being resolved.
func (c *Consumer) Position(topic string, partition int32) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := c.parts[TopicPartition{topic, partition}]
	if ps == nil {
		return 0, fmt.Errorf("consumer: position %s[%d]: %w", topic, partition, ErrNotAssigned)
	}
	if ps.state != posReady {
		return -1, nil
	}
	return ps.position, nil
}

// Pause stops fetching the partitions and stops Poll from returning their
// buffered records until Resume. Pausing survives neither revocation nor
// reassignment, as in Kafka.
func (c *Consumer) Pause(tps ...TopicPartition) error { return c.setPaused(tps, true) }

// Resume undoes Pause.
func (c *Consumer) Resume(tps ...TopicPartition) error { return c.setPaused(tps, false) }

func (c *Consumer) setPaused(tps []TopicPartition, paused bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, tp := range tps {
		ps := c.parts[tp]
		if ps == nil {
			errs = append(errs, fmt.Errorf("consumer: %s: %w", tp, ErrNotAssigned))
			continue
		}
		ps.paused = paused
	}
	signal(c.wakeFetch)
	signal(c.wakePoll)
	return errors.Join(errs...)
}

// Paused returns the paused partitions.
func (c *Consumer) Paused() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []TopicPartition
	for tp, ps := range c.parts {
		if ps.paused {
			out = append(out, tp)
		}
	}
	sortTPs(out)
	return out
}

// Poll returns the next records, at most max.poll.records, waiting until
// some arrive or ctx ends. Rebalance callbacks run inside Poll. Errors that
// concern partitions (an out of range offset with auto.offset.reset=none, a
// corrupt batch, an authorization failure) are returned one per call; the
// other partitions keep going. After Close it returns ErrClosed.
//
// Calling Poll marks the records of the previous Polls as processed: those
// are what auto-commit and the commit before a revocation take.
func (c *Consumer) Poll(ctx context.Context) ([]Record, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	c.lastPoll = time.Now()
	for _, ps := range c.dirty {
		ps.committable, ps.committableEpoch = ps.position, ps.positionEpoch
	}
	c.dirty = c.dirty[:0]
	c.mu.Unlock()
	if c.g != nil {
		c.g.polled()
	}
	for {
		if err := c.runEvents(ctx); err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		if len(c.errs) > 0 {
			err := c.errs[0]
			c.errs = c.errs[1:]
			c.mu.Unlock()
			return nil, err
		}
		wasFull := c.queueBytes >= int(c.cfg.FetchMaxBytes)
		recs := c.takeLocked(c.cfg.MaxPollRecords)
		if wasFull && c.queueBytes < int(c.cfg.FetchMaxBytes) {
			signal(c.wakeFetch)
		}
		c.mu.Unlock()
		if len(recs) > 0 {
			return recs, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, ErrClosed
		case <-c.wakePoll:
		}
	}
}

// takeLocked moves up to max buffered records out of the queue, in fetch
// order, skipping paused partitions and dropping stale chunks. When one
// chunk covers the request the result aliases the chunk: no copy.
func (c *Consumer) takeLocked(max int) []Record {
	var out []Record
	for {
		var outOfOrder, progressed bool
		out, outOfOrder, progressed = c.takePassLocked(out, max)
		// A chunk skipped because an earlier one of its partition came
		// later in the queue is takeable now.
		if !outOfOrder || !progressed || len(out) >= max {
			return out
		}
	}
}

func (c *Consumer) takePassLocked(out []Record, max int) (_ []Record, outOfOrder, progressed bool) {
	kept := c.queue[:0]
	for _, ch := range c.queue {
		ps := ch.ps
		if ch.gen != ps.gen || ps.removed || ch.seq > ps.stopSeq {
			c.queueBytes -= ch.bytes
			continue
		}
		if ps.paused || len(out) >= max || ch.seq != ps.takeSeq {
			// Paused, full, or an earlier chunk of the partition is still
			// being decoded or sits later in the queue.
			outOfOrder = outOfOrder || ch.seq != ps.takeSeq
			kept = append(kept, ch)
			continue
		}
		progressed = true
		n := min(max-len(out), len(ch.recs)-ch.pos)
		if n > 0 {
			part := ch.recs[ch.pos : ch.pos+n : ch.pos+n]
			if out == nil {
				out = part
			} else {
				out = append(out, part...)
			}
			ch.pos += n
			last := &part[n-1]
			ps.position, ps.positionEpoch = last.Offset+1, last.LeaderEpoch
		}
		c.dirty = append(c.dirty, ps)
		if ch.pos < len(ch.recs) {
			kept = append(kept, ch)
			continue
		}
		// Control batches, aborted records and compaction gaps after the
		// last record still move the position, as in Java.
		if ch.next > ps.position {
			ps.position = ch.next
		}
		ps.takeSeq++
		c.queueBytes -= ch.bytes
	}
	clear(c.queue[len(kept):])
	c.queue = kept
	return out, outOfOrder, progressed
}

func (c *Consumer) pushErrLocked(err error) {
	c.errs = append(c.errs, err)
	signal(c.wakePoll)
}

// Close stops the consumer: in group mode it revokes the assignment
// (committing first when auto-commit is on, then calling OnRevoked), leaves
// the group (not for a static member) and stops heartbeating; in assign
// mode with a GroupID and auto-commit it commits. Then it stops the fetch
// goroutines, closes its fetch sessions on the brokers (best effort) and
// closes the connections. Close returns when every goroutine the consumer
// started has ended; ctx bounds the commit, LeaveGroup and the session
// closes.
//
// Close is idempotent, as producer.Close is: the first call does the work
// and returns its error; later calls (concurrent ones wait for the first)
// return nil. Every other method returns ErrClosed after Close.
func (c *Consumer) Close(ctx context.Context) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closeCalled {
		return nil
	}
	c.closeCalled = true
	var errs []error
	if c.g != nil {
		errs = append(errs, c.g.close(ctx))
	} else if c.cfg.GroupID != "" && !c.cfg.DisableAutoCommit {
		_, err := c.commitCommittable(ctx, true, nil)
		errs = append(errs, err)
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// Every goroutine watches c.ctx, so this wait is short; still
		// honour the caller's deadline but report it.
		<-done
		errs = append(errs, ctx.Err())
	}
	c.closeFetchSessions(ctx)
	c.cl.close()
	return errors.Join(errs...)
}

package txncoord

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skiffkit/skiff/kerr"
)

// ProducerIDSource allocates producer ids. The broker shares one source
// between idempotent and transactional producers, and it must never hand
// out an id twice across restarts (Kafka reserves blocks in ZooKeeper or
// the controller; a single node persists a high-water mark).
type ProducerIDSource interface {
	NextProducerID() (int64, error)
}

// PartitionLookup tells whether a partition exists, for
// UNKNOWN_TOPIC_OR_PARTITION in AddPartitionsToTxn and to skip the markers
// of a partition deleted since it joined a transaction (Kafka drops those
// too: a deleted partition has no leader to send them to).
type PartitionLookup interface {
	PartitionExists(topic string, partition int32) bool
}

// MarkerWriter appends one transaction marker (a control batch with a
// COMMIT or ABORT record, Kafka's WriteTxnMarkers) to a partition and
// returns once it is durable. Markers are retried after an error and written
// again after a restart found the transaction in Prepare*, so writing the
// same marker twice must be harmless, as it is in Kafka (the second one ends
// no transaction).
type MarkerWriter interface {
	WriteMarker(topic string, partition int32, producerID int64, epoch int16, coordinatorEpoch int32, commit bool) error
}

// OffsetCommitter is the group coordinator's side of TxnOffsetCommit.
type OffsetCommitter interface {
	// ValidateTxnOffsetCommit checks the member and generation of a
	// TxnOffsetCommit (KIP-447: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
	// FENCED_INSTANCE_ID), as the group coordinator checks an OffsetCommit.
	// generation -1 and an empty memberID mean the client sent none.
	ValidateTxnOffsetCommit(group, memberID string, groupInstanceID *string, generation int32) error
	// CommitTxnOffsets makes the offsets of a committed transaction
	// visible, durably, before it returns. It is called after every COMMIT
	// marker is written and before CompleteCommit is logged, so it can be
	// called again with the same offsets after a restart: it must be
	// idempotent.
	CommitTxnOffsets(group string, producerID int64, offsets []TxnOffset) error
}

// ProducerIDEpoch is a producer id with its epoch.
type ProducerIDEpoch struct {
	ProducerID int64
	Epoch      int16
}

// NoProducer is the "none" of InitProducerId's producer id and epoch
// fields (-1, -1): a producer without a current id.
var NoProducer = ProducerIDEpoch{ProducerID: -1, Epoch: -1}

// txnMeta is one transactional id's metadata, Kafka's TransactionMetadata.
// Its fields are guarded by Coordinator.mu.
type txnMeta struct {
	id string
	txnRecord
	// staged holds the offsets of TxnOffsetCommit per group, made visible
	// by a commit and dropped by an abort.
	staged map[string]map[TopicPartition]TxnOffset
	// pending is set while a transition's log write is in flight (Kafka's
	// pendingState): every request for the id then gets
	// CONCURRENT_TRANSACTIONS.
	pending bool
	// completing is set while a goroutine writes the markers of a Prepare*
	// transaction.
	completing bool
	// done, made by Completing, is closed once the Prepare* transaction
	// logged its completion (or the coordinator closed).
	done chan struct{}
}

// Coordinator is the transaction coordinator of the bundled broker.
//
// Lock order: mu, then txnStore.mu. mu is never held across a log append,
// a marker write, an offset commit or any callback but ProducerIDSource
// (an id must be allocated and recorded as one step); transit documents how
// a transition drops it for the append.
type Coordinator struct {
	cfg   Config
	store *txnStore

	// mu guards txns, byPID and every txnMeta.
	mu     sync.Mutex
	txns   map[string]*txnMeta
	byPID  map[int64]*txnMeta
	closed bool

	stop chan struct{}
	wg   sync.WaitGroup

	// completed, set by benchmarks before the first request, is called
	// after a completion record is durable.
	completed func(txnID string)
}

// New loads DataDir/transactions.log and starts the coordinator: the
// transactions found in PrepareCommit or PrepareAbort resume writing their
// markers at once, Ongoing ones stay open until they time out.
func New(cfg Config) (*Coordinator, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("txncoord: %w", err)
	}
	c := &Coordinator{
		cfg:   cfg,
		txns:  make(map[string]*txnMeta),
		byPID: make(map[int64]*txnMeta),
		stop:  make(chan struct{}),
	}
	store, err := openTxnStore(cfg.DataDir, cfg.Logger, c.load)
	if err != nil {
		return nil, err
	}
	c.store = store
	c.mu.Lock()
	for _, m := range c.txns {
		if m.state == PrepareCommit || m.state == PrepareAbort {
			c.startCompletion(m)
		}
	}
	c.mu.Unlock()
	c.wg.Go(c.expiryLoop)
	return c, nil
}

// load applies one replayed entry.
func (c *Coordinator) load(e *logEntry) {
	switch e.kind {
	case entryState:
		m := c.txns[e.txnID]
		if m == nil {
			m = &txnMeta{id: e.txnID}
			c.txns[e.txnID] = m
		}
		c.apply(m, e.rec)
	case entryOffsets:
		if m := c.txns[e.txnID]; m != nil {
			m.stage(e.group, e.offsets)
		}
	case entryTombstone:
		if m := c.txns[e.txnID]; m != nil {
			c.forget(m)
		}
	}
}

// apply makes rec the metadata of m. Callers hold mu (or own c, in load).
func (c *Coordinator) apply(m *txnMeta, rec txnRecord) {
	if old := c.byPID[m.producerID]; old == m {
		delete(c.byPID, m.producerID)
	}
	m.txnRecord = rec
	if rec.producerID >= 0 {
		c.byPID[rec.producerID] = m
	}
	if rec.state.ended() {
		m.staged = nil
	}
}

func (c *Coordinator) forget(m *txnMeta) {
	if c.byPID[m.producerID] == m {
		delete(c.byPID, m.producerID)
	}
	delete(c.txns, m.id)
}

func (m *txnMeta) stage(group string, offsets []TxnOffset) {
	if m.staged == nil {
		m.staged = make(map[string]map[TopicPartition]TxnOffset)
	}
	g := m.staged[group]
	if g == nil {
		g = make(map[TopicPartition]TxnOffset)
		m.staged[group] = g
	}
	for _, o := range offsets {
		g[TopicPartition{o.Topic, o.Partition}] = o
	}
}

// transit logs rec as m's new metadata and applies it once durable: the
// write-before-answer rule of Kafka's appendTransactionToLog. Callers hold
// mu and have checked m.pending is false; transit releases mu for the
// append (so that other transactional ids are not held up by the fsync)
// and holds it again when it returns. While the append runs m.pending
// makes every other request for the id fail with CONCURRENT_TRANSACTIONS.
// On failure m is unchanged and the error is COORDINATOR_NOT_AVAILABLE,
// which clients retry (Kafka maps a failed append of __transaction_state
// to it, or to NOT_COORDINATOR).
func (c *Coordinator) transit(m *txnMeta, rec txnRecord, extra ...logEntry) error {
	if !transitionOK(m.state, rec.state) {
		return fmt.Errorf("%w: transactional id %q: illegal transition %s -> %s", kerr.InvalidTxnState, m.id, m.state, rec.state)
	}
	entries := append([]logEntry{{kind: entryState, txnID: m.id, rec: rec}}, extra...)
	if err := c.write(m, entries); err != nil {
		return err
	}
	c.apply(m, rec)
	return nil
}

// write appends entries for m with mu released, as transit describes.
func (c *Coordinator) write(m *txnMeta, entries []logEntry) error {
	m.pending = true
	c.mu.Unlock()
	err := c.store.append(entries)
	c.mu.Lock()
	m.pending = false
	if err != nil && !errors.Is(err, ErrClosed) {
		return fmt.Errorf("%w: %w", kerr.CoordinatorNotAvailable, err)
	}
	return err
}

// Close stops the timeout checks and the marker writers, then closes the
// log. A transaction whose markers were not all written stays in Prepare*
// in the log, and the next New finishes it. Close returns ctx's error if
// the goroutines did not stop in time (a MarkerWriter stuck in a write);
// the log is closed regardless.
func (c *Coordinator) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	for _, m := range c.txns {
		m.wakeCompleted()
	}
	c.mu.Unlock()
	close(c.stop)
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("txncoord: close: %w", ctx.Err())
	}
	return errors.Join(err, c.store.close())
}

// sleep waits d or until Close; it reports whether the coordinator is
// still running.
func (c *Coordinator) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stop:
		return false
	}
}

func nowMs() int64 { return time.Now().UnixMilli() }

// sortedPartitions returns the set as a sorted slice, so that records are
// deterministic.
func sortedPartitions(set map[TopicPartition]struct{}) []TopicPartition {
	out := slices.Collect(maps.Keys(set))
	slices.SortFunc(out, comparePartitions)
	return out
}

func comparePartitions(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// lookup returns the metadata of a transactional id a client names, with
// Kafka's errors for an empty or unknown id.
func (c *Coordinator) lookup(txnID string) (*txnMeta, error) {
	if c.closed {
		return nil, ErrClosed
	}
	if txnID == "" {
		return nil, fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	m := c.txns[txnID]
	if m == nil {
		return nil, fmt.Errorf("%w: transactional id %q", kerr.InvalidProducerIDMapping, txnID)
	}
	return m, nil
}

// checkProducer is the producer id and epoch check that AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit and EndTxn share (Kafka's
// handleAddPartitionsToTransaction and handleEndTransaction).
func checkProducer(m *txnMeta, producerID int64, epoch int16) error {
	if m.producerID != producerID {
		return fmt.Errorf("%w: transactional id %q has producer id %d, not %d", kerr.InvalidProducerIDMapping, m.id, m.producerID, producerID)
	}
	if m.epoch != epoch {
		return fmt.Errorf("%w: transactional id %q is at epoch %d, not %d", kerr.ProducerFenced, m.id, m.epoch, epoch)
	}
	if m.pending {
		return fmt.Errorf("%w: transactional id %q has a state change in flight", kerr.ConcurrentTransactions, m.id)
	}
	return nil
}

// validString enforces Kafka's int16 string lengths before anything is
// encoded into the log.
func validString(what, s string) error {
	if len(s) > 1<<15-1 {
		return fmt.Errorf("%w: %s of %d bytes", kerr.InvalidRequest, what, len(s))
	}
	return nil
}

package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// GroupMetadata identifies a consumer group member for
// SendOffsetsToTransaction (Java's ConsumerGroupMetadata). With the
// generation and member id (KIP-447) the group coordinator refuses the
// commit of a zombie that lost its partitions in a rebalance.
//
// consumer.GroupMetadata has the same fields, so a skiff consumer's
// metadata converts with producer.GroupMetadata(c.GroupMetadata()) without
// either package importing the other; the eos package does that
// conversion (and fails to build if the two ever differ). Keep them in step.
type GroupMetadata struct {
	GroupID         string
	GenerationID    int32  // -1 if unknown: then only the group id is checked
	MemberID        string // "" if unknown
	GroupInstanceID string // group.instance.id of a static member, "" if none
}

// Offset is the next offset to consume from one partition, committed with
// SendOffsetsToTransaction.
type Offset struct {
	Offset      int64
	LeaderEpoch int32 // -1 if unknown
	Metadata    string
}

// txnState is where a transactional producer is in Java's
// TransactionManager state machine.
type txnState int32

const (
	txnUninitialized  txnState = iota // InitTransactions not yet done
	txnReady                          // between transactions
	txnInTransaction                  // BeginTransaction called
	txnCommitting                     // CommitTransaction running
	txnAborting                       // AbortTransaction running
	txnAbortableError                 // only AbortTransaction is allowed
	txnFatalError                     // nothing is allowed but Close
)

func (s txnState) String() string {
	return [...]string{"uninitialized", "ready", "in transaction", "committing", "aborting", "abortable error", "fatal error"}[s]
}

type topicPartition struct {
	topic     string
	partition int32
}

// txnManager is the transactional side of a producer. Its public-method
// side (InitTransactions, Begin, Commit, Abort, SendOffsets) is serialized
// by opMu; the sender goroutine reads state and added, and reports errors.
type txnManager struct {
	p     *Producer
	id    string
	opMu  sync.Mutex   // serializes the public transaction calls
	state atomic.Int32 // txnState

	mu       sync.Mutex // guards err, added, started
	err      error      // the abortable or fatal error, wrapped
	added    map[topicPartition]bool
	started  bool        // a partition or offsets joined the transaction: EndTxn is needed
	needBump atomic.Bool // a batch failed after getting a sequence: bump the epoch after the abort
}

func newTxnManager(p *Producer) *txnManager {
	return &txnManager{p: p, id: p.cfg.TransactionalID, added: make(map[topicPartition]bool)}
}

func (t *txnManager) load() txnState { return txnState(t.state.Load()) }

// doomed: the transaction will be aborted (or the producer is fenced), so
// the sender stops retrying its batches.
func (t *txnManager) doomed() bool {
	st := t.load()
	return st == txnAborting || st == txnAbortableError || st == txnFatalError
}

// sendAllowed is Send's check: records of a transactional producer belong
// to a transaction.
func (t *txnManager) sendAllowed() error {
	switch st := t.load(); st {
	case txnInTransaction:
		return nil
	case txnAbortableError, txnFatalError:
		return t.currentErr()
	default:
		return fmt.Errorf("%w: Send on a transactional producer needs BeginTransaction first (state: %s)", ErrTxnState, st)
	}
}

func (t *txnManager) currentErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// fail moves the producer to the abortable or fatal error state for err; a
// fatal error is never downgraded.
func (t *txnManager) fail(err error) error {
	fatal := isFatalTxnErr(err)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.load() == txnFatalError {
		return t.err
	}
	if fatal {
		t.err = fmt.Errorf("%w: transactional id %q: %w", ErrFatalTxn, t.id, err)
		t.state.Store(int32(txnFatalError))
		return t.err
	}
	if errors.Is(err, ErrAbortableTxn) {
		t.err = err
	} else {
		t.err = fmt.Errorf("%w: transactional id %q: %w", ErrAbortableTxn, t.id, err)
	}
	if st := t.load(); st != txnUninitialized && st != txnReady {
		t.state.Store(int32(txnAbortableError))
	}
	return t.err
}

// isFatalTxnErr: the errors after which the producer cannot go on, as in
// Java's TransactionManager: it was fenced by a newer instance with the
// same transactional id, or it may not use the id at all.
func isFatalTxnErr(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.UnsupportedVersion) || errors.Is(err, kerr.UnsupportedForMessageFormat) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.TransactionCoordinatorFenced) ||
		errors.Is(err, ErrFatalTxn)
}

// check returns the error for calling op in the current state, if any.
func (t *txnManager) check(op string, want ...txnState) error {
	st := t.load()
	if st == txnFatalError {
		return t.currentErr()
	}
	for _, w := range want {
		if st == w {
			return nil
		}
	}
	if st == txnAbortableError {
		return fmt.Errorf("%s: %w", op, t.currentErr())
	}
	return fmt.Errorf("%w: %s in state %s", ErrTxnState, op, st)
}

// InitTransactions registers the producer's transactional id with its
// transaction coordinator and gets the producer id and epoch to write
// with. It fences every earlier producer with the same transactional id and
// completes (by aborting) a transaction such a producer left open. It must
// be called once before BeginTransaction; it retries until ctx ends or
// max.block.ms passed.
func (p *Producer) InitTransactions(ctx context.Context) error {
	t := p.txn
	if t == nil {
		return fmt.Errorf("%w: InitTransactions needs Config.TransactionalID", ErrTxnState)
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if err := t.check("InitTransactions", txnUninitialized); err != nil {
		return err
	}
	pid, epoch, err := t.initProducerID(ctx, -1, -1)
	if err != nil {
		if ctx.Err() == nil {
			return t.fail(err)
		}
		return fmt.Errorf("producer: InitTransactions: %w", err)
	}
	p.acc.SetProducerID(pid, epoch)
	t.state.Store(int32(txnReady))
	return nil
}

// BeginTransaction starts a transaction: records sent from now on are
// committed or aborted together. It does not contact the broker; the
// first record of each partition adds it to the transaction.
func (p *Producer) BeginTransaction() error {
	t := p.txn
	if t == nil {
		return fmt.Errorf("%w: BeginTransaction needs Config.TransactionalID", ErrTxnState)
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if err := t.check("BeginTransaction", txnReady); err != nil {
		return err
	}
	t.state.Store(int32(txnInTransaction))
	return nil
}

// CommitTransaction flushes the records of the transaction (as Java's
// commitTransaction does), then commits it with EndTxn. If a record
// failed, it returns an error matching ErrAbortableTxn and the caller must
// call AbortTransaction; an error matching ErrFatalTxn (fenced) leaves
// only Close. A ctx that ends first returns its error; the commit can be
// retried with another call.
func (p *Producer) CommitTransaction(ctx context.Context) error {
	t := p.txn
	if t == nil {
		return fmt.Errorf("%w: CommitTransaction needs Config.TransactionalID", ErrTxnState)
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if err := t.check("CommitTransaction", txnInTransaction, txnCommitting); err != nil {
		return err
	}
	t.state.Store(int32(txnCommitting))
	if err := p.Flush(ctx); err != nil {
		return err
	}
	if st := t.load(); st == txnAbortableError || st == txnFatalError {
		return t.currentErr() // a record failed while flushing
	}
	if err := t.endTxn(ctx, true); err != nil {
		return err
	}
	t.state.Store(int32(txnReady))
	return nil
}

// AbortTransaction aborts the transaction: records not yet sent fail with
// ErrAbortedTxn, records in flight are waited for, and EndTxn tells the
// coordinator to write abort markers, so read_committed consumers never
// see any of them. After an abortable error this makes the producer usable
// again.
func (p *Producer) AbortTransaction(ctx context.Context) error {
	t := p.txn
	if t == nil {
		return fmt.Errorf("%w: AbortTransaction needs Config.TransactionalID", ErrTxnState)
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if err := t.check("AbortTransaction", txnInTransaction, txnCommitting, txnAborting, txnAbortableError); err != nil {
		return err
	}
	t.state.Store(int32(txnAborting))
	// Java's abortUndrainedBatches: what is not in flight is not sent.
	for _, b := range p.acc.AbortQueued(nil) {
		if b.BaseSequence() >= 0 { // a retry: its sequences now have a gap
			p.acc.Fence(b)
			t.needBump.Store(true)
		}
		p.completer.push(completion{b: b, baseOffset: -1, appendTime: -1,
			err: fmt.Errorf("produce %s[%d]: %w", b.Topic(), b.Partition(), ErrAbortedTxn)})
	}
	if err := p.waitIncomplete(ctx); err != nil {
		return err
	}
	if t.load() == txnFatalError {
		return t.currentErr()
	}
	if err := t.endTxn(ctx, false); err != nil {
		return err
	}
	if t.needBump.Load() {
		// A batch failed after getting its sequence: the partition's
		// sequences have a gap, so move to a new epoch (KIP-360), as Java's
		// producer does after aborting for such an error.
		pid, epoch := p.acc.ProducerID()
		npid, nepoch, err := t.initProducerID(ctx, pid, epoch)
		if err != nil {
			return t.fail(err)
		}
		p.acc.SetProducerID(npid, nepoch)
		t.needBump.Store(false)
	}
	t.mu.Lock()
	t.err = nil
	t.mu.Unlock()
	t.state.Store(int32(txnReady))
	return nil
}

// SendOffsetsToTransaction commits offsets for group inside the
// transaction (the consume-transform-produce loop's exactly-once step):
// AddOffsetsToTxn, then TxnOffsetCommit to the group's coordinator. They
// become visible to the group only if the transaction commits.
func (p *Producer) SendOffsetsToTransaction(ctx context.Context, offsets map[string]map[int32]Offset, group GroupMetadata) error {
	t := p.txn
	if t == nil {
		return fmt.Errorf("%w: SendOffsetsToTransaction needs Config.TransactionalID", ErrTxnState)
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	if err := t.check("SendOffsetsToTransaction", txnInTransaction); err != nil {
		return err
	}
	if group.GroupID == "" {
		return fmt.Errorf("%w: SendOffsetsToTransaction needs a group id", ErrTxnState)
	}
	pid, epoch := p.acc.ProducerID()
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = t.id, pid, epoch, group.GroupID
	if _, err := t.coordRequest(ctx, t.id, wire.CoordinatorTransaction, add, func(r kmsg.Response) int16 {
		return r.(*kmsg.AddOffsetsToTxnResponse).ErrorCode
	}); err != nil {
		return t.opErr(ctx, "AddOffsetsToTxn", err)
	}
	t.mu.Lock()
	t.started = true
	t.mu.Unlock()

	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = t.id, group.GroupID, pid, epoch
	commit.Generation, commit.MemberID = group.GenerationID, group.MemberID
	if group.GroupInstanceID != "" {
		commit.InstanceID = &group.GroupInstanceID
	}
	for topic, parts := range offsets {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		for part, o := range parts {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = part, o.Offset, o.LeaderEpoch
			if o.Metadata != "" {
				rp.Metadata = &o.Metadata
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		commit.Topics = append(commit.Topics, rt)
	}
	// v6+ names topics by id (KIP-848 era); names work everywhere.
	if _, err := t.coordRequest(ctx, group.GroupID, wire.CoordinatorGroup, wire.MaxVersion(commit, 5), func(r kmsg.Response) int16 {
		// One error per partition; the first one decides (they share a
		// cause: the group, the generation, or the coordinator).
		for _, rt := range r.(*kmsg.TxnOffsetCommitResponse).Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					return rp.ErrorCode
				}
			}
		}
		return 0
	}); err != nil {
		return t.opErr(ctx, "TxnOffsetCommit", err)
	}
	return nil
}

// opErr turns a failed transactional request into the caller's error: a
// ctx end is returned as is (nothing changed state); anything else makes
// the transaction abortable or the producer fenced.
func (t *txnManager) opErr(ctx context.Context, op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if ctx.Err() != nil {
		return err
	}
	return t.fail(err)
}

// endTxn ends the transaction, if anything joined it (Java sends no EndTxn
// for an empty transaction), and forgets its partitions.
func (t *txnManager) endTxn(ctx context.Context, commit bool) error {
	t.mu.Lock()
	started := t.started
	t.mu.Unlock()
	if started {
		pid, epoch := t.p.acc.ProducerID()
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = t.id, pid, epoch, commit
		// EndTxn v5+ is KIP-890's (the coordinator bumps the epoch at
		// every transaction's end), which this producer does not do.
		if _, err := t.coordRequest(ctx, t.id, wire.CoordinatorTransaction, wire.MaxVersion(req, 4), func(r kmsg.Response) int16 {
			return r.(*kmsg.EndTxnResponse).ErrorCode
		}); err != nil {
			return t.opErr(ctx, "EndTxn", err)
		}
	}
	t.mu.Lock()
	t.started = false
	clear(t.added)
	t.mu.Unlock()
	return nil
}

func (t *txnManager) initProducerID(ctx context.Context, pid int64, epoch int16) (int64, int16, error) {
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &t.id
	req.TransactionTimeoutMillis = int32(t.p.cfg.TransactionTimeout / time.Millisecond)
	req.ProducerID, req.ProducerEpoch = pid, epoch
	resp, err := t.coordRequest(ctx, t.id, wire.CoordinatorTransaction, req, func(r kmsg.Response) int16 {
		return r.(*kmsg.InitProducerIDResponse).ErrorCode
	})
	if err != nil {
		return 0, 0, fmt.Errorf("InitProducerId: %w", err)
	}
	r := resp.(*kmsg.InitProducerIDResponse)
	return r.ProducerID, r.ProducerEpoch, nil
}

// coordRequest sends req to the coordinator of key and returns the
// response once code (the response's error) is clear. It finds the
// coordinator again after NOT_COORDINATOR or a lost connection and retries
// retriable errors (COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS
// while a previous EndTxn's markers are being written) with backoff, until
// ctx ends.
func (t *txnManager) coordRequest(ctx context.Context, key string, typ int8, req kmsg.Request, code func(kmsg.Response) int16) (kmsg.Response, error) {
	return t.coordRequestBackoff(ctx, key, typ, req, code, 0)
}

// firstAddPartitionsBackoff is the retry backoff of a transaction's first
// AddPartitionsToTxn answered CONCURRENT_TRANSACTIONS, which means the
// previous transaction's markers are still being written: a short wait,
// not RetryBackoff doubling, as the Java client's
// TransactionManager.maybeOverrideRetryBackoffMs (ADD_PARTITIONS_RETRY_BACKOFF_MS,
// 20 ms). Without it every transaction that follows a commit at once
// waited a whole RetryBackoff (100 ms) for markers that take about a
// millisecond.
const firstAddPartitionsBackoff = 20 * time.Millisecond

// coordRequestBackoff is coordRequest that waits concurrentBackoff, when
// positive, after each CONCURRENT_TRANSACTIONS instead of the doubling
// RetryBackoff.
func (t *txnManager) coordRequestBackoff(ctx context.Context, key string, typ int8, req kmsg.Request, code func(kmsg.Response) int16, concurrentBackoff time.Duration) (kmsg.Response, error) {
	client := t.p.client
	backoff := t.p.cfg.RetryBackoff
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	// Close cancels p.ctx: nothing outlives the producer. As in Java,
	// max.block.ms bounds each blocking transactional call.
	ctx, cancel := context.WithTimeout(ctx, t.p.cfg.MaxBlock)
	defer cancel()
	stop := context.AfterFunc(t.p.ctx, cancel)
	defer stop()
	for {
		var err error
		node, err := client.Coordinator(ctx, key, typ)
		if err != nil {
			return nil, err
		}
		rctx, rcancel := context.WithTimeout(ctx, t.p.cfg.RequestTimeout)
		resp, err := client.RequestNode(rctx, node, req)
		rcancel()
		if err == nil {
			err = kerr.ForCode(code(resp))
			if err == nil {
				return resp, nil
			}
		}
		switch {
		case errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, wire.ErrConnClosed):
			client.InvalidateCoordinator(key)
		case kerr.IsRetriable(err) || errors.Is(err, kerr.ConcurrentTransactions):
		default:
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		}
		var wait time.Duration
		wait, backoff = retryWait(err, backoff, concurrentBackoff)
		tm := time.NewTimer(wait)
		select {
		case <-tm.C:
		case <-ctx.Done():
			tm.Stop()
			return nil, fmt.Errorf("%w (gave up: %w)", err, ctx.Err())
		}
	}
}

// retryWait returns how long coordRequestBackoff waits after err and the
// backoff after that: concurrentBackoff, unchanged, for
// CONCURRENT_TRANSACTIONS when it is positive, else backoff, doubled for
// next time up to a second.
func retryWait(err error, backoff, concurrentBackoff time.Duration) (wait, next time.Duration) {
	if concurrentBackoff > 0 && errors.Is(err, kerr.ConcurrentTransactions) {
		return concurrentBackoff, backoff
	}
	return backoff, min(2*backoff, time.Second)
}

// addPartitions runs AddPartitionsToTxn for parts on the caller's
// (tracked) goroutine.
func (t *txnManager) addPartitions(parts []topicPartition) error {
	pid, epoch := t.p.acc.ProducerID()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = t.id, pid, epoch
	for _, tp := range parts {
		i := len(req.Topics) - 1
		if i < 0 || req.Topics[i].Topic != tp.topic {
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic = tp.topic
			req.Topics = append(req.Topics, rt)
			i++
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, tp.partition)
	}
	// v4+ (KIP-890) batches transactional ids and is for brokers only.
	wreq := wire.MaxVersion(req, 3)
	ctx, cancel := context.WithTimeout(t.p.ctx, t.p.cfg.DeliveryTimeout)
	defer cancel()
	var concurrentBackoff time.Duration
	t.mu.Lock()
	if len(t.added) == 0 {
		concurrentBackoff = firstAddPartitionsBackoff
	}
	t.mu.Unlock()
	_, err := t.coordRequestBackoff(ctx, t.id, wire.CoordinatorTransaction, wreq, func(r kmsg.Response) int16 {
		resp := r.(*kmsg.AddPartitionsToTxnResponse)
		// A partition failing makes the others OPERATION_NOT_ATTEMPTED;
		// report the cause.
		var first int16
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 && rp.ErrorCode != kerr.OperationNotAttempted.Code && first == 0 {
					first = rp.ErrorCode
				}
			}
		}
		if first == 0 {
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if rp.ErrorCode != 0 {
						return rp.ErrorCode
					}
				}
			}
		}
		return first
	}, concurrentBackoff)
	if err != nil {
		return fmt.Errorf("AddPartitionsToTxn: %w", err)
	}
	return nil
}

package txncoord

import (
	"fmt"
	"math"
	"time"

	"github.com/skiffkit/skiff/kerr"
)

// InitProducerID is InitProducerId with a transactional id (Kafka's
// TransactionCoordinator.handleInitProducerId). It returns the producer id
// and epoch the producer must use from now on.
//
//   - A new transactional id gets a producer id from ProducerIDs and epoch 0.
//   - A known one keeps its producer id and gets the next epoch, which
//     fences every older producer with the id; once the epoch is exhausted
//     (32766 and up) a new producer id with epoch 0 replaces it.
//   - expected is the caller's current id and epoch for a KIP-360 bump
//     (NoProducer if it has none): a producer id that is neither the
//     current one nor, with an exhausted epoch, the previous one is
//     PRODUCER_FENCED, and so is an epoch that is neither the current nor
//     the previous one. A retry of a bump whose answer was lost gets the
//     same answer again.
//   - An Ongoing transaction is aborted first with a bumped epoch (the old
//     producer is fenced at once, Kafka's PrepareEpochFence), and the call
//     returns CONCURRENT_TRANSACTIONS: the client retries and gets the
//     next epoch once the abort completed.
//   - While a transaction completes the answer is CONCURRENT_TRANSACTIONS.
//
// The new metadata is durable before InitProducerID returns.
func (c *Coordinator) InitProducerID(txnID string, timeout time.Duration, expected ProducerIDEpoch) (ProducerIDEpoch, error) {
	if txnID == "" {
		// A null transactional id is a plain idempotent producer, which the
		// broker serves without the coordinator; an empty one is invalid.
		return NoProducer, fmt.Errorf("%w: empty transactional id", kerr.InvalidRequest)
	}
	if err := validString("transactional id", txnID); err != nil {
		return NoProducer, err
	}
	if (expected.ProducerID == -1) != (expected.Epoch == -1) {
		return NoProducer, fmt.Errorf("%w: producer id %d with epoch %d", kerr.InvalidRequest, expected.ProducerID, expected.Epoch)
	}
	if timeout <= 0 || timeout > c.cfg.MaxTimeout {
		return NoProducer, fmt.Errorf("%w: %v (transaction.max.timeout.ms is %v)", kerr.InvalidTransactionTimeout, timeout, c.cfg.MaxTimeout)
	}
	hasExpected := expected != NoProducer

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return NoProducer, ErrClosed
	}
	m := c.txns[txnID]
	if m == nil {
		pid, err := c.cfg.ProducerIDs.NextProducerID()
		if err != nil {
			return NoProducer, fmt.Errorf("%w: allocate producer id: %w", kerr.CoordinatorNotAvailable, err)
		}
		// Kafka creates the metadata with no epoch; the transition below
		// makes it 0. If the log write fails the id stays in memory only
		// and a retry goes on from here.
		m = &txnMeta{id: txnID}
		c.txns[txnID] = m
		c.apply(m, txnRecord{
			producerID: pid, lastProducerID: -1, epoch: -1, lastEpoch: -1,
			timeoutMs: int32(timeout.Milliseconds()), state: Empty, startMs: -1, lastUpdateMs: nowMs(),
		})
	}
	if hasExpected && !validExpectedProducer(m, expected) {
		return NoProducer, fmt.Errorf("%w: transactional id %q has producer id %d, request names %d", kerr.ProducerFenced, txnID, m.producerID, expected.ProducerID)
	}
	if m.pending {
		return NoProducer, fmt.Errorf("%w: transactional id %q has a state change in flight", kerr.ConcurrentTransactions, txnID)
	}
	switch m.state {
	case Ongoing:
		if err := c.fenceAndAbort(m); err != nil {
			return NoProducer, err
		}
		return NoProducer, fmt.Errorf("%w: transactional id %q: aborting the open transaction of epoch %d", kerr.ConcurrentTransactions, txnID, m.epoch-1)
	case PrepareCommit, PrepareAbort, PrepareEpochFence:
		return NoProducer, fmt.Errorf("%w: transactional id %q is in %s", kerr.ConcurrentTransactions, txnID, m.state)
	case Empty, CompleteCommit, CompleteAbort:
	default:
		return NoProducer, fmt.Errorf("%w: transactional id %q is %s", kerr.InvalidTxnState, txnID, m.state)
	}

	rec := txnRecord{
		producerID:     m.producerID,
		lastProducerID: m.lastProducerID,
		timeoutMs:      int32(timeout.Milliseconds()),
		state:          Empty,
		startMs:        -1,
		lastUpdateMs:   nowMs(),
	}
	if epochExhausted(m.epoch) && (!hasExpected || expected.Epoch == m.epoch) {
		// Kafka's prepareProducerIdRotation: a new producer id, and the old
		// one remembered so that a retry of this call is recognised.
		pid, err := c.cfg.ProducerIDs.NextProducerID()
		if err != nil {
			return NoProducer, fmt.Errorf("%w: allocate producer id: %w", kerr.CoordinatorNotAvailable, err)
		}
		rec.lastProducerID, rec.producerID = m.producerID, pid
		rec.epoch, rec.lastEpoch = 0, -1
		if hasExpected {
			rec.lastEpoch = m.epoch
		}
	} else {
		// Kafka's prepareIncrementProducerEpoch.
		switch {
		case !hasExpected:
			rec.epoch, rec.lastEpoch = m.epoch+1, -1
		case m.epoch == -1 || expected.Epoch == m.epoch:
			rec.epoch, rec.lastEpoch = m.epoch+1, m.epoch
		case expected.Epoch == m.lastEpoch:
			// A retry of a bump whose answer was lost.
			rec.epoch, rec.lastEpoch = m.epoch, m.lastEpoch
		default:
			return NoProducer, fmt.Errorf("%w: transactional id %q is at epoch %d, request names %d", kerr.ProducerFenced, txnID, m.epoch, expected.Epoch)
		}
	}
	if err := c.transit(m, rec); err != nil {
		return NoProducer, err
	}
	return ProducerIDEpoch{ProducerID: m.producerID, Epoch: m.epoch}, nil
}

// validExpectedProducer is Kafka's TransactionMetadata.isValidProducerId.
func validExpectedProducer(m *txnMeta, expected ProducerIDEpoch) bool {
	return m.epoch == -1 || // just created: a producer migrating to transactions
		expected.ProducerID == m.producerID ||
		(expected.ProducerID == m.lastProducerID && epochExhausted(expected.Epoch))
}

// epochExhausted is Kafka's TransactionMetadata.isEpochExhausted: one epoch
// is kept in reserve so that a fence can still bump.
func epochExhausted(epoch int16) bool { return epoch >= math.MaxInt16-1 }

// fenceAndAbort aborts m's Ongoing transaction with a bumped epoch, so that
// the producer that opened it can neither add to it nor end it, and its
// ABORT markers fence it at every partition (Kafka's
// prepareFenceProducerEpoch followed by an abort that is not from the
// client). Callers hold mu; m is Ongoing and not pending.
func (c *Coordinator) fenceAndAbort(m *txnMeta) error {
	rec := m.txnRecord
	if m.epoch < math.MaxInt16 {
		rec.epoch = m.epoch + 1
	}
	rec.lastEpoch = -1
	rec.state = PrepareAbort
	rec.lastUpdateMs = nowMs()
	m.state = PrepareEpochFence // what Describe shows while the abort is written
	if err := c.transit(m, rec); err != nil {
		m.state = Ongoing
		return err
	}
	c.startCompletion(m)
	return nil
}

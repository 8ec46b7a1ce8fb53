package txncoord

import (
	"fmt"

	"github.com/skiffkit/skiff/kerr"
)

// EndTxn commits or aborts the Ongoing transaction (Kafka's
// handleEndTransaction from a client). It returns once PrepareCommit or
// PrepareAbort is durable, as Kafka answers EndTxn: from then on the outcome
// is decided, and the markers and the offsets follow in the background
// (complete.go). Until CompleteCommit/CompleteAbort is logged, requests for
// the id get CONCURRENT_TRANSACTIONS.
//
// Errors: INVALID_PRODUCER_ID_MAPPING and PRODUCER_FENCED as for
// AddPartitions; INVALID_TXN_STATE with no transaction open (Empty), or when
// the transaction already ended the other way; a retry of an EndTxn that
// already completed the same way succeeds, and one still completing gets
// CONCURRENT_TRANSACTIONS.
func (c *Coordinator) EndTxn(txnID string, producerID int64, epoch int16, commit bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(txnID)
	if err != nil {
		return err
	}
	if err := checkProducer(m, producerID, epoch); err != nil {
		return err
	}
	want, prepare := CompleteAbort, PrepareAbort
	if commit {
		want, prepare = CompleteCommit, PrepareCommit
	}
	switch m.state {
	case Ongoing:
		rec := m.txnRecord
		rec.state = prepare
		rec.lastUpdateMs = nowMs()
		if err := c.transit(m, rec); err != nil {
			return err
		}
		c.startCompletion(m)
		return nil
	case want:
		return nil
	case prepare:
		return fmt.Errorf("%w: transactional id %q is in %s", kerr.ConcurrentTransactions, txnID, m.state)
	case Empty:
		return fmt.Errorf("%w: transactional id %q has no open transaction", kerr.InvalidTxnState, txnID)
	default:
		return fmt.Errorf("%w: transactional id %q is in %s, cannot %s", kerr.InvalidTxnState, txnID, m.state, endName(commit))
	}
}

func endName(commit bool) string {
	if commit {
		return "commit"
	}
	return "abort"
}

package txncoord

import (
	"fmt"
	"slices"

	"github.com/skiffkit/skiff/kerr"
)

// TxnOffsetCommitRequest is what TxnOffsetCommit carries besides its
// offsets. MemberID, GroupInstanceID and Generation are KIP-447's (v3+);
// older clients send "", nil and -1.
type TxnOffsetCommitRequest struct {
	TransactionalID string
	ProducerID      int64
	Epoch           int16
	Group           string
	MemberID        string
	GroupInstanceID *string
	Generation      int32
}

// TxnOffsetCommit stages offsets in the transaction; they become visible
// to OffsetFetch only when it commits, and are dropped when it aborts. The
// staged offsets are durable before it returns, so a transaction that a
// restart finds in PrepareCommit still commits them.
//
// Kafka stages them at the group coordinator, which learns the outcome from
// the marker on its __consumer_offsets partition. Here the transaction
// coordinator stages them and calls OffsetCommitter.CommitTxnOffsets after
// the last marker and before CompleteCommit, which gives the same guarantee:
// a committed transaction's offsets are never lost, an aborted one's never
// seen.
//
// The same error applies to every partition of the request:
// ValidateTxnOffsetCommit's (ILLEGAL_GENERATION for a group in another
// generation, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID); INVALID_PRODUCER_ID_MAPPING
// and PRODUCER_FENCED as for AddPartitions; CONCURRENT_TRANSACTIONS while a
// transaction completes; INVALID_TXN_STATE when no transaction is open or
// AddOffsetsToTxn did not add the group to it (KIP-890's verification would
// answer the same; without it Kafka would stage offsets that never
// materialise).
func (c *Coordinator) TxnOffsetCommit(req TxnOffsetCommitRequest, offsets []TxnOffset) error {
	if req.Group == "" {
		return fmt.Errorf("%w: empty group id", kerr.InvalidGroupID)
	}
	if err := validString("group id", req.Group); err != nil {
		return err
	}
	for _, o := range offsets {
		if err := validString("topic", o.Topic); err != nil {
			return err
		}
		if o.Metadata != nil && len(*o.Metadata) > 1<<20 {
			// offset.metadata.max.bytes is 4 KiB in Kafka; the broker
			// enforces its own limit with OFFSET_METADATA_TOO_LARGE. This
			// only keeps a log entry bounded.
			return fmt.Errorf("%w: offset metadata of %d bytes", kerr.InvalidRequest, len(*o.Metadata))
		}
	}
	// The group coordinator is asked without mu held: it has locks of its
	// own, and nothing here depends on its answer staying true, as in Kafka
	// where the generation check and the staging are not atomic with the
	// transaction coordinator either.
	if err := c.cfg.Offsets.ValidateTxnOffsetCommit(req.Group, req.MemberID, req.GroupInstanceID, req.Generation); err != nil {
		return err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(req.TransactionalID)
	if err != nil {
		return err
	}
	if err := checkProducer(m, req.ProducerID, req.Epoch); err != nil {
		return err
	}
	switch m.state {
	case Ongoing:
	case PrepareCommit, PrepareAbort, PrepareEpochFence:
		return fmt.Errorf("%w: transactional id %q is in %s", kerr.ConcurrentTransactions, m.id, m.state)
	default:
		return fmt.Errorf("%w: transactional id %q has no open transaction", kerr.InvalidTxnState, m.id)
	}
	if !slices.Contains(m.groups, req.Group) {
		return fmt.Errorf("%w: group %q was not added to the transaction of %q (AddOffsetsToTxn)", kerr.InvalidTxnState, req.Group, m.id)
	}
	if len(offsets) == 0 {
		return nil
	}
	e := logEntry{
		kind: entryOffsets, txnID: m.id,
		producerID: m.producerID, epoch: m.epoch,
		group: req.Group, offsets: slices.Clone(offsets),
	}
	if err := c.write(m, []logEntry{e}); err != nil {
		return err
	}
	m.stage(req.Group, offsets)
	return nil
}

// PendingOffsets reports whether an open or completing transaction has
// staged an offset for the partition of group: OffsetFetch with
// require_stable answers UNSTABLE_OFFSET_COMMIT then (KIP-447).
func (c *Coordinator) PendingOffsets(group, topic string, partition int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tp := TopicPartition{topic, partition}
	for _, m := range c.txns {
		if _, ok := m.staged[group][tp]; ok {
			return true
		}
	}
	return false
}

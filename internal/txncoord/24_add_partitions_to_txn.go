package txncoord

import (
	"fmt"
	"slices"

	"github.com/skiffkit/skiff/kerr"
)

// AddPartitions is AddPartitionsToTxn v0–v3 (one transactional id per
// request; v4's batching belongs to KIP-890, which skiff does not do). It
// returns one error per partition of parts, in order, nil for success.
//
// As in Kafka's KafkaApis, partitions that do not exist get
// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, and the
// coordinator is not asked at all. Otherwise every partition gets the
// coordinator's answer: INVALID_PRODUCER_ID_MAPPING for an unknown
// transactional id or another producer id, PRODUCER_FENCED for another
// epoch, CONCURRENT_TRANSACTIONS while the previous transaction completes.
// Adding partitions to an Empty or completed transaction opens a new one
// (Ongoing, with the start time the timeout counts from); adding ones
// already in an Ongoing transaction writes nothing.
func (c *Coordinator) AddPartitions(txnID string, producerID int64, epoch int16, parts []TopicPartition) []error {
	errs := make([]error, len(parts))
	if err := c.preCheckPartitions(parts, errs); err {
		return errs
	}
	err := c.addToTxn(txnID, producerID, epoch, parts, "")
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// preCheckPartitions fills errs and reports true when some partition is
// bad, so the request fails without reaching the coordinator.
func (c *Coordinator) preCheckPartitions(parts []TopicPartition, errs []error) bool {
	bad := false
	for i, tp := range parts {
		if err := validString("topic", tp.Topic); err != nil {
			errs[i] = err
			bad = true
		} else if tp.Partition < 0 || !c.cfg.Partitions.PartitionExists(tp.Topic, tp.Partition) {
			errs[i] = fmt.Errorf("%w: %s[%d]", kerr.UnknownTopicOrPartition, tp.Topic, tp.Partition)
			bad = true
		}
	}
	if bad {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = kerr.OperationNotAttempted
			}
		}
	}
	return bad
}

// addToTxn adds parts, or group when it is not empty, to the transaction
// (Kafka's handleAddPartitionsToTransaction, which AddOffsetsToTxn also
// goes through with the group's __consumer_offsets partition).
func (c *Coordinator) addToTxn(txnID string, producerID int64, epoch int16, parts []TopicPartition, group string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.lookup(txnID)
	if err != nil {
		return err
	}
	if err := checkProducer(m, producerID, epoch); err != nil {
		return err
	}
	switch m.state {
	case PrepareCommit, PrepareAbort, PrepareEpochFence:
		return fmt.Errorf("%w: transactional id %q is in %s", kerr.ConcurrentTransactions, txnID, m.state)
	case Ongoing, Empty, CompleteCommit, CompleteAbort:
	default:
		return fmt.Errorf("%w: transactional id %q is %s", kerr.InvalidTxnState, txnID, m.state)
	}

	rec := m.txnRecord
	set := make(map[TopicPartition]struct{}, len(m.partitions)+len(parts))
	groups := m.groups
	if m.state.ended() {
		rec.startMs = nowMs()
		groups = nil
	} else {
		for _, tp := range m.partitions {
			set[tp] = struct{}{}
		}
	}
	before := len(set)
	for _, tp := range parts {
		set[tp] = struct{}{}
	}
	newGroup := group != "" && !slices.Contains(groups, group)
	if m.state == Ongoing && len(set) == before && !newGroup {
		return nil // nothing new: Kafka answers without a log write
	}
	rec.partitions = sortedPartitions(set)
	rec.groups = slices.Clone(groups)
	if newGroup {
		rec.groups = append(rec.groups, group)
		slices.Sort(rec.groups)
	}
	rec.state = Ongoing
	rec.lastUpdateMs = nowMs()
	return c.transit(m, rec)
}

package txncoord

import (
	"fmt"
	"slices"

	"github.com/skiffkit/skiff/kerr"
)

// VerifyProduce checks a transactional produce before the partition
// appends it: the producer's transaction must be Ongoing and must hold the
// partition. Kafka before KIP-890 appended such a batch blindly and let the
// transaction hang; the issue asks for INVALID_TXN_STATE, which is KIP-890's
// answer. A stale epoch is INVALID_PRODUCER_EPOCH, Produce's error for it.
func (c *Coordinator) VerifyProduce(producerID int64, epoch int16, tp TopicPartition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byPID[producerID]
	if m == nil {
		return fmt.Errorf("%w: producer id %d has no transactional id", kerr.InvalidTxnState, producerID)
	}
	if epoch < m.epoch {
		return fmt.Errorf("%w: producer id %d is at epoch %d, batch has %d", kerr.InvalidProducerEpoch, producerID, m.epoch, epoch)
	}
	if epoch != m.epoch || m.state != Ongoing || !inSorted(m.partitions, tp) {
		return fmt.Errorf("%w: %s[%d] is not in an open transaction of producer %d epoch %d", kerr.InvalidTxnState, tp.Topic, tp.Partition, producerID, epoch)
	}
	return nil
}

// inSorted looks tp up in a sorted partition list: records keep their
// partitions sorted, so a produce does not scan a large transaction.
func inSorted(parts []TopicPartition, tp TopicPartition) bool {
	_, ok := slices.BinarySearchFunc(parts, tp, comparePartitions)
	return ok
}

package txncoord

import (
	"fmt"

	"github.com/skiffkit/skiff/kerr"
)

// AddOffsetsToTxn adds a consumer group to the transaction, so that its
// TxnOffsetCommit offsets become visible when the transaction commits. Kafka
// adds the group's __consumer_offsets partition, whose marker then makes
// the group coordinator materialise the offsets; the bundled broker has no
// such partition, so the group itself is recorded and the offsets are
// handed to OffsetCommitter at commit. Errors are AddPartitions'.
func (c *Coordinator) AddOffsetsToTxn(txnID string, producerID int64, epoch int16, group string) error {
	if group == "" {
		return fmt.Errorf("%w: empty group id", kerr.InvalidGroupID)
	}
	if err := validString("group id", group); err != nil {
		return err
	}
	return c.addToTxn(txnID, producerID, epoch, nil, group)
}

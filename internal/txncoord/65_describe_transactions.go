package txncoord

import (
	"fmt"
	"slices"
	"time"

	"github.com/skiffkit/skiff/kerr"
)

// Description is one transactional id as DescribeTransactions shows it
// (KIP-664).
type Description struct {
	TransactionalID string
	// Err is TRANSACTIONAL_ID_NOT_FOUND for an unknown id, else nil.
	Err           error
	State         State
	ProducerID    int64
	ProducerEpoch int16
	Timeout       time.Duration
	// StartMs is when the transaction began (unix ms), -1 if none did.
	StartMs int64
	// Partitions are the partitions in the transaction, sorted.
	Partitions []TopicPartition
	// Groups are the groups AddOffsetsToTxn added; Kafka lists their
	// __consumer_offsets partitions among the topics instead.
	Groups []string
}

// Describe returns one Description per id, in order.
func (c *Coordinator) Describe(txnIDs []string) []Description {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Description, len(txnIDs))
	for i, id := range txnIDs {
		out[i].TransactionalID = id
		m := c.txns[id]
		if m == nil {
			out[i].Err = fmt.Errorf("%w: %q", kerr.TransactionalIDNotFound, id)
			continue
		}
		out[i].State = m.state
		out[i].ProducerID = m.producerID
		out[i].ProducerEpoch = m.epoch
		out[i].Timeout = time.Duration(m.timeoutMs) * time.Millisecond
		out[i].StartMs = m.startMs
		out[i].Partitions = slices.Clone(m.partitions)
		out[i].Groups = slices.Clone(m.groups)
	}
	return out
}

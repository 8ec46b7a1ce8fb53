package broker

import (
	"github.com/skiffkit/skiff/internal/txncoord"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleTxnOffsetCommit stages consumer offsets in the producer's
// transaction (txncoord.TxnOffsetCommit): the group coordinator makes them
// visible when the transaction commits. One error covers every partition.
// v5+ (KIP-890) is not advertised.
func handleTxnOffsetCommit(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.TxnOffsetCommitRequest)
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	var offsets []txncoord.TxnOffset
	for _, rt := range req.Topics {
		for _, p := range rt.Partitions {
			offsets = append(offsets, txncoord.TxnOffset{
				Topic: rt.Topic, Partition: p.Partition, Offset: p.Offset,
				LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata,
			})
		}
	}
	var code int16
	if err := b.txns.TxnOffsetCommit(txncoord.TxnOffsetCommitRequest{
		TransactionalID: req.TransactionalID,
		ProducerID:      req.ProducerID,
		Epoch:           req.ProducerEpoch,
		Group:           req.Group,
		MemberID:        req.MemberID,
		GroupInstanceID: req.InstanceID,
		Generation:      req.Generation,
	}, offsets); err != nil {
		code = txnErrorCode(err)
	}
	resp.Topics = make([]kmsg.TxnOffsetCommitResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		st.Default()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.TxnOffsetCommitResponseTopicPartition, len(rt.Partitions))
		for pi, p := range rt.Partitions {
			st.Partitions[pi].Default()
			st.Partitions[pi].Partition = p.Partition
			st.Partitions[pi].ErrorCode = code
		}
	}
	return resp
}

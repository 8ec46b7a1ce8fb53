package broker

import (
	"errors"

	"github.com/skiffkit/skiff/internal/txncoord"
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAddPartitionsToTxn adds partitions to the producer's transaction
// (txncoord.AddPartitions). v0-v3 only: v4+ batches transactions for
// brokers verifying on Produce (KIP-890), which skiff does not do. A
// request that meets the id's previous transaction still writing its
// markers waits for them (txn.go, answerAfterCompletion) instead of being
// answered CONCURRENT_TRANSACTIONS at once.
func handleAddPartitionsToTxn(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AddPartitionsToTxnRequest)
	return b.runTxnRequest(r, req.TransactionalID, func() (kmsg.Response, bool) { return addPartitionsToTxn(b, req) })
}

// addPartitionsToTxn runs req and reports whether the coordinator answered
// CONCURRENT_TRANSACTIONS.
func addPartitionsToTxn(b *Broker, req *kmsg.AddPartitionsToTxnRequest) (resp *kmsg.AddPartitionsToTxnResponse, concurrent bool) {
	resp = req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	var parts []txncoord.TopicPartition
	for _, rt := range req.Topics {
		for _, p := range rt.Partitions {
			parts = append(parts, txncoord.TopicPartition{Topic: rt.Topic, Partition: p})
		}
	}
	errs := b.txns.AddPartitions(req.TransactionalID, req.ProducerID, req.ProducerEpoch, parts)
	i := 0
	resp.Topics = make([]kmsg.AddPartitionsToTxnResponseTopic, len(req.Topics))
	for ti, rt := range req.Topics {
		st := &resp.Topics[ti]
		st.Default()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.AddPartitionsToTxnResponseTopicPartition, len(rt.Partitions))
		for pi, p := range rt.Partitions {
			sp := &st.Partitions[pi]
			sp.Default()
			sp.Partition = p
			if i < len(errs) && errs[i] != nil {
				sp.ErrorCode = txnErrorCode(errs[i])
				concurrent = concurrent || errors.Is(errs[i], kerr.ConcurrentTransactions)
			}
			i++
		}
	}
	return resp, concurrent
}

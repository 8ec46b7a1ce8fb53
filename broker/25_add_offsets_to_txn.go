package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// handleAddOffsetsToTxn adds a consumer group to the producer's transaction
// so that TxnOffsetCommit may stage its offsets (txncoord.AddOffsetsToTxn).
// v4 (KIP-890's TRANSACTION_ABORTABLE) is not advertised.
func handleAddOffsetsToTxn(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if err := b.txns.AddOffsetsToTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group); err != nil {
		resp.ErrorCode = txnErrorCode(err)
	}
	return resp
}

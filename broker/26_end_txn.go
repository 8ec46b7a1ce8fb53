package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// handleEndTxn commits or aborts the producer's transaction
// (txncoord.EndTxn), answering once the decision is durable; the markers
// follow in the background. v5 (KIP-890, an epoch bump per transaction) is
// not advertised.
func handleEndTxn(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if err := b.txns.EndTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit); err != nil {
		resp.ErrorCode = txnErrorCode(err)
	}
	return resp
}

package broker

import (
	"errors"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAddOffsetsToTxn adds a consumer group to the producer's transaction
// so that TxnOffsetCommit may stage its offsets (txncoord.AddOffsetsToTxn).
// v4 (KIP-890's TRANSACTION_ABORTABLE) is not advertised. Like
// AddPartitionsToTxn it waits for the id's previous transaction to
// complete rather than answer CONCURRENT_TRANSACTIONS at once.
func handleAddOffsetsToTxn(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AddOffsetsToTxnRequest)
	return b.runTxnRequest(r, req.TransactionalID, func() (kmsg.Response, bool) { return addOffsetsToTxn(b, req) })
}

func addOffsetsToTxn(b *Broker, req *kmsg.AddOffsetsToTxnRequest) (resp *kmsg.AddOffsetsToTxnResponse, concurrent bool) {
	resp = req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if err := b.txns.AddOffsetsToTxn(req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Group); err != nil {
		resp.ErrorCode = txnErrorCode(err)
		concurrent = errors.Is(err, kerr.ConcurrentTransactions)
	}
	return resp, concurrent
}

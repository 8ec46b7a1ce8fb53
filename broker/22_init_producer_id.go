package broker

import (
	"math"
	"time"

	"github.com/skiffkit/skiff/internal/txncoord"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleInitProducerID gives idempotent producers their id. Ids come from
// blocks reserved durably in DataDir, so they stay unique across restarts.
//
// KIP-360: a producer that passes its current id and epoch (v3+) keeps the
// id with the epoch bumped, which resets its sequences after an
// UNKNOWN_PRODUCER_ID or a timed-out batch; when the epoch would overflow
// it gets a fresh id. A transactional id goes to the transaction
// coordinator (txn.go), which fences the id's previous producer.
func handleInitProducerID(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		expected := txncoord.NoProducer // v0-v2 carry no current producer
		if r.version >= 3 {
			expected = txncoord.ProducerIDEpoch{ProducerID: req.ProducerID, Epoch: req.ProducerEpoch}
		}
		pe, err := b.txns.InitProducerID(*req.TransactionalID,
			time.Duration(req.TransactionTimeoutMillis)*time.Millisecond, expected)
		if err != nil {
			resp.ErrorCode = txnErrorCode(err)
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = pe.ProducerID, pe.Epoch
		return resp
	}
	if r.version >= 3 && req.ProducerID >= 0 && req.ProducerEpoch >= 0 {
		if !b.pids.issued(req.ProducerID) {
			resp.ErrorCode = kerr.InvalidProducerIDMapping.Code
			return resp
		}
		if req.ProducerEpoch < math.MaxInt16-1 {
			resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
			return resp
		}
	}
	id, err := b.pids.allocate()
	if err != nil {
		b.log.Error("allocate producer id", "err", err)
		resp.ErrorCode = kerr.Code(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}

package broker

import (
	"time"

	"github.com/skiffkit/skiff/internal/txncoord"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListTransactions (KIP-664; v1 adds KIP-994's duration filter) lists
// the transactional ids matching the filters. v2's id pattern (KIP-1152) is
// not advertised.
func handleListTransactions(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	f := txncoord.ListFilter{States: req.StateFilters, ProducerIDs: req.ProducerIDFilters}
	if r.version >= 1 && req.DurationFilterMillis > 0 {
		f.MinDuration = time.Duration(req.DurationFilterMillis) * time.Millisecond
	}
	list, unknown := b.txns.List(f)
	resp.UnknownStateFilters = unknown
	for _, l := range list {
		s := kmsg.NewListTransactionsResponseTransactionState()
		s.TransactionalID, s.ProducerID, s.TransactionState = l.TransactionalID, l.ProducerID, l.State.String()
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return resp
}

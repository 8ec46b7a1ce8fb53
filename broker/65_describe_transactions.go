package broker

import "github.com/twmb/franz-go/pkg/kmsg"

// handleDescribeTransactions (KIP-664) shows each transactional id's state,
// producer, timeout and partitions, so an operator can find a hung
// transaction. The groups AddOffsetsToTxn added are not listed: Kafka shows
// them as __consumer_offsets partitions, which do not exist here.
func handleDescribeTransactions(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, d := range b.txns.Describe(req.TransactionalIDs) {
		s := kmsg.NewDescribeTransactionsResponseTransactionState()
		s.TransactionalID = d.TransactionalID
		if d.Err != nil {
			s.ErrorCode = txnErrorCode(d.Err)
			s.ProducerID, s.ProducerEpoch, s.StartTimestamp = -1, -1, -1
			resp.TransactionStates = append(resp.TransactionStates, s)
			continue
		}
		s.State = d.State.String()
		s.ProducerID, s.ProducerEpoch = d.ProducerID, d.ProducerEpoch
		s.TimeoutMillis = int32(d.Timeout.Milliseconds())
		s.StartTimestamp = d.StartMs
		for _, tp := range d.Partitions { // sorted by topic, then partition
			if n := len(s.Topics); n == 0 || s.Topics[n-1].Topic != tp.Topic {
				t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
				t.Topic = tp.Topic
				s.Topics = append(s.Topics, t)
			}
			t := &s.Topics[len(s.Topics)-1]
			t.Partitions = append(t.Partitions, tp.Partition)
		}
		resp.TransactionStates = append(resp.TransactionStates, s)
	}
	return resp
}

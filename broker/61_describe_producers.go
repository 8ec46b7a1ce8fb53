package broker

import (
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeProducers (KIP-664) lists the idempotent producers each
// partition's log remembers (the producer state that deduplicates
// retries), with the coordinator epoch and open transaction's start
// offset the log reports (-1 without transactions).
func handleDescribeProducers(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewDescribeProducersResponseTopic()
		st.Topic = rt.Topic
		for _, i := range rt.Partitions {
			sp := kmsg.NewDescribeProducersResponseTopicPartition()
			sp.Partition = i
			p := b.topics.partition(rt.Topic, i)
			if p == nil || p.deleted.Load() {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			for _, pi := range p.log.Producers(nil) {
				ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
				ap.ProducerID, ap.ProducerEpoch = pi.ProducerID, int32(pi.ProducerEpoch)
				ap.LastSequence, ap.LastTimestamp = pi.LastSequence, pi.LastTimestamp
				ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pi.CoordinatorEpoch, pi.TxnStartOffset
				sp.ActiveProducers = append(sp.ActiveProducers, ap)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

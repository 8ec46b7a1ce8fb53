package broker

import (
	"fmt"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleElectLeaders (KIP-183, KIP-460): every partition's leader is this
// node, its only and preferred replica, so an election is never needed:
// each named partition gets ELECTION_NOT_NEEDED, as Kafka answers for a
// partition already led by its preferred replica, and unknown ones
// UNKNOWN_TOPIC_OR_PARTITION. Asking for all partitions (null) lists only
// partitions where an election happened, as Kafka does: none.
func handleElectLeaders(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.ElectLeadersRequest)
	resp := req.ResponseKind().(*kmsg.ElectLeadersResponse)
	if r.version >= 1 && req.ElectionType != 0 && req.ElectionType != 1 {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	for _, rt := range req.Topics {
		st := kmsg.NewElectLeadersResponseTopic()
		st.Topic = rt.Topic
		t := b.topics.byName(rt.Topic)
		if t == nil && isInternalTopic(rt.Topic) {
			t = &topic{name: offsetsTopic, parts: make([]*partition, offsetsTopicPartitions)}
		}
		for _, i := range rt.Partitions {
			sp := kmsg.NewElectLeadersResponseTopicPartition()
			sp.Partition = i
			if t == nil || i < 0 || int(i) >= len(t.parts) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				sp.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("unknown partition %s[%d]", rt.Topic, i))
			} else {
				sp.ErrorCode = kerr.ElectionNotNeeded.Code
				sp.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("leader is already node %d, the preferred replica", b.nodeID()))
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

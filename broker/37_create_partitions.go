package broker

import (
	"errors"
	"fmt"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleCreatePartitions grows topics to the requested partition count,
// creating the new partitions' directories. Producers and consumers learn
// of them through Metadata, as with Kafka. Errors follow Kafka's
// ReplicationControlManager: a count not above the current one is
// INVALID_PARTITIONS, assignments must cover exactly the new partitions
// and name only this node (INVALID_REPLICA_ASSIGNMENT), and a topic named
// twice is INVALID_REQUEST.
func handleCreatePartitions(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	quota := b.newMutationQuota(r, createPartitionsStrictVersion)
	for _, rt := range req.Topics {
		st := kmsg.NewCreatePartitionsResponseTopic()
		st.Topic = rt.Topic
		if err := b.createPartitions(&rt, seen[rt.Topic] > 1, req.ValidateOnly, quota); err != nil {
			if !errors.Is(err, kerr.InvalidPartitions) && !errors.Is(err, kerr.UnknownTopicOrPartition) && !errors.Is(err, kerr.ThrottlingQuotaExceeded) {
				b.log.Warn("create partitions failed", "topic", rt.Topic, "err", err)
			}
			st.ErrorCode, st.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		}
		resp.Topics = append(resp.Topics, st)
	}
	d := quota.throttle(r, createPartitionsClientThrottle, func(ms int32) { resp.ThrottleMillis = ms })
	return b.holdAnswer(r, resp, d)
}

func (b *Broker) createPartitions(rt *kmsg.CreatePartitionsRequestTopic, dup, validateOnly bool, quota *mutationQuota) error {
	if dup {
		return fmt.Errorf("%w: topic %s appears more than once", kerr.InvalidRequest, rt.Topic)
	}
	if isInternalTopic(rt.Topic) {
		return fmt.Errorf("%w: %s is kept by the group coordinator in %d partition(s)", kerr.InvalidPartitions, rt.Topic, offsetsTopicPartitions)
	}
	t := b.topics.byName(rt.Topic)
	if t == nil {
		return fmt.Errorf("%w: unknown topic %s", kerr.UnknownTopicOrPartition, rt.Topic)
	}
	have := int32(len(t.parts))
	switch {
	case rt.Count == have:
		return fmt.Errorf("%w: topic %s already has %d partitions", kerr.InvalidPartitions, rt.Topic, have)
	case rt.Count < have:
		return fmt.Errorf("%w: topic %s currently has %d partitions, which is higher than the requested %d", kerr.InvalidPartitions, rt.Topic, have, rt.Count)
	case rt.Count > b.topics.maxPartitions:
		return fmt.Errorf("%w: %d partitions, at most %d", kerr.InvalidPartitions, rt.Count, b.topics.maxPartitions)
	}
	if rt.Assignment != nil {
		if add := rt.Count - have; int32(len(rt.Assignment)) != add {
			return fmt.Errorf("%w: attempted to add %d additional partitions but %d assignments were supplied", kerr.InvalidReplicaAssignment, add, len(rt.Assignment))
		}
		for i, a := range rt.Assignment {
			if len(a.Replicas) != 1 || a.Replicas[0] != b.nodeID() {
				return fmt.Errorf("%w: partition %d: the only replica can be node %d, got %v", kerr.InvalidReplicaAssignment, have+int32(i), b.nodeID(), a.Replicas)
			}
		}
	}
	if validateOnly {
		return nil
	}
	if err := quota.record(rt.Count - have); err != nil {
		return err
	}
	_, err := b.topics.addPartitions(t, rt.Count)
	return err
}

package broker

import (
	"fmt"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterPartitionAssignments (KIP-455): the only assignment a single
// node can hold is [this node], which every partition already has, so it
// completes at once with no reassignment left in progress. Any other node
// is INVALID_REPLICA_ASSIGNMENT, as a KRaft controller answers for a broker
// that is not registered; a null assignment cancels a reassignment, and
// there is never one: NO_REASSIGNMENT_IN_PROGRESS.
func handleAlterPartitionAssignments(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	if r.version >= 1 {
		resp.AllowReplicationFactorChange = req.AllowReplicationFactorChange
	}
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic
		t := b.topics.byName(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition
			var err error
			switch {
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.parts):
				err = fmt.Errorf("%w: %s[%d]", kerr.UnknownTopicOrPartition, rt.Topic, rp.Partition)
			case rp.Replicas == nil:
				err = fmt.Errorf("%w: %s[%d]", kerr.NoReassignmentInProgress, rt.Topic, rp.Partition)
			default:
				err = b.checkAssignment(rp.Replicas, r.version >= 1 && !req.AllowReplicationFactorChange)
			}
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// checkAssignment accepts exactly [this node].
func (b *Broker) checkAssignment(replicas []int32, fixedRF bool) error {
	if len(replicas) == 0 {
		return fmt.Errorf("%w: the replica list is empty", kerr.InvalidReplicaAssignment)
	}
	seen := map[int32]bool{}
	for _, n := range replicas {
		if n != b.nodeID() {
			return fmt.Errorf("%w: the partition assignment includes broker %d, but no broker with that id is registered (this is node %d)", kerr.InvalidReplicaAssignment, n, b.nodeID())
		}
		if seen[n] {
			return fmt.Errorf("%w: broker %d is named twice", kerr.InvalidReplicaAssignment, n)
		}
		seen[n] = true
	}
	if fixedRF && len(replicas) != 1 {
		return fmt.Errorf("%w: the replication factor would change from 1 to %d", kerr.InvalidReplicationFactor, len(replicas))
	}
	return nil
}

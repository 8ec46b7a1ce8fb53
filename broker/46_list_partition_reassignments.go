package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListPartitionReassignments (KIP-455) lists ongoing reassignments:
// an accepted one completes at once here (see AlterPartitionAssignments),
// so the list is always empty, whatever topics are asked about (Kafka
// leaves out partitions with none in progress, unknown ones included).
func handleListPartitionReassignments(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.Topics = []kmsg.ListPartitionReassignmentsResponseTopic{}
	return resp
}

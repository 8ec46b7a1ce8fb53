package broker

import (
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeCluster (KIP-700) names this node as the only broker and
// the controller. Asking for controller endpoints (v1 endpoint type 2) is
// UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers: controllers are
// reached through their own listener, and this node has none apart.
func handleDescribeCluster(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeClusterRequest)
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if r.version >= 1 {
		resp.EndpointType = req.EndpointType
		if req.EndpointType != 1 {
			resp.ErrorCode = kerr.UnsupportedEndpointType.Code
			resp.ErrorMessage = kmsg.StringPtr("only broker endpoints (type 1) are served here")
			return resp
		}
	}
	resp.ClusterID = b.clusterID
	resp.ControllerID = b.nodeID()
	br := kmsg.NewDescribeClusterResponseBroker()
	br.NodeID, br.Host, br.Port = b.nodeID(), b.advHost, b.advPort
	resp.Brokers = []kmsg.DescribeClusterResponseBroker{br}
	if req.IncludeClusterAuthorizedOperations {
		// The authorizer narrows this when one is active.
		resp.ClusterAuthorizedOperations = allOps(aclResCluster)
	}
	return resp
}

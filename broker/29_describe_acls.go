package broker

import (
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeAcls lists the stored ACLs the filter matches (see
// aclFilter for Kafka's matching rules), grouped by resource.
func handleDescribeAcls(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DescribeACLsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeACLsResponse)
	f := aclFilter{
		resourceType: int8(req.ResourceType), name: req.ResourceName, patternType: int8(req.ResourcePatternType),
		principal: req.Principal, host: req.Host, operation: int8(req.Operation), permission: int8(req.PermissionType),
	}
	if r.version == 0 {
		f.patternType = aclPatternLit // v0 knows only literal names
	}
	if err := f.validate(); err != nil {
		resp.ErrorCode, resp.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		return resp
	}
	resp.Resources = groupACLs(b.acls.matching(f))
	return resp
}

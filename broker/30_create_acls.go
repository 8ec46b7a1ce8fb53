package broker

import (
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleCreateAcls stores each ACL durably, validated as Kafka's
// AclControlManager does (INVALID_REQUEST names the problem). An ACL
// already stored is a success.
func handleCreateAcls(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.CreateACLsRequest)
	resp := req.ResponseKind().(*kmsg.CreateACLsResponse)
	for _, c := range req.Creations {
		a := acl{
			ResourceType: int8(c.ResourceType), ResourceName: c.ResourceName, PatternType: int8(c.ResourcePatternType),
			Principal: c.Principal, Host: c.Host, Operation: int8(c.Operation), Permission: int8(c.PermissionType),
		}
		if r.version == 0 {
			a.PatternType = aclPatternLit
		}
		res := kmsg.NewCreateACLsResponseResult()
		if err := b.acls.create(a); err != nil {
			res.ErrorCode, res.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
		} else {
			b.log.Info("ACL created", "acl", a)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

package broker

import (
	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDeleteAcls deletes, durably, every stored ACL each filter matches
// and lists what it deleted.
func handleDeleteAcls(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.DeleteACLsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteACLsResponse)
	for _, rf := range req.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		f := aclFilter{
			resourceType: int8(rf.ResourceType), name: rf.ResourceName, patternType: int8(rf.ResourcePatternType),
			principal: rf.Principal, host: rf.Host, operation: int8(rf.Operation), permission: int8(rf.PermissionType),
		}
		if r.version == 0 {
			f.patternType = aclPatternLit
		}
		err := f.validate()
		var gone []acl
		if err == nil {
			gone, err = b.acls.delete(f)
		}
		if err != nil {
			res.ErrorCode, res.ErrorMessage = kerr.Code(err), kmsg.StringPtr(err.Error())
			resp.Results = append(resp.Results, res)
			continue
		}
		for _, a := range gone {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName = kmsg.ACLResourceType(a.ResourceType), a.ResourceName
			m.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
			m.Principal, m.Host = a.Principal, a.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.Permission)
			res.MatchingACLs = append(res.MatchingACLs, m)
		}
		if len(gone) > 0 {
			b.log.Info("ACLs deleted", "count", len(gone))
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}

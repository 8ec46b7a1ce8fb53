package coordinator

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// groupOperations is the authorized-operations bitfield of a group without
// an authorizer: READ (3), DELETE (6) and DESCRIBE (8), as Kafka reports.
const groupOperations = 1<<3 | 1<<6 | 1<<8

// describeGroups mirrors Kafka's GroupMetadata.summary: members carry their
// metadata and assignment only when the group is Stable; an unknown group
// is reported Dead without error. Callers hold mu.
func (c *Coordinator) describeGroups(req *kmsg.DescribeGroupsRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, name := range req.Groups {
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.Group = name
		rg.AuthorizedOperations = math.MinInt32
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = groupOperations
		}
		if c.closed {
			rg.ErrorCode = kerr.NotCoordinator.Code
			resp.Groups = append(resp.Groups, rg)
			continue
		}
		info, ok := c.groupInfo(name)
		if !ok {
			info.State = stateDead.String()
		}
		rg.State, rg.ProtocolType, rg.Protocol = info.State, info.ProtocolType, info.Protocol
		for _, m := range info.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.ClientID, rm.ClientHost = m.ID, m.ClientID, "/"+m.ClientHost
			if m.InstanceID != "" {
				inst := m.InstanceID
				rm.InstanceID = &inst
			}
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	c.reply(respond, resp)
}

package coordinator

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// leaveGroup mirrors Kafka's handleLeaveGroup. v0-v2 name one member; v3+
// (KIP-345) a batch, each identified by member id, group.instance.id or
// both, each with its own error. Callers hold mu.
func (c *Coordinator) leaveGroup(req *kmsg.LeaveGroupRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	defer c.reply(respond, resp)
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	switch {
	case c.closed:
		resp.ErrorCode = kerr.NotCoordinator.Code
		return
	case req.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return
	}
	g := c.groups[req.Group]
	for _, lm := range leaving {
		code := c.leaveOne(g, lm)
		if req.Version < 3 {
			resp.ErrorCode = code
			return
		}
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID, rm.ErrorCode = lm.MemberID, lm.InstanceID, code
		resp.Members = append(resp.Members, rm)
	}
}

func (c *Coordinator) leaveOne(g *group, lm kmsg.LeaveGroupRequestMember) int16 {
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	id := lm.MemberID
	if lm.InstanceID != nil {
		static, ok := g.static[*lm.InstanceID]
		switch {
		case !ok:
			return kerr.UnknownMemberID.Code
		case id != "" && id != static:
			return kerr.FencedInstanceID.Code
		}
		id = static
	}
	if c.removePending(g, id) {
		c.checkJoin(g)
		return 0
	}
	m := g.members[id]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	reason := "member " + id + " left"
	if lm.Reason != nil {
		reason += ": " + *lm.Reason
	}
	c.removeMember(g, m, reason)
	return 0
}

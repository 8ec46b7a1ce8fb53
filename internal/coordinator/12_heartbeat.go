package coordinator

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// heartbeat mirrors Kafka's handleHeartbeat: it keeps a member's session
// alive and tells it, with REBALANCE_IN_PROGRESS, to rejoin. Callers hold mu.
func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	resp.ErrorCode = c.heartbeatCode(req)
	c.reply(respond, resp)
}

func (c *Coordinator) heartbeatCode(req *kmsg.HeartbeatRequest) int16 {
	if c.closed {
		return kerr.NotCoordinator.Code
	}
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	g := c.groups[req.Group]
	if g == nil || g.state == stateEmpty {
		return kerr.UnknownMemberID.Code
	}
	if code := g.validateMember(req.MemberID, req.InstanceID, req.Generation); code != 0 {
		return code
	}
	c.scheduleSession(g, g.members[req.MemberID])
	if g.state == statePreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	// CompletingRebalance: a member may heartbeat between its JoinGroup
	// response and its SyncGroup; Kafka treats that as a normal heartbeat.
	return 0
}

// validateMember is Kafka's validateCurrentMember: fencing of static
// members first, then membership, then the generation.
func (g *group) validateMember(memberID string, instanceID *string, generation int32) int16 {
	switch {
	case g.isStaticFenced(instanceID, memberID):
		return kerr.FencedInstanceID.Code
	case g.members[memberID] == nil:
		return kerr.UnknownMemberID.Code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	return 0
}

package coordinator

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/kerr"
)

// syncGroup mirrors Kafka's handleSyncGroup: followers park until the leader
// sends the assignment of the generation; then everyone gets its share and
// the group is Stable. Callers hold mu.
func (c *Coordinator) syncGroup(req *kmsg.SyncGroupRequest, respond func(kmsg.Response)) {
	fail := func(code int16) { c.reply(respond, syncError(req.Version, code)) }
	if c.closed {
		fail(kerr.NotCoordinator.Code)
		return
	}
	if req.Group == "" {
		fail(kerr.InvalidGroupID.Code)
		return
	}
	g := c.groups[req.Group]
	if g == nil {
		fail(kerr.UnknownMemberID.Code)
		return
	}
	if code := g.validateMember(req.MemberID, req.InstanceID, req.Generation); code != 0 {
		fail(code)
		return
	}
	if (req.ProtocolType != nil && *req.ProtocolType != g.protocolType) ||
		(req.Protocol != nil && *req.Protocol != g.protocol) {
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateEmpty:
		fail(kerr.UnknownMemberID.Code)
	case statePreparingRebalance:
		fail(kerr.RebalanceInProgress.Code)
	case stateCompletingRebalance:
		if m.sync != nil {
			c.reply(m.sync.respond, syncError(m.sync.version, kerr.RebalanceInProgress.Code))
		}
		m.sync = &parked{version: req.Version, respond: respond}
		c.scheduleSession(g, m)
		if m.id == g.leader {
			c.assign(g, req.GroupAssignment)
		}
	case stateStable:
		c.scheduleSession(g, m)
		c.reply(respond, c.syncResult(g, req.Version, m.assignment))
	}
}

// assign stores the leader's assignment (members it left out get an empty
// one, as in Kafka), moves the group to Stable and answers every parked
// SyncGroup.
func (c *Coordinator) assign(g *group, as []kmsg.SyncGroupRequestGroupAssignment) {
	for _, m := range g.members {
		m.assignment = nil
	}
	for _, a := range as {
		if m := g.members[a.MemberID]; m != nil {
			m.assignment = slices.Clone(a.MemberAssignment)
		}
	}
	g.state = stateStable
	c.log.Info("group stable", "group", g.name, "generation", g.generation, "members", len(g.members))
	for _, m := range g.members {
		if m.sync != nil {
			c.reply(m.sync.respond, c.syncResult(g, m.sync.version, m.assignment))
			m.sync = nil
		}
	}
}

func (c *Coordinator) syncResult(g *group, version int16, assignment []byte) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = version
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType = &pt
	resp.Protocol = &p
	resp.MemberAssignment = assignment
	return resp
}

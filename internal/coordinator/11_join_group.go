package coordinator

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// joinGroup mirrors Kafka's GroupCoordinator.handleJoinGroup for the
// classic protocol. Callers hold mu.
func (c *Coordinator) joinGroup(cl Client, req *kmsg.JoinGroupRequest, respond func(kmsg.Response)) {
	fail := func(code int16) { c.reply(respond, joinError(req.Version, req.MemberID, code)) }
	session := millis(req.SessionTimeoutMillis)
	rebalance := millis(req.RebalanceTimeoutMillis)
	if req.Version == 0 {
		// v0 has no rebalance timeout; Kafka uses the session timeout.
		rebalance = session
	}
	switch {
	case c.closed:
		fail(kerr.NotCoordinator.Code)
		return
	case req.Group == "":
		fail(kerr.InvalidGroupID.Code)
		return
	case session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout:
		fail(kerr.InvalidSessionTimeout.Code)
		return
	}
	g := c.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			// A member of a group this coordinator does not know (for
			// instance one from before a restart) must join afresh.
			fail(kerr.UnknownMemberID.Code)
			return
		}
		g = newGroup(req.Group)
		c.groups[req.Group] = g
	}
	join := &parked{version: req.Version, respond: respond}
	if req.MemberID == "" {
		c.joinUnknownMember(g, cl, req, join, session, rebalance)
	} else {
		c.joinKnownMember(g, cl, req, join, session, rebalance)
	}
}

func (c *Coordinator) joinUnknownMember(g *group, cl Client, req *kmsg.JoinGroupRequest, join *parked, session, rebalance time.Duration) {
	if !g.supports(req.ProtocolType, req.Protocols) {
		c.reply(join.respond, joinError(req.Version, "", kerr.InconsistentGroupProtocol.Code))
		return
	}
	id := newMemberID(cl.ID)
	if req.InstanceID != nil {
		if old, ok := g.static[*req.InstanceID]; ok {
			c.replaceStaticMember(g, g.members[old], id, req, join, session, rebalance)
			return
		}
	} else if req.Version >= 4 {
		// KIP-394: hand out the id first, so that a client that times
		// out and retries does not leave a ghost member behind.
		c.addPending(g, id, session)
		c.reply(join.respond, joinError(req.Version, id, kerr.MemberIDRequired.Code))
		return
	}
	c.addMember(g, c.newMember(g, id, cl, req, session, rebalance), join)
}

func (c *Coordinator) newMember(g *group, id string, cl Client, req *kmsg.JoinGroupRequest, session, rebalance time.Duration) *member {
	m := &member{id: id, clientID: cl.ID, clientHost: cl.Host}
	m.live.keys = memberKeys(g.name, id)
	if req.InstanceID != nil {
		inst := *req.InstanceID
		m.instanceID = &inst
	}
	m.update(req, session, rebalance)
	return m
}

func (c *Coordinator) joinKnownMember(g *group, cl Client, req *kmsg.JoinGroupRequest, join *parked, session, rebalance time.Duration) {
	fail := func(code int16) { c.reply(join.respond, joinError(req.Version, req.MemberID, code)) }
	if !g.supports(req.ProtocolType, req.Protocols) {
		fail(kerr.InconsistentGroupProtocol.Code)
		return
	}
	if c.removePending(g, req.MemberID) {
		c.addMember(g, c.newMember(g, req.MemberID, cl, req, session, rebalance), join)
		return
	}
	m := g.members[req.MemberID]
	switch {
	case g.isStaticFenced(req.InstanceID, req.MemberID):
		fail(kerr.FencedInstanceID.Code)
		return
	case m == nil, req.InstanceID != nil && g.static[*req.InstanceID] == "":
		fail(kerr.UnknownMemberID.Code)
		return
	}
	c.scheduleSession(g, m)
	switch g.state {
	case statePreparingRebalance:
		m.update(req, session, rebalance)
		c.updateMemberAndRebalance(g, m, join, "member "+m.id+" rejoined")
	case stateCompletingRebalance:
		if m.matches(req.Protocols) {
			// The member missed its JoinGroup response: send it again.
			c.reply(join.respond, c.joinResult(g, m, req.Version, m.id == g.leader))
			return
		}
		m.update(req, session, rebalance)
		c.updateMemberAndRebalance(g, m, join, "member "+m.id+" rejoined with new protocols")
	case stateStable:
		if m.id != g.leader && m.matches(req.Protocols) {
			// A follower rejoining with unchanged metadata needs no
			// rebalance.
			c.reply(join.respond, c.joinResult(g, m, req.Version, false))
			return
		}
		m.update(req, session, rebalance)
		c.updateMemberAndRebalance(g, m, join, "leader or member with new protocols "+m.id+" rejoined")
	default:
		fail(kerr.UnknownMemberID.Code)
	}
}

// replaceStaticMember mirrors Kafka's updateStaticMemberAndRebalance: a
// static member that restarts gets a new member id, its old id is fenced,
// and a Stable group does not rebalance when the member's protocols leave
// the selected protocol unchanged.
func (c *Coordinator) replaceStaticMember(g *group, m *member, id string, req *kmsg.JoinGroupRequest, join *parked, session, rebalance time.Duration) {
	c.failParked(m, kerr.FencedInstanceID.Code)
	c.stopSession(m) // the old id's session op; the new id gets its own below
	old := m.id
	g.rename(m, id)
	c.log.Info("static member rejoined", "group", g.name, "instance", *m.instanceID, "old_member", old, "member", id)
	m.update(req, session, rebalance)
	c.scheduleSession(g, m)
	switch g.state {
	case stateStable:
		if g.selectProtocol() == g.protocol {
			resp := c.joinResult(g, m, req.Version, m.id == g.leader)
			// KIP-814: the leader already assigned this generation.
			resp.SkipAssignment = m.id == g.leader
			c.reply(join.respond, resp)
			// The old id is fenced now; after a restart the new one
			// must be the one the group knows.
			c.storeGroup(g)
			return
		}
		c.updateMemberAndRebalance(g, m, join, "static member "+id+" changed the selected protocol")
	case stateCompletingRebalance:
		// The member may have missed the join response of this generation.
		c.updateMemberAndRebalance(g, m, join, "static member "+id+" rejoined during CompletingRebalance")
	default:
		c.updateMemberAndRebalance(g, m, join, "static member "+id+" rejoined")
	}
}

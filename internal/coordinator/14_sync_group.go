package coordinator

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
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

// assign writes the generation with the leader's assignment (members it
// left out get an empty one, as in Kafka) to the offsets log. Only once the
// record is durable does the group become Stable and every parked SyncGroup
// get its share (Kafka's doSyncGroup → storeGroup → propagateAssignment):
// a member never works on an assignment that a crash could take back.
func (c *Coordinator) assign(g *group, as []kmsg.SyncGroupRequestGroupAssignment) {
	if g.assigning {
		return // a repeated leader SyncGroup: the first one's write decides
	}
	assignments := make(map[string][]byte, len(g.members))
	for _, a := range as {
		if g.members[a.MemberID] != nil {
			assignments[a.MemberID] = slices.Clone(a.MemberAssignment)
		}
	}
	g.assigning = true
	gen := g.generation
	// done runs on the log writer, which holds no lock; c.closed was
	// checked by syncGroup, so submit does not call it at once.
	c.store.submit(&storeOp{
		entries: []logEntry{{kind: entryGroupMetadata, key: offsetKey{group: g.name}, meta: g.record(assignments)}},
		done: func(err error) {
			c.fire(func() { c.assignStored(g, gen, assignments, err) })
		},
	})
}

// assignStored finishes assign once the record is written. Callers hold mu.
func (c *Coordinator) assignStored(g *group, gen int32, assignments map[string][]byte, err error) {
	if !c.current(g) || g.generation != gen || g.state != stateCompletingRebalance || !g.assigning {
		// The group moved on while the record was written; Kafka's
		// callback checks the same before propagating.
		return
	}
	g.assigning = false
	if err != nil {
		// Kafka's resetAndPropagateAssignmentError with the
		// NOT_COORDINATOR a storage error maps to, then a new rebalance.
		c.log.Error("storing group assignment failed", "group", g.name, "generation", gen, "err", err)
		for _, m := range g.members {
			if m.sync != nil {
				c.reply(m.sync.respond, syncError(m.sync.version, kerr.NotCoordinator.Code))
				m.sync = nil
			}
		}
		c.maybePrepareRebalance(g, "storing the assignment failed")
		return
	}
	for id, m := range g.members {
		m.assignment = assignments[id]
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

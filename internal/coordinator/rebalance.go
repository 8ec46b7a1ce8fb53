package coordinator

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/kerr"
)

// The classic rebalance protocol, after Kafka's GroupCoordinator:
//
//	Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
//	CompletingRebalance --leader SyncGroup--> Stable
//
// Any membership change in CompletingRebalance or Stable goes back to
// PreparingRebalance; a join phase that ends with no members goes to Empty.
// Every function here is called with Coordinator.mu held.

// addMember adds a new member whose JoinGroup is parked as join and starts
// or joins a rebalance.
func (c *Coordinator) addMember(g *group, m *member, join *parked) {
	m.join = join
	g.add(m)
	c.maybePrepareRebalance(g, "member "+m.id+" joined")
}

// updateMemberAndRebalance parks a known member's rejoin.
func (c *Coordinator) updateMemberAndRebalance(g *group, m *member, join *parked, reason string) {
	c.parkJoin(m, join)
	c.maybePrepareRebalance(g, reason)
}

// parkJoin parks join, answering a JoinGroup the member left parked before
// (a retry on another connection) so that every request is answered once.
func (c *Coordinator) parkJoin(m *member, join *parked) {
	if m.join != nil {
		c.reply(m.join.respond, joinError(m.join.version, m.id, kerr.RebalanceInProgress.Code))
	}
	m.join = join
}

func (c *Coordinator) maybePrepareRebalance(g *group, reason string) {
	switch g.state {
	case stateEmpty, stateStable, stateCompletingRebalance:
		c.prepareRebalance(g, reason)
	}
	c.tryCompleteJoin(g)
}

func (c *Coordinator) prepareRebalance(g *group, reason string) {
	if g.state == stateCompletingRebalance {
		// Members waiting for the old generation's assignment learn
		// that it will never come.
		for _, m := range g.members {
			m.assignment = nil
			if m.sync != nil {
				c.reply(m.sync.respond, syncError(m.sync.version, kerr.RebalanceInProgress.Code))
				m.sync = nil
			}
		}
	}
	c.timers.cancel(g.joinTimer)
	g.joinSeq++
	seq := g.joinSeq
	timeout := g.rebalanceTimeout()
	if g.state == stateEmpty && c.cfg.InitialRebalanceDelay > 0 {
		// group.initial.rebalance.delay.ms: let the first members of a
		// new group arrive together instead of one rebalance each.
		delay := min(c.cfg.InitialRebalanceDelay, timeout)
		g.initialDelay, g.newMemberAdded, g.delayRemaining = true, false, timeout-delay
		g.joinTimer = c.after(delay, func() { c.initialDelayElapsed(g, seq) })
	} else {
		g.initialDelay = false
		g.joinTimer = c.after(timeout, func() { c.joinTimeout(g, seq) })
	}
	c.log.Info("preparing rebalance", "group", g.name, "generation", g.generation, "reason", reason)
	g.state = statePreparingRebalance
}

func (c *Coordinator) current(g *group) bool { return c.groups[g.name] == g }

func (c *Coordinator) initialDelayElapsed(g *group, seq uint64) {
	if !c.current(g) || g.joinSeq != seq {
		return
	}
	if g.newMemberAdded && g.delayRemaining > 0 {
		delay := min(c.cfg.InitialRebalanceDelay, g.delayRemaining)
		g.newMemberAdded = false
		g.delayRemaining -= delay
		g.joinTimer = c.after(delay, func() { c.initialDelayElapsed(g, seq) })
		return
	}
	g.initialDelay = false
	c.completeJoin(g)
}

func (c *Coordinator) joinTimeout(g *group, seq uint64) {
	if !c.current(g) || g.joinSeq != seq {
		return
	}
	c.completeJoin(g)
}

func (c *Coordinator) tryCompleteJoin(g *group) {
	if g.state == statePreparingRebalance && !g.initialDelay && g.allJoined() {
		c.completeJoin(g)
	}
}

// completeJoin ends the join phase: members that did not rejoin are removed,
// the next generation starts and every parked JoinGroup is answered, the
// leader's with the member list.
func (c *Coordinator) completeJoin(g *group) {
	if g.state != statePreparingRebalance {
		return
	}
	c.timers.cancel(g.joinTimer)
	g.joinTimer = nil
	g.joinSeq++
	g.initialDelay = false
	for _, id := range append([]string(nil), g.order...) {
		if m := g.members[id]; m.join == nil {
			c.log.Info("removing member that did not rejoin", "group", g.name, "member", id)
			c.stopSession(m)
			c.failParked(m, kerr.UnknownMemberID.Code)
			g.remove(m)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.state = stateEmpty
		c.log.Info("group is empty", "group", g.name, "generation", g.generation)
		return
	}
	g.protocol = g.selectProtocol()
	g.state = stateCompletingRebalance
	c.log.Info("join phase complete", "group", g.name, "generation", g.generation,
		"protocol", g.protocol, "leader", g.leader, "members", len(g.members))
	for _, id := range g.order {
		m := g.members[id]
		c.reply(m.join.respond, c.joinResult(g, m, m.join.version, m.id == g.leader))
		m.join = nil
		c.scheduleSession(g, m)
	}
}

// joinResult is a successful JoinGroup response for m.
func (c *Coordinator) joinResult(g *group, m *member, version int16, withMembers bool) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.Generation = g.generation
	pt, p := g.protocolType, g.protocol
	resp.ProtocolType = &pt
	resp.Protocol = &p
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if withMembers {
		resp.Members = g.joinMembers()
	}
	return resp
}

func joinError(version int16, memberID string, code int16) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = version
	resp.ErrorCode = code
	resp.MemberID = memberID
	return resp
}

func syncError(version int16, code int16) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = version
	resp.ErrorCode = code
	return resp
}

// failParked answers m's parked JoinGroup and SyncGroup with code.
func (c *Coordinator) failParked(m *member, code int16) {
	if m.join != nil {
		c.reply(m.join.respond, joinError(m.join.version, m.id, code))
		m.join = nil
	}
	if m.sync != nil {
		c.reply(m.sync.respond, syncError(m.sync.version, code))
		m.sync = nil
	}
}

// removeMember takes m out of g (leave, session expiry) and rebalances the
// rest, as Kafka's removeMemberAndUpdateGroup.
func (c *Coordinator) removeMember(g *group, m *member, reason string) {
	c.stopSession(m)
	c.failParked(m, kerr.UnknownMemberID.Code)
	g.remove(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.prepareRebalance(g, reason)
		c.tryCompleteJoin(g)
	case statePreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

// scheduleSession pushes m's session deadline out by its session timeout:
// Kafka's completeAndScheduleNextHeartbeatExpiration. A heartbeat only
// moves the deadline; the member's one timer, when it fires early, re-arms
// itself for the rest, so the hot path touches no heap.
func (c *Coordinator) scheduleSession(g *group, m *member) {
	m.deadline = time.Now().Add(m.sessionTimeout)
	if m.session == nil {
		c.armSession(g, m, m.sessionTimeout)
	}
}

func (c *Coordinator) armSession(g *group, m *member, d time.Duration) {
	var t *timer
	t = c.after(d, func() { c.sessionTimerFired(g, m, t) })
	m.session = t
}

func (c *Coordinator) stopSession(m *member) {
	c.timers.cancel(m.session)
	m.session = nil
}

func (c *Coordinator) sessionTimerFired(g *group, m *member, t *timer) {
	if !c.current(g) || g.members[m.id] != m || m.session != t {
		return
	}
	m.session = nil
	if m.join != nil || m.sync != nil {
		// A member parked in JoinGroup or SyncGroup cannot heartbeat;
		// Kafka counts the parked request as its heartbeat.
		c.scheduleSession(g, m)
		return
	}
	if left := time.Until(m.deadline); left > 0 {
		c.armSession(g, m, left)
		return
	}
	c.log.Info("member session expired", "group", g.name, "member", m.id, "session_timeout", m.sessionTimeout)
	c.removeMember(g, m, "member "+m.id+" session expired")
}

// addPending records a KIP-394 member id handed out with
// MEMBER_ID_REQUIRED; it expires if its JoinGroup does not come back within
// the session timeout.
func (c *Coordinator) addPending(g *group, id string, session time.Duration) {
	var t *timer
	t = c.after(session, func() {
		if !c.current(g) || g.pending[id] != t {
			return
		}
		delete(g.pending, id)
		c.tryCompleteJoin(g)
	})
	g.pending[id] = t
}

func (c *Coordinator) removePending(g *group, id string) bool {
	t, ok := g.pending[id]
	if ok {
		c.timers.cancel(t)
		delete(g.pending, id)
	}
	return ok
}

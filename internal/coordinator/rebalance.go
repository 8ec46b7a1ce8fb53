package coordinator

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// The classic rebalance protocol, after Kafka's GroupCoordinator:
//
//	Empty --join--> PreparingRebalance --all joined / rebalance timeout-->
//	CompletingRebalance --leader SyncGroup--> Stable
//
// Any membership change in CompletingRebalance or Stable goes back to
// PreparingRebalance; a join phase that ends with no members goes to Empty.
// The join phase is a delayedJoin parked in the purgatory (delayed.go):
// changes that may let it end call checkJoin, Kafka's
// joinPurgatory.checkAndComplete. Every function here is called with
// Coordinator.mu held.

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
	c.checkJoin(g)
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
	// A join op still parked (there should be none outside
	// PreparingRebalance) goes stale and is flushed.
	g.joinSeq++
	c.notify(g.keys)
	timeout := g.rebalanceTimeout()
	wait := timeout
	g.initialDelay = false
	g.assigning = false // a pending assignment write is for a generation now over
	if g.state == stateEmpty && !g.restored && c.cfg.InitialRebalanceDelay > 0 {
		// group.initial.rebalance.delay.ms: let the first members of a
		// new group arrive together instead of one rebalance each. A
		// group restored from the log is not new: its members are
		// coming back, not arriving.
		wait = min(c.cfg.InitialRebalanceDelay, timeout)
		g.initialDelay, g.newMemberAdded, g.delayRemaining = true, false, timeout-wait
	}
	c.log.Info("preparing rebalance", "group", g.name, "generation", g.generation, "reason", reason)
	g.state = statePreparingRebalance
	if wait <= 0 {
		// Nothing to wait for (no member has a rebalance timeout, as
		// when the last one left): end the join phase now, as Kafka's
		// tryCompleteElseWatch ends an op that is complete before it is
		// parked, instead of parking an op that is due already and that
		// the timer goroutine could expire after this request is
		// answered.
		c.completeJoin(g)
		return
	}
	c.watchJoin(g, g.initialDelay, time.Now().Add(wait))
}

func (c *Coordinator) current(g *group) bool { return c.groups[g.name] == g }

// initialDelayElapsed ends one step of the initial delay, as Kafka's
// InitialDelayedJoin.onComplete: while members keep arriving the delay is
// extended by another step, bounded by the rebalance timeout; then the join
// phase completes, waiting for no one (every member of a group rebalancing
// from Empty is new and parked).
func (c *Coordinator) initialDelayElapsed(g *group) {
	if g.newMemberAdded && g.delayRemaining > 0 {
		delay := min(c.cfg.InitialRebalanceDelay, g.delayRemaining)
		g.newMemberAdded = false
		g.delayRemaining -= delay
		c.watchJoin(g, true, time.Now().Add(delay))
		return
	}
	g.initialDelay = false
	c.completeJoin(g)
}

// checkJoin asks the purgatory to re-check g's join op once mu is released.
func (c *Coordinator) checkJoin(g *group) {
	if g.state == statePreparingRebalance {
		c.notify(g.keys)
	}
}

// completeJoin ends the join phase: members that did not rejoin are removed,
// the next generation starts and every parked JoinGroup is answered, the
// leader's with the member list.
func (c *Coordinator) completeJoin(g *group) {
	if g.state != statePreparingRebalance {
		return
	}
	g.joinSeq++ // the join op that called us, or a stale one, is done
	c.notify(g.keys)
	g.initialDelay = false
	g.restored = false
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
		// Kafka stores an Empty group's generation (onCompleteJoin's
		// storeGroup with no assignment) so that it comes back Empty.
		c.storeGroup(g)
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
		c.checkJoin(g)
	case statePreparingRebalance:
		c.checkJoin(g)
	}
}

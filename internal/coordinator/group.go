package coordinator

import (
	"bytes"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/purgatory"
)

// groupState is a classic group's state, as Kafka's GroupState names them.
type groupState int8

const (
	stateEmpty groupState = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s groupState) String() string {
	switch s {
	case stateEmpty:
		return "Empty"
	case statePreparingRebalance:
		return "PreparingRebalance"
	case stateCompletingRebalance:
		return "CompletingRebalance"
	case stateStable:
		return "Stable"
	default:
		return "Dead"
	}
}

type protocol struct {
	name     string
	metadata []byte
}

// parked is a JoinGroup or SyncGroup waiting for the rebalance to progress.
type parked struct {
	version int16
	respond func(kmsg.Response)
}

// member is one consumer of a group. All fields are guarded by
// Coordinator.mu, except live.seq (see liveness).
type member struct {
	id               string
	instanceID       *string // group.instance.id of a static member
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocolType     string
	protocols        []protocol
	assignment       []byte

	join *parked // JoinGroup parked until the join phase completes
	sync *parked // SyncGroup parked until the leader assigns

	// live identifies the member's session op (a delayedHeartbeat) in
	// the coordinator's purgatory.
	live liveness
}

// metadataFor returns the member's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether a rejoin carries exactly the member's current
// protocols: then the rejoin needs no rebalance (Kafka's
// MemberMetadata.matches).
func (m *member) matches(ps []kmsg.JoinGroupRequestProtocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i, p := range ps {
		if p.Name != m.protocols[i].name || !bytes.Equal(p.Metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

func (m *member) update(req *kmsg.JoinGroupRequest, session, rebalance time.Duration) {
	m.sessionTimeout, m.rebalanceTimeout = session, rebalance
	m.protocolType = req.ProtocolType
	m.protocols = m.protocols[:0]
	for _, p := range req.Protocols {
		m.protocols = append(m.protocols, protocol{p.Name, slices.Clone(p.Metadata)})
	}
}

// group is one classic consumer group. All fields are guarded by
// Coordinator.mu.
type group struct {
	name         string
	state        groupState
	protocolType string
	protocol     string
	generation   int32
	leader       string

	members map[string]*member
	order   []string          // member ids in join order: the leader is the oldest
	static  map[string]string // group.instance.id → member id
	// pending holds KIP-394 member ids handed out with MEMBER_ID_REQUIRED
	// whose second JoinGroup has not arrived yet; each expires after the
	// session timeout. A rebalance waits for them, as Kafka's does.
	pending map[string]*liveness

	// keys is the group key its delayedJoin ops are parked under.
	keys []purgatory.Key
	// joinSeq names the current join phase: a delayedJoin parked with an
	// older value is stale. Every start and end of a join phase bumps it.
	joinSeq uint64
	// The initial delay of a group rebalancing from Empty (Kafka's
	// InitialDelayedJoin): each step that saw a new member arrive is
	// followed by another, until the rebalance timeout is used up.
	initialDelay   bool
	newMemberAdded bool
	delayRemaining time.Duration

	// restored is set for a group loaded from the offsets log until its
	// first join phase here ends: it is not new, so its first rebalance
	// does not wait InitialRebalanceDelay even if it was loaded Empty.
	restored bool
	// assigning is set while the leader's assignment of the current
	// generation is being written (storeAssignment); a repeated leader
	// SyncGroup meanwhile only waits for it.
	assigning bool
}

func newGroup(name string) *group {
	return &group{
		name:    name,
		members: make(map[string]*member),
		static:  make(map[string]string),
		pending: make(map[string]*liveness),
		keys:    groupKeys(name),
	}
}

func (g *group) isStaticFenced(instanceID *string, memberID string) bool {
	if instanceID == nil {
		return false
	}
	id, ok := g.static[*instanceID]
	return ok && id != memberID
}

// supports mirrors Kafka's GroupMetadata.supportsProtocols: an empty group
// takes any non-empty protocol set; otherwise the type must match and one of
// the member's protocols must be supported by every current member.
func (g *group) supports(protocolType string, ps []kmsg.JoinGroupRequestProtocol) bool {
	if protocolType == "" || len(ps) == 0 {
		return false
	}
	if len(g.members) == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range ps {
		if g.supportCount(p.Name) == len(g.members) {
			return true
		}
	}
	return false
}

func (g *group) supportCount(name string) int {
	n := 0
	for _, m := range g.members {
		for _, mp := range m.protocols {
			if mp.name == name {
				n++
				break
			}
		}
	}
	return n
}

// selectProtocol mirrors Kafka's GroupMetadata.selectProtocol: among the
// protocols every member supports, each member votes for the first one in its
// own preference order, and the most votes win. Ties go to the candidate
// the oldest member prefers, so the choice is deterministic.
func (g *group) selectProtocol() string {
	if len(g.order) == 0 {
		return ""
	}
	var candidates []string
	for _, p := range g.members[g.order[0]].protocols {
		if g.supportCount(p.name) == len(g.members) {
			candidates = append(candidates, p.name)
		}
	}
	votes := make(map[string]int, len(candidates))
	for _, id := range g.order {
		for _, p := range g.members[id].protocols {
			if slices.Contains(candidates, p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best := ""
	for _, c := range candidates {
		if best == "" || votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func (g *group) add(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.members[m.id] = m
	g.order = append(g.order, m.id)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	if g.leader == "" {
		g.leader = m.id
	}
	if g.initialDelay {
		g.newMemberAdded = true
	}
}

func (g *group) remove(m *member) {
	delete(g.members, m.id)
	g.order = slices.DeleteFunc(g.order, func(id string) bool { return id == m.id })
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
}

// rename gives a static member a new member id (Kafka's
// replaceStaticMember), keeping its place in the join order.
func (g *group) rename(m *member, newID string) {
	delete(g.members, m.id)
	for i, id := range g.order {
		if id == m.id {
			g.order[i] = newID
		}
	}
	if g.leader == m.id {
		g.leader = newID
	}
	m.id = newID
	// A new slice, not an update in place: ops parked under the old id
	// keep the keys they were watched with.
	m.live.keys = memberKeys(g.name, newID)
	g.members[newID] = m
	if m.instanceID != nil {
		g.static[*m.instanceID] = newID
	}
}

// joinReady is delayedJoin's completion condition (Kafka's
// DelayedJoin.tryComplete): the group is in its join phase, past any
// initial delay, and every member has rejoined.
func (g *group) joinReady() bool {
	return g.state == statePreparingRebalance && !g.initialDelay && g.allJoined()
}

func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.join == nil {
			return false
		}
	}
	return true
}

// rebalanceTimeout is the longest rebalance timeout of any member: how long
// the join phase waits for members to rejoin.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// joinMembers is the member list the leader receives to compute the
// assignment with.
func (g *group) joinMembers() []kmsg.JoinGroupResponseMember {
	out := make([]kmsg.JoinGroupResponseMember, 0, len(g.order))
	for _, id := range g.order {
		m := g.members[id]
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		jm.InstanceID = m.instanceID
		jm.ProtocolMetadata = m.metadataFor(g.protocol)
		out = append(out, jm)
	}
	return out
}

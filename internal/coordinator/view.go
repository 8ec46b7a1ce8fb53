package coordinator

import (
	"cmp"
	"slices"
	"time"
)

// GroupInfo is a snapshot of one group, for the CLI and for tests.
type GroupInfo struct {
	Name         string
	State        string // Empty, PreparingRebalance, CompletingRebalance, Stable or Dead
	ProtocolType string // e.g. "consumer"; empty for groups that only hold offsets
	Protocol     string // the selected assignor; empty unless Stable
	Generation   int32
	Leader       string
	Members      []MemberInfo // in join order
}

// MemberInfo describes one member. Metadata and Assignment are set only
// while the group is Stable, as in DescribeGroups.
type MemberInfo struct {
	ID         string
	InstanceID string // group.instance.id; empty for dynamic members
	ClientID   string
	ClientHost string
	Metadata   []byte
	Assignment []byte
}

// CommittedOffset is one committed offset of a group.
type CommittedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 if the committer did not send one
	Metadata    string
	CommitTime  time.Time
}

// Groups returns every group the coordinator knows, sorted by name,
// including groups that only hold committed offsets.
func (c *Coordinator) Groups() []GroupInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groupInfos()
}

// Group returns one group; false if the coordinator does not know it.
func (c *Coordinator) Group(name string) (GroupInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.groupInfo(name)
}

// OffsetsForGroup returns the committed offsets of a group, sorted by topic
// and partition.
func (c *Coordinator) OffsetsForGroup(name string) []CommittedOffset {
	all := c.store.groupOffsets(name)
	out := make([]CommittedOffset, 0, len(all))
	for tp, v := range all {
		co := CommittedOffset{Topic: tp.topic, Partition: tp.partition, Offset: v.offset,
			LeaderEpoch: v.leaderEpoch, CommitTime: time.UnixMilli(v.commitTime)}
		if v.metadata != nil {
			co.Metadata = *v.metadata
		}
		out = append(out, co)
	}
	slices.SortFunc(out, func(a, b CommittedOffset) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out
}

// groupInfos lists groups with members and groups with only offsets.
// Callers hold mu.
func (c *Coordinator) groupInfos() []GroupInfo {
	names := c.store.groupNames()
	for name := range c.groups {
		names = append(names, name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]GroupInfo, 0, len(names))
	for _, name := range names {
		if info, ok := c.groupInfo(name); ok {
			out = append(out, info)
		}
	}
	return out
}

// groupInfo describes a group, mirroring Kafka's GroupMetadata.summary.
// Callers hold mu.
func (c *Coordinator) groupInfo(name string) (GroupInfo, bool) {
	g := c.groups[name]
	if g == nil {
		if c.store.hasGroup(name) {
			return GroupInfo{Name: name, State: stateEmpty.String()}, true
		}
		return GroupInfo{Name: name}, false
	}
	info := GroupInfo{
		Name:         name,
		State:        g.state.String(),
		ProtocolType: g.protocolType,
		Generation:   g.generation,
		Leader:       g.leader,
	}
	stable := g.state == stateStable
	if stable {
		info.Protocol = g.protocol
	}
	for _, id := range g.order {
		m := g.members[id]
		mi := MemberInfo{ID: m.id, ClientID: m.clientID, ClientHost: m.clientHost}
		if m.instanceID != nil {
			mi.InstanceID = *m.instanceID
		}
		if stable {
			mi.Metadata, mi.Assignment = m.metadataFor(g.protocol), m.assignment
		}
		info.Members = append(info.Members, mi)
	}
	return info, true
}

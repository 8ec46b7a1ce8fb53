package consumer

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// memberSub is one member's subscription as the group leader sees it.
type memberSub struct {
	id         string
	instanceID *string
	topics     []string
	owned      map[string][]int32 // v1+: what the member owns now (cooperative)
	generation int32              // v2+: the generation it owned them in, -1 unknown
}

// plan is an assignment: member id → topic → partitions.
type plan map[string]map[string][]int32

// assignor is a partition assignment strategy, run by the group leader.
// Names match Kafka's so a group can mix skiff, Java and franz-go members.
type assignor interface {
	name() string
	cooperative() bool
	assign(members []memberSub, partitions map[string]int32) plan
}

func newAssignor(name string) assignor {
	switch name {
	case AssignorRange:
		return rangeAssignor{}
	case AssignorRoundRobin:
		return roundRobinAssignor{}
	case AssignorCooperativeSticky:
		return stickyAssignor{}
	}
	return nil
}

// memberOrder is Java's MemberInfo order: by group.instance.id when both
// members are static, else by member id.
func memberOrder(a, b *memberSub) int {
	if a.instanceID != nil && b.instanceID != nil {
		if c := cmp.Compare(*a.instanceID, *b.instanceID); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.id, b.id)
}

func newPlan(members []memberSub) plan {
	p := make(plan, len(members))
	for _, m := range members {
		p[m.id] = map[string][]int32{}
	}
	return p
}

func subscribed(m *memberSub, topic string) bool { return slices.Contains(m.topics, topic) }

// rangeAssignor is Kafka's RangeAssignor: per topic, the sorted subscribers
// get consecutive ranges, the first n%m one partition more.
type rangeAssignor struct{}

func (rangeAssignor) name() string      { return AssignorRange }
func (rangeAssignor) cooperative() bool { return false }

func (rangeAssignor) assign(members []memberSub, partitions map[string]int32) plan {
	p := newPlan(members)
	for _, topic := range sortedTopics(partitions) {
		var subs []*memberSub
		for i := range members {
			if subscribed(&members[i], topic) {
				subs = append(subs, &members[i])
			}
		}
		if len(subs) == 0 {
			continue
		}
		slices.SortFunc(subs, memberOrder)
		n, m := int(partitions[topic]), len(subs)
		per, extra := n/m, n%m
		for i, s := range subs {
			start := i*per + min(i, extra)
			length := per
			if i < extra {
				length++
			}
			for part := start; part < start+length; part++ {
				p[s.id][topic] = append(p[s.id][topic], int32(part))
			}
		}
	}
	return p
}

// roundRobinAssignor is Kafka's RoundRobinAssignor: every partition of every
// topic, sorted, dealt to the sorted members in turn, skipping members not
// subscribed to the topic.
type roundRobinAssignor struct{}

func (roundRobinAssignor) name() string      { return AssignorRoundRobin }
func (roundRobinAssignor) cooperative() bool { return false }

func (roundRobinAssignor) assign(members []memberSub, partitions map[string]int32) plan {
	p := newPlan(members)
	if len(members) == 0 {
		return p
	}
	sorted := make([]*memberSub, len(members))
	for i := range members {
		sorted[i] = &members[i]
	}
	slices.SortFunc(sorted, memberOrder)
	next := 0
	for _, topic := range sortedTopics(partitions) {
		for part := int32(0); part < partitions[topic]; part++ {
			for tries := 0; tries < len(sorted); tries++ {
				m := sorted[next%len(sorted)]
				next++
				if subscribed(m, topic) {
					p[m.id][topic] = append(p[m.id][topic], part)
					break
				}
			}
		}
	}
	return p
}

// stickyAssignor is cooperative-sticky (KIP-429): a balanced assignment
// that keeps every member's valid owned partitions where the balance allows,
// then withholds any partition that moves from one member to another for
// this round. The owner sees it missing, revokes it and rejoins; the next
// round hands it over. This is the two-phase handover Java's
// ConsumerCoordinator enforces for the COOPERATIVE protocol.
//
// The balance step is simpler than Java's AbstractStickyAssignor: members
// keep owned partitions up to the fair share (ceil, then floor once the
// members allowed a ceil are used up), and the rest go one by one to the
// least loaded subscriber. With identical subscriptions the result is as
// balanced as Java's; with differing ones every partition still lands on
// exactly one subscriber.
type stickyAssignor struct{}

func (stickyAssignor) name() string      { return AssignorCooperativeSticky }
func (stickyAssignor) cooperative() bool { return true }

func (stickyAssignor) assign(members []memberSub, partitions map[string]int32) plan {
	p := newPlan(members)
	if len(members) == 0 {
		return p
	}
	sorted := make([]*memberSub, len(members))
	for i := range members {
		sorted[i] = &members[i]
	}
	slices.SortFunc(sorted, memberOrder)

	// Claims: the owner from the highest generation wins a contested
	// partition (a member that lost it may still list it).
	type claim struct {
		member *memberSub
		gen    int32
	}
	owner := map[TopicPartition]claim{}
	for _, m := range sorted {
		for topic, parts := range m.owned {
			n, ok := partitions[topic]
			if !ok || !subscribed(m, topic) {
				continue
			}
			for _, part := range parts {
				if part < 0 || part >= n {
					continue
				}
				tp := TopicPartition{topic, part}
				if c, ok := owner[tp]; !ok || m.generation > c.gen {
					owner[tp] = claim{m, m.generation}
				}
			}
		}
	}
	total := 0
	for _, n := range partitions {
		total += int(n)
	}
	floor, ceilSlots := total/len(sorted), total%len(sorted)
	kept := map[string][]TopicPartition{}
	for tp, c := range owner {
		kept[c.member.id] = append(kept[c.member.id], tp)
	}
	var unassigned []TopicPartition
	load := map[string]int{}
	for _, m := range sorted {
		ks := kept[m.id]
		slices.SortFunc(ks, compareTP)
		limit := floor
		if ceilSlots > 0 && len(ks) > floor {
			limit = floor + 1
			ceilSlots--
		}
		if len(ks) > limit {
			unassigned = append(unassigned, ks[limit:]...)
			ks = ks[:limit]
		}
		for _, tp := range ks {
			p[m.id][tp.Topic] = append(p[m.id][tp.Topic], tp.Partition)
		}
		load[m.id] = len(ks)
	}
	for _, topic := range sortedTopics(partitions) {
		for part := int32(0); part < partitions[topic]; part++ {
			if _, ok := owner[TopicPartition{topic, part}]; !ok {
				unassigned = append(unassigned, TopicPartition{topic, part})
			}
		}
	}
	slices.SortFunc(unassigned, compareTP)
	for _, tp := range unassigned {
		var best *memberSub
		for _, m := range sorted {
			if subscribed(m, tp.Topic) && (best == nil || load[m.id] < load[best.id]) {
				best = m
			}
		}
		if best == nil {
			continue
		}
		p[best.id][tp.Topic] = append(p[best.id][tp.Topic], tp.Partition)
		load[best.id]++
	}
	// Withhold partitions changing hands until their owner revoked them.
	for id, topics := range p {
		for topic, parts := range topics {
			keep := parts[:0]
			for _, part := range parts {
				if c, ok := owner[TopicPartition{topic, part}]; ok && c.member.id != id {
					continue
				}
				keep = append(keep, part)
			}
			topics[topic] = keep
		}
	}
	for _, topics := range p {
		for _, parts := range topics {
			slices.Sort(parts)
		}
	}
	return p
}

func sortedTopics(partitions map[string]int32) []string {
	out := make([]string, 0, len(partitions))
	for t := range partitions {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// encodeSubscription is ConsumerProtocolSubscription v3 (KIP-341, KIP-429,
// KIP-792, KIP-881): topics, no user data, owned partitions, generation,
// rack. Java and franz-go members read any version.
func encodeSubscription(topics []string, owned map[string][]int32, generation int32, rack string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Version = 3
	m.Topics = slices.Sorted(slices.Values(topics))
	for _, t := range sortedTopics(countsOf(owned)) {
		op := kmsg.NewConsumerMemberMetadataOwnedPartition()
		op.Topic = t
		op.Partitions = slices.Sorted(slices.Values(owned[t]))
		m.OwnedPartitions = append(m.OwnedPartitions, op)
	}
	m.Generation = generation
	if rack != "" {
		m.Rack = &rack
	}
	return m.AppendTo(nil)
}

func countsOf(owned map[string][]int32) map[string]int32 {
	out := make(map[string]int32, len(owned))
	for t, ps := range owned {
		out[t] = int32(len(ps))
	}
	return out
}

// decodeSubscription reads any ConsumerProtocolSubscription version.
func decodeSubscription(id string, instanceID *string, b []byte) (memberSub, error) {
	var m kmsg.ConsumerMemberMetadata
	if err := m.ReadFrom(b); err != nil {
		return memberSub{}, err
	}
	s := memberSub{id: id, instanceID: instanceID, topics: m.Topics, owned: map[string][]int32{}, generation: -1}
	for _, op := range m.OwnedPartitions {
		s.owned[op.Topic] = append(s.owned[op.Topic], op.Partitions...)
	}
	if m.Version >= 2 {
		s.generation = m.Generation
	}
	return s, nil
}

// encodeAssignment is ConsumerProtocolAssignment v3 (same layout as v0).
func encodeAssignment(topics map[string][]int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 3
	for _, t := range sortedTopics(countsOf(topics)) {
		if len(topics[t]) == 0 {
			continue
		}
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic = t
		at.Partitions = topics[t]
		a.Topics = append(a.Topics, at)
	}
	return a.AppendTo(nil)
}

func decodeAssignment(b []byte) (map[TopicPartition]bool, error) {
	out := map[TopicPartition]bool{}
	if len(b) == 0 {
		return out, nil // an empty assignment (more members than partitions)
	}
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		return nil, err
	}
	for _, t := range a.Topics {
		for _, p := range t.Partitions {
			out[TopicPartition{t.Topic, p}] = true
		}
	}
	return out, nil
}

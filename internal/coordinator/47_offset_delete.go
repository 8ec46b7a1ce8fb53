package coordinator

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// offsetDelete mirrors Kafka's OffsetDelete for classic groups (KIP-496):
// an empty group loses the named partitions' committed offsets; a group
// with members may only lose offsets of topics none of its members is
// subscribed to (GROUP_SUBSCRIBED_TO_TOPIC for the others), and only when
// it is a consumer group whose subscriptions can be read (NON_EMPTY_GROUP
// otherwise). Tombstones go to the offsets log and the response waits
// until they are durable. Callers hold mu.
func (c *Coordinator) offsetDelete(req *kmsg.OffsetDeleteRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	g := c.groups[req.Group]
	switch {
	case c.closed:
		resp.ErrorCode = kerr.NotCoordinator.Code
	case req.Group == "" || len(req.Group) > maxNameLen:
		resp.ErrorCode = kerr.InvalidGroupID.Code
	case g == nil && !c.store.hasGroup(req.Group), g != nil && g.state == stateDead:
		resp.ErrorCode = kerr.GroupIDNotFound.Code
	}
	if resp.ErrorCode != 0 {
		c.reply(respond, resp)
		return
	}
	var subscribed map[string]bool
	if g != nil && g.state != stateEmpty {
		var ok bool
		if subscribed, ok = g.subscribedTopics(); !ok {
			resp.ErrorCode = kerr.NonEmptyGroup.Code
			c.reply(respond, resp)
			return
		}
	}
	var entries []logEntry
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if subscribed[rt.Topic] {
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if _, ok := c.store.fetch(req.Group, topicPartition{rt.Topic, rp.Partition}); ok {
				entries = append(entries, logEntry{kind: entryPartitionDelete, key: offsetKey{req.Group, rt.Topic, rp.Partition}})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(entries) == 0 {
		c.reply(respond, resp)
		return
	}
	c.log.Info("deleting committed offsets", "group", req.Group, "partitions", len(entries))
	c.store.submit(&storeOp{
		entries: entries,
		done: func(err error) {
			if err != nil {
				// Nothing was applied: the offsets are still there.
				resp.ErrorCode = kerr.NotCoordinator.Code
				resp.Topics = nil
			}
			respond(resp)
		},
	})
}

// subscribedTopics is the union of the members' subscriptions, read from
// their ConsumerProtocol metadata for the group's protocol (Kafka's
// GroupMetadata.subscribedTopics). It reports false when the group is not
// a "consumer" group or some metadata does not parse: then nobody can say
// which topics are safe, and Kafka refuses the deletion.
func (g *group) subscribedTopics() (map[string]bool, bool) {
	if g.protocolType != "consumer" {
		return nil, false
	}
	topics := map[string]bool{}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err != nil {
			return nil, false
		}
		for _, t := range md.Topics {
			topics[t] = true
		}
	}
	return topics, true
}

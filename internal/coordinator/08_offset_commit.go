package coordinator

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// maxNameLen is the longest group or topic name the offsets log encodes
// (uint16 lengths); Kafka's own limits are far lower.
const maxNameLen = 1<<16 - 1

// offsetCommit mirrors Kafka's handleCommitOffsets. Accepted offsets become
// one frame of the offsets log; the response is sent by the log writer once
// that frame is fsynced, so a committed offset survives a crash. Callers
// hold mu.
func (c *Coordinator) offsetCommit(req *kmsg.OffsetCommitRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	groupCode := c.commitGroupCode(req)
	now := time.Now().UnixMilli()
	var (
		entries []logEntry
		waiting []*int16 // error codes to fill when the write finishes
	)
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i := range req.Topics {
		t := &req.Topics[i]
		rt := &resp.Topics[i]
		rt.Default()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		topic, topicCode := t.Topic, groupCode
		if topicCode == 0 {
			topic, topicCode = c.topicName(req.Version >= 10, t.Topic, t.TopicID)
		}
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for j := range t.Partitions {
			p := &t.Partitions[j]
			rp := &rt.Partitions[j]
			rp.Default()
			rp.Partition = p.Partition
			switch {
			case topicCode != 0:
				rp.ErrorCode = topicCode
			case p.Metadata != nil && len(*p.Metadata) > c.cfg.MaxMetadataSize:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			default:
				entries = append(entries, c.commitEntry(req, topic, p, now))
				waiting = append(waiting, &rp.ErrorCode)
			}
		}
	}
	if len(entries) == 0 {
		c.reply(respond, resp)
		return
	}
	c.store.submit(&storeOp{entries: entries, done: func(err error) {
		if err != nil {
			// Kafka answers a failed offsets-topic append with
			// NOT_COORDINATOR for storage errors: the client looks the
			// coordinator up again and retries.
			for _, code := range waiting {
				*code = kerr.NotCoordinator.Code
			}
		}
		respond(resp)
	}})
}

func (c *Coordinator) commitEntry(req *kmsg.OffsetCommitRequest, topic string, p *kmsg.OffsetCommitRequestTopicPartition, now int64) logEntry {
	v := offsetValue{offset: p.Offset, leaderEpoch: p.LeaderEpoch, commitTime: now, expireTime: -1}
	if req.Version == 1 && p.Timestamp >= 0 {
		// v1 lets the client choose the commit timestamp.
		v.commitTime = p.Timestamp
	}
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis >= 0 {
		v.expireTime = v.commitTime + req.RetentionTimeMillis
	}
	if p.Metadata != nil {
		md := *p.Metadata
		v.metadata = &md
	}
	return logEntry{kind: entryCommit, key: offsetKey{req.Group, topic, p.Partition}, value: v}
}

// commitGroupCode checks the committer against the group's membership, in
// the order Kafka's doCommitOffsets does. Simple consumers (no group
// management) commit with generation -1 to a group without members.
func (c *Coordinator) commitGroupCode(req *kmsg.OffsetCommitRequest) int16 {
	if c.closed {
		return kerr.NotCoordinator.Code
	}
	if len(req.Group) > maxNameLen {
		return kerr.InvalidGroupID.Code
	}
	g := c.groups[req.Group]
	if g == nil {
		if req.Generation < 0 {
			return 0
		}
		// A generation for a group that does not exist: a member of a
		// generation this coordinator never saw (e.g. before a restart).
		return kerr.IllegalGeneration.Code
	}
	switch {
	case g.isStaticFenced(req.InstanceID, req.MemberID):
		return kerr.FencedInstanceID.Code
	case req.Generation < 0 && g.state == stateEmpty:
		return 0
	case g.state == stateCompletingRebalance:
		// The member has the new generation from its JoinGroup but no
		// assignment yet: it must finish the rebalance first.
		return kerr.RebalanceInProgress.Code
	case g.members[req.MemberID] == nil:
		return kerr.UnknownMemberID.Code
	case req.Generation != g.generation:
		return kerr.IllegalGeneration.Code
	}
	c.scheduleSession(g, g.members[req.MemberID])
	return 0
}

// topicName resolves the topic of a request entry: by name before v10, by
// topic ID from v10 on.
func (c *Coordinator) topicName(byID bool, name string, id [16]byte) (string, int16) {
	if byID {
		if c.cfg.TopicName == nil {
			return "", kerr.UnknownTopicID.Code
		}
		n, ok := c.cfg.TopicName(id)
		if !ok {
			return "", kerr.UnknownTopicID.Code
		}
		name = n
	}
	if len(name) > maxNameLen {
		return "", kerr.InvalidTopicException.Code
	}
	return name, 0
}

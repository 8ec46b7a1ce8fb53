package coordinator

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// noMetadata is what Kafka returns as metadata for a partition without a
// committed offset (OffsetFetchResponse.NO_METADATA).
var noMetadata = ""

// offsetFetch serves OffsetFetch: one group at v0-v7, a batch of groups
// from v8 on (KIP-709). Null topics ask for every committed partition.
// Partitions without a commit get offset -1. Callers hold mu.
func (c *Coordinator) offsetFetch(req *kmsg.OffsetFetchRequest, respond func(kmsg.Response)) {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	defer c.reply(respond, resp)
	if req.Version >= 8 {
		for i := range req.Groups {
			rg := &req.Groups[i]
			out := kmsg.NewOffsetFetchResponseGroup()
			out.Group = rg.Group
			if c.closed {
				out.ErrorCode = kerr.NotCoordinator.Code
			} else {
				out.Topics = c.fetchGroup(rg.Group, req.Version >= 10, rg.Topics)
			}
			resp.Groups = append(resp.Groups, out)
		}
		return
	}
	// v0-v7 share the batch code path through the same shapes.
	var topics []kmsg.OffsetFetchRequestGroupTopic
	if req.Topics != nil {
		topics = make([]kmsg.OffsetFetchRequestGroupTopic, 0, len(req.Topics))
		for _, t := range req.Topics {
			topics = append(topics, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	if c.closed {
		if req.Version >= 2 {
			resp.ErrorCode = kerr.NotCoordinator.Code
			return
		}
		// v0-v1 have no top-level error: report it per partition.
		for _, t := range req.Topics {
			rt := kmsg.OffsetFetchResponseTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.Metadata, rp.ErrorCode = p, -1, &noMetadata, kerr.NotCoordinator.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return
	}
	for _, gt := range c.fetchGroup(req.Group, false, topics) {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = gt.Topic
		for _, gp := range gt.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
}

// fetchGroup answers one group's topics; nil topics means all.
func (c *Coordinator) fetchGroup(group string, byID bool, topics []kmsg.OffsetFetchRequestGroupTopic) []kmsg.OffsetFetchResponseGroupTopic {
	if topics == nil {
		return c.fetchAll(group, byID)
	}
	out := make([]kmsg.OffsetFetchResponseGroupTopic, 0, len(topics))
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		name, code := c.topicName(byID, t.Topic, t.TopicID)
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p, -1, -1, &noMetadata, code
			if code == 0 {
				if v, ok := c.store.fetch(group, topicPartition{name, p}); ok {
					fillFetched(&rp, v)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

func (c *Coordinator) fetchAll(group string, byID bool) []kmsg.OffsetFetchResponseGroupTopic {
	all := c.store.groupOffsets(group)
	tps := make([]topicPartition, 0, len(all))
	for tp := range all {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b topicPartition) int {
		return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.partition, b.partition))
	})
	var out []kmsg.OffsetFetchResponseGroupTopic
	for _, tp := range tps {
		if len(out) == 0 || out[len(out)-1].Topic != tp.topic {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = tp.topic
			if byID {
				id, ok := [16]byte{}, false
				if c.cfg.TopicID != nil {
					id, ok = c.cfg.TopicID(tp.topic)
				}
				if !ok {
					// A v10 client can only name topics by ID;
					// offsets of a topic without one (deleted) are
					// left out, as Kafka does.
					continue
				}
				rt.TopicID = id
			}
			out = append(out, rt)
		}
		rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		rp.Partition = tp.partition
		fillFetched(&rp, all[tp])
		rt := &out[len(out)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	return out
}

func fillFetched(rp *kmsg.OffsetFetchResponseGroupTopicPartition, v offsetValue) {
	rp.Offset, rp.LeaderEpoch, rp.Metadata = v.offset, v.leaderEpoch, v.metadata
	if rp.Metadata == nil {
		rp.Metadata = &noMetadata
	}
}

package broker

import (
	"errors"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleMetadata describes this node and the requested topics, creating
// unknown ones when auto.create.topics.enable allows: always for v0-v3,
// which have no flag (Kafka treats them as asking for it), and for v4+ when
// the request sets AllowAutoTopicCreation.
func handleMetadata(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.MetadataRequest)
	resp := req.ResponseKind().(*kmsg.MetadataResponse)

	br := kmsg.NewMetadataResponseBroker()
	br.NodeID = b.cfg.NodeID
	br.Host, br.Port = b.advertisedTo(r.c)
	resp.Brokers = []kmsg.MetadataResponseBroker{br}
	resp.ClusterID = kmsg.StringPtr(b.clusterID)
	resp.ControllerID = b.cfg.NodeID

	autoCreate := !b.cfg.DisableAutoCreateTopics && (r.version < 4 || req.AllowAutoTopicCreation)
	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range b.topics.all() {
			resp.Topics = append(resp.Topics, b.metadataTopic(t))
		}
		return resp
	}
	for _, rt := range req.Topics {
		var t *topic
		switch {
		case rt.Topic != nil:
			t = b.topics.byName(*rt.Topic)
		case rt.TopicID != [16]byte{}:
			t = b.topics.byID(rt.TopicID)
			if t == nil {
				st := kmsg.NewMetadataResponseTopic()
				st.TopicID, st.ErrorCode = rt.TopicID, kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
		default:
			st := kmsg.NewMetadataResponseTopic()
			st.ErrorCode = kerr.InvalidTopicException.Code
			resp.Topics = append(resp.Topics, st)
			continue
		}
		if t == nil {
			name := *rt.Topic
			code := kerr.UnknownTopicOrPartition.Code
			if err := validateTopicName(name); err != nil {
				code = kerr.InvalidTopicException.Code
			} else if autoCreate {
				var err error
				t, err = b.topics.create(name, b.cfg.NumPartitions, nil)
				if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
					b.log.Warn("auto-create failed", "topic", name, "err", err)
					code = kerr.Code(err)
					t = nil
				}
			}
			if t == nil {
				st := kmsg.NewMetadataResponseTopic()
				st.Topic, st.ErrorCode = kmsg.StringPtr(name), code
				resp.Topics = append(resp.Topics, st)
				continue
			}
		}
		resp.Topics = append(resp.Topics, b.metadataTopic(t))
	}
	return resp
}

func (b *Broker) metadataTopic(t *topic) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	st.Topic, st.TopicID = kmsg.StringPtr(t.name), t.id
	node := []int32{b.cfg.NodeID}
	st.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(t.parts))
	for i := range t.parts {
		sp := &st.Partitions[i]
		sp.Default()
		sp.Partition = int32(i)
		sp.Leader = b.cfg.NodeID
		sp.LeaderEpoch = 0
		sp.Replicas, sp.ISR, sp.OfflineReplicas = node, node, []int32{}
	}
	return st
}

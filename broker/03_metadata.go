package broker

import (
	"crypto/sha256"
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
	resp := b.metadata(r, req)
	// KIP-430: every supported operation, as Kafka reports without an
	// authorizer; an active authorizer narrows these after the handler.
	if req.IncludeTopicAuthorizedOperations {
		ops := allOps(aclResTopic)
		for i := range resp.Topics {
			if t := &resp.Topics[i]; t.ErrorCode == 0 {
				t.AuthorizedOperations = ops
			}
		}
	}
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = allOps(aclResCluster)
	}
	return resp
}

func (b *Broker) metadata(r *request, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)

	br := kmsg.NewMetadataResponseBroker()
	br.NodeID = b.nodeID()
	br.Host, br.Port = b.advertisedTo(r.c)
	resp.Brokers = []kmsg.MetadataResponseBroker{br}
	resp.ClusterID = kmsg.StringPtr(b.clusterID)
	resp.ControllerID = b.nodeID()

	autoCreate := !b.cfg.DisableAutoCreateTopics && (r.version < 4 || req.AllowAutoTopicCreation)
	all := req.Topics == nil || (r.version == 0 && len(req.Topics) == 0)
	if all {
		resp.Topics = append(resp.Topics, b.offsetsTopicMetadata())
		for _, t := range b.topics.all() {
			resp.Topics = append(resp.Topics, b.metadataTopic(t))
		}
		return resp
	}
	for _, rt := range req.Topics {
		var t *topic
		switch {
		case rt.Topic != nil && *rt.Topic == offsetsTopic,
			rt.Topic == nil && rt.TopicID == b.offsetsTopicID():
			resp.Topics = append(resp.Topics, b.offsetsTopicMetadata())
			continue
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
	return b.metadataTopicParts(t.name, t.id, len(t.parts))
}

func (b *Broker) metadataTopicParts(name string, id [16]byte, parts int) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	st.Topic, st.TopicID = kmsg.StringPtr(name), id
	node := []int32{b.nodeID()}
	st.Partitions = make([]kmsg.MetadataResponseTopicPartition, parts)
	for i := range parts {
		sp := &st.Partitions[i]
		sp.Default()
		sp.Partition = int32(i)
		sp.Leader = b.nodeID()
		sp.LeaderEpoch = 0
		sp.Replicas, sp.ISR, sp.OfflineReplicas = node, node, []int32{}
	}
	return st
}

// offsetsTopic is Kafka's internal topic of committed offsets. The group
// coordinator keeps them in one log of its own (internal/coordinator), so
// the topic is shown with that one partition, flagged is_internal as Kafka
// flags it: tools list it, and clients' regex subscriptions skip it (kgo
// and the Java client drop internal topics from pattern matches). It cannot
// be created, produced to or fetched from as a normal topic.
const offsetsTopic = "__consumer_offsets"

// offsetsTopicPartitions is how many partitions the coordinator's offsets
// log has: one (offsets.topic.num.partitions is 50 in Kafka, which spreads
// groups over brokers; a single node has nothing to spread).
const offsetsTopicPartitions = 1

func isInternalTopic(name string) bool { return name == offsetsTopic }

// offsetsTopicID is a stable id for __consumer_offsets: derived from the
// cluster id, so it survives restarts without being stored and differs
// between clusters, as Kafka's random per-cluster topic id does.
func (b *Broker) offsetsTopicID() [16]byte {
	sum := sha256.Sum256([]byte(b.clusterID + "/" + offsetsTopic))
	var id [16]byte
	copy(id[:], sum[:])
	return id
}

func (b *Broker) offsetsTopicMetadata() kmsg.MetadataResponseTopic {
	st := b.metadataTopicParts(offsetsTopic, b.offsetsTopicID(), offsetsTopicPartitions)
	st.IsInternal = true
	return st
}

// nodeID is node.id (Config.NodeID after defaults).
func (b *Broker) nodeID() int32 { return *b.cfg.NodeID }

package broker

import (
	"errors"
	"fmt"

	"github.com/skiffkit/skiff/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleCreateTopics creates topics with their partition logs. A single
// node can only hold replication factor 1 (or -1, the default); configs
// are checked against the topic configs this broker implements.
func handleCreateTopics(b *Broker, w *worker, r *request) kmsg.Response {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)

	seen := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	quota := b.newMutationQuota(r, createTopicsStrictVersion)
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		fail := func(err error) {
			st.ErrorCode = kerr.Code(err)
			if r.version >= 1 {
				st.ErrorMessage = kmsg.StringPtr(err.Error())
			}
		}
		if seen[rt.Topic] > 1 {
			fail(fmt.Errorf("%w: topic %s appears more than once in the request", kerr.InvalidRequest, rt.Topic))
			resp.Topics = append(resp.Topics, st)
			continue
		}
		n, configs, err := b.checkCreateTopic(rt)
		if err == nil {
			err = validateTopicName(rt.Topic)
		}
		if err != nil {
			fail(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		var t *topic
		if req.ValidateOnly {
			if b.topics.byName(rt.Topic) != nil || isInternalTopic(rt.Topic) {
				err = fmt.Errorf("%w: %s", kerr.TopicAlreadyExists, rt.Topic)
			}
		} else if err = quota.record(n); err == nil {
			t, err = b.topics.create(rt.Topic, n, configs)
		}
		if err != nil {
			if !errors.Is(err, kerr.TopicAlreadyExists) && !errors.Is(err, kerr.ThrottlingQuotaExceeded) {
				b.log.Warn("create topic failed", "topic", rt.Topic, "err", err)
			}
			fail(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.NumPartitions, st.ReplicationFactor = n, 1
		if t != nil {
			st.TopicID = t.id
		}
		if r.version >= 5 {
			st.Configs = createTopicConfigs(&b.cfg, configs)
		}
		resp.Topics = append(resp.Topics, st)
	}
	d := quota.throttle(r, createTopicsClientThrottle, func(ms int32) { resp.ThrottleMillis = ms })
	return b.holdAnswer(r, resp, d)
}

// checkCreateTopic validates one topic of a CreateTopics request and
// returns its partition count and configs.
func (b *Broker) checkCreateTopic(rt *kmsg.CreateTopicsRequestTopic) (int32, map[string]string, error) {
	n := rt.NumPartitions
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return 0, nil, fmt.Errorf("%w: both a replica assignment and numPartitions/replicationFactor", kerr.InvalidRequest)
		}
		n = int32(len(rt.ReplicaAssignment))
		have := make(map[int32]bool, n)
		for _, a := range rt.ReplicaAssignment {
			if a.Partition < 0 || a.Partition >= n || have[a.Partition] {
				return 0, nil, fmt.Errorf("%w: partitions must be 0..%d, each once", kerr.InvalidReplicaAssignment, n-1)
			}
			have[a.Partition] = true
			if len(a.Replicas) != 1 || a.Replicas[0] != b.nodeID() {
				return 0, nil, fmt.Errorf("%w: partition %d: the only replica can be node %d", kerr.InvalidReplicaAssignment, a.Partition, b.nodeID())
			}
		}
	} else {
		if n == -1 {
			n = b.cfg.NumPartitions
		}
		if n < 1 {
			return 0, nil, fmt.Errorf("%w: %d partitions", kerr.InvalidPartitions, rt.NumPartitions)
		}
		if rf := rt.ReplicationFactor; rf != -1 && rf != 1 {
			return 0, nil, fmt.Errorf("%w: replication factor %d larger than the 1 available broker", kerr.InvalidReplicationFactor, rf)
		}
	}
	configs := make(map[string]string, len(rt.Configs))
	for _, c := range rt.Configs {
		if c.Value == nil {
			continue // null: use the default
		}
		if _, dup := configs[c.Name]; dup {
			return 0, nil, fmt.Errorf("%w: config %s given twice", kerr.InvalidConfig, c.Name)
		}
		configs[c.Name] = *c.Value
	}
	if err := validateTopicConfigs(configs); err != nil {
		return 0, nil, err
	}
	return n, configs, nil
}

// createTopicConfigs is the v5+ echo of the topic's effective configs.
func createTopicConfigs(c *Config, set map[string]string) []kmsg.CreateTopicsResponseTopicConfig {
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(topicConfigs))
	for _, tc := range topicConfigs {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name = tc.name
		v, ok := set[tc.name]
		if ok {
			rc.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		} else {
			v = tc.def(c)
			rc.Source = int8(kmsg.ConfigSourceDefaultConfig)
		}
		rc.Value = kmsg.StringPtr(v)
		out = append(out, rc)
	}
	return out
}

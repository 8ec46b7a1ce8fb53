package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// TopicID is a topic's unique id (KIP-516); all zero when the broker does
// not report one.
type TopicID [16]byte

// NewTopic describes a topic to create.
type NewTopic struct {
	// Name is the topic name. Required.
	Name string
	// Partitions is the partition count. Zero or -1 means the broker's
	// num.partitions (KIP-464, CreateTopics v4+).
	Partitions int32
	// ReplicationFactor is the replica count. Zero or -1 means the
	// broker's default.replication.factor (KIP-464).
	ReplicationFactor int16
	// ReplicaAssignment optionally places each partition's replicas
	// (partition → broker ids, preferred leader first). When set,
	// Partitions and ReplicationFactor must be left zero, as in Kafka.
	ReplicaAssignment map[int32][]int32
	// Configs are topic configs (cleanup.policy, retention.ms, ...).
	Configs map[string]string
}

// CreateTopicResult is the outcome for one topic of CreateTopics.
type CreateTopicResult struct {
	Topic string
	// ID is the new topic's id (CreateTopics v7+).
	ID TopicID
	// Partitions and ReplicationFactor are what the broker created (or
	// would create, validating); -1 when the broker is older than v5.
	Partitions        int32
	ReplicationFactor int16
	// Err is the topic's error: kerr.TopicAlreadyExists,
	// kerr.InvalidPartitions, kerr.InvalidReplicationFactor,
	// kerr.InvalidConfig, kerr.InvalidTopicException, ...
	Err error
}

// CreateTopicResults holds one result per requested topic, in request order.
type CreateTopicResults []CreateTopicResult

// Error joins the errors of every topic that failed, nil if none did.
func (rs CreateTopicResults) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("topic %q: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

// CreateTopics creates topics. The returned error is for the request as a
// whole (no broker reachable, unsupported version); each topic's own
// outcome is in its result.
func (c *Client) CreateTopics(ctx context.Context, topics ...NewTopic) (CreateTopicResults, error) {
	return c.createTopics(ctx, false, topics)
}

// ValidateCreateTopics asks the broker to validate the creation of topics
// (names, partition counts, configs, policies) without creating them
// (validate_only).
func (c *Client) ValidateCreateTopics(ctx context.Context, topics ...NewTopic) (CreateTopicResults, error) {
	return c.createTopics(ctx, true, topics)
}

func (c *Client) createTopics(ctx context.Context, validateOnly bool, topics []NewTopic) (CreateTopicResults, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = c.timeoutMillis()
	req.ValidateOnly = validateOnly
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = t.Name
		rt.NumPartitions = defaultNeg1(t.Partitions)
		rt.ReplicationFactor = int16(defaultNeg1(int32(t.ReplicationFactor)))
		if len(t.ReplicaAssignment) > 0 {
			// Kafka requires -1 for both when an assignment is given.
			rt.NumPartitions, rt.ReplicationFactor = -1, -1
			for _, p := range sortedKeys(t.ReplicaAssignment) {
				ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
				ra.Partition = p
				ra.Replicas = t.ReplicaAssignment[p]
				rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
			}
		}
		for _, k := range sortedKeys(t.Configs) {
			rc := kmsg.NewCreateTopicsRequestTopicConfig()
			rc.Name = k
			rc.Value = kmsg.StringPtr(t.Configs[k])
			rt.Configs = append(rt.Configs, rc)
		}
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := c.controller(ctx, req, func(r kmsg.Response) bool {
		for _, t := range r.(*kmsg.CreateTopicsResponse).Topics {
			if t.ErrorCode == kerr.NotController.Code {
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("admin: create topics: %w", err)
	}
	resp := kresp.(*kmsg.CreateTopicsResponse)
	byName := make(map[string]*kmsg.CreateTopicsResponseTopic, len(resp.Topics))
	for i := range resp.Topics {
		byName[resp.Topics[i].Topic] = &resp.Topics[i]
	}
	out := make(CreateTopicResults, 0, len(topics))
	for _, t := range topics {
		r := CreateTopicResult{Topic: t.Name, Partitions: -1, ReplicationFactor: -1}
		rt, ok := byName[t.Name]
		if !ok {
			r.Err = fmt.Errorf("%w: topic missing from CreateTopics response", ErrMalformedResponse)
		} else {
			r.ID = rt.TopicID
			r.Err = itemErr(rt.ErrorCode, rt.ErrorMessage)
			if resp.Version >= 5 {
				r.Partitions, r.ReplicationFactor = rt.NumPartitions, rt.ReplicationFactor
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// DeleteTopicResult is the outcome for one topic of DeleteTopics.
type DeleteTopicResult struct {
	Topic string
	ID    TopicID
	// Err is the topic's error, kerr.UnknownTopicOrPartition for a topic
	// that does not exist.
	Err error
}

// DeleteTopicResults holds one result per requested topic, in request order.
type DeleteTopicResults []DeleteTopicResult

// Error joins the errors of every topic that failed, nil if none did.
func (rs DeleteTopicResults) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("topic %q: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

// DeleteTopics deletes topics by name.
func (c *Client) DeleteTopics(ctx context.Context, topics ...string) (DeleteTopicResults, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = c.timeoutMillis()
	req.TopicNames = topics // v0-v5
	for _, t := range topics {
		rt := kmsg.NewDeleteTopicsRequestTopic() // v6+
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := c.controller(ctx, req, func(r kmsg.Response) bool {
		for _, t := range r.(*kmsg.DeleteTopicsResponse).Topics {
			if t.ErrorCode == kerr.NotController.Code {
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("admin: delete topics: %w", err)
	}
	resp := kresp.(*kmsg.DeleteTopicsResponse)
	byName := make(map[string]*kmsg.DeleteTopicsResponseTopic, len(resp.Topics))
	for i := range resp.Topics {
		if resp.Topics[i].Topic != nil {
			byName[*resp.Topics[i].Topic] = &resp.Topics[i]
		}
	}
	out := make(DeleteTopicResults, 0, len(topics))
	for _, t := range topics {
		r := DeleteTopicResult{Topic: t}
		if rt, ok := byName[t]; ok {
			r.ID = rt.TopicID
			r.Err = itemErr(rt.ErrorCode, rt.ErrorMessage)
		} else {
			r.Err = fmt.Errorf("%w: topic missing from DeleteTopics response", ErrMalformedResponse)
		}
		out = append(out, r)
	}
	return out, nil
}

// CreatePartitionsResult is the outcome for one topic of CreatePartitions.
type CreatePartitionsResult struct {
	Topic string
	// Err is the topic's error: kerr.InvalidPartitions when the new
	// count is not above the current one, kerr.UnknownTopicOrPartition, ...
	Err error
}

// CreatePartitionsResults holds one result per requested topic, in request
// order.
type CreatePartitionsResults []CreatePartitionsResult

// Error joins the errors of every topic that failed, nil if none did.
func (rs CreatePartitionsResults) Error() error {
	var errs []error
	for _, r := range rs {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("topic %q: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}

// CreatePartitions raises the partition count of topics to total (the new
// total, as with kafka-topics --alter --partitions; Kafka never removes
// partitions). Producers and consumers see the new partitions at their
// next metadata refresh.
func (c *Client) CreatePartitions(ctx context.Context, total int32, topics ...string) (CreatePartitionsResults, error) {
	return c.createPartitions(ctx, false, total, topics)
}

// ValidateCreatePartitions checks CreatePartitions without applying it.
func (c *Client) ValidateCreatePartitions(ctx context.Context, total int32, topics ...string) (CreatePartitionsResults, error) {
	return c.createPartitions(ctx, true, total, topics)
}

func (c *Client) createPartitions(ctx context.Context, validateOnly bool, total int32, topics []string) (CreatePartitionsResults, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = c.timeoutMillis()
	req.ValidateOnly = validateOnly
	for _, t := range topics {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic = t
		rt.Count = total
		req.Topics = append(req.Topics, rt)
	}
	kresp, err := c.controller(ctx, req, func(r kmsg.Response) bool {
		for _, t := range r.(*kmsg.CreatePartitionsResponse).Topics {
			if t.ErrorCode == kerr.NotController.Code {
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("admin: create partitions: %w", err)
	}
	resp := kresp.(*kmsg.CreatePartitionsResponse)
	byName := make(map[string]*kmsg.CreatePartitionsResponseTopic, len(resp.Topics))
	for i := range resp.Topics {
		byName[resp.Topics[i].Topic] = &resp.Topics[i]
	}
	out := make(CreatePartitionsResults, 0, len(topics))
	for _, t := range topics {
		r := CreatePartitionsResult{Topic: t}
		if rt, ok := byName[t]; ok {
			r.Err = itemErr(rt.ErrorCode, rt.ErrorMessage)
		} else {
			r.Err = fmt.Errorf("%w: topic missing from CreatePartitions response", ErrMalformedResponse)
		}
		out = append(out, r)
	}
	return out, nil
}

// PartitionDetail is one partition of a described topic.
type PartitionDetail struct {
	Partition int32
	// Leader is the leader's node id, -1 while there is none.
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	// OfflineReplicas are replicas on offline log dirs (Metadata v5+).
	OfflineReplicas []int32
	// Err is the partition's error (LEADER_NOT_AVAILABLE, ...).
	Err error
}

// TopicDetail is one topic from Metadata.
type TopicDetail struct {
	Topic string
	ID    TopicID
	// Internal marks Kafka's own topics (__consumer_offsets,
	// __transaction_state).
	Internal bool
	// Partitions is sorted by partition.
	Partitions []PartitionDetail
	// Err is the topic's error, kerr.UnknownTopicOrPartition for a topic
	// that does not exist.
	Err error
}

// ReplicationFactor is the replica count of the topic's first partition,
// -1 for a topic without partitions.
func (t TopicDetail) ReplicationFactor() int {
	if len(t.Partitions) == 0 {
		return -1
	}
	return len(t.Partitions[0].Replicas)
}

// TopicDetails is a list of topics, sorted by name.
type TopicDetails []TopicDetail

// Error joins the errors of every topic that failed, nil if none did.
func (ts TopicDetails) Error() error {
	var errs []error
	for _, t := range ts {
		if t.Err != nil {
			errs = append(errs, fmt.Errorf("topic %q: %w", t.Topic, t.Err))
		}
	}
	return errors.Join(errs...)
}

// Names returns the topic names.
func (ts TopicDetails) Names() []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Topic
	}
	return out
}

// Topic returns the named topic's detail.
func (ts TopicDetails) Topic(name string) (TopicDetail, bool) {
	i, ok := slices.BinarySearchFunc(ts, name, func(t TopicDetail, n string) int { return strings.Compare(t.Topic, n) })
	if !ok {
		return TopicDetail{}, false
	}
	return ts[i], true
}

// ListTopics returns every topic except Kafka's internal ones
// (__consumer_offsets, __transaction_state), as kafka-topics --list
// --exclude-internal does and as regex subscriptions skip them.
func (c *Client) ListTopics(ctx context.Context) (TopicDetails, error) {
	ts, err := c.listTopics(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ts, func(t TopicDetail) bool { return t.Internal || isInternalName(t.Topic) }), nil
}

// ListTopicsWithInternal returns every topic, internal ones included.
func (c *Client) ListTopicsWithInternal(ctx context.Context) (TopicDetails, error) {
	return c.listTopics(ctx)
}

func (c *Client) listTopics(ctx context.Context) (TopicDetails, error) {
	resp, err := c.metadata(ctx, nil)
	if err != nil {
		return nil, err
	}
	return topicDetails(resp, nil), nil
}

// isInternalName covers brokers that keep Kafka's internal topics out of
// Metadata's is_internal flag (or that predate it, v0).
func isInternalName(t string) bool {
	return t == "__consumer_offsets" || t == "__transaction_state"
}

// DescribeTopics returns the partitions, leaders, replicas and ISR of
// topics. A topic that does not exist gets Err
// kerr.UnknownTopicOrPartition. With no topics it describes every topic,
// internal ones included.
func (c *Client) DescribeTopics(ctx context.Context, topics ...string) (TopicDetails, error) {
	var ask []string
	if len(topics) > 0 {
		ask = topics
	}
	resp, err := c.metadata(ctx, ask)
	if err != nil {
		return nil, err
	}
	return topicDetails(resp, ask), nil
}

// topicDetails converts a Metadata response. When asked is non-nil every
// asked topic gets an entry, with UNKNOWN_TOPIC_OR_PARTITION if the broker
// left it out.
func topicDetails(resp *kmsg.MetadataResponse, asked []string) TopicDetails {
	byName := make(map[string]TopicDetail, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		td := TopicDetail{Topic: *t.Topic, ID: t.TopicID, Internal: t.IsInternal, Err: itemErr(t.ErrorCode, nil)}
		for _, p := range t.Partitions {
			td.Partitions = append(td.Partitions, PartitionDetail{
				Partition:       p.Partition,
				Leader:          p.Leader,
				LeaderEpoch:     p.LeaderEpoch,
				Replicas:        p.Replicas,
				ISR:             p.ISR,
				OfflineReplicas: p.OfflineReplicas,
				Err:             itemErr(p.ErrorCode, nil),
			})
		}
		sort.Slice(td.Partitions, func(i, j int) bool { return td.Partitions[i].Partition < td.Partitions[j].Partition })
		byName[td.Topic] = td
	}
	for _, a := range asked {
		if _, ok := byName[a]; !ok {
			byName[a] = TopicDetail{Topic: a, Err: kerr.UnknownTopicOrPartition}
		}
	}
	out := make(TopicDetails, 0, len(byName))
	for _, td := range byName {
		out = append(out, td)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

func (c *Client) timeoutMillis() int32 {
	return int32(min(c.cfg.RequestTimeout.Milliseconds(), 1<<31-1))
}

func defaultNeg1(v int32) int32 {
	if v == 0 {
		return -1
	}
	return v
}

func sortedKeys[K interface{ ~int32 | ~string }, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

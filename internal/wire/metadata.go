package wire

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// Metadata is one Metadata response, converted.
type Metadata struct {
	Brokers      []BrokerInfo // sorted by NodeID
	ControllerID int32        // -1 if the broker did not say
	ClusterID    *string
	Topics       map[string]TopicInfo
}

// TopicInfo is one topic's metadata. Err is the topic-level error (for
// example kerr.UnknownTopicOrPartition); Partitions is sorted by Partition.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions []PartitionInfo
	Err        error
}

// PartitionInfo is one partition's metadata. Leader is -1 while there is no
// leader; Err is the partition-level error (LEADER_NOT_AVAILABLE, ...).
type PartitionInfo struct {
	Partition   int32
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Err         error
}

// partition returns partition p's info; partitions are dense from 0 in
// every Kafka response we have seen, so try the index first.
func (t *TopicInfo) partition(p int32) (*PartitionInfo, bool) {
	if p >= 0 && int(p) < len(t.Partitions) && t.Partitions[p].Partition == p {
		return &t.Partitions[p], true
	}
	for i := range t.Partitions {
		if t.Partitions[i].Partition == p {
			return &t.Partitions[i], true
		}
	}
	return nil, false
}

func (t *TopicInfo) hasLeader() bool {
	for _, p := range t.Partitions {
		if p.Leader >= 0 {
			return true
		}
	}
	return false
}

// metaSnapshot is an immutable view of the cache, swapped atomically so
// that hot-path readers (CachedTopic, Leader) take no lock.
type metaSnapshot struct {
	brokers    map[int32]BrokerInfo
	brokerList []BrokerInfo
	controller int32
	clusterID  *string
	topics     map[string]topicEntry
	updated    chan struct{} // closed when a newer snapshot replaces this one
}

type topicEntry struct {
	info    TopicInfo
	fetched time.Time
}

func emptySnapshot() *metaSnapshot {
	return &metaSnapshot{
		brokers:    map[int32]BrokerInfo{},
		controller: -1,
		topics:     map[string]topicEntry{},
		updated:    make(chan struct{}),
	}
}

// Metadata requests metadata for topics (nil means every topic, an empty
// non-nil slice means brokers only) from any broker, at the highest version
// both sides support, and merges it into the cache.
func (c *Client) Metadata(ctx context.Context, topics []string) (*Metadata, error) {
	md, err := c.metadata(ctx, topics)
	if err != nil {
		switch {
		case topics == nil:
			err = fmt.Errorf("metadata: %w", err)
		case len(topics) == 0:
			err = fmt.Errorf("cluster metadata: %w", err)
		case len(topics) == 1:
			err = fmt.Errorf("metadata for topic %q: %w", topics[0], err)
		default:
			err = fmt.Errorf("metadata for topics %q: %w", topics, err)
		}
	}
	return md, err
}

// metadata is Metadata with errors that do not say what was asked for.
func (c *Client) metadata(ctx context.Context, topics []string) (*Metadata, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(topics))
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	req.AllowAutoTopicCreation = c.cfg.AllowAutoTopicCreation
	req.IncludeTopicAuthorizedOperations = false
	req.IncludeClusterAuthorizedOperations = false

	kresp, err := c.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, ok := kresp.(*kmsg.MetadataResponse)
	if !ok {
		return nil, fmt.Errorf("%w: got %T", ErrMalformedResponse, kresp)
	}
	if err := kerr.ForCode(resp.ErrorCode); err != nil { // v13+ top-level error
		return nil, err
	}
	md := convertMetadata(resp)
	c.mergeMetadata(md, topics == nil)
	return md, nil
}

func convertMetadata(resp *kmsg.MetadataResponse) *Metadata {
	md := &Metadata{
		ControllerID: resp.ControllerID,
		ClusterID:    resp.ClusterID,
		Topics:       make(map[string]TopicInfo, len(resp.Topics)),
	}
	if resp.Version < 1 {
		md.ControllerID = -1
	}
	for _, b := range resp.Brokers {
		md.Brokers = append(md.Brokers, BrokerInfo{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	sort.Slice(md.Brokers, func(i, j int) bool { return md.Brokers[i].NodeID < md.Brokers[j].NodeID })
	for _, t := range resp.Topics {
		if t.Topic == nil { // v12+ topic-id-only lookups; we always ask by name
			continue
		}
		ti := TopicInfo{Name: *t.Topic, ID: t.TopicID, Err: kerr.ForCode(t.ErrorCode)}
		for _, p := range t.Partitions {
			ti.Partitions = append(ti.Partitions, PartitionInfo{
				Partition:   p.Partition,
				Leader:      p.Leader,
				LeaderEpoch: p.LeaderEpoch,
				Replicas:    p.Replicas,
				ISR:         p.ISR,
				Err:         kerr.ForCode(p.ErrorCode),
			})
		}
		sort.Slice(ti.Partitions, func(i, j int) bool { return ti.Partitions[i].Partition < ti.Partitions[j].Partition })
		md.Topics[ti.Name] = ti
	}
	return md
}

// mergeMetadata publishes a new snapshot. A full response replaces the topic
// set (deleted topics disappear); a partial one updates only its topics.
// Like Kafka's Metadata.updateLatestMetadata, a partition whose new leader
// epoch is older than the cached one keeps the cached state: the answering
// broker lags behind the one that told us about the newer leader.
func (c *Client) mergeMetadata(md *Metadata, full bool) {
	c.metaMu.Lock()
	defer c.metaMu.Unlock()
	old := c.meta.Load()
	now := time.Now()
	next := &metaSnapshot{
		brokers:    make(map[int32]BrokerInfo, len(md.Brokers)),
		brokerList: md.Brokers,
		controller: md.ControllerID,
		clusterID:  md.ClusterID,
		updated:    make(chan struct{}),
	}
	for _, b := range md.Brokers {
		next.brokers[b.NodeID] = b
	}
	if full {
		next.topics = make(map[string]topicEntry, len(md.Topics))
	} else {
		next.topics = maps.Clone(old.topics)
	}
	for name, ti := range md.Topics {
		if prev, ok := old.topics[name]; ok && ti.Err == nil && prev.info.Err == nil && prev.info.ID == ti.ID {
			ti = keepNewerEpochs(prev.info, ti)
		}
		next.topics[name] = topicEntry{info: ti, fetched: now}
	}
	c.meta.Store(next)
	close(old.updated)

	c.mu.Lock()
	for _, b := range md.Brokers {
		delete(c.extraBrokers, b.NodeID)
	}
	c.mu.Unlock()
}

func keepNewerEpochs(prev, cur TopicInfo) TopicInfo {
	var parts []PartitionInfo
	for i, p := range cur.Partitions {
		old, ok := prev.partition(p.Partition)
		if !ok || old.LeaderEpoch <= p.LeaderEpoch || p.LeaderEpoch < 0 {
			continue
		}
		if parts == nil {
			parts = slices.Clone(cur.Partitions)
		}
		parts[i] = *old
	}
	if parts != nil {
		cur.Partitions = parts
	}
	return cur
}

// Topic returns the topic's metadata from the cache if it is younger than
// MetadataMaxAge and has a leader, else fetches it. While the topic is
// unknown or no partition has a leader (a topic being created, a leader
// election) it retries with backoff until ctx ends, then returns an error
// wrapping the last problem (kerr.UnknownTopicOrPartition, ...) and ctx's
// error. Non-retriable topic errors (authorization, invalid name) return at
// once. A topic where only some partitions lack a leader is returned as is.
func (c *Client) Topic(ctx context.Context, topic string) (TopicInfo, error) {
	if e, ok := c.meta.Load().topics[topic]; ok && e.info.Err == nil && e.info.hasLeader() &&
		time.Since(e.fetched) < c.cfg.MetadataMaxAge {
		return e.info, nil
	}
	start := time.Now()
	backoff := c.cfg.RetryBackoff
	for {
		md, err := c.metadata(ctx, []string{topic})
		var lastErr error
		if err != nil {
			if isFatalConnectError(err) {
				return TopicInfo{Name: topic, Err: err}, fmt.Errorf("metadata for topic %q: %w", topic, err)
			}
			lastErr = err
		} else {
			ti, ok := md.Topics[topic]
			switch {
			case !ok:
				lastErr = fmt.Errorf("absent from the response: %w", kerr.UnknownTopicOrPartition)
			case ti.Err != nil && !kerr.IsRetriable(ti.Err):
				return ti, fmt.Errorf("metadata for topic %q: %w", topic, ti.Err)
			case ti.Err != nil:
				lastErr = ti.Err
			case !ti.hasLeader():
				lastErr = fmt.Errorf("no partition has a leader: %w", kerr.LeaderNotAvailable)
			default:
				return ti, nil
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if errors.Is(lastErr, ErrNoBrokers) && errors.Is(lastErr, ctx.Err()) {
				// It already says how long it tried, and wraps ctx's error.
				return TopicInfo{Name: topic, Err: lastErr}, fmt.Errorf("metadata for topic %q: %w", topic, lastErr)
			}
			return TopicInfo{Name: topic, Err: lastErr}, fmt.Errorf("metadata for topic %q: %w (gave up after %v: %w)",
				topic, lastErr, roundWait(time.Since(start)), ctx.Err())
		case <-c.ctx.Done():
			t.Stop()
			return TopicInfo{Name: topic, Err: lastErr}, ErrClientClosed
		}
		backoff = min(2*backoff, maxRetryBackoff)
	}
}

// CachedTopic returns the cached metadata of a topic known without error,
// however old. It does no I/O and takes no lock.
func (c *Client) CachedTopic(topic string) (TopicInfo, bool) {
	e, ok := c.meta.Load().topics[topic]
	if !ok || e.info.Err != nil {
		return TopicInfo{}, false
	}
	return e.info, true
}

// Leader returns the cached leader and leader epoch of a partition; ok is
// false if the partition is unknown or leaderless. No I/O, no lock.
func (c *Client) Leader(topic string, partition int32) (node int32, epoch int32, ok bool) {
	e, found := c.meta.Load().topics[topic]
	if !found || e.info.Err != nil {
		return -1, -1, false
	}
	p, found := e.info.partition(partition)
	if !found || p.Leader < 0 {
		return -1, -1, false
	}
	return p.Leader, p.LeaderEpoch, true
}

// Brokers returns the brokers of the latest metadata, sorted by node id.
func (c *Client) Brokers() []BrokerInfo {
	return slices.Clone(c.meta.Load().brokerList)
}

// ControllerID returns the controller of the latest metadata, -1 if unknown.
func (c *Client) ControllerID() int32 { return c.meta.Load().controller }

// MetadataUpdated returns a channel closed at the next metadata update, for
// callers waiting for a leader change without polling:
//
//	ch := c.MetadataUpdated(); c.RefreshMetadata(); <-ch
func (c *Client) MetadataUpdated() <-chan struct{} { return c.meta.Load().updated }

// RefreshMetadata asks the background loop to refresh the cached topics
// soon, e.g. after NOT_LEADER_OR_FOLLOWER. It never blocks; triggers that
// arrive while a refresh is pending or within RetryBackoff of the previous
// one are coalesced into one request.
func (c *Client) RefreshMetadata() {
	select {
	case c.refreshCh <- struct{}{}:
	default:
	}
}

// backgroundLoop refreshes metadata on demand and every MetadataMaxAge
// (metadata.max.age.ms), and closes idle connections.
func (c *Client) backgroundLoop() {
	age := time.NewTimer(c.cfg.MetadataMaxAge)
	defer age.Stop()
	idle := time.NewTicker(max(c.cfg.ConnMaxIdle/4, 10*time.Millisecond))
	defer idle.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-idle.C:
			c.reapIdle()
			continue
		case <-c.refreshCh:
		case <-age.C:
		}
		c.refreshNow()
		age.Reset(c.cfg.MetadataMaxAge)
		// Space refreshes by retry.backoff.ms so a storm of NOT_LEADER
		// errors costs one request, as Kafka's metadata backoff does.
		pause := time.NewTimer(c.cfg.RetryBackoff)
		select {
		case <-c.ctx.Done():
			pause.Stop()
			return
		case <-pause.C:
		}
	}
}

func (c *Client) refreshNow() {
	// Topics that failed (unknown, unauthorized) stop being refreshed once
	// their entry is older than MetadataMaxAge, so one mistyped topic name
	// does not ride along with every refresh forever (Kafka expires unused
	// topics with metadata.max.idle.ms for the same reason).
	now := time.Now()
	topics := []string{}
	for name, e := range c.meta.Load().topics {
		if e.info.Err == nil || now.Sub(e.fetched) < c.cfg.MetadataMaxAge {
			topics = append(topics, name)
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
	defer cancel()
	if _, err := c.Metadata(ctx, topics); err != nil && c.ctx.Err() == nil {
		if Unreachable(err) {
			// Logged once by the unreachable state (reachState).
			c.log.Debug("metadata refresh failed", "topics", len(topics), "err", err)
		} else {
			c.log.Warn("metadata refresh failed", "topics", len(topics), "err", err)
		}
	}
}

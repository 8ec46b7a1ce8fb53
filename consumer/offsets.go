package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

type pending struct {
	ps  *partState
	gen uint64
}

// resolve gives partitions what they need before they can be fetched: a
// committed offset (OffsetFetch), a reset offset (ListOffsets), a leader
// (metadata). It runs on the fetch loop and returns how long until the
// next backed-off retry.
func (c *Consumer) resolve() time.Duration {
	now := time.Now()
	wait := time.Hour
	var (
		needLeader    = map[string]bool{}
		needCommitted []pending
		needReset     []pending
	)
	c.mu.Lock()
	for _, ps := range c.parts {
		if ps.held || ps.state == posFailed || (ps.state == posReady && ps.leader >= 0) {
			continue
		}
		if d := ps.retryAt.Sub(now); d > 0 {
			wait = min(wait, d)
			continue
		}
		switch {
		case ps.state == posNeedCommitted:
			needCommitted = append(needCommitted, pending{ps, ps.gen})
		case ps.leader < 0:
			needLeader[ps.tp.Topic] = true
		case ps.state == posNeedReset:
			needReset = append(needReset, pending{ps, ps.gen})
		}
	}
	c.mu.Unlock()
	if len(needLeader) == 0 && len(needCommitted) == 0 && len(needReset) == 0 {
		return wait
	}
	// Short deadlines: this runs on the fetch loop, so a topic that does
	// not exist yet or an unavailable coordinator must not hold up fetching
	// the other partitions; what times out is retried after a backoff.
	for t := range needLeader {
		ctx, cancel := context.WithTimeout(c.ctx, min(c.cfg.RequestTimeout, time.Second))
		c.resolveLeaders(ctx, t)
		cancel()
	}
	ctx, cancel := context.WithTimeout(c.ctx, min(c.cfg.RequestTimeout, 5*time.Second))
	defer cancel()
	if len(needCommitted) > 0 {
		c.resolveCommitted(ctx, needCommitted)
	}
	if len(needReset) > 0 {
		c.resolveResets(ctx, needReset)
	}
	// Whatever was resolved may be fetchable or need the next step now.
	return 0
}

func (c *Consumer) resolveLeaders(ctx context.Context, topic string) {
	meta, err := c.cl.topic(ctx, topic)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ps := range c.parts {
		if ps.tp.Topic != topic || ps.leader >= 0 {
			continue
		}
		ps.retryAt = now.Add(c.cfg.RetryBackoff)
		if err != nil {
			continue
		}
		for _, pm := range meta.partitions {
			if pm.partition == ps.tp.Partition && pm.err == nil && pm.leader >= 0 {
				ps.leader, ps.leaderEpoch, ps.topicID = pm.leader, pm.leaderEpoch, meta.id
				ps.retryAt = time.Time{}
			}
		}
	}
	c.noteAssignedTopicLocked(topic, err)
	if err != nil && ctx.Err() == nil {
		c.log.Debug("metadata lookup failed; retrying", "topic", topic, "err", err)
		c.cl.invalidate()
	}
}

// noteAssignedTopicLocked reports, once, that an assigned topic (Assign,
// or one deleted under the group) is not in the metadata: a Warn and
// ErrTopicNotAvailable from Poll, instead of fetching nothing in silence.
// The lookups go on; when the topic is back, one Info.
func (c *Consumer) noteAssignedTopicLocked(topic string, err error) {
	switch {
	case errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.TopicAuthorizationFailed):
		if c.missingTopics[topic] {
			return
		}
		if c.missingTopics == nil {
			c.missingTopics = map[string]bool{}
		}
		c.missingTopics[topic] = true
		err = topicCause(err)
		c.log.Warn("assigned topic is not available; waiting for it", "topic", topic, "err", err)
		c.pushErrLocked(fmt.Errorf("%w: %s (waiting for it): %w", ErrTopicNotAvailable, topic, err))
	case err == nil && c.missingTopics[topic]:
		delete(c.missingTopics, topic)
		c.log.Info("assigned topic is available", "topic", topic)
	}
}

func (c *Consumer) resolveCommitted(ctx context.Context, list []pending) {
	tps := make([]TopicPartition, len(list))
	for i, p := range list {
		tps[i] = p.ps.tp
	}
	got, err := c.committed(ctx, tps)
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range list {
		ps := p.ps
		if ps.gen != p.gen || ps.removed {
			continue
		}
		if err != nil {
			ps.retryAt = now.Add(c.cfg.RetryBackoff)
			continue
		}
		o, ok := got[ps.tp]
		switch {
		case ok && o.Offset >= 0:
			ps.state = posReady
			ps.fetchOffset, ps.fetchEpoch = o.Offset, o.LeaderEpoch
			ps.position, ps.positionEpoch = o.Offset, o.LeaderEpoch
			ps.committable, ps.committableEpoch = o.Offset, o.LeaderEpoch
			ps.lastAutoCommit = o.Offset
		case c.cfg.resetOffset() == 0:
			ps.state = posFailed
			c.pushErrLocked(fmt.Errorf("consumer: %s: %w", ps.tp, ErrNoOffset))
		default:
			ps.state, ps.resetTo = posNeedReset, c.cfg.resetOffset()
		}
	}
	if err != nil && ctx.Err() == nil {
		c.logRetry("fetching committed offsets failed; retrying", err, "group", c.cfg.GroupID)
	}
}

// resolveResets runs ListOffsets against each partition's leader.
func (c *Consumer) resolveResets(ctx context.Context, list []pending) {
	byNode := map[int32][]pending{}
	c.mu.Lock()
	for _, p := range list {
		byNode[p.ps.leader] = append(byNode[p.ps.leader], p)
	}
	c.mu.Unlock()
	for node, ps := range byNode {
		c.listOffsets(ctx, node, ps)
	}
}

func (c *Consumer) listOffsets(ctx context.Context, node int32, list []pending) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = int8(c.cfg.IsolationLevel)
	c.mu.Lock()
	idx := map[string]int{}
	for _, p := range list {
		i, ok := idx[p.ps.tp.Topic]
		if !ok {
			i = len(req.Topics)
			idx[p.ps.tp.Topic] = i
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = p.ps.tp.Topic
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p.ps.tp.Partition
		rp.CurrentLeaderEpoch = p.ps.leaderEpoch
		rp.Timestamp = p.ps.resetTo // -1 latest, -2 earliest: Kafka's own sentinels
		rp.MaxNumOffsets = 1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	c.mu.Unlock()
	kresp, err := c.cl.requestNode(ctx, node, req)
	now := time.Now()
	type result struct {
		off   int64
		epoch int32
		err   error
	}
	results := map[TopicPartition]result{}
	if err == nil {
		resp := kresp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				off := p.Offset
				if resp.Version == 0 && len(p.OldStyleOffsets) > 0 {
					off = p.OldStyleOffsets[0]
				}
				results[TopicPartition{t.Topic, p.Partition}] = result{off, p.LeaderEpoch, kerr.ForCode(p.ErrorCode)}
			}
		}
	}
	refresh := err != nil
	c.mu.Lock()
	for _, p := range list {
		ps := p.ps
		if ps.gen != p.gen || ps.removed {
			continue
		}
		r, ok := results[ps.tp]
		switch {
		case err != nil || !ok:
			ps.retryAt = now.Add(c.cfg.RetryBackoff)
			ps.leader = -1
		case r.err != nil:
			ps.retryAt = now.Add(c.cfg.RetryBackoff)
			if kerr.IsRetriable(r.err) {
				ps.leader = -1
				refresh = true
			} else {
				ps.state = posFailed
				c.pushErrLocked(fmt.Errorf("list offsets %s: %w", ps.tp, r.err))
			}
		default:
			ps.state = posReady
			ps.fetchOffset, ps.fetchEpoch = r.off, -1
			ps.position, ps.positionEpoch = r.off, -1
		}
	}
	c.mu.Unlock()
	if refresh {
		if err != nil && !errors.Is(err, context.Canceled) {
			c.logRetry("list offsets failed; retrying", err, "broker", node)
		}
		c.cl.invalidate()
	}
}

package consumer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/wire"
	"github.com/skiffkit/skiff/kerr"
)

// CommitSync commits, for every assigned partition, the offset after the
// records returned by Poll so far, and waits for the coordinator's answer.
func (c *Consumer) CommitSync(ctx context.Context) error {
	offsets := c.positions(false, false)
	if len(offsets) == 0 {
		return nil
	}
	return c.commit(ctx, offsets)
}

// CommitAsync commits like CommitSync without waiting. Commits run in call
// order on one goroutine; cb (optional) gets the offsets and the result.
func (c *Consumer) CommitAsync(cb func(map[TopicPartition]TopicPartitionOffset, error)) {
	offsets := c.positions(false, false)
	c.commitAsync(offsets, cb)
}

// CommitOffsets commits the given offsets (the next offset to read per
// partition, as Kafka defines a commit) and waits for the answer.
func (c *Consumer) CommitOffsets(ctx context.Context, offsets map[TopicPartition]TopicPartitionOffset) error {
	return c.commit(ctx, offsets)
}

// Committed returns the group's committed offsets for the partitions;
// partitions without a commit are absent.
func (c *Consumer) Committed(ctx context.Context, tps []TopicPartition) (map[TopicPartition]TopicPartitionOffset, error) {
	if c.cfg.GroupID == "" {
		return nil, ErrNoGroup
	}
	got, err := c.committed(ctx, tps)
	if err != nil {
		return nil, err
	}
	for tp, o := range got {
		if o.Offset < 0 {
			delete(got, tp)
		}
	}
	return got, nil
}

// positions snapshots what to commit: the returned positions (CommitSync),
// or the committable ones of the previous Polls (auto-commit), skipping
// what auto-commit already committed.
func (c *Consumer) positions(committable, auto bool, only ...TopicPartition) map[TopicPartition]TopicPartitionOffset {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[TopicPartition]TopicPartitionOffset{}
	add := func(ps *partState) {
		if ps.state != posReady {
			return
		}
		off, epoch := ps.position, ps.positionEpoch
		if committable {
			off, epoch = ps.committable, ps.committableEpoch
		}
		if auto && (off < 0 || off == ps.lastAutoCommit) {
			return
		}
		out[ps.tp] = TopicPartitionOffset{Partition: ps.tp.Partition, Offset: off, LeaderEpoch: epoch}
	}
	if len(only) > 0 {
		for _, tp := range only {
			if ps := c.parts[tp]; ps != nil {
				add(ps)
			}
		}
	} else {
		for _, ps := range c.parts {
			add(ps)
		}
	}
	return out
}

// commitCommittable is auto-commit: before a revocation (only the revoked
// partitions) and every auto.commit.interval.ms it commits what the
// previous Polls returned; on Close (consumed) it commits everything
// returned, as Java's close does. It returns what it tried to commit.
func (c *Consumer) commitCommittable(ctx context.Context, consumed bool, only []TopicPartition) (map[TopicPartition]TopicPartitionOffset, error) {
	if c.cfg.DisableAutoCommit || c.cfg.GroupID == "" {
		return nil, nil
	}
	offsets := c.positions(!consumed, true, only...)
	if len(offsets) == 0 {
		return nil, nil
	}
	err := c.commit(ctx, offsets)
	if err == nil {
		c.mu.Lock()
		for tp, o := range offsets {
			if ps := c.parts[tp]; ps != nil {
				ps.lastAutoCommit = o.Offset
			}
		}
		c.mu.Unlock()
	}
	return offsets, err
}

// autoCommitLoop commits every auto.commit.interval.ms. A commit that falls
// due during a rebalance runs the moment the group is stable again, and a
// commit that failed for a reason that may pass (a coordinator moving or
// restarting, a rebalance, a timeout) is retried after retry.backoff.ms
// rather than a whole interval later, as Java's auto-commit does
// (ConsumerCoordinator: a RetriableCommitFailedException resets the
// auto-commit timer to retry.backoff.ms). That bounds what a coordinator
// failure makes the group redeliver by what was processed since the last
// interval, not by everything processed since the failure began.
func (c *Consumer) autoCommitLoop() {
	t := time.NewTimer(c.cfg.AutoCommitInterval)
	defer t.Stop()
	due := false
	for {
		var stable <-chan struct{}
		if due && c.g != nil {
			stable = c.g.stableChan()
		}
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			due = true
		case <-stable:
		}
		if c.g != nil && !c.g.stable() {
			continue // still due: commit with the new generation once synced
		}
		due = false
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
		offsets, err := c.commitCommittable(ctx, false, nil)
		cancel()
		next := c.cfg.AutoCommitInterval
		if err != nil && c.ctx.Err() == nil {
			c.logRetry("auto-commit failed", err, "group", c.cfg.GroupID)
			if retriableCommit(err) {
				next = c.cfg.RetryBackoff
			}
		}
		if h := c.autoCommitHook.Load(); h != nil {
			(*h)(offsets, err)
		}
		t.Reset(next)
	}
}

// retriableCommit reports whether a failed commit may succeed if sent
// again soon: the coordinator moved, restarted or was unreachable, or the
// generation changed (the next commit goes out in the new one).
func retriableCommit(err error) bool {
	return errors.Is(err, ErrCommitFailed) || isCoordinatorErr(err) ||
		kerr.IsRetriable(err) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, wire.ErrConnClosed)
}

type asyncCommit struct {
	offsets map[TopicPartition]TopicPartitionOffset
	cb      func(map[TopicPartition]TopicPartitionOffset, error)
}

func (c *Consumer) commitAsync(offsets map[TopicPartition]TopicPartitionOffset, cb func(map[TopicPartition]TopicPartitionOffset, error)) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if cb != nil {
			cb(offsets, ErrClosed)
		}
		return
	}
	c.asyncQueue = append(c.asyncQueue, asyncCommit{offsets, cb})
	start := !c.asyncRunning
	c.asyncRunning = true
	c.mu.Unlock()
	if start {
		c.goFunc(c.runAsyncCommits)
	}
}

// runAsyncCommits drains the async commit queue in order, then exits; the
// next CommitAsync starts it again.
func (c *Consumer) runAsyncCommits() {
	for {
		c.mu.Lock()
		if len(c.asyncQueue) == 0 {
			c.asyncRunning = false
			c.mu.Unlock()
			return
		}
		job := c.asyncQueue[0]
		c.asyncQueue = c.asyncQueue[1:]
		c.mu.Unlock()
		var err error
		if len(job.offsets) > 0 {
			ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
			err = c.commit(ctx, job.offsets)
			cancel()
		}
		if job.cb != nil {
			job.cb(job.offsets, err)
		}
	}
}

// commit sends OffsetCommit to the coordinator, retrying coordinator moves
// and connection loss until ctx ends.
func (c *Consumer) commit(ctx context.Context, offsets map[TopicPartition]TopicPartitionOffset) error {
	if c.cfg.GroupID == "" {
		return ErrNoGroup
	}
	if len(offsets) == 0 {
		return nil
	}
	ids := c.topicIDs(ctx, keysTopics(offsets))
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group = c.cfg.GroupID
	req.Generation, req.MemberID = -1, ""
	if c.g != nil {
		req.Generation, req.MemberID = c.g.identity()
		if c.cfg.GroupInstanceID != "" {
			req.InstanceID = &c.cfg.GroupInstanceID
		}
	}
	idx := map[string]int{}
	for _, tp := range sortedKeys(offsets) {
		o := offsets[tp]
		i, ok := idx[tp.Topic]
		if !ok {
			i = len(req.Topics)
			idx[tp.Topic] = i
			t := kmsg.NewOffsetCommitRequestTopic()
			t.Topic, t.TopicID = tp.Topic, ids[tp.Topic]
			req.Topics = append(req.Topics, t)
		}
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition = tp.Partition
		p.Offset = o.Offset
		p.LeaderEpoch = o.LeaderEpoch
		if o.Metadata != "" {
			md := o.Metadata
			p.Metadata = &md
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	return c.retryCoordinator(ctx, "commit", func(kresp kmsg.Response) (bool, error) {
		resp := kresp.(*kmsg.OffsetCommitResponse)
		var errs []error
		retry := false
		for _, t := range resp.Topics {
			name := t.Topic
			if name == "" {
				name = idName(ids, t.TopicID)
			}
			for _, p := range t.Partitions {
				err := kerr.ForCode(p.ErrorCode)
				switch {
				case err == nil:
				case isCoordinatorErr(err):
					retry = true
				case errors.Is(err, kerr.RebalanceInProgress):
					if c.g != nil {
						c.g.requestRejoin(req.Generation, err)
					}
					errs = append(errs, fmt.Errorf("commit %s[%d]: %w: %w", name, p.Partition, ErrCommitFailed, err))
				case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.UnknownMemberID):
					if c.g != nil {
						c.g.memberLost(req.Generation, err)
					}
					errs = append(errs, fmt.Errorf("commit %s[%d]: %w: %w", name, p.Partition, ErrCommitFailed, err))
				default:
					errs = append(errs, fmt.Errorf("commit %s[%d]: %w", name, p.Partition, err))
				}
			}
		}
		if retry {
			return true, nil
		}
		return false, errors.Join(errs...)
	}, req)
}

// committed sends OffsetFetch; offsets of -1 mean nothing is committed.
func (c *Consumer) committed(ctx context.Context, tps []TopicPartition) (map[TopicPartition]TopicPartitionOffset, error) {
	byTopic := map[string][]int32{}
	var topics []string
	for _, tp := range tps {
		if _, ok := byTopic[tp.Topic]; !ok {
			topics = append(topics, tp.Topic)
		}
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	ids := c.topicIDs(ctx, topics)
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = c.cfg.GroupID
	req.RequireStable = true // KIP-447: wait for pending transactional commits
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = c.cfg.GroupID
	for _, t := range topics {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = t, byTopic[t]
		req.Topics = append(req.Topics, rt)
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.Topic, gt.TopicID, gt.Partitions = t, ids[t], byTopic[t]
		g.Topics = append(g.Topics, gt)
	}
	req.Groups = append(req.Groups, g)
	out := map[TopicPartition]TopicPartitionOffset{}
	err := c.retryCoordinator(ctx, "offset fetch", func(kresp kmsg.Response) (bool, error) {
		resp := kresp.(*kmsg.OffsetFetchResponse)
		clear(out)
		var errs []error
		retry := false
		handle := func(name string, p int32, off int64, epoch int32, md *string, code int16) {
			err := kerr.ForCode(code)
			switch {
			case err == nil:
				o := TopicPartitionOffset{Partition: p, Offset: off, LeaderEpoch: epoch}
				if md != nil {
					o.Metadata = *md
				}
				out[TopicPartition{name, p}] = o
			case isCoordinatorErr(err) || errors.Is(err, kerr.UnstableOffsetCommit):
				retry = true
			default:
				errs = append(errs, fmt.Errorf("offset fetch %s[%d]: %w", name, p, err))
			}
		}
		if resp.Version >= 8 {
			for _, rg := range resp.Groups {
				if err := kerr.ForCode(rg.ErrorCode); err != nil {
					if isCoordinatorErr(err) {
						return true, nil
					}
					if errors.Is(err, kerr.GroupIDNotFound) {
						continue // a group that never committed: nothing committed
					}
					return false, fmt.Errorf("offset fetch group %s: %w", rg.Group, err)
				}
				for _, t := range rg.Topics {
					name := t.Topic
					if name == "" {
						name = idName(ids, t.TopicID)
					}
					for _, p := range t.Partitions {
						handle(name, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
					}
				}
			}
		} else {
			if err := kerr.ForCode(resp.ErrorCode); err != nil {
				if isCoordinatorErr(err) {
					return true, nil
				}
				if errors.Is(err, kerr.GroupIDNotFound) {
					return false, nil
				}
				return false, fmt.Errorf("offset fetch group %s: %w", c.cfg.GroupID, err)
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					handle(t.Topic, p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode)
				}
			}
		}
		return retry, errors.Join(errs...)
	}, req)
	if err != nil {
		return nil, err
	}
	return maps.Clone(out), nil
}

func isCoordinatorErr(err error) bool {
	return errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.CoordinatorLoadInProgress)
}

// retryCoordinator sends req to the group coordinator until handle says
// it is done, rediscovering the coordinator on NOT_COORDINATOR and on
// connection loss, until ctx ends.
func (c *Consumer) retryCoordinator(ctx context.Context, what string, handle func(kmsg.Response) (retry bool, err error), req kmsg.Request) error {
	for {
		node, err := c.cl.coordinator(ctx, c.cfg.GroupID)
		var resp kmsg.Response
		if err == nil {
			resp, err = c.cl.requestNode(ctx, node, req)
		}
		retry := false
		if err == nil {
			retry, err = handle(resp)
			if err != nil {
				return err
			}
		} else if ctx.Err() != nil {
			return fmt.Errorf("%s: group %s: %w", what, c.cfg.GroupID, err)
		} else {
			var ke *kerr.Error
			if errors.As(err, &ke) && !ke.Retriable {
				return fmt.Errorf("%s: group %s: %w", what, c.cfg.GroupID, err)
			}
			retry = true
		}
		if !retry {
			return nil
		}
		c.cl.invalidateCoordinator(c.cfg.GroupID)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: group %s: %w", what, c.cfg.GroupID, ctx.Err())
		case <-time.After(c.cfg.RetryBackoff):
		}
	}
}

// topicIDs returns the topic ids (KIP-516) that OffsetCommit and
// OffsetFetch v10 need; an unknown topic maps to the zero id.
func (c *Consumer) topicIDs(ctx context.Context, topics []string) map[string][16]byte {
	ids := make(map[string][16]byte, len(topics))
	c.mu.Lock()
	for _, ps := range c.parts {
		if ps.topicID != ([16]byte{}) {
			ids[ps.tp.Topic] = ps.topicID
		}
	}
	c.mu.Unlock()
	for _, t := range topics {
		if _, ok := ids[t]; ok {
			continue
		}
		if meta, err := c.cl.topic(ctx, t); err == nil {
			ids[t] = meta.id
		}
	}
	return ids
}

func idName(ids map[string][16]byte, id [16]byte) string {
	for n, i := range ids {
		if i == id {
			return n
		}
	}
	return ""
}

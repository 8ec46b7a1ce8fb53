package consumer

import (
	"context"
	"time"
)

// RebalanceListener is told about assignment changes in group mode
// (Java's ConsumerRebalanceListener). Its methods run inside Poll, on the
// goroutine calling Poll, with Poll's context, so they may call the
// Consumer (CommitSync, Seek, Committed) and may safely touch state the
// poll loop owns.
//
// With an eager assignor (range, roundrobin) every rebalance revokes the
// whole assignment first; with cooperative-sticky only the partitions that
// move are revoked (KIP-429).
type RebalanceListener interface {
	// OnAssigned gets the partitions added to the assignment. Seek here to
	// override the committed start offsets.
	OnAssigned(ctx context.Context, c *Consumer, partitions []TopicPartition)
	// OnRevoked gets partitions about to go to another member. Auto-commit
	// (when enabled) has committed them already; a manual committer commits
	// here. The consumer still owns them until OnRevoked returns.
	OnRevoked(ctx context.Context, c *Consumer, partitions []TopicPartition)
}

// LostListener is an optional extension of RebalanceListener: partitions
// lost without a clean revocation (session timeout, fenced generation,
// max.poll.interval.ms exceeded) already belong to someone else and cannot
// be committed. Without it, OnRevoked is called for them, as Java's default
// onPartitionsLost does.
type LostListener interface {
	OnLost(ctx context.Context, c *Consumer, partitions []TopicPartition)
}

// RebalanceFuncs adapts functions to a RebalanceListener and LostListener;
// nil functions are skipped (a nil Lost falls back to Revoked).
type RebalanceFuncs struct {
	Assigned func(ctx context.Context, c *Consumer, partitions []TopicPartition)
	Revoked  func(ctx context.Context, c *Consumer, partitions []TopicPartition)
	Lost     func(ctx context.Context, c *Consumer, partitions []TopicPartition)
}

func (f RebalanceFuncs) OnAssigned(ctx context.Context, c *Consumer, ps []TopicPartition) {
	if f.Assigned != nil {
		f.Assigned(ctx, c, ps)
	}
}

func (f RebalanceFuncs) OnRevoked(ctx context.Context, c *Consumer, ps []TopicPartition) {
	if f.Revoked != nil {
		f.Revoked(ctx, c, ps)
	}
}

func (f RebalanceFuncs) OnLost(ctx context.Context, c *Consumer, ps []TopicPartition) {
	if f.Lost != nil {
		f.Lost(ctx, c, ps)
	} else {
		f.OnRevoked(ctx, c, ps)
	}
}

type eventKind uint8

const (
	evAssigned eventKind = iota
	evRevoked
	evLost
)

// rebalanceEvent is a rebalance step the group goroutine hands to Poll, so
// callbacks and the commit before a revocation run on the user's goroutine
// between two Polls (Java runs them inside poll()). done closes when it
// has run.
type rebalanceEvent struct {
	kind    eventKind
	parts   []TopicPartition
	final   bool // Close's revocation: commit everything returned
	claimed bool // guarded by Consumer.mu: someone is running it
	// lost turns a revocation Poll has not started into a loss (the
	// generation ended meanwhile): no commit, OnLost. Guarded by
	// Consumer.mu until claimed, then read by whoever claimed it.
	lost bool
	// commitErr is the result of the commit before the revocation, set by
	// whoever claimed it.
	commitErr error
	done      chan struct{}
}

// queueEvent hands ev to Poll.
func (c *Consumer) queueEvent(ev *rebalanceEvent) {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	signal(c.wakePoll)
}

// runEvents runs the queued rebalance events on the caller's goroutine.
func (c *Consumer) runEvents(ctx context.Context) error {
	for {
		c.mu.Lock()
		if len(c.events) == 0 {
			c.mu.Unlock()
			return nil
		}
		ev := c.events[0]
		c.events = c.events[1:]
		claimed := ev.claimed
		ev.claimed = true
		c.mu.Unlock()
		if claimed {
			continue
		}
		c.runEvent(ctx, ev, true)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// runEvent does what a rebalance step needs: a revocation commits (with
// auto-commit), calls OnRevoked, then drops the partitions.
//
// With canDefer (Poll runs it), a commit before revocation that failed
// only because Poll's ctx ended while the coordinator was unavailable
// leaves the revocation queued for the next Poll instead of giving the
// processed records up to redelivery. Java does the same: onJoinPrepare
// returns false until its auto-commit completes, and the next poll tries
// again, within the rebalance timeout. Meanwhile the group goroutine keeps
// heartbeating, and runs the revocation itself at max.poll.interval.ms.
func (c *Consumer) runEvent(ctx context.Context, ev *rebalanceEvent, canDefer bool) {
	if c.deferRevocation(ctx, ev, canDefer) {
		return
	}
	defer close(ev.done)
	l := c.cfg.Rebalance
	switch ev.kind {
	case evAssigned:
		if l != nil {
			l.OnAssigned(ctx, c, ev.parts)
		}
		c.mu.Lock()
		for _, tp := range ev.parts {
			if ps := c.parts[tp]; ps != nil {
				ps.held = false
			}
		}
		c.mu.Unlock()
		signal(c.wakeFetch)
	case evRevoked:
		if ev.lost {
			c.onLost(ctx, ev.parts)
			c.dropPartitions(ev.parts)
			return
		}
		if err := ev.commitErr; err != nil {
			c.log.Warn("commit before revocation failed", "group", c.cfg.GroupID, "err", err)
		}
		if l != nil {
			l.OnRevoked(ctx, c, ev.parts)
		}
		c.dropPartitions(ev.parts)
	case evLost:
		c.onLost(ctx, ev.parts)
	}
}

// deferRevocation runs the commit before a revocation (into ev.commitErr)
// and, if that commit should be tried again on the next Poll, puts ev back
// at the head of the queue, unclaimed, and reports true.
func (c *Consumer) deferRevocation(ctx context.Context, ev *rebalanceEvent, canDefer bool) bool {
	if ev.kind != evRevoked || ev.lost {
		return false
	}
	_, err := c.commitCommittable(ctx, ev.final, ev.parts)
	ev.commitErr = err
	if err == nil || !canDefer || ev.final || ctx.Err() == nil || !retriableCommit(err) {
		return false
	}
	c.mu.Lock()
	ev.claimed = false
	c.events = append([]*rebalanceEvent{ev}, c.events...)
	c.mu.Unlock()
	c.log.Info("commit before revocation not done when Poll's context ended; retrying on the next Poll", "group", c.cfg.GroupID, "err", err)
	return true
}

// onLost tells the listener partitions were lost (OnRevoked without a
// LostListener, as Java's default onPartitionsLost does).
func (c *Consumer) onLost(ctx context.Context, parts []TopicPartition) {
	l := c.cfg.Rebalance
	if ll, ok := l.(LostListener); ok {
		ll.OnLost(ctx, c, parts)
	} else if l != nil {
		l.OnRevoked(ctx, c, parts)
	}
}

// demoteToLost turns ev, a revocation, into a loss if Poll has not
// started it, and reports whether it did.
func (c *Consumer) demoteToLost(ev *rebalanceEvent) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.claimed {
		return false
	}
	ev.lost = true
	return true
}

func (c *Consumer) dropPartitions(tps []TopicPartition) {
	c.mu.Lock()
	for _, tp := range tps {
		if ps := c.parts[tp]; ps != nil {
			c.removeLocked(ps)
		}
	}
	c.mu.Unlock()
}

// awaitEvent queues ev for Poll and waits until Poll ran it. If Poll is not
// called within timeout, the group goroutine runs it itself (callbacks then
// run on the consumer's goroutine), since the broker would evict the member
// at the rebalance timeout anyway. tick runs periodically while waiting
// (heartbeats).
func (c *Consumer) awaitEvent(ctx context.Context, ev *rebalanceEvent, timeout, every time.Duration, tick func()) {
	c.queueEvent(ev)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ev.done:
			return
		case <-t.C:
			tick()
			continue
		case <-deadline.C:
			c.log.Warn("Poll not called during a rebalance; running the rebalance callback on the group goroutine", "group", c.cfg.GroupID)
		case <-ctx.Done():
			return // Close runs what is still queued
		}
		c.mu.Lock()
		claimed := ev.claimed
		ev.claimed = true
		c.mu.Unlock()
		if !claimed {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RequestTimeout)
			c.runEvent(cctx, ev, false)
			cancel()
			return
		}
		select {
		case <-ev.done:
		case <-time.After(c.cfg.RequestTimeout):
			// Poll is running it; don't wait without bound on user code.
		}
		return
	}
}

package consumer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// group is the classic consumer group membership (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup) of a subscribing Consumer. Its run goroutine owns
// the protocol; Poll executes the rebalance steps it hands over.
type group struct {
	c         *Consumer
	cfg       *Config
	assignors []assignor

	ctx    context.Context // canceled by close, before the final LeaveGroup
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	rejoinCh chan struct{} // a commit or metadata change asks for a rejoin
	pollCh   chan struct{} // Poll was called

	// mu guards the fields below.
	mu         sync.Mutex
	memberID   string
	generation int32
	protocol   string
	isStable   bool
	stableNow  chan struct{} // closed while isStable; replaced when it ends
	lostCause  error         // a commit found the generation gone (see memberLost)
	owned      map[TopicPartition]bool
	counts     map[string]int32 // partition counts the assignment was made for
	missing    map[string]bool  // subscribed topics the metadata says are not there
}

// missingTopicRecheck is how often the metadata of a subscription with a
// topic that does not exist yet is fetched again (capped by
// metadata.max.age.ms): the Java consumer, too, refreshes metadata soon
// while a subscribed topic is unavailable, so a topic created a moment
// later is consumed without waiting five minutes.
const missingTopicRecheck = time.Second

// rejoinReason says why the stable phase ended.
type rejoinReason int

const (
	rejoinRebalance   rejoinReason = iota // keep partitions (cooperative) or revoke them (eager)
	rejoinLost                            // the generation is gone: partitions are lost
	rejoinPollTimeout                     // max.poll.interval.ms: leave, wait for Poll
	rejoinFatal                           // fenced: stop
	rejoinStop                            // closing
)

func newGroup(c *Consumer) *group {
	g := &group{
		c:          c,
		cfg:        &c.cfg,
		done:       make(chan struct{}),
		rejoinCh:   make(chan struct{}, 1),
		pollCh:     make(chan struct{}, 1),
		owned:      map[TopicPartition]bool{},
		generation: -1,
		stableNow:  make(chan struct{}),
	}
	for _, name := range c.cfg.Assignors {
		g.assignors = append(g.assignors, newAssignor(name))
	}
	g.ctx, g.cancel = context.WithCancel(c.ctx)
	return g
}

func (g *group) identity() (int32, string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.generation, g.memberID
}

func (g *group) stable() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.isStable
}

// stableChan is closed once the group is stable (joined and synced); the
// auto-commit loop waits on it to commit the moment a rebalance ends.
func (g *group) stableChan() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stableNow
}

func (g *group) polled() { signal(g.pollCh) }

func (g *group) polledSince(t time.Time) bool {
	g.c.mu.Lock()
	defer g.c.mu.Unlock()
	return g.c.lastPoll.After(t)
}

// requestRejoin asks for a rejoin after the coordinator rejected a request
// made in generation gen. A rejection from an older generation needs
// nothing: the member already rejoined (or is rejoining) since.
func (g *group) requestRejoin(gen int32, cause error) {
	g.mu.Lock()
	current := g.isStable && g.generation == gen
	g.mu.Unlock()
	if !current {
		return
	}
	g.c.log.Info("rejoining the group", "group", g.cfg.GroupID, "cause", cause)
	signal(g.rejoinCh)
}

// memberLost records that the coordinator answered a request of generation
// gen with UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION: that generation is gone,
// so, as Java's resetGenerationOnResponseError does, the member forgets it
// (and its member id for UNKNOWN_MEMBER_ID) and the partitions are lost,
// not revoked: a commit before revocation could only fail the same way.
func (g *group) memberLost(gen int32, cause error) {
	g.mu.Lock()
	current := g.generation == gen && gen >= 0
	if current {
		g.resetLocked(errors.Is(cause, kerr.UnknownMemberID))
		g.lostCause = cause
	}
	g.mu.Unlock()
	if current {
		g.c.log.Info("group generation gone; partitions are lost", "group", g.cfg.GroupID, "cause", cause)
		signal(g.rejoinCh)
	}
}

// resetLocked forgets the generation (and the member id) so that nothing
// more is sent in a generation the coordinator no longer knows.
func (g *group) resetLocked(memberID bool) {
	g.generation = -1
	if memberID {
		g.memberID = ""
	}
}

// takeLost returns and clears what memberLost recorded.
func (g *group) takeLost() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.lostCause
	g.lostCause = nil
	return err
}

func (g *group) cooperative() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, a := range g.assignors {
		if a.name() == g.protocol {
			return a.cooperative()
		}
	}
	return false
}

// run is the membership loop: join, sync, heartbeat until something needs
// a rejoin, hand the resulting revocations to Poll, repeat.
func (g *group) run() {
	defer close(g.done)
	ctx := g.ctx
	backoff := g.cfg.RetryBackoff
	for ctx.Err() == nil {
		rejoinNow, err := g.joinAndSync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, kerr.FencedInstanceID) {
				g.fatal(err)
				return
			}
			g.c.logRetry("joining the group failed; retrying", err, "group", g.cfg.GroupID, "backoff", backoff)
			var ke *kerr.Error
			if backoff == g.cfg.RetryBackoff && errors.As(err, &ke) && !ke.Retriable && !isCoordinatorErr(err) {
				// A configuration or authorization problem: tell the user
				// (once per failure streak) while retrying.
				g.c.mu.Lock()
				g.c.pushErrLocked(fmt.Errorf("group %s: %w", g.cfg.GroupID, err))
				g.c.mu.Unlock()
			}
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = g.cfg.RetryBackoff
		if rejoinNow {
			continue
		}
		reason, cause := g.heartbeatLoop(ctx)
		g.setStable(false)
		switch reason {
		case rejoinStop:
			return
		case rejoinFatal:
			g.fatal(cause)
			return
		case rejoinLost:
			g.c.log.Info("group generation lost; partitions are lost", "group", g.cfg.GroupID, "cause", cause)
			g.loseAll(ctx)
		case rejoinPollTimeout:
			g.c.log.Warn("Poll not called within max.poll.interval.ms; leaving the group until the next Poll", "group", g.cfg.GroupID, "max_poll_interval", g.cfg.MaxPollInterval)
			left := time.Now()
			lctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
			g.leave(lctx, "consumer poll timeout has expired")
			cancel()
			g.loseAll(ctx)
			// Rejoin on the first Poll after leaving (pollCh may hold a
			// signal from before).
			for !g.polledSince(left) {
				select {
				case <-g.pollCh:
				case <-ctx.Done():
					return
				}
			}
		case rejoinRebalance:
			if !g.cooperative() {
				// Eager protocol: give everything up before rejoining.
				if _, err := g.revoke(ctx, g.ownedList()); err != nil {
					g.fatal(err)
					return
				}
			}
		}
	}
}

// fatal stops consuming: the partitions are lost and Poll reports err.
func (g *group) fatal(err error) {
	g.loseAll(g.ctx)
	g.c.mu.Lock()
	g.c.pushErrLocked(fmt.Errorf("group %s: %w: %w", g.cfg.GroupID, ErrFenced, err))
	g.c.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (g *group) setStable(v bool) {
	g.mu.Lock()
	switch {
	case v && !g.isStable:
		close(g.stableNow)
	case !v && g.isStable:
		g.stableNow = make(chan struct{})
	}
	g.isStable = v
	g.mu.Unlock()
}

func (g *group) ownedList() []TopicPartition {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := slices.Collect(maps.Keys(g.owned))
	sortTPs(out)
	return out
}

// revoke hands a revocation to Poll (commit, OnRevoked, drop) and waits,
// heartbeating meanwhile so the session stays alive. Heartbeat answers are
// handled as Java's heartbeat thread handles them during a rebalance:
// REBALANCE_IN_PROGRESS is what a rebalance looks like and changes nothing;
// UNKNOWN_MEMBER_ID and ILLEGAL_GENERATION mean the generation is gone, so
// the member forgets it, a revocation Poll has not started yet becomes a
// loss (OnLost and no commit, which could only be rejected) and lost is
// true; FENCED_INSTANCE_ID (KIP-345) is returned as fatal. Heartbeats stop
// after any of these.
func (g *group) revoke(ctx context.Context, tps []TopicPartition) (lost bool, fatal error) {
	if len(tps) == 0 {
		return false, nil
	}
	ev := &rebalanceEvent{kind: evRevoked, parts: tps, done: make(chan struct{})}
	stopped := false // the tick runs on this goroutine, inside awaitEvent
	g.c.awaitEvent(ctx, ev, g.cfg.MaxPollInterval, g.cfg.HeartbeatInterval, func() {
		if stopped {
			return
		}
		hctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
		err := g.heartbeat(hctx)
		cancel()
		switch {
		case err == nil, errors.Is(err, kerr.RebalanceInProgress):
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration):
			g.mu.Lock()
			g.resetLocked(errors.Is(err, kerr.UnknownMemberID))
			g.mu.Unlock()
			lost, stopped = true, true
			demoted := g.c.demoteToLost(ev)
			g.c.log.Info("group generation gone during revocation", "group", g.cfg.GroupID, "err", err, "revocation_now_loss", demoted)
		case errors.Is(err, kerr.FencedInstanceID):
			g.mu.Lock()
			g.resetLocked(true) // another instance has this identity now
			g.mu.Unlock()
			fatal, stopped = err, true
			g.c.demoteToLost(ev)
		default:
			if isCoordinatorErr(err) {
				g.c.cl.invalidateCoordinator(g.cfg.GroupID)
			}
			g.c.log.Debug("heartbeat during revocation failed", "group", g.cfg.GroupID, "err", err)
		}
	})
	g.mu.Lock()
	for _, tp := range tps {
		delete(g.owned, tp)
	}
	g.mu.Unlock()
	return lost, fatal
}

// loseAll drops the whole assignment without committing and tells Poll.
func (g *group) loseAll(ctx context.Context) {
	g.mu.Lock()
	lost := slices.Collect(maps.Keys(g.owned))
	clear(g.owned)
	g.generation = -1
	g.mu.Unlock()
	if len(lost) == 0 {
		return
	}
	sortTPs(lost)
	g.c.dropPartitions(lost)
	g.c.queueEvent(&rebalanceEvent{kind: evLost, parts: lost, done: make(chan struct{})})
}

// joinRequest gives JoinGroup the rebalance timeout as its request timeout:
// the coordinator holds the response until every member rejoined.
type joinRequest struct{ *kmsg.JoinGroupRequest }

func (r joinRequest) Timeout() int32 { return r.RebalanceTimeoutMillis }

// joinAndSync runs one JoinGroup + SyncGroup round and installs the
// assignment: join, sync (leading the assignment if elected), install.
// rejoinNow asks for another round at once (the coordinator is mid
// rebalance, the member id changed, or KIP-429's second phase after a
// cooperative revocation).
func (g *group) joinAndSync(ctx context.Context) (rejoinNow bool, err error) {
	joined, rejoinNow, err := g.join(ctx)
	if err != nil || rejoinNow {
		return rejoinNow, err
	}
	assigned, rejoinNow, err := g.sync(ctx, joined)
	if err != nil || rejoinNow {
		return rejoinNow, err
	}
	return g.install(ctx, assigned, g.subscribedCounts(ctx))
}

// joinGroupRequest builds JoinGroup: one protocol per assignor, each
// carrying the subscription and the partitions owned now (KIP-429).
func (g *group) joinGroupRequest() *kmsg.JoinGroupRequest {
	g.mu.Lock()
	owned := map[string][]int32{}
	for tp := range g.owned {
		owned[tp.Topic] = append(owned[tp.Topic], tp.Partition)
	}
	gen := g.generation
	g.mu.Unlock()

	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = g.cfg.GroupID
	req.SessionTimeoutMillis = int32(g.cfg.SessionTimeout / time.Millisecond)
	req.RebalanceTimeoutMillis = int32(g.cfg.MaxPollInterval / time.Millisecond)
	req.ProtocolType = "consumer"
	if g.cfg.GroupInstanceID != "" {
		req.InstanceID = &g.cfg.GroupInstanceID
	}
	for _, a := range g.assignors {
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = a.name()
		p.Metadata = encodeSubscription(g.cfg.Topics, owned, gen, g.cfg.ClientRack)
		req.Protocols = append(req.Protocols, p)
	}
	return req
}

// join sends JoinGroup until the coordinator admits the member, and
// records the member id, generation and protocol it was given.
func (g *group) join(ctx context.Context) (resp *kmsg.JoinGroupResponse, rejoinNow bool, err error) {
	req := g.joinGroupRequest()
	for attempt := 0; ; attempt++ {
		g.mu.Lock()
		req.MemberID = g.memberID
		g.mu.Unlock()
		kresp, err := g.coordinatorRequest(ctx, joinRequest{req})
		if err != nil {
			return nil, false, fmt.Errorf("join group: %w", err)
		}
		resp = kresp.(*kmsg.JoinGroupResponse)
		err = kerr.ForCode(resp.ErrorCode)
		switch {
		case err == nil:
			g.mu.Lock()
			g.memberID, g.generation, g.protocol = resp.MemberID, resp.Generation, protocolName(resp)
			g.mu.Unlock()
			return resp, false, nil
		case errors.Is(err, kerr.MemberIDRequired) && attempt < 3:
			// KIP-394: the coordinator assigned an id; join again with it.
			g.mu.Lock()
			g.memberID = resp.MemberID
			g.mu.Unlock()
		case errors.Is(err, kerr.UnknownMemberID):
			g.mu.Lock()
			g.memberID = ""
			g.mu.Unlock()
			return nil, true, nil
		case errors.Is(err, kerr.RebalanceInProgress):
			return nil, true, nil
		case isCoordinatorErr(err):
			g.c.cl.invalidateCoordinator(g.cfg.GroupID)
			return nil, false, fmt.Errorf("join group: %w", err)
		default:
			return nil, false, fmt.Errorf("join group: %w", err)
		}
	}
}

func protocolName(resp *kmsg.JoinGroupResponse) string {
	if resp.Protocol == nil {
		return ""
	}
	return *resp.Protocol
}

// sync sends SyncGroup for the generation join entered, with the group's
// assignment if this member leads, and returns this member's partitions.
func (g *group) sync(ctx context.Context, joined *kmsg.JoinGroupResponse) (assigned map[TopicPartition]bool, rejoinNow bool, err error) {
	protocol := protocolName(joined)
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = g.cfg.GroupID
	req.Generation = joined.Generation
	req.MemberID = joined.MemberID
	if g.cfg.GroupInstanceID != "" {
		req.InstanceID = &g.cfg.GroupInstanceID
	}
	pt := "consumer"
	req.ProtocolType = &pt
	req.Protocol = &protocol
	if joined.LeaderID == joined.MemberID && !joined.SkipAssignment {
		assignments, err := g.lead(ctx, protocol, joined.Members)
		if err != nil {
			return nil, false, err
		}
		req.GroupAssignment = assignments
	}
	kresp, err := g.coordinatorRequest(ctx, req)
	if err != nil {
		return nil, false, fmt.Errorf("sync group: %w", err)
	}
	resp := kresp.(*kmsg.SyncGroupResponse)
	if err := kerr.ForCode(resp.ErrorCode); err != nil {
		switch {
		case errors.Is(err, kerr.RebalanceInProgress):
			return nil, true, nil
		case errors.Is(err, kerr.UnknownMemberID):
			g.mu.Lock()
			g.resetLocked(true)
			g.mu.Unlock()
			g.loseAll(ctx)
			return nil, true, nil
		case errors.Is(err, kerr.IllegalGeneration):
			g.loseAll(ctx)
			return nil, true, nil
		case isCoordinatorErr(err):
			g.c.cl.invalidateCoordinator(g.cfg.GroupID)
		}
		return nil, false, fmt.Errorf("sync group: %w", err)
	}
	assigned, err = decodeAssignment(resp.MemberAssignment)
	if err != nil {
		return nil, false, fmt.Errorf("sync group: bad assignment from the leader: %w", err)
	}
	return assigned, false, nil
}

// subscribedCounts returns the partition counts of the subscription, so a
// later change triggers a rejoin. It is looked up after SyncGroup (a
// metadata hiccup must not stall the whole group's sync); nil means
// unknown, and the heartbeat loop fills it in later.
func (g *group) subscribedCounts(ctx context.Context) map[string]int32 {
	counts, missing, err := g.c.cl.partitionCounts(ctx, g.cfg.Topics)
	if err != nil {
		g.c.logRetry("metadata for the subscription failed; checking partition counts later", err, "group", g.cfg.GroupID)
		return nil
	}
	g.noteMissing(missing)
	return counts
}

// noteMissing tells, once per topic, that a subscribed topic is not
// there: a Warn naming it and an ErrTopicNotAvailable from Poll, so a
// mistyped or not yet created topic does not look like an idle one. When
// it appears, one Info. It reports whether any topic is still missing.
func (g *group) noteMissing(missing map[string]error) bool {
	g.mu.Lock()
	if g.missing == nil {
		g.missing = map[string]bool{}
	}
	var appeared []string
	for t := range g.missing {
		if _, still := missing[t]; !still {
			appeared = append(appeared, t)
			delete(g.missing, t)
		}
	}
	var fresh []string
	for _, t := range slices.Sorted(maps.Keys(missing)) {
		if !g.missing[t] {
			g.missing[t] = true
			fresh = append(fresh, t)
		}
	}
	still := len(g.missing) > 0
	g.mu.Unlock()
	for _, t := range fresh {
		err := missing[t]
		g.c.log.Warn("subscribed topic is not available; waiting for it", "group", g.cfg.GroupID, "topic", t, "err", err)
		g.c.mu.Lock()
		g.c.pushErrLocked(fmt.Errorf("%w: %s (waiting for it): %w", ErrTopicNotAvailable, t, err))
		g.c.mu.Unlock()
	}
	for _, t := range appeared {
		g.c.log.Info("subscribed topic is available", "group", g.cfg.GroupID, "topic", t)
	}
	return still
}

// metaInterval is how often the heartbeat loop checks the subscription's
// metadata.
func (g *group) metaInterval() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.missing) > 0 {
		return min(missingTopicRecheck, g.cfg.MetadataMaxAge)
	}
	return g.cfg.MetadataMaxAge
}

// lead runs the assignor over the members' subscriptions (group leader).
func (g *group) lead(ctx context.Context, protocol string, members []kmsg.JoinGroupResponseMember) ([]kmsg.SyncGroupRequestGroupAssignment, error) {
	var a assignor
	for _, x := range g.assignors {
		if x.name() == protocol {
			a = x
		}
	}
	if a == nil {
		return nil, fmt.Errorf("sync group: the coordinator chose protocol %q, which this member did not offer", protocol)
	}
	subs := make([]memberSub, 0, len(members))
	topicSet := map[string]bool{}
	for _, m := range members {
		s, err := decodeSubscription(m.MemberID, m.InstanceID, m.ProtocolMetadata)
		if err != nil {
			// A member we cannot read gets nothing rather than failing the
			// whole group.
			g.c.log.Warn("undecodable subscription; member gets no partitions", "group", g.cfg.GroupID, "member", m.MemberID, "err", err)
			s = memberSub{id: m.MemberID, instanceID: m.InstanceID, generation: -1}
		}
		for _, t := range s.topics {
			topicSet[t] = true
		}
		subs = append(subs, s)
	}
	counts, _, err := g.c.cl.partitionCounts(ctx, slices.Sorted(maps.Keys(topicSet)))
	if err != nil {
		return nil, fmt.Errorf("metadata for the group's subscriptions: %w", err)
	}
	p := a.assign(subs, counts)
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(subs))
	for _, s := range subs {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID = s.id
		ga.MemberAssignment = encodeAssignment(p[s.id])
		out = append(out, ga)
	}
	g.c.log.Debug("assigned the group", "group", g.cfg.GroupID, "protocol", protocol, "members", len(subs))
	return out, nil
}

// install applies a synced assignment: new partitions start at their
// committed offsets; with the cooperative protocol, partitions no longer
// assigned are revoked and the member rejoins at once.
func (g *group) install(ctx context.Context, assigned map[TopicPartition]bool, counts map[string]int32) (bool, error) {
	g.mu.Lock()
	var added, revoked []TopicPartition
	for tp := range assigned {
		if !g.owned[tp] {
			added = append(added, tp)
		}
	}
	for tp := range g.owned {
		if !assigned[tp] {
			revoked = append(revoked, tp)
		}
	}
	for _, tp := range added {
		g.owned[tp] = true
	}
	g.counts = counts
	g.mu.Unlock()
	sortTPs(added)
	sortTPs(revoked)

	if len(added) > 0 {
		assign := map[string][]TopicPartitionOffset{}
		for _, tp := range added {
			assign[tp.Topic] = append(assign[tp.Topic], TopicPartitionOffset{Partition: tp.Partition, Offset: OffsetCommitted, LeaderEpoch: -1})
		}
		g.c.mu.Lock()
		g.c.assignLocked(assign)
		for _, tp := range added {
			g.c.parts[tp].held = true // until OnAssigned ran (runEvent)
		}
		g.c.mu.Unlock()
		g.c.queueEvent(&rebalanceEvent{kind: evAssigned, parts: added, done: make(chan struct{})})
	}
	g.c.log.Info("joined the group", "group", g.cfg.GroupID, "generation", g.generationNow(), "added", len(added), "revoked", len(revoked))
	if len(revoked) > 0 {
		// KIP-429: revoke what moved, then rejoin so the new owner gets it.
		lost, err := g.revoke(ctx, revoked)
		if err != nil {
			return false, err
		}
		if lost {
			g.loseAll(ctx) // the partitions kept belonged to the lost generation too
		}
		return true, nil
	}
	// A rejoin asked for by a request of an earlier generation is moot.
	select {
	case <-g.rejoinCh:
	default:
	}
	g.takeLost()
	g.setStable(true)
	return false, nil
}

func (g *group) generationNow() int32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.generation
}

// heartbeatLoop heartbeats until the group needs a rejoin, and watches
// max.poll.interval.ms and the subscribed topics' partition counts.
func (g *group) heartbeatLoop(ctx context.Context) (rejoinReason, error) {
	hb := time.NewTicker(g.cfg.HeartbeatInterval)
	defer hb.Stop()
	meta := time.NewTicker(g.metaInterval())
	defer meta.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return rejoinStop, nil
		case <-g.rejoinCh:
			if cause := g.takeLost(); cause != nil {
				return rejoinLost, cause
			}
			return rejoinRebalance, nil
		case <-meta.C:
			mctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
			counts, missing, err := g.c.cl.partitionCounts(mctx, g.cfg.Topics)
			cancel()
			if err == nil {
				g.noteMissing(missing)
				meta.Reset(g.metaInterval())
			}
			g.mu.Lock()
			changed := err == nil && g.counts != nil && !maps.Equal(counts, g.counts)
			if err == nil && g.counts == nil {
				g.counts = counts
			}
			g.mu.Unlock()
			if changed {
				g.c.log.Info("subscribed topics changed partition count; rejoining", "group", g.cfg.GroupID)
				return rejoinRebalance, nil
			}
			continue
		case <-hb.C:
		}
		g.c.mu.Lock()
		sincePoll := time.Since(g.c.lastPoll)
		g.c.mu.Unlock()
		if sincePoll > g.cfg.MaxPollInterval {
			return rejoinPollTimeout, nil
		}
		hctx, cancel := context.WithTimeout(ctx, g.cfg.RequestTimeout)
		err := g.heartbeat(hctx)
		cancel()
		switch {
		case err == nil:
			lastOK = time.Now()
		case ctx.Err() != nil:
			return rejoinStop, nil
		case errors.Is(err, kerr.RebalanceInProgress):
			return rejoinRebalance, nil
		case errors.Is(err, kerr.UnknownMemberID):
			g.mu.Lock()
			g.memberID = ""
			g.mu.Unlock()
			return rejoinLost, err
		case errors.Is(err, kerr.IllegalGeneration):
			return rejoinLost, err
		case errors.Is(err, kerr.FencedInstanceID):
			return rejoinFatal, err
		default:
			if isCoordinatorErr(err) {
				g.c.cl.invalidateCoordinator(g.cfg.GroupID)
			}
			if time.Since(lastOK) > g.cfg.SessionTimeout {
				// The coordinator surely expired us by now.
				return rejoinLost, err
			}
			g.c.log.Debug("heartbeat failed", "group", g.cfg.GroupID, "err", err)
		}
	}
}

func (g *group) heartbeat(ctx context.Context) error {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = g.cfg.GroupID
	req.Generation, req.MemberID = g.identity()
	if g.cfg.GroupInstanceID != "" {
		req.InstanceID = &g.cfg.GroupInstanceID
	}
	kresp, err := g.coordinatorRequest(ctx, req)
	if err != nil {
		return err
	}
	return kerr.ForCode(kresp.(*kmsg.HeartbeatResponse).ErrorCode)
}

func (g *group) coordinatorRequest(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	node, err := g.c.cl.coordinator(ctx, g.cfg.GroupID)
	if err != nil {
		return nil, err
	}
	resp, err := g.c.cl.requestNode(ctx, node, req)
	if err != nil {
		g.c.cl.invalidateCoordinator(g.cfg.GroupID)
	}
	return resp, err
}

// leave sends LeaveGroup (KIP-345: static members stay, so a restart
// within the session timeout does not rebalance).
func (g *group) leave(ctx context.Context, reason string) {
	g.mu.Lock()
	memberID := g.memberID
	g.memberID, g.generation = "", -1
	g.mu.Unlock()
	if memberID == "" || g.cfg.GroupInstanceID != "" {
		return
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = g.cfg.GroupID
	req.MemberID = memberID
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = memberID
	m.Reason = &reason
	req.Members = append(req.Members, m)
	kresp, err := g.coordinatorRequest(ctx, req)
	if err == nil {
		resp := kresp.(*kmsg.LeaveGroupResponse)
		err = kerr.ForCode(resp.ErrorCode)
		for _, m := range resp.Members {
			if err == nil {
				err = kerr.ForCode(m.ErrorCode)
			}
		}
	}
	if err != nil {
		g.c.log.Info("leave group failed", "group", g.cfg.GroupID, "err", err)
	}
}

// close stops the membership: it stops the run loop, runs the rebalance
// steps still queued, revokes the rest (commit with auto-commit, then
// OnRevoked) on the caller's goroutine, and leaves the group.
func (g *group) close(ctx context.Context) error {
	g.cancel()
	<-g.done
	if err := g.c.runEvents(ctx); err != nil {
		return err
	}
	owned := g.ownedList()
	var err error
	if len(owned) > 0 && g.generationNow() >= 0 {
		ev := &rebalanceEvent{kind: evRevoked, parts: owned, final: true, done: make(chan struct{}), claimed: true}
		g.c.runEvent(ctx, ev, false)
	}
	g.leave(ctx, "the consumer is being closed")
	return err
}

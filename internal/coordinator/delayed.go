package coordinator

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/internal/purgatory"
)

// The coordinator's delayed operations, after Kafka's GroupCoordinator and
// its DelayedOperationPurgatory instances: every deadline the coordinator
// has (the join phase, the initial rebalance delay, member sessions, KIP-394
// pending member ids, the offsets expiry pass) is an op parked in one
// internal/purgatory, so the purgatory's single timer goroutine is the only
// one that ever expires anything.
//
//	op                  key         completes when              expires into
//	delayedJoin         group key   every member rejoined and   completeJoin (rebalance
//	                                no pending ids are left     timeout: non-rejoiners removed)
//	delayedJoin initial group key   never (only goes stale)     initialDelayElapsed: another
//	                                                            step or completeJoin
//	delayedHeartbeat    member key  the member was heard from   session expiry: removeMember, or
//	                                since it was scheduled      drop the pending id
//	delayedRetention    none        never                       expireOffsets, then the next one
//
// Every op is checked against the state it was scheduled for (a sequence
// number under Coordinator.mu) before it acts: a superseded op reports
// TryComplete true so the next Notify of its key flushes it, and one that
// lost a race with a newer schedule does nothing when it fires.
//
// Lock order: the purgatory is never called with Coordinator.mu held.
// Handlers queue their Watch and Notify calls in Coordinator.acts, next to
// the responses in outbox, and locked runs them after releasing mu (and
// before sending the responses). That is
// what lets delayedJoin.TryComplete take mu (it reads the group), and lets
// every OnComplete and OnExpire take mu: they run on the goroutine that
// called Watch or Notify (never inside mu, by the rule above) or on the
// purgatory's timer goroutine (which holds no purgatory lock while it calls
// an op). The purgatory's own mutex is a leaf that is never held while an op
// runs, so it never nests with mu in either order.

// Purgatory keys live in namespaces no partition key can use: Kafka topic
// names are [a-zA-Z0-9._-]+, so a Topic with a '/' is never a topic, even if
// the coordinator one day shares the broker's purgatory. Group ids may
// contain '/', so a member key carries the group name's length as its
// Partition: "member/a/b/c" is then unambiguous between group "a/b" with
// member "c" and group "a" with member "b/c".
func groupKeys(group string) []purgatory.Key {
	return []purgatory.Key{{Topic: "group/" + group, Partition: -1}}
}

func memberKeys(group, memberID string) []purgatory.Key {
	return []purgatory.Key{{Topic: "member/" + group + "/" + memberID, Partition: int32(len(group))}}
}

// act is a purgatory call queued under mu and run by locked after mu is
// released: a Watch of op when op is set, else a Notify of keys[0].
type act struct {
	op       purgatory.Operation
	keys     []purgatory.Key
	deadline time.Time
}

// actsPool recycles the act queues, so that a heartbeat (a Watch and a
// Notify) does not allocate one.
var actsPool = sync.Pool{New: func() any { s := make([]act, 0, 8); return &s }}

// watch queues op to be parked under keys until deadline. keys is kept by
// the purgatory and must never be modified afterwards. Callers hold mu.
func (c *Coordinator) watch(op purgatory.Operation, keys []purgatory.Key, deadline time.Time) {
	c.queueAct(act{op: op, keys: keys, deadline: deadline})
}

// notify queues a Notify of the one key in keys. Callers hold mu.
func (c *Coordinator) notify(keys []purgatory.Key) {
	c.queueAct(act{keys: keys})
}

func (c *Coordinator) queueAct(a act) {
	if c.acts == nil {
		c.acts = actsPool.Get().(*[]act)
	}
	*c.acts = append(*c.acts, a)
}

// runActs performs the purgatory calls queued in acts (taken from c.acts
// under mu) and recycles the queue; mu must not be held.
func (c *Coordinator) runActs(acts *[]act) {
	if acts == nil {
		return
	}
	for _, a := range *acts {
		if a.op != nil {
			c.purg.Watch(a.keys, a.op, a.deadline)
		} else {
			c.purg.Notify(a.keys[0])
		}
	}
	clear(*acts)
	*acts = (*acts)[:0]
	actsPool.Put(acts)
}

// fire runs f under mu for an op's OnComplete or OnExpire, unless the
// coordinator closed meanwhile (Close answered every parked request).
func (c *Coordinator) fire(f func()) {
	c.locked(func() {
		if !c.closed {
			f()
		}
	})
}

// delayedJoin is Kafka's DelayedJoin, or with initial set its
// InitialDelayedJoin: the join phase of one rebalance of g, identified by
// g.joinSeq at the time it was parked.
type delayedJoin struct {
	c        *Coordinator
	g        *group
	seq      uint64
	initial  bool
	deadline time.Time
}

// watchJoin parks the join phase of g's current joinSeq until deadline.
// Callers hold mu.
func (c *Coordinator) watchJoin(g *group, initial bool, deadline time.Time) {
	c.watch(&delayedJoin{c: c, g: g, seq: g.joinSeq, initial: initial, deadline: deadline}, g.keys, deadline)
}

// stale reports whether the rebalance op was parked for is over or was
// replaced. Callers hold mu.
func (op *delayedJoin) stale() bool {
	return op.c.closed || !op.c.current(op.g) || op.g.joinSeq != op.seq
}

// TryComplete takes mu: it runs from Watch and Notify, which the
// coordinator never calls with mu held.
func (op *delayedJoin) TryComplete() bool {
	op.c.mu.Lock()
	defer op.c.mu.Unlock()
	if op.stale() {
		return true
	}
	// The initial delay only ends at its deadline: it exists to let more
	// members arrive, so all of them having rejoined is no reason to stop.
	return !op.initial && op.g.joinReady()
}

func (op *delayedJoin) OnComplete() {
	op.c.fire(func() {
		if op.stale() {
			return
		}
		if !op.g.joinReady() {
			// Between TryComplete and here (mu was released) a KIP-394
			// id was handed out: keep waiting, with the same deadline.
			op.c.watchJoin(op.g, op.initial, op.deadline)
			return
		}
		op.c.completeJoin(op.g)
	})
}

func (op *delayedJoin) OnExpire() {
	op.c.fire(func() {
		if op.stale() {
			return
		}
		if op.initial {
			op.c.initialDelayElapsed(op.g)
			return
		}
		op.c.completeJoin(op.g)
	})
}

// liveness is what a delayedHeartbeat watches for one member or one KIP-394
// pending member id: seq counts the session deadlines scheduled, so an op
// whose seq is no longer current was superseded (the member was heard from,
// left or was removed). seq is written under Coordinator.mu and read by
// TryComplete without it, which keeps a heartbeat's Notify lock-free.
type liveness struct {
	seq atomic.Uint64
	// keys is the member key, shared by every op parked for this
	// member. It is replaced, never modified, when a static member is
	// renamed: parked entries keep the slice they were watched with.
	keys []purgatory.Key
}

// delayedHeartbeat is Kafka's DelayedHeartbeat: the session deadline of a
// member (m set) or of a pending member id (pending set).
type delayedHeartbeat struct {
	c       *Coordinator
	g       *group
	live    *liveness
	seq     uint64
	m       *member
	pending string
}

// TryComplete is true once a newer deadline was scheduled: the member was
// heard from (Kafka's heartbeatSatisfied) or is gone.
func (op *delayedHeartbeat) TryComplete() bool { return op.live.seq.Load() != op.seq }

// OnComplete has nothing to do: whoever superseded the op already watches
// the next deadline, if there is one.
func (op *delayedHeartbeat) OnComplete() {}

func (op *delayedHeartbeat) OnExpire() {
	op.c.fire(func() { op.c.heartbeatExpired(op) })
}

// heartbeatExpired is Kafka's onExpireHeartbeat. Callers hold mu.
func (c *Coordinator) heartbeatExpired(op *delayedHeartbeat) {
	g := op.g
	if op.live.seq.Load() != op.seq || !c.current(g) {
		return // heard from after the timer claimed the op, or gone
	}
	if op.m == nil {
		if g.pending[op.pending] != op.live {
			return
		}
		delete(g.pending, op.pending)
		c.checkJoin(g)
		return
	}
	m := op.m
	if g.members[m.id] != m {
		return
	}
	if m.join != nil || m.sync != nil {
		// A member parked in JoinGroup or SyncGroup cannot heartbeat;
		// Kafka counts the parked request as its heartbeat.
		c.scheduleSession(g, m)
		return
	}
	c.log.Info("member session expired", "group", g.name, "member", m.id, "session_timeout", m.sessionTimeout)
	c.removeMember(g, m, "member "+m.id+" session expired")
}

// scheduleSession completes the member's current session op and watches
// the next one, a session timeout from now: Kafka's
// completeAndScheduleNextHeartbeatExpiration. Unlike Kafka it parks the new
// op before notifying the old one: the new deadline is then not the
// earliest in the purgatory's heap, so a heartbeat does not wake the timer
// goroutine (the old op's TryComplete is true and the new one's false in
// either order). Callers hold mu.
func (c *Coordinator) scheduleSession(g *group, m *member) {
	seq := m.live.seq.Add(1)
	c.watch(&delayedHeartbeat{c: c, g: g, live: &m.live, seq: seq, m: m}, m.live.keys, time.Now().Add(m.sessionTimeout))
	c.notify(m.live.keys)
}

// stopSession ends the member's session op without scheduling another.
// Callers hold mu.
func (c *Coordinator) stopSession(m *member) {
	m.live.seq.Add(1)
	c.notify(m.live.keys)
}

// addPending records a KIP-394 member id handed out with
// MEMBER_ID_REQUIRED; it expires if its JoinGroup does not come back within
// the session timeout (Kafka's pending-member DelayedHeartbeat). Callers
// hold mu.
func (c *Coordinator) addPending(g *group, id string, session time.Duration) {
	l := &liveness{keys: memberKeys(g.name, id)}
	g.pending[id] = l
	c.watch(&delayedHeartbeat{c: c, g: g, live: l, seq: l.seq.Load(), pending: id}, l.keys, time.Now().Add(session))
}

// removePending forgets a pending member id (it joined or left) and flushes
// its op. Callers hold mu.
func (c *Coordinator) removePending(g *group, id string) bool {
	l, ok := g.pending[id]
	if ok {
		l.seq.Add(1)
		c.notify(l.keys)
		delete(g.pending, id)
	}
	return ok
}

// delayedRetention is the offsets expiry pass every
// offsets.retention.check.interval.ms. Kafka runs it on its KafkaScheduler;
// here it is a keyless op that only expires, so the purgatory's timer
// goroutine stays the coordinator's only clock and Close has no ticker
// goroutine to stop.
type delayedRetention struct{ c *Coordinator }

func (op *delayedRetention) TryComplete() bool { return false }
func (op *delayedRetention) OnComplete()       {}
func (op *delayedRetention) OnExpire() {
	op.c.fire(func() {
		op.c.expireOffsets()
		op.c.scheduleRetention()
	})
}

// scheduleRetention parks the next offsets expiry pass. Callers hold mu.
func (c *Coordinator) scheduleRetention() {
	c.watch(&delayedRetention{c}, nil, time.Now().Add(c.cfg.OffsetsRetentionCheckInterval))
}

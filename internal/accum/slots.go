package accum

import (
	"math"
	"sync/atomic"
	"time"
)

// Skipping the partitions that cannot be due, without their locks.
//
// Ready, Drain and Expire run on every sender wake-up. They used to lock
// every partition, look up its leader and work out its head's linger with
// time arithmetic; at 1,000 partitions nearly every partition holds one
// young batch lingering, so a wake-up for the few that were due cost
// ~1,000 locks, leader lookups and time.Time computations on cold cache
// lines (issue 14: ~9% of the client's CPU, leaderCache.leader alone 5%).
//
// Each partition now keeps a summary of its queue in a slot, and the slots
// sit side by side in chunks, so the sender reads a thousand of them from
// a few pages without touching the partitions:
//
//	0        empty: nothing to send or expire
//	1        look under the lock: several batches, or a head that is
//	         full, closed, retried, split or being compressed (every case
//	         the drain policy has more to say about than its linger)
//	2 + c    one young batch, open and not full, opened c ns (monotonic)
//	         after the accumulator: due at its linger less the slack
//	         (linger.go), expiring at delivery.timeout.ms; ride says
//	         whether it is at least half full (rideAlong)
//
// A slot is written under its partition's lock whenever the queue or its
// head changes (publish), so once the writer unlocks it says what a scan
// under the lock would find. A scan that reads it while a change is under
// way sees the state before or after it, as a locked scan would have; the
// changes that make a batch due signal the sender (a batch filling, a
// retry coming back), and a young batch's own linger is the wake-up Ready
// returns, so nothing waits longer than it did with the locked scan.
// A batch opened on a partition without a known leader is not young but
// "look" (the appender asks when it opens it), so Ready still reports the
// unknown leader while the batch lingers and the producer refreshes its
// metadata; a leader lost later is reported once the batch is due, and
// the broker's NOT_LEADER answers ask for a refresh anyway.

const (
	slotEmpty = 0
	slotLook  = 1
	slotYoung = 2 // + the young head's creation offset
)

// slot is one partition's queue summary; written under the partition's
// lock, read without it.
type slot struct {
	state atomic.Int64
	ride  atomic.Bool
}

// slotChunkLen slots are allocated together and never move, so a slot's
// address can be kept by its partition while the list of chunks grows
// copy-on-write.
const slotChunkLen = 256

type slotChunk [slotChunkLen]slot

// slotAt is the i-th partition's slot (the order of a.all).
func slotAt(chunks []*slotChunk, i int) *slot {
	return &chunks[i/slotChunkLen][i%slotChunkLen]
}

// addSlot returns the slot for partition number i, growing the chunks;
// a.topicMu must be held.
func (a *Accumulator[M]) addSlot(i int) *slot {
	chunks := *a.slots.Load()
	if i/slotChunkLen == len(chunks) {
		grown := append(append([]*slotChunk(nil), chunks...), new(slotChunk))
		a.slots.Store(&grown)
		chunks = grown
	}
	return slotAt(chunks, i)
}

// publish brings p's slot up to date with its queue; p.mu must be held.
func (a *Accumulator[M]) publish(p *partition[M]) {
	st := int64(slotEmpty)
	ride := false
	if n := len(p.q); n > 0 {
		st = slotLook
		h := p.q[0]
		if n == 1 && p.open == h && !h.full && h.attempts == 0 && h.cstate == cRaw && !p.leaderless {
			st = slotYoung + max(int64(h.created.Sub(a.epoch)), 0)
			ride = a.rideAlong(h)
		}
	}
	s := p.slot
	if s.state.Load() != st {
		s.state.Store(st)
	}
	if s.ride.Load() != ride {
		s.ride.Store(ride)
	}
}

// scanClock holds what a scan compares young slots with, computed once
// per Ready, Drain or Expire instead of time arithmetic per partition.
type scanClock struct {
	now      int64 // ns since a.epoch
	dueAfter int64 // a young batch is due this long after it opened
	expiry   int64 // delivery.timeout.ms
}

func (a *Accumulator[M]) scanClock(now time.Time) scanClock {
	return scanClock{
		now:      int64(now.Sub(a.epoch)),
		dueAfter: int64(a.cfg.Linger - a.slack),
		expiry:   int64(a.cfg.DeliveryTimeout),
	}
}

// youngNotDue reports whether state is a young batch whose linger (less
// the slack) has not passed: due would say not due.
func (c *scanClock) youngNotDue(state int64) bool {
	return state >= slotYoung && c.now < satAdd(state-slotYoung, c.dueAfter)
}

// youngNotExpired reports whether state is a young batch whose delivery
// timeout has not passed.
func (c *scanClock) youngNotExpired(state int64) bool {
	return state >= slotYoung && c.now < satAdd(state-slotYoung, c.expiry)
}

// satAdd is x+y for x >= 0, saturating instead of wrapping.
func satAdd(x, y int64) int64 {
	if y > 0 && x > math.MaxInt64-y {
		return math.MaxInt64
	}
	return x + y
}

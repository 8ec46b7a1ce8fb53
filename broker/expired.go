package broker

import (
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/skiffkit/skiff/internal/purgatory"
)

// expiredOps carries ops whose deadline passed from the purgatory's timer
// goroutine to the I/O workers: an expired fetch answers with what the log
// holds now, so its OnExpire reads the disk, and the one timer goroutine
// that expires every op must not wait on that (a slow read would delay
// every other deadline). Kafka's DelayedFetch reads on its expiration
// reaper thread; here the workers that serve requests do it.
//
// push never blocks, so the timer goroutine never waits on the workers.
// The list is unbounded but holds at most the parked ops, which are
// bounded by connections times maxInFlight.
type expiredOps struct {
	mu    sync.Mutex
	ops   []purgatory.Operation // mu: FIFO from head
	head  int                   // mu
	ready chan struct{}         // capacity 1: ops are waiting
}

func newExpiredOps() *expiredOps {
	return &expiredOps{ready: make(chan struct{}, 1)}
}

// push is the purgatory's ExpireWith hand-off.
func (q *expiredOps) push(op purgatory.Operation) {
	q.mu.Lock()
	q.ops = append(q.ops, op)
	q.mu.Unlock()
	q.signal()
}

func (q *expiredOps) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest op; when more remain it signals again, so another
// worker takes the next one instead of them queueing behind this one.
func (q *expiredOps) pop() (purgatory.Operation, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.ops) {
		return nil, false
	}
	op := q.ops[q.head]
	q.ops[q.head] = nil
	q.head++
	if q.head == len(q.ops) {
		q.ops, q.head = q.ops[:0], 0
	} else {
		q.signal()
	}
	return op, true
}

// expire runs one expired op on a worker. A panic is a bug, logged like
// one in a handler, and does not take the worker down.
func (b *Broker) expire(op purgatory.Operation) {
	defer func() {
		if v := recover(); v != nil {
			b.bugs.Add(1)
			b.log.Error("bug: panic expiring a delayed request", "op", fmt.Sprintf("%T", op),
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	op.OnExpire()
}

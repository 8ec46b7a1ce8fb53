package coordinator

import (
	"container/heap"
	"sync"
	"time"
)

// timerQueue runs every deadline of the coordinator (session expiry,
// rebalance timeouts, the initial rebalance delay, offset expiry) from one
// goroutine over a min-heap, so Close has exactly one goroutine to stop and
// no callback can run after it returns. Callbacks run without any queue lock
// held and take Coordinator.mu themselves; a callback may lose a race with
// cancel, so each one re-checks under Coordinator.mu that it is still
// current (see member.session and group.joinSeq).
type timerQueue struct {
	// mu guards h and closed; it is a leaf lock.
	mu     sync.Mutex
	h      timerHeap
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

type timer struct {
	at    time.Time
	fn    func()
	index int // in the heap; -1 once fired or cancelled
}

func newTimerQueue() *timerQueue {
	return &timerQueue{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// after schedules fn to run d from now.
func (q *timerQueue) after(d time.Duration, fn func()) *timer {
	t := &timer{at: time.Now().Add(d), fn: fn}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		t.index = -1
		return t
	}
	heap.Push(&q.h, t)
	first := t.index == 0
	q.mu.Unlock()
	if first {
		q.poke()
	}
	return t
}

// cancel removes t if it has not fired. A nil t is a no-op.
func (q *timerQueue) cancel(t *timer) {
	if t == nil {
		return
	}
	q.mu.Lock()
	if t.index >= 0 {
		heap.Remove(&q.h, t.index)
	}
	q.mu.Unlock()
}

func (q *timerQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stop makes run return; pending timers never fire.
func (q *timerQueue) stop() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.poke()
}

func (q *timerQueue) run() {
	defer close(q.done)
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return
		}
		var due *timer
		wait := time.Hour
		if len(q.h) > 0 {
			if d := time.Until(q.h[0].at); d <= 0 {
				due = heap.Pop(&q.h).(*timer)
			} else {
				wait = d
			}
		}
		q.mu.Unlock()
		if due != nil {
			due.fn()
			continue
		}
		tm.Reset(wait)
		select {
		case <-tm.C:
		case <-q.wake:
		}
	}
}

type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}

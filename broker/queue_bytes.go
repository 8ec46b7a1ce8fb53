package broker

import (
	"sync"
	"sync/atomic"
)

// byteBudget is queued.max.request.bytes: the bytes of requests read and
// not yet handled, across every connection. A reader takes a request's
// size from it before reading the body and blocks while the budget is used
// up; the worker gives the bytes back once the handler returned, when the
// frame is garbage (or back in reqPool).
//
// Like Kafka's non-strict SimpleMemoryPool, a request is admitted whenever
// the budget is not yet used up, even when it takes the budget past its
// limit: a request larger than the whole budget (up to
// socket.request.max.bytes) must still get in, and blocking it until the
// budget is empty would starve it. At most one request overdraws, so the
// queued bytes stay below limit plus one request.
type byteBudget struct {
	limit int64 // <= 0: unbounded
	used  atomic.Int64
	// waiting counts readers blocked in acquire; release only takes mu
	// when it is nonzero, so the unblocked path is two atomic operations.
	waiting atomic.Int32

	mu    sync.Mutex
	freed chan struct{} // mu: closed and cleared by release while readers wait
}

func newByteBudget(limit int64) *byteBudget { return &byteBudget{limit: limit} }

// tryAcquire takes n bytes unless the budget is used up.
func (q *byteBudget) tryAcquire(n int64) bool {
	if q.limit <= 0 {
		return true
	}
	for {
		u := q.used.Load()
		if u >= q.limit {
			return false
		}
		if q.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// acquire takes n bytes, blocking while the budget is used up. It reports
// false, having taken nothing, when connDone or stopping closes first.
func (q *byteBudget) acquire(n int64, connDone, stopping <-chan struct{}) bool {
	if q.tryAcquire(n) {
		return true
	}
	q.waiting.Add(1)
	defer q.waiting.Add(-1)
	for {
		q.mu.Lock()
		if q.freed == nil {
			q.freed = make(chan struct{})
		}
		ch := q.freed
		q.mu.Unlock()
		// Checked after waiting was raised and ch taken: a release
		// either happened before and is seen here, or sees waiting and
		// closes ch.
		if q.tryAcquire(n) {
			return true
		}
		select {
		case <-ch:
		case <-connDone:
			return false
		case <-stopping:
			return false
		}
	}
}

// release gives back n bytes taken by acquire.
func (q *byteBudget) release(n int64) {
	if q.limit <= 0 || n == 0 {
		return
	}
	q.used.Add(-n)
	if q.waiting.Load() == 0 {
		return
	}
	q.mu.Lock()
	if q.freed != nil {
		close(q.freed)
		q.freed = nil
	}
	q.mu.Unlock()
}

package accum

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// pool is the buffer.memory budget (Kafka's BufferPool). Buffers of exactly
// batchSize are kept on a free list for reuse; other sizes go back to the
// unallocated budget. Waiters are served first come, first served, so a
// large request cannot be starved by a stream of small ones.
//
// Invariant: avail + len(free)*batchSize + bytes handed out == total.
type pool struct {
	batchSize int
	total     int64

	mu      sync.Mutex // guards everything below
	avail   int64      // budget not backing any buffer
	free    [][]byte   // reusable buffers with cap == batchSize
	waiters []*waiter  // FIFO
	closed  bool

	// nwait mirrors len(waiters) for the lock-free memory-pressure check in
	// Ready (Kafka's "exhausted" condition).
	nwait atomic.Int32

	onWait func() // called without mu when an appender starts waiting
}

type waiter struct {
	size int
	wake chan struct{} // cap 1: memory was released or the pool closed
}

func newPool(batchSize int, total int64) *pool {
	return &pool{batchSize: batchSize, total: total, avail: total}
}

// get returns a zero-length buffer with capacity size, waiting until the
// deadline or ctx for memory.
func (p *pool) get(ctx context.Context, size int, maxBlock time.Duration) ([]byte, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if len(p.waiters) == 0 {
		if buf, ok := p.take(size); ok {
			p.mu.Unlock()
			return buf, nil
		}
	}
	if maxBlock <= 0 {
		p.mu.Unlock()
		return nil, fmt.Errorf("%w: %d bytes wanted, max.block is 0", ErrBufferFull, size)
	}
	w := &waiter{size: size, wake: make(chan struct{}, 1)}
	p.waiters = append(p.waiters, w)
	p.nwait.Store(int32(len(p.waiters)))
	p.mu.Unlock()
	if p.onWait != nil {
		p.onWait()
	}

	timer := time.NewTimer(maxBlock)
	defer timer.Stop()
	for {
		select {
		case <-w.wake:
		case <-ctx.Done():
			p.leave(w)
			return nil, fmt.Errorf("%w: %d bytes wanted: %w", ErrBufferFull, size, ctx.Err())
		case <-timer.C:
			p.leave(w)
			if err := ctx.Err(); err != nil { // both ended: the caller's reason wins
				return nil, fmt.Errorf("%w: %d bytes wanted: %w", ErrBufferFull, size, err)
			}
			return nil, fmt.Errorf("%w: %d bytes wanted, none freed within max.block (%v)", ErrBufferFull, size, maxBlock)
		}
		p.mu.Lock()
		if p.closed {
			p.removeLocked(w)
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.waiters[0] == w {
			if buf, ok := p.take(size); ok {
				p.removeLocked(w)
				p.wakeHeadLocked()
				p.mu.Unlock()
				return buf, nil
			}
		}
		p.mu.Unlock()
	}
}

// take carves a buffer out of the budget; p.mu must be held.
func (p *pool) take(size int) ([]byte, bool) {
	if size == p.batchSize && len(p.free) > 0 {
		buf := p.free[len(p.free)-1]
		p.free[len(p.free)-1] = nil
		p.free = p.free[:len(p.free)-1]
		return buf[:0], true
	}
	// Give pooled buffers back to the budget until the request fits, as
	// Kafka's BufferPool.freeUp does.
	for p.avail < int64(size) && len(p.free) > 0 {
		p.free[len(p.free)-1] = nil
		p.free = p.free[:len(p.free)-1]
		p.avail += int64(p.batchSize)
	}
	if p.avail < int64(size) {
		return nil, false
	}
	p.avail -= int64(size)
	return make([]byte, 0, size), true
}

// put returns a buffer obtained from get.
func (p *pool) put(buf []byte) {
	if buf == nil {
		return
	}
	p.mu.Lock()
	p.putLocked(buf)
	p.wakeHeadLocked()
	p.mu.Unlock()
}

// putLocked is put with p.mu held, leaving the waiters to the caller.
func (p *pool) putLocked(buf []byte) {
	if cap(buf) == p.batchSize {
		p.free = append(p.free, buf[:0])
	} else {
		p.avail += int64(cap(buf))
	}
}

func (p *pool) leave(w *waiter) {
	p.mu.Lock()
	head := len(p.waiters) > 0 && p.waiters[0] == w
	p.removeLocked(w)
	if head {
		p.wakeHeadLocked()
	}
	p.mu.Unlock()
}

func (p *pool) removeLocked(w *waiter) {
	for i, x := range p.waiters {
		if x == w {
			copy(p.waiters[i:], p.waiters[i+1:])
			p.waiters[len(p.waiters)-1] = nil
			p.waiters = p.waiters[:len(p.waiters)-1]
			break
		}
	}
	p.nwait.Store(int32(len(p.waiters)))
}

func (p *pool) wakeHeadLocked() {
	if len(p.waiters) == 0 {
		return
	}
	select {
	case p.waiters[0].wake <- struct{}{}:
	default:
	}
}

// close fails every waiter and every later get with ErrClosed.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	for _, w := range p.waiters {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
}

// used reports the budget currently handed out, for tests and metrics.
func (p *pool) used() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total - p.avail - int64(len(p.free))*int64(p.batchSize)
}

package purgatory

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// Key names what an operation waits on: one partition.
type Key struct {
	Topic     string
	Partition int32
}

// Operation is a delayed request. TryComplete reports whether the condition
// the op waits for holds now; when it does, or when the deadline passes, the
// purgatory claims the op (an atomic flag) and runs exactly one of
// OnComplete or OnExpire, exactly once.
type Operation interface {
	// TryComplete may run concurrently and after the op was claimed; it
	// must only read state, never answer the request itself.
	TryComplete() bool
	// OnComplete runs once, when TryComplete reported true.
	OnComplete()
	// OnExpire runs once, when the deadline passed first.
	OnExpire()
}

// entry is an op parked in the purgatory.
type entry struct {
	op       Operation
	keys     []Key
	deadline time.Time
	done     atomic.Bool
	index    int // position in the deadline heap, -1 when not in it
}

// Purgatory parks operations under keys until they complete or expire.
//
// Locks: mu guards watchers and the heap together (one lock keeps the heap
// and the watcher lists consistent when an op is removed from both). No
// callback ever runs under mu.
type Purgatory struct {
	mu       sync.Mutex
	watchers map[Key][]*entry
	deadline deadlineHeap
	closed   bool

	wake chan struct{} // capacity 1: the earliest deadline changed
	stop chan struct{}
	wg   sync.WaitGroup

	// expire runs the OnExpire of an op the timer claimed; see
	// ExpireWith. Nil runs it on the timer goroutine.
	expire func(Operation)

	scratch sync.Pool // *[]*entry, Notify's snapshot of one key's waiters

	// watching counts the (key, op) pairs in watchers, changed under mu:
	// Notify of a log nobody waits on (every append while no fetch is
	// parked) returns without taking mu, so concurrent appends to
	// different partitions do not meet on it.
	watching atomic.Int64
}

// Option configures a Purgatory.
type Option func(*Purgatory)

// ExpireWith hands every expired op to handoff instead of running its
// OnExpire on the timer goroutine. The op is already claimed (OnComplete
// will not run); handoff must arrange for op.OnExpire to be called exactly
// once, and must not block: the one timer goroutine expires every op, and
// an OnExpire that reads a log (an expired fetch answers with what is
// there) would delay the expiry of all the others. The broker hands them
// to its I/O workers.
//
// Without it OnExpire runs on the timer goroutine, which suits ops whose
// expiry only builds an answer from memory.
func ExpireWith(handoff func(op Operation)) Option {
	return func(p *Purgatory) { p.expire = handoff }
}

// New starts a purgatory and its timer goroutine; Close stops it.
func New(opts ...Option) *Purgatory {
	p := &Purgatory{
		watchers: make(map[Key][]*entry),
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	for _, o := range opts {
		o(p)
	}
	p.scratch.New = func() any { s := make([]*entry, 0, 16); return &s }
	p.wg.Add(1)
	go p.timerLoop()
	return p
}

// Watch parks op under keys until TryComplete reports true after a Notify of
// one of them, or until deadline. It reports whether op completed before
// Watch returned (then OnComplete already ran on this goroutine). A zero
// deadline means no deadline. After Close, Watch drops op and returns false.
func (p *Purgatory) Watch(keys []Key, op Operation, deadline time.Time) bool {
	e := &entry{op: op, keys: keys, deadline: deadline, index: -1}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	for _, k := range keys {
		p.watchers[k] = append(p.watchers[k], e)
	}
	p.watching.Add(int64(len(keys)))
	earliest := false
	if !deadline.IsZero() {
		heap.Push(&p.deadline, e)
		earliest = e.index == 0
	}
	p.mu.Unlock()
	if earliest {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	// Checking after parking (as Kafka's tryCompleteElseWatch does) closes
	// the window where an append lands between the caller's first check
	// and the op being visible to Notify.
	return p.tryComplete(e)
}

// Notify tries to complete every op parked under key; call it after the
// state an op may wait for changed (an append, an fsync, a deletion).
// It returns how many ops it completed.
func (p *Purgatory) Notify(key Key) int {
	// An op parking concurrently checks its condition itself once it is
	// visible (Watch), so seeing none here loses no wake-up.
	if p.watching.Load() == 0 {
		return 0
	}
	p.mu.Lock()
	list := p.watchers[key]
	if len(list) == 0 {
		p.mu.Unlock()
		return 0
	}
	sp := p.scratch.Get().(*[]*entry)
	snap := append((*sp)[:0], list...)
	p.mu.Unlock()

	n := 0
	for _, e := range snap {
		if p.tryComplete(e) {
			n++
		}
	}
	clear(snap)
	*sp = snap[:0]
	p.scratch.Put(sp)
	return n
}

// Len is the number of parked ops (for tests and metrics).
func (p *Purgatory) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := make(map[*entry]struct{})
	for _, l := range p.watchers {
		for _, e := range l {
			seen[e] = struct{}{}
		}
	}
	for _, e := range p.deadline {
		seen[e] = struct{}{}
	}
	return len(seen)
}

// Close stops the timer goroutine and drops every parked op without
// completing it. It is safe to call more than once.
func (p *Purgatory) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for _, l := range p.watchers {
		for _, e := range l {
			e.done.Store(true)
		}
	}
	for _, e := range p.deadline {
		e.done.Store(true)
	}
	p.watchers = nil
	p.watching.Store(0)
	p.deadline = nil
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
}

func (p *Purgatory) tryComplete(e *entry) bool {
	if e.done.Load() || !e.op.TryComplete() {
		return false
	}
	if !e.done.CompareAndSwap(false, true) {
		return false
	}
	p.remove(e)
	e.op.OnComplete()
	return true
}

// remove unparks a claimed entry from its keys and the heap.
func (p *Purgatory) remove(e *entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, k := range e.keys {
		l := p.watchers[k]
		for i, x := range l {
			if x == e {
				last := len(l) - 1
				l[i] = l[last]
				l[last] = nil
				l = l[:last]
				p.watching.Add(-1)
				break
			}
		}
		if len(l) == 0 {
			delete(p.watchers, k)
		} else {
			p.watchers[k] = l
		}
	}
	if e.index >= 0 {
		heap.Remove(&p.deadline, e.index)
	}
}

// timerLoop is the only goroutine that expires ops. It sleeps on one timer
// armed for the earliest deadline; Watch wakes it when a new op becomes the
// earliest.
func (p *Purgatory) timerLoop() {
	defer p.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		p.mu.Lock()
		var expired []*entry
		now := time.Now()
		for len(p.deadline) > 0 && !p.deadline[0].deadline.After(now) {
			expired = append(expired, heap.Pop(&p.deadline).(*entry))
		}
		next := time.Hour
		if len(p.deadline) > 0 {
			next = p.deadline[0].deadline.Sub(now)
		}
		p.mu.Unlock()

		for _, e := range expired {
			if e.done.CompareAndSwap(false, true) {
				p.remove(e)
				if p.expire != nil {
					p.expire(e.op)
				} else {
					e.op.OnExpire()
				}
			}
		}
		if len(expired) > 0 {
			continue // callbacks took time; recompute before sleeping
		}

		t.Reset(next)
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-t.C:
		}
	}
}

// deadlineHeap is a min-heap of entries by deadline.
type deadlineHeap []*entry

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *deadlineHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.index = -1
	*h = old[:n-1]
	return e
}

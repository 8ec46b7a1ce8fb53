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
	index    int // tmu: position in the deadline heap, -1 when not in it
}

// shardCount spreads the watch lists over this many locks, so a fetch
// parking under 1,000 partitions and the appends notifying other
// partitions do not take turns on one mutex. Keys go to shards by
// partition number in runs of shardRun (a fetch's keys are mostly one
// topic's partitions in order), so Watch takes each shard's lock once per
// run rather than once per key.
const (
	shardCount = 64
	shardRun   = 16
)

// purgeMinPairs is the fewest claimed (key, op) pairs left in the watch
// lists before a purge sweeps them out; see Purgatory.stale.
const purgeMinPairs = 1 << 14

// shard holds the watch lists of some keys.
type shard struct {
	mu sync.Mutex
	// lists holds each key's parked ops, and ops already claimed that no
	// Notify of the key or purge swept out yet. A list emptied by a sweep
	// stays (with its capacity) for the next op, until a purge finds it
	// still empty.
	lists map[Key]*watchList
	_     [64]byte // keeps neighbouring shards' locks off one cache line
}

type watchList struct {
	ops []*entry // shard.mu
}

// Purgatory parks operations under keys until they complete or expire.
//
// Removal is lazy, as in Kafka's DelayedOperationPurgatory: an op that
// completes or expires is claimed by its atomic flag and leaves only the
// deadline heap at once; its place in the watch list of every key stays
// until a Notify of that key passes over it (Notify compacts the list it
// walks) or a purge sweeps every list. A fetch session of 1,000
// partitions that one trickling append completes therefore costs a Watch
// of 1,000 appends to existing lists and a Notify, not 1,000 searches and
// deletions as well (BenchmarkWatchComplete1000). Kafka purges after
// fetch.purgatory.purge.interval.requests completed ops; here the timer
// goroutine purges once the claimed pairs outnumber both purgeMinPairs and
// the live ones, so a purge costs O(1) per pair it removes and the lists
// never hold more dead pairs than live ones beyond that floor.
//
// Locks: each shard's mu guards its lists; tmu guards the deadline heap;
// life is held shared while an op is registered or claimed and exclusively
// by Close, so Close sees no half-parked op. A goroutine holds at most one
// shard lock at a time, and takes tmu only inside life (never inside a
// shard lock). No callback ever runs under any of them.
type Purgatory struct {
	life   sync.RWMutex
	closed bool // life

	shards [shardCount]shard

	tmu      sync.Mutex
	deadline deadlineHeap // tmu

	wake  chan struct{} // capacity 1: the earliest deadline changed
	purge chan struct{} // capacity 1: enough claimed pairs to sweep
	stop  chan struct{}
	wg    sync.WaitGroup

	// expire runs the OnExpire of an op the timer claimed; see
	// ExpireWith. Nil runs it on the timer goroutine.
	expire func(Operation)

	scratch sync.Pool // *[]*entry, Notify's snapshot of one key's waiters

	// watching counts the (key, op) pairs of ops parked and not yet
	// claimed: Notify of a log nobody waits on (every append while no
	// fetch is parked) returns without taking a lock, so concurrent
	// appends to different partitions do not meet on one.
	watching atomic.Int64
	// stale counts the (key, op) pairs of claimed ops still in the watch
	// lists; the purge trigger.
	stale atomic.Int64
	// parked counts the ops parked and not yet claimed (Len).
	parked atomic.Int64
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
		wake:  make(chan struct{}, 1),
		purge: make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	for i := range p.shards {
		p.shards[i].lists = make(map[Key]*watchList)
	}
	for _, o := range opts {
		o(p)
	}
	p.scratch.New = func() any { s := make([]*entry, 0, 16); return &s }
	p.wg.Add(1)
	go p.timerLoop()
	return p
}

func (p *Purgatory) shardOf(k Key) *shard {
	return &p.shards[(uint32(k.Partition)/shardRun)%shardCount]
}

// Watch parks op under keys until TryComplete reports true after a Notify of
// one of them, or until deadline. It reports whether op completed before
// Watch returned (then OnComplete already ran on this goroutine). A zero
// deadline means no deadline. After Close, Watch drops op and returns false.
func (p *Purgatory) Watch(keys []Key, op Operation, deadline time.Time) bool {
	e := &entry{op: op, keys: keys, deadline: deadline, index: -1}
	p.life.RLock()
	if p.closed {
		p.life.RUnlock()
		return false
	}
	var held *shard
	for _, k := range keys {
		if s := p.shardOf(k); s != held {
			if held != nil {
				held.mu.Unlock()
			}
			s.mu.Lock()
			held = s
		}
		l := held.lists[k]
		if l == nil {
			l = &watchList{}
			held.lists[k] = l
		}
		l.ops = append(l.ops, e)
	}
	if held != nil {
		held.mu.Unlock()
	}
	// Counted once visible in every list: a Notify that reads zero ran
	// before this op could see its change, and the check below sees it.
	p.watching.Add(int64(len(keys)))
	earliest := false
	if !deadline.IsZero() {
		p.tmu.Lock()
		heap.Push(&p.deadline, e)
		earliest = e.index == 0
		p.tmu.Unlock()
	}
	if len(keys) > 0 || !deadline.IsZero() {
		p.parked.Add(1)
	}
	p.life.RUnlock()
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
	s := p.shardOf(key)
	s.mu.Lock()
	l := s.lists[key]
	if l == nil || len(l.ops) == 0 {
		s.mu.Unlock()
		return 0
	}
	sp := p.scratch.Get().(*[]*entry)
	snap := (*sp)[:0]
	// The walk that takes the live ops also drops the claimed ones: the
	// lazy half of removal, paid by the key's own notifications.
	live := l.ops[:0]
	for _, e := range l.ops {
		if !e.done.Load() {
			live = append(live, e)
			snap = append(snap, e)
		}
	}
	swept := len(l.ops) - len(live)
	clear(l.ops[len(live):])
	l.ops = live
	s.mu.Unlock()
	if swept > 0 {
		p.stale.Add(-int64(swept))
	}

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
	return int(p.parked.Load())
}

// Close stops the timer goroutine and drops every parked op without
// completing it. It is safe to call more than once.
func (p *Purgatory) Close() {
	p.life.Lock()
	if p.closed {
		p.life.Unlock()
		return
	}
	p.closed = true
	for i := range p.shards {
		s := &p.shards[i]
		s.mu.Lock()
		for _, l := range s.lists {
			for _, e := range l.ops {
				e.done.Store(true)
			}
		}
		clear(s.lists)
		s.mu.Unlock()
	}
	p.tmu.Lock()
	for _, e := range p.deadline {
		e.done.Store(true)
	}
	p.deadline = nil
	p.tmu.Unlock()
	p.watching.Store(0)
	p.stale.Store(0)
	p.parked.Store(0)
	p.life.Unlock()
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
	p.claimed(e)
	e.op.OnComplete()
	return true
}

// claimed accounts for an entry whose done flag its caller just won: it
// leaves the deadline heap now and the watch lists lazily (see Purgatory).
func (p *Purgatory) claimed(e *entry) {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.closed {
		return // Close dropped everything and zeroed the counts
	}
	if len(e.keys) > 0 || !e.deadline.IsZero() {
		p.parked.Add(-1)
	}
	if !e.deadline.IsZero() {
		p.tmu.Lock()
		if e.index >= 0 {
			heap.Remove(&p.deadline, e.index)
		}
		p.tmu.Unlock()
	}
	if n := int64(len(e.keys)); n > 0 {
		live := p.watching.Add(-n)
		if stale := p.stale.Add(n); stale > purgeMinPairs && stale > live {
			select {
			case p.purge <- struct{}{}:
			default:
			}
		}
	}
}

// sweep drops the claimed ops from every watch list, and the lists found
// empty (emptied by an earlier sweep or Notify: a deleted topic's, or a
// partition nobody fetches any more), on the timer goroutine: an append's
// Notify never pays for it.
func (p *Purgatory) sweep() {
	for i := range p.shards {
		s := &p.shards[i]
		s.mu.Lock()
		swept := 0
		for k, l := range s.lists {
			if len(l.ops) == 0 {
				delete(s.lists, k)
				continue
			}
			live := l.ops[:0]
			for _, e := range l.ops {
				if !e.done.Load() {
					live = append(live, e)
				}
			}
			swept += len(l.ops) - len(live)
			clear(l.ops[len(live):])
			l.ops = live
		}
		s.mu.Unlock()
		if swept > 0 {
			p.stale.Add(-int64(swept))
		}
	}
}

// timerLoop is the only goroutine that expires ops. It sleeps on one timer
// armed for the earliest deadline; Watch wakes it when a new op becomes the
// earliest.
func (p *Purgatory) timerLoop() {
	defer p.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var expired []*entry
	for {
		p.tmu.Lock()
		now := time.Now()
		for len(p.deadline) > 0 && !p.deadline[0].deadline.After(now) {
			expired = append(expired, heap.Pop(&p.deadline).(*entry))
		}
		next := time.Hour
		if len(p.deadline) > 0 {
			next = p.deadline[0].deadline.Sub(now)
		}
		p.tmu.Unlock()

		n := len(expired)
		for _, e := range expired {
			if e.done.CompareAndSwap(false, true) {
				p.claimed(e)
				if p.expire != nil {
					p.expire(e.op)
				} else {
					e.op.OnExpire()
				}
			}
		}
		clear(expired)
		expired = expired[:0]
		if n > 0 {
			continue // callbacks took time; recompute before sleeping
		}

		t.Reset(next)
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-p.purge:
			p.sweep()
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

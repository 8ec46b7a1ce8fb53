package purgatory

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countOp completes once ready is set; it counts its callbacks.
type countOp struct {
	ready     atomic.Bool
	tries     atomic.Int32
	completed atomic.Int32
	expired   atomic.Int32
	at        atomic.Int64 // unix nanos of the callback
}

func (o *countOp) TryComplete() bool { o.tries.Add(1); return o.ready.Load() }
func (o *countOp) OnComplete()       { o.completed.Add(1); o.at.Store(time.Now().UnixNano()) }
func (o *countOp) OnExpire()         { o.expired.Add(1); o.at.Store(time.Now().UnixNano()) }

var k0, k1 = Key{Topic: "t", Partition: 0}, Key{Topic: "t", Partition: 1}

func TestWatchCompletesImmediately(t *testing.T) {
	p := New()
	defer p.Close()
	op := &countOp{}
	op.ready.Store(true)
	assert.True(t, p.Watch([]Key{k0}, op, time.Now().Add(time.Hour)))
	assert.EqualValues(t, 1, op.completed.Load())
	assert.Zero(t, p.Len())
}

func TestNotifyCompletesOnlyReadyOps(t *testing.T) {
	p := New()
	defer p.Close()
	a, b := &countOp{}, &countOp{}
	require.False(t, p.Watch([]Key{k0, k1}, a, time.Now().Add(time.Hour)))
	require.False(t, p.Watch([]Key{k1}, b, time.Time{}))
	assert.Equal(t, 2, p.Len())

	assert.Zero(t, p.Notify(k0), "nothing is ready yet")
	a.ready.Store(true)
	assert.Equal(t, 1, p.Notify(k1))
	assert.EqualValues(t, 1, a.completed.Load())
	assert.Zero(t, b.completed.Load())
	assert.Equal(t, 1, p.Len(), "a is gone from both keys and the heap")

	triesBefore := a.tries.Load()
	p.Notify(k0)
	assert.Equal(t, triesBefore, a.tries.Load(), "a completed op is not tried again")
	assert.Zero(t, p.Notify(Key{Topic: "other"}))
}

func TestExpiresAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New()
		defer p.Close()
		start := time.Now()
		late, early := &countOp{}, &countOp{}
		p.Watch([]Key{k0}, late, start.Add(300*time.Millisecond))
		p.Watch([]Key{k0}, early, start.Add(100*time.Millisecond))

		time.Sleep(150 * time.Millisecond)
		synctest.Wait()
		assert.EqualValues(t, 1, early.expired.Load())
		assert.Equal(t, start.Add(100*time.Millisecond).UnixNano(), early.at.Load())
		assert.Zero(t, late.expired.Load())

		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		assert.EqualValues(t, 1, late.expired.Load())
		assert.Equal(t, start.Add(300*time.Millisecond).UnixNano(), late.at.Load())
		assert.Zero(t, late.completed.Load()+early.completed.Load())
		assert.Zero(t, p.Len())
	})
}

func TestCompletedOpDoesNotExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New()
		defer p.Close()
		op := &countOp{}
		p.Watch([]Key{k0}, op, time.Now().Add(time.Second))
		op.ready.Store(true)
		p.Notify(k0)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.EqualValues(t, 1, op.completed.Load())
		assert.Zero(t, op.expired.Load())
	})
}

// TestExactlyOnce races notifiers on two keys against the deadline.
func TestExactlyOnce(t *testing.T) {
	p := New()
	defer p.Close()
	const n = 200
	ops := make([]*countOp, n)
	for i := range ops {
		ops[i] = &countOp{}
		p.Watch([]Key{k0, k1}, ops[i], time.Now().Add(time.Duration(i%5)*time.Millisecond))
	}
	var wg sync.WaitGroup
	for _, op := range ops {
		op.ready.Store(true)
	}
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				p.Notify([]Key{k0, k1}[j%2])
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool { return p.Len() == 0 }, 5*time.Second, time.Millisecond)
	for i, op := range ops {
		assert.EqualValues(t, 1, op.completed.Load()+op.expired.Load(), "op %d", i)
	}
}

func TestCloseDropsPending(t *testing.T) {
	p := New()
	op := &countOp{}
	p.Watch([]Key{k0}, op, time.Now().Add(time.Hour))
	p.Close()
	p.Close()
	op.ready.Store(true)
	assert.Zero(t, p.Notify(k0))
	assert.False(t, p.Watch([]Key{k0}, op, time.Time{}))
	assert.Zero(t, op.completed.Load()+op.expired.Load())
}

func BenchmarkWatchNotify(b *testing.B) {
	p := New()
	defer p.Close()
	keys := []Key{k0}
	b.ReportAllocs()
	for b.Loop() {
		op := &countOp{}
		p.Watch(keys, op, time.Now().Add(time.Minute))
		op.ready.Store(true)
		p.Notify(k0)
	}
}

// blockingOp's OnExpire blocks until release closes, like an expired fetch
// reading a slow disk.
type blockingOp struct {
	countOp
	entered chan struct{}
	release chan struct{}
}

func (o *blockingOp) OnExpire() {
	close(o.entered)
	<-o.release
	o.countOp.OnExpire()
}

// TestExpireWithHandsOff: with ExpireWith, the timer goroutine only claims
// expired ops and hands them over; it never runs OnExpire itself, so a
// slow expiry (a fetch reading the disk) does not delay the next op's.
func TestExpireWithHandsOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		handed := make(chan Operation, 8)
		p := New(ExpireWith(func(op Operation) { handed <- op }))
		defer p.Close()
		// The executor: each handed op on its own goroutine.
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(handed)
		wg.Go(func() {
			for op := range handed {
				wg.Go(op.OnExpire)
			}
		})

		start := time.Now()
		slow := &blockingOp{entered: make(chan struct{}), release: make(chan struct{})}
		fast := &countOp{}
		p.Watch([]Key{k0}, slow, start.Add(100*time.Millisecond))
		p.Watch([]Key{k0}, fast, start.Add(200*time.Millisecond))

		time.Sleep(250 * time.Millisecond)
		synctest.Wait()
		<-slow.entered
		assert.Zero(t, slow.expired.Load(), "still blocked in its OnExpire")
		assert.EqualValues(t, 1, fast.expired.Load(), "expired on time behind a blocked expiry")
		assert.Equal(t, start.Add(200*time.Millisecond).UnixNano(), fast.at.Load())

		// A handed-off op is claimed: a notification does not complete it.
		slow.ready.Store(true)
		assert.Zero(t, p.Notify(k0))
		close(slow.release)
		synctest.Wait()
		assert.EqualValues(t, 1, slow.expired.Load())
		assert.Zero(t, slow.completed.Load())
		assert.Zero(t, p.Len())
	})
}

// TestNoLostWakeupWithoutWatchers races parking against the state change
// and its Notify, over and over: Notify of a key nobody watches returns
// without the lock, and the op that parks at that moment must still
// complete (Watch checks after parking), never wait for a deadline.
func TestNoLostWakeupWithoutWatchers(t *testing.T) {
	p := New()
	defer p.Close()
	for range 2000 {
		op := &countOp{}
		var wg sync.WaitGroup
		wg.Go(func() { p.Watch([]Key{k0, k1}, op, time.Time{}) })
		wg.Go(func() {
			op.ready.Store(true)
			p.Notify(k1)
		})
		wg.Wait()
		require.EqualValues(t, 1, op.completed.Load(), "a parked op whose condition holds completed")
	}
	assert.Zero(t, p.Len())
	assert.Zero(t, p.watching.Load(), "every (key, op) pair left with its op")
}

// TestWatchingCountsPairs: the lock-free check of Notify follows what is
// parked through completion, expiry and Close.
func TestWatchingCountsPairs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New()
		a, b := &countOp{}, &countOp{}
		p.Watch([]Key{k0, k1}, a, time.Now().Add(time.Hour))
		p.Watch([]Key{k1}, b, time.Now().Add(time.Second))
		assert.EqualValues(t, 3, p.watching.Load())
		a.ready.Store(true)
		assert.Equal(t, 1, p.Notify(k0))
		assert.EqualValues(t, 1, p.watching.Load())
		time.Sleep(2 * time.Second) // b's deadline, in the bubble's fake time
		synctest.Wait()
		assert.EqualValues(t, 1, b.expired.Load())
		assert.Zero(t, p.watching.Load())
		p.Watch([]Key{k0}, &countOp{}, time.Time{})
		p.Close()
		assert.Zero(t, p.watching.Load())
	})
}

// BenchmarkNotifyNobodyWaits is what every append pays for the purgatory
// while no fetch is parked, from all cores at once.
func BenchmarkNotifyNobodyWaits(b *testing.B) {
	p := New()
	defer p.Close()
	p.Watch([]Key{k1}, &countOp{}, time.Time{}) // parked elsewhere: the slow path
	b.Run("others-parked", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.Notify(k0)
			}
		})
	})
	q := New()
	defer q.Close()
	b.Run("none-parked", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				q.Notify(k0)
			}
		})
	})
}

// pairsInLists counts the (key, op) pairs the watch lists hold, live or
// claimed, and the lists.
func pairsInLists(p *Purgatory) (pairs, lists int) {
	for i := range p.shards {
		s := &p.shards[i]
		s.mu.Lock()
		for _, l := range s.lists {
			pairs += len(l.ops)
			lists++
		}
		s.mu.Unlock()
	}
	return pairs, lists
}

// TestClaimedPairsAreSwept: removal is lazy, but bounded. Trickle fetches
// of 1,000 partitions each complete on one key and leave 999 claimed pairs
// behind; the timer goroutine's sweep keeps the claimed pairs near
// purgeMinPairs instead of growing with every fetch, Notify drops the
// claimed pairs of the key it walks, and lists nobody watches any more go.
func TestClaimedPairsAreSwept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New()
		defer p.Close()
		keys := make([]Key, 1000)
		for i := range keys {
			keys[i] = Key{Topic: "trickle", Partition: int32(i)}
		}
		live := &countOp{} // a long poll on one key that never completes
		p.Watch(keys[:1], live, time.Time{})
		const fetches = 50 // 50,000 pairs: several sweeps' worth
		for i := range fetches {
			op := &countOp{}
			p.Watch(keys, op, time.Now().Add(time.Minute))
			op.ready.Store(true)
			require.Equal(t, 1, p.Notify(keys[i]))
			synctest.Wait() // a sweep the claim asked for has run
		}
		pairs, _ := pairsInLists(p)
		assert.EqualValues(t, 1, p.watching.Load())
		assert.EqualValues(t, pairs, p.watching.Load()+p.stale.Load(), "the counts follow the lists")
		assert.LessOrEqual(t, p.stale.Load(), int64(purgeMinPairs+len(keys)), "claimed pairs stay bounded")
		assert.Equal(t, 1, p.Len())

		// A Notify sweeps its own key's list as it walks it.
		p.Notify(keys[999])
		s := p.shardOf(keys[999])
		s.mu.Lock()
		if l := s.lists[keys[999]]; l != nil {
			assert.Empty(t, l.ops)
		}
		s.mu.Unlock()

		// Two sweeps: the first empties the lists, the second drops them;
		// the live op's list stays.
		p.sweep()
		p.sweep()
		pairs, lists := pairsInLists(p)
		assert.Equal(t, 1, pairs)
		assert.Equal(t, 1, lists)
		assert.Zero(t, p.stale.Load())
		assert.Zero(t, live.completed.Load()+live.expired.Load())
	})
}

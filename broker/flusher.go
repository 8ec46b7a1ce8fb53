package broker

import (
	"sync"
	"time"
)

// flusher owns the broker's fsyncs. Appends mark their partition dirty;
// the flusher syncs every dirty log and then notifies the purgatory, so
// acks=all produces parked under FsyncAlways complete.
//
// Group commit falls out of the loop: while one round of fsyncs runs, more
// appends mark partitions dirty, and the next round's single fsync per log
// covers all of them, however many requests wait on it.
type flusher struct {
	b *Broker

	mu    sync.Mutex
	dirty map[*partition]struct{} // mu
	kick  chan struct{}           // capacity 1: dirty became non-empty (FsyncAlways)
	round []*partition            // flusher goroutine only
}

func newFlusher(b *Broker) *flusher {
	return &flusher{b: b, dirty: make(map[*partition]struct{}), kick: make(chan struct{}, 1)}
}

// appended marks p as needing an fsync. Only the first append after a
// round takes the lock: p.unsynced says p is already in the next round,
// so the produce path does not serialise every batch of every partition
// on one mutex (with many partitions or connections it did, per batch).
func (f *flusher) appended(p *partition) {
	if f.b.cfg.Fsync == FsyncNone || p.unsynced.Load() || p.unsynced.Swap(true) {
		return
	}
	f.mu.Lock()
	f.dirty[p] = struct{}{}
	f.mu.Unlock()
	if f.b.cfg.Fsync == FsyncAlways {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// forget drops a deleted partition.
func (f *flusher) forget(p *partition) {
	f.mu.Lock()
	delete(f.dirty, p)
	f.mu.Unlock()
}

func (f *flusher) run() {
	var tick <-chan time.Time
	switch f.b.cfg.Fsync {
	case FsyncNone:
		return
	case FsyncInterval:
		t := time.NewTicker(f.b.cfg.FlushInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-f.b.stopping:
			return // Close fsyncs every log as it closes it
		case <-f.kick:
		case <-tick:
		}
		f.syncDirty()
	}
}

// syncDirty fsyncs every dirty partition, a few at a time (each
// log's Sync is one fsync however many appends it covers), and wakes the
// produce requests waiting on each as soon as its fsync is done.
func (f *flusher) syncDirty() {
	f.mu.Lock()
	round := f.round[:0]
	for p := range f.dirty {
		round = append(round, p)
		// Cleared before its fsync starts: an append that still sees
		// it set wrote before this point, so the fsync covers it.
		p.unsynced.Store(false)
	}
	clear(f.dirty)
	f.mu.Unlock()

	forEachPartition(len(round), func(i int) { // parallel.go
		p := round[i]
		if _, err := p.log.Sync(); err != nil {
			if !p.deleted.Load() {
				f.b.log.Error("fsync failed", "topic", p.t.name, "partition", p.index, "err", err)
			}
		}
		f.b.purg.Notify(p.key)
	})
	clear(round)
	f.round = round[:0]
}

package broker

import (
	"os"
	"sync"
	"time"

	"github.com/skiffkit/skiff/internal/log"
)

// flusher owns the broker's fsyncs. Appends mark their partition dirty;
// the flusher syncs every dirty log and then notifies the purgatory, so
// acks=all produces parked under FsyncAlways complete.
//
// Group commit falls out of the loop: while one round of fsyncs runs, more
// appends mark partitions dirty, and the next round's single fsync per log
// covers all of them, however many requests wait on it.
//
// Under FsyncInterval a round with many dirty partitions syncs them with
// one syncfs(2) of the data directory's filesystem instead of one fsync
// each (flusher_syncfs.go). FsyncAlways keeps one fsync per partition: an
// acks=all produce waits on it, and a syncfs would make it wait for every
// other dirty file of the filesystem too.
type flusher struct {
	b *Broker

	mu    sync.Mutex
	dirty map[*partition]struct{} // mu
	kick  chan struct{}           // capacity 1: dirty became non-empty (FsyncAlways)

	// The fields below belong to the goroutine running syncDirty: the
	// flusher's, or a test's while the flusher waits for an hour-long
	// FlushInterval.
	round  []*partition
	rounds []log.SyncRound // syncWide's scratch
	// syncfs syncs the data directory's filesystem; nil where each
	// partition is fsynced on its own: on systems without syncfs(2),
	// under FsyncAlways and FsyncNone, and when the logs are on an
	// injected filesystem (Config.logFS), whose faults a syncfs of the
	// real one would bypass. Tests replace it to count or fail calls.
	syncfs       func() error
	syncfsDir    *os.File // the descriptor syncfs uses; closed when run returns
	syncfsFailed bool     // a syncfs failed: per-file fsyncs for good (syncWide)
	syncfsMin    int      // syncfsMinLogs; BenchmarkSyncfsThreshold varies it
}

func newFlusher(b *Broker) *flusher {
	f := &flusher{b: b, dirty: make(map[*partition]struct{}), kick: make(chan struct{}, 1), syncfsMin: syncfsMinLogs}
	if b.cfg.Fsync == FsyncInterval && b.cfg.logFS == nil {
		var err error
		// A flusher whose run never starts (the broker failed to start)
		// leaves the descriptor to os.File's finalizer.
		f.syncfs, f.syncfsDir, err = openSyncfs(b.cfg.DataDir)
		if err != nil {
			b.log.Warn("cannot open the data directory for syncfs; fsyncing each partition", "dir", b.cfg.DataDir, "err", err)
		}
	}
	return f
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
	defer f.closeSyncfs()
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
// produce requests waiting on each as soon as its fsync is done. Under
// FsyncInterval, when at least syncfsMinLogs of them are on the data
// directory's filesystem, those are synced by one syncfs instead.
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

	rest := round
	if f.syncfs != nil && !f.syncfsFailed && f.b.cfg.Fsync == FsyncInterval {
		// The partitions syncfs covers go first, in place.
		n := 0
		for i, p := range round {
			if p.onDataFS {
				round[n], round[i] = p, round[n]
				n++
			}
		}
		if n >= f.syncfsMin {
			f.syncWide(round[:n])
			rest = round[n:]
		}
	}
	forEachPartition(len(rest), func(i int) { // parallel.go
		p := rest[i]
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

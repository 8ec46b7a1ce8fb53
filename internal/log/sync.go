package log

import (
	"sync"
)

// groupCommit shares fsyncs between concurrent Sync callers. A caller that
// arrives while an fsync runs cannot use it (the fsync may have started
// before the caller's data was written), so it waits for the next round;
// every caller waiting then shares that one round, whose leader is simply
// the first waiter to wake up.
type groupCommit struct {
	mu      sync.Mutex
	cond    sync.Cond
	running bool   // a round is in progress
	started uint64 // rounds started
	done    uint64 // rounds completed (== started when !running)
	off     int64  // result of the last completed round
	err     error
	closed  bool
	waiting int // callers blocked in cond.Wait, for tests and metrics
}

func (g *groupCommit) init() { g.cond.L = &g.mu }

// close waits for a running round and refuses new ones; false when it was
// already closed.
func (g *groupCommit) close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.running {
		g.cond.Wait()
	}
	if g.closed {
		return false
	}
	g.closed = true
	g.cond.Broadcast()
	return true
}

// Sync makes everything appended before the call durable: it fsyncs the
// active segment and every earlier segment written since its last fsync,
// and returns the end offset the fsync covers (>= the end offset at the
// time of the call). Concurrent callers share fsyncs (group commit), so the
// broker's acks=all path can call it once per produce request.
func (l *Log) Sync() (syncedOffset int64, err error) {
	g := &l.group
	g.mu.Lock()
	defer g.mu.Unlock()
	target := g.started + 1 // the first round that starts after this call
	for {
		if g.done >= target {
			return g.off, g.err
		}
		if g.closed {
			return 0, ErrClosed
		}
		if !g.running {
			g.running = true
			g.started++
			round := g.started
			g.mu.Unlock()
			off, err := l.syncOnce()
			g.mu.Lock()
			g.running = false
			g.done = round
			g.off, g.err = off, err
			g.cond.Broadcast()
			continue
		}
		g.waiting++
		g.cond.Wait()
		g.waiting--
	}
}

// syncOnce fsyncs the dirty segments. A segment is marked dirty before the
// end offset covering its write is published, so every batch below the end
// offset loaded here is either already durable or in a dirty segment.
//
// A failed fsync takes the log offline and the synced offset never moves
// again: Linux reports a writeback error to one fsync and may then mark the
// lost pages clean, so a retried fsync could succeed without the data
// (PostgreSQL's "fsyncgate"). Records the fsync did not cover are never
// acknowledged to acks=all producers.
func (l *Log) syncOnce() (int64, error) {
	if err := l.Offline(); err != nil {
		return 0, err
	}
	end := l.endOffset.Load()
	segs := *l.segs.Load()
	active := segs[len(segs)-1]
	for _, s := range segs {
		if !s.acquire() {
			continue // deleted by retention meanwhile
		}
		err := l.syncSegment(s, s != active)
		s.release()
		if err != nil {
			return 0, l.goOffline(storageError("fsync", err))
		}
	}
	for {
		cur := l.synced.Load()
		if end <= cur || l.synced.CompareAndSwap(cur, end) {
			break
		}
	}
	return max(end, l.synced.Load()), nil
}

func (l *Log) syncSegment(s *segment, sealed bool) error {
	if s.dirty.Swap(false) {
		if err := s.log.Sync(); err != nil {
			s.dirty.Store(true)
			return err
		}
	}
	// The .txnindex is not rebuilt from the .log when its segment is
	// trusted, so it is made as durable as the markers that wrote it.
	if err := s.syncTxnIndex(); err != nil {
		return err
	}
	// The active segment's index files are rebuilt by recovery anyway;
	// those of sealed segments are trusted, so they are made durable once.
	if err := s.persistIndexes(sealed); err != nil {
		return err
	}
	if sealed {
		s.evictIndexes()
	}
	return nil
}

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
	// capture is the running round's scratch, owned by its leader (the
	// holder of running), so a round allocates nothing once warm.
	capture syncCapture
}

func (g *groupCommit) init() { g.cond.L = &g.mu }

// close waits for a running round and refuses new ones; false when it was
// already closed.
func (g *groupCommit) close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.running {
		g.waiting++
		g.cond.Wait()
		g.waiting--
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

// syncOnce fsyncs the dirty segments: a round captured by captureRound
// whose files are fsynced one by one, the round BeginSync/Finish also
// uses when its barrier fails.
//
// A failed fsync takes the log offline and the synced offset never moves
// again: Linux reports a writeback error to one fsync and may then mark the
// lost pages clean, so a retried fsync could succeed without the data
// (PostgreSQL's "fsyncgate"). Records the fsync did not cover are never
// acknowledged to acks=all producers.
func (l *Log) syncOnce() (int64, error) {
	c := &l.group.capture
	if err := l.captureRound(c); err != nil {
		return 0, err
	}
	return l.completeRound(c, c.fsyncFiles())
}

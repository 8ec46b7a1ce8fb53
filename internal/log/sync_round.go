package log

import (
	"errors"
	"fmt"
)

// A group-commit round has two halves with the fsyncs between them:
// captureRound loads the end offset and takes the dirty flags of the files
// that hold everything below it, and completeRound publishes that end
// offset as synced once those files are durable. Sync makes them durable
// with one fsync per file (syncOnce); BeginSync and Finish let one barrier
// for a whole filesystem (the broker's syncfs(2)) do it for many logs at
// once, and fall back to the per-file fsyncs when the barrier fails.

// syncFile is one segment a round covers and which of its files the round
// has to make durable.
type syncFile struct {
	s      *segment // acquired by captureRound, released by completeRound
	sealed bool     // not the active segment when captured
	log    bool     // the .log was dirty (its flag was taken)
	txn    bool     // the .txnindex was dirty (its flag was taken)
	// idx says the index files of this sealed segment were written but
	// not yet fsynced; idxN and tidxN are how many entries they held.
	idx         bool
	idxN, tidxN int
}

// syncCapture is what one round covers: every batch below end is in a
// file of files, or was durable before the round began.
type syncCapture struct {
	end   int64
	files []syncFile
}

// captureRound takes the round's files. A segment is marked dirty before
// the end offset covering its write is published, so every batch below the
// end offset loaded here is either already durable or in a dirty segment.
// The caller holds the group-commit round; on error nothing is held.
func (l *Log) captureRound(c *syncCapture) error {
	c.files = c.files[:0]
	if err := l.Offline(); err != nil {
		return err
	}
	c.end = l.endOffset.Load()
	segs := *l.segs.Load()
	active := segs[len(segs)-1]
	for _, s := range segs {
		if !s.acquire() {
			continue // deleted by retention meanwhile
		}
		f, err := captureSegment(s, s != active)
		c.files = append(c.files, f)
		if err != nil {
			return l.completeRoundErr(c, err)
		}
	}
	return nil
}

// captureSegment takes s's dirty flags. On error the flags are taken all
// the same, for undo to give back.
func captureSegment(s *segment, sealed bool) (syncFile, error) {
	f := syncFile{s: s, sealed: sealed, log: s.dirty.Swap(false), txn: s.txnDirty.Swap(false)}
	// The active segment's index files are rebuilt by recovery anyway and
	// written whole at roll and Close, so they are not written here: with
	// 1,000 partitions that was two small writes per partition per flush
	// (BenchmarkSyncWide). Those of sealed segments are trusted, so they
	// are made durable once.
	if !sealed {
		return f, nil
	}
	if err := s.persistIndexes(false); err != nil {
		return f, err
	}
	s.idxMu.RLock()
	f.idx, f.idxN, f.tidxN = !s.idxSynced, s.idxSaved, s.tidxSaved
	s.idxMu.RUnlock()
	return f, nil
}

// fsyncFiles makes the captured files durable one fsync each. A file is
// crossed off once its fsync succeeded, so on error the rest keep their
// flags for completeRound to give back.
func (c *syncCapture) fsyncFiles() error {
	for i := range c.files {
		if err := c.files[i].fsync(); err != nil {
			return err
		}
	}
	return nil
}

func (f *syncFile) fsync() error {
	if f.log {
		if err := f.s.log.Sync(); err != nil {
			return err
		}
		f.log = false
	}
	// The .txnindex is not rebuilt from the .log when its segment is
	// trusted, so it is made as durable as the markers that wrote it.
	if f.txn {
		f.s.idxMu.RLock()
		tf := f.s.txnFile
		f.s.idxMu.RUnlock()
		if tf != nil {
			if err := tf.Sync(); err != nil {
				return fmt.Errorf("fsync transaction index: %w", err)
			}
		}
		f.txn = false
	}
	if f.idx {
		if err := errors.Join(f.s.idx.Sync(), f.s.tidx.Sync()); err != nil {
			return fmt.Errorf("fsync indexes: %w", err)
		}
	}
	return nil
}

// durable records that f's files are durable: a sealed segment's index
// files then never need an fsync again, and its in-memory indexes can go.
func (f *syncFile) durable() {
	if f.idx {
		f.s.idxMu.Lock()
		// A sealed segment's entries were all in memory when it was
		// sealed, so this only fails to hold when a rebuild reset the
		// index files meanwhile; they are then fsynced by a later round.
		if f.s.idxSaved == f.idxN && f.s.tidxSaved == f.tidxN {
			f.s.idxSynced = true
		}
		f.s.idxMu.Unlock()
	}
	if f.sealed {
		f.s.evictIndexes()
	}
}

// undo gives back the dirty flags of the files not made durable.
func (f *syncFile) undo() {
	if f.log {
		f.s.dirty.Store(true)
	}
	if f.txn {
		f.s.txnDirty.Store(true)
	}
}

// syncSegment makes one segment durable on its own (recovery, before the
// log serves anyone), with the same steps as a round.
func (l *Log) syncSegment(s *segment, sealed bool) error {
	f, err := captureSegment(s, sealed)
	if err == nil {
		err = f.fsync()
	}
	if err != nil {
		f.undo()
		return err
	}
	f.durable()
	return nil
}

// completeRound ends a captured round whose files were made durable (err
// nil) or not: it publishes the synced offset, or gives the dirty flags
// back and takes the log offline (see syncOnce for why a failed fsync is
// never retried). It releases the captured segments either way.
func (l *Log) completeRound(c *syncCapture, err error) (int64, error) {
	if err != nil {
		return 0, l.completeRoundErr(c, err)
	}
	for i := range c.files {
		c.files[i].durable()
		c.files[i].s.release()
	}
	clear(c.files)
	c.files = c.files[:0]
	for {
		cur := l.synced.Load()
		if c.end <= cur || l.synced.CompareAndSwap(cur, c.end) {
			break
		}
	}
	return max(c.end, l.synced.Load()), nil
}

// completeRoundErr is completeRound's failure path.
func (l *Log) completeRoundErr(c *syncCapture, err error) error {
	for i := range c.files {
		c.files[i].undo()
		c.files[i].s.release()
	}
	clear(c.files)
	c.files = c.files[:0]
	return l.goOffline(storageError("fsync", err))
}

// SyncRound is one group-commit round of a Log whose fsyncs a barrier
// outside the log stands in for: the broker's interval flusher syncs a
// thousand dirty partitions with one syncfs(2) of their filesystem, where
// one fsync per partition issued a device cache flush each. Started by
// BeginSync; Finish must be called exactly once.
type SyncRound struct {
	l     *Log
	round uint64 // the group-commit round held, 0 when none is
	err   error  // why the round covers nothing; Finish returns it
}

// BeginSync starts a round as Sync would and captures it: the end offset,
// and the dirty flags of the files holding everything below it (the index
// files of sealed segments are written, not fsynced). The caller then makes
// everything written to the log's filesystem so far durable, and calls
// Finish with the result.
//
// The round holds the log's group commit until Finish: a Sync or Close
// arriving meanwhile waits for it (Sync then for the next round, as a Sync
// arriving during another Sync's fsync does), so Finish must not wait for
// anything such a caller could hold. BeginSync itself waits for a round
// already running.
func (l *Log) BeginSync() SyncRound {
	g := &l.group
	g.mu.Lock()
	for g.running {
		g.cond.Wait()
	}
	if g.closed {
		g.mu.Unlock()
		return SyncRound{l: l, err: ErrClosed}
	}
	g.running = true
	g.started++
	r := SyncRound{l: l, round: g.started}
	g.mu.Unlock()
	r.err = l.captureRound(&g.capture)
	return r
}

// Finish ends the round with the barrier's result and returns what Sync
// would have: the end offset now durable, or the error that took the log
// offline.
//
// On barrierErr nil the captured end offset becomes the synced offset. On
// an error the log fsyncs the files it captured itself, and goes offline
// only if one of those fails: a filesystem-wide barrier cannot say whose
// data its error was, while each file's own descriptor still holds its
// unreported writeback error, so the error lands on the log that lost data
// and the others are not taken offline for it.
func (r SyncRound) Finish(barrierErr error) (int64, error) {
	if r.round == 0 {
		return 0, r.err
	}
	l := r.l
	g := &l.group
	var off int64
	err := r.err
	if err == nil {
		c := &g.capture
		if barrierErr != nil {
			barrierErr = c.fsyncFiles()
		}
		off, err = l.completeRound(c, barrierErr)
	}
	g.mu.Lock()
	g.running = false
	g.done = r.round
	g.off, g.err = off, err
	g.cond.Broadcast()
	g.mu.Unlock()
	return off, err
}

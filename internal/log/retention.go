package log

import (
	"fmt"
	"time"
)

// EnforceRetention deletes whole segments from the start of the log while
// they are older than RetentionMs (by their largest timestamp, as Kafka) or
// while the log without them is still at least RetentionBytes large. The
// active segment is never deleted. LogStartOffset moves to the base offset
// of the first remaining segment. Readers inside a deleted segment finish
// on their file references; the files close when the last one leaves.
func (l *Log) EnforceRetention(now time.Time) (deleted int, err error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if err := l.Offline(); err != nil {
		l.mu.Unlock()
		return 0, fmt.Errorf("log %s: retention: %w", l.dir, err)
	}
	// The broker calls this periodically: it is the expiration check of
	// partitions that receive no appends.
	l.expireProducers(now.UnixMilli())
	segs := *l.segs.Load()
	nowMs := now.UnixMilli()
	total := l.size.Load()
	n := 0
	for n < len(segs)-1 {
		s := segs[n]
		size := s.size.Load()
		byTime := l.cfg.RetentionMs >= 0 && nowMs-s.retentionTimestamp() > l.cfg.RetentionMs.Milliseconds()
		bySize := l.cfg.RetentionBytes > 0 && total-size >= l.cfg.RetentionBytes
		if !byTime && !bySize {
			break
		}
		total -= size
		n++
	}
	if n == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	gone := segs[:n]
	kept := make([]*segment, len(segs)-n)
	copy(kept, segs[n:])
	// Log start first: a reader that then misses a segment reports
	// OFFSET_OUT_OF_RANGE rather than an I/O error.
	// max: DeleteRecordsBefore may have moved the start inside kept[0].
	start := max(kept[0].base, l.logStart.Load())
	l.logStart.Store(start)
	l.publish(kept)
	l.size.Store(total)
	l.mu.Unlock()

	var firstErr error
	for _, s := range gone {
		l.logger.Info("deleting segment by retention", "segment", s.base, "largest_timestamp", s.largestTimestamp(), "log_start", start)
		if err := s.removeFiles(l.fs, l.dir); err != nil && firstErr == nil {
			firstErr = err
		}
		s.release()
	}
	l.removeSnapshotsBelow(start)
	if firstErr != nil {
		return n, fmt.Errorf("log %s: retention: %w", l.dir, firstErr)
	}
	return n, nil
}

// removeSnapshotsBelow deletes producer snapshots of offsets no longer in
// the log; they could never be the starting point of a replay again.
func (l *Log) removeSnapshotsBelow(start int64) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if off, ok := parseFileName(e.Name(), snapshotSuffix); ok && off < start {
			l.fs.Remove(fileName(l.dir, off, snapshotSuffix))
		}
	}
}

// retentionTimestamp is the segment's largest timestamp or, when no batch
// carries one (timestamps of -1), the file's modification time, as Kafka's
// LogSegment.largestTimestamp falls back to lastModified.
func (s *segment) retentionTimestamp() int64 {
	if ts := s.largestTimestamp(); ts >= 0 {
		return ts
	}
	st, err := s.log.Stat()
	if err != nil {
		return time.Now().UnixMilli() // unknown age: keep it
	}
	return st.ModTime().UnixMilli()
}

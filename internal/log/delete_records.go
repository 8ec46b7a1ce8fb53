package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/kerr"
)

// logStartFile keeps a log start offset that DeleteRecords moved inside a
// segment, which the segment files alone cannot tell after a restart
// (Kafka's log-start-offset-checkpoint, kept per partition here because a
// Log is opened on its own).
//
//	+----------------------+------------------+
//	| log start offset     | CRC-32C of it    |
//	| int64, big-endian    | uint32           |
//	+----------------------+------------------+
const logStartFile = "log-start-offset-checkpoint"

// DeleteRecordsBefore moves the log start offset up to offset (Kafka's
// DeleteRecords, KIP-107): records below it are no longer readable, and
// segments entirely below it are deleted. The active segment is never
// deleted. An offset at or below the current start changes nothing; one
// above EndOffset is OFFSET_OUT_OF_RANGE. The new start is durable before
// it is published. It returns the log start offset (the low watermark).
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	if err := l.Offline(); err != nil {
		l.mu.Unlock()
		return 0, fmt.Errorf("log %s: delete records: %w", l.dir, err)
	}
	end := l.endOffset.Load()
	if offset < 0 || offset > end {
		l.mu.Unlock()
		return 0, fmt.Errorf("log %s: delete records before %d: %w: the log ends at %d", l.dir, offset, kerr.OffsetOutOfRange, end)
	}
	if offset <= l.logStart.Load() {
		start := l.logStart.Load()
		l.mu.Unlock()
		return start, nil
	}
	if err := writeLogStart(l.fs, l.dir, offset); err != nil {
		l.mu.Unlock()
		return 0, fmt.Errorf("log %s: delete records: %w", l.dir, storageError("write log start offset", err))
	}
	l.logStart.Store(offset)
	segs := *l.segs.Load()
	n := 0
	var total int64 = l.size.Load()
	for n < len(segs)-1 && segs[n+1].base <= offset {
		total -= segs[n].size.Load()
		n++
	}
	gone := segs[:n]
	if n > 0 {
		kept := make([]*segment, len(segs)-n)
		copy(kept, segs[n:])
		l.publish(kept)
		l.size.Store(total)
	}
	l.mu.Unlock()

	var firstErr error
	for _, s := range gone {
		l.logger.Info("deleting segment below the log start offset", "segment", s.base, "log_start", offset)
		if err := s.removeFiles(l.fs, l.dir); err != nil && firstErr == nil {
			firstErr = err
		}
		s.release()
	}
	if n > 0 {
		l.removeSnapshotsBelow(segs[n].base)
	}
	if firstErr != nil {
		return offset, fmt.Errorf("log %s: delete records: %w", l.dir, firstErr)
	}
	return offset, nil
}

func writeLogStart(fsys vfs.FS, dir string, offset int64) error {
	b := binary.BigEndian.AppendUint64(nil, uint64(offset))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	name := filepath.Join(dir, logStartFile)
	tmp := name + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, name)
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		fsys.Remove(tmp)
	}
	return err
}

// loadLogStart raises the log start offset of a just-loaded log to the one
// DeleteRecordsBefore stored, when that lies inside the log. A missing
// file is the common case; a corrupt one is ignored with a warning (the
// start then falls back to the first segment, so deleted records may
// reappear, never records be lost).
func (l *Log) loadLogStart() {
	b, err := vfs.ReadFile(l.fs, filepath.Join(l.dir, logStartFile))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil || len(b) != 12 || crc32.Checksum(b[:8], crc32.MakeTable(crc32.Castagnoli)) != binary.BigEndian.Uint32(b[8:]) {
		l.logger.Warn("ignoring an unreadable log start offset checkpoint", "err", err, "bytes", len(b))
		return
	}
	off := int64(binary.BigEndian.Uint64(b))
	if off > l.logStart.Load() && off <= l.endOffset.Load() {
		l.logStart.Store(off)
	}
}

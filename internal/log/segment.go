package log

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/skiffkit/skiff/internal/log/vfs"
)

// File name suffixes of a segment, as in Kafka.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
	snapshotSuffix  = ".snapshot"
	tmpSuffix       = ".tmp"
)

// fileName is Kafka's 20-digit zero-padded base offset plus suffix.
func fileName(dir string, offset int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, suffix))
}

// parseFileName returns the offset a segment or snapshot file is named by.
func parseFileName(name, suffix string) (int64, bool) {
	if len(name) != 20+len(suffix) || name[20:] != suffix {
		return 0, false
	}
	off, err := strconv.ParseInt(name[:20], 10, 64)
	if err != nil || off < 0 {
		return 0, false
	}
	return off, true
}

// segment is one .log file with its two indexes.
//
// Locking: fields marked "log.mu" are only touched by the holder of the
// Log's append mutex. idxMu guards the in-memory indexes and the largest
// timestamp, which readers (Read, OffsetForTime, retention) look at while
// an Append adds to them; it is only ever held for a slice lookup or append,
// never across I/O except the small index writes in persistIndexes, and is
// always taken after log.mu, never before it.
type segment struct {
	base int64
	log  vfs.File
	// fd is log's descriptor for the Appender's AIO writes, -1 when log
	// is not the operating system's file (a test's fault-injecting vfs).
	fd   int
	idx  vfs.File
	tidx vfs.File

	// size is the number of bytes of complete batches, published after
	// the write so that a reader never goes past a fully written batch.
	size atomic.Int64
	// refs counts the Log's own reference plus every reader inside the
	// segment; the files close when it drops to zero, so retention can
	// drop a segment while a Read is still in it.
	refs atomic.Int64
	// dirty says the .log was written since the last fsync.
	dirty atomic.Bool

	idxMu      sync.RWMutex
	offIdx     []offsetEntry // idxMu
	timeIdx    []timeEntry   // idxMu
	maxTs      int64         // idxMu: largest batch max timestamp, -1 when empty
	maxTsRel   int32         // idxMu: last offset (relative) of the batch holding maxTs
	idxSaved   int           // idxMu: entries of offIdx already in the file
	tidxSaved  int           // idxMu: entries of timeIdx already in the file
	idxSynced  bool          // idxMu: index files fsynced since their last write
	persistBuf []byte        // idxMu: scratch for persistIndexes
	// evicted says offIdx and timeIdx of this sealed segment were dropped
	// from memory: its index files hold exactly offN and timeN entries,
	// and lookups binary-search the files (see evictIndexes).
	evicted     bool // idxMu
	offN, timeN int  // idxMu, when evicted

	// txnFile is the .txnindex, nil until the segment has an aborted
	// transaction (set under idxMu, so the group-commit fsync can read it);
	// txnIdx holds all its entries, txnBuf is scratch for writing one.
	txnFile  vfs.File     // idxMu
	txnIdx   []abortedTxn // idxMu
	txnBuf   []byte       // idxMu
	txnDirty atomic.Bool  // the .txnindex was written since its last fsync

	next          int64 // log.mu: offset after the segment's last batch
	rollBaseTs    int64 // log.mu: max timestamp of the first batch, -1 when empty
	bytesSinceIdx int   // log.mu: bytes appended since the last index entry
	allocated     int64 // log.mu: the .log has blocks reserved up to here (prealloc.go)
	noPrealloc    bool  // log.mu: the filesystem refused a reservation
	zeroed        int64 // log.mu: the .log file runs up to here, zeros past the last batch (prealloc.go)
	avgBatch      int64 // log.mu: moving average of the batch sizes written (prealloc.go)
}

// openSegmentFiles opens (creating when asked) the three files of a segment.
// A caller that creates them fsyncs the directory before relying on them.
func openSegmentFiles(fsys vfs.FS, dir string, base int64, create bool) (*segment, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	s := &segment{base: base, next: base, rollBaseTs: -1, maxTs: -1}
	var err error
	if s.log, err = fsys.OpenFile(fileName(dir, base, logSuffix), flag, 0o644); err != nil {
		return nil, err
	}
	s.fd = fileDescriptor(s.log)
	// Index files are rebuildable, so they are always created when missing.
	if s.idx, err = fsys.OpenFile(fileName(dir, base, indexSuffix), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		s.log.Close()
		return nil, err
	}
	if s.tidx, err = fsys.OpenFile(fileName(dir, base, timeIndexSuffix), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		s.log.Close()
		s.idx.Close()
		return nil, err
	}
	s.refs.Store(1)
	return s, nil
}

// acquire takes a reader reference; false when the segment is already gone.
func (s *segment) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference and closes the files with the last one.
func (s *segment) release() {
	if s.refs.Add(-1) == 0 {
		s.closeFiles()
	}
}

func (s *segment) closeFiles() error {
	err := errors.Join(s.log.Close(), s.idx.Close(), s.tidx.Close())
	s.idxMu.Lock()
	if s.txnFile != nil {
		err = errors.Join(err, s.txnFile.Close())
		s.txnFile = nil
	}
	s.idxMu.Unlock()
	return err
}

// syncTxnIndex fsyncs the .txnindex when it was written since the last one.
func (s *segment) syncTxnIndex() error {
	if !s.txnDirty.Swap(false) {
		return nil
	}
	s.idxMu.RLock()
	f := s.txnFile
	s.idxMu.RUnlock()
	if f == nil {
		return nil
	}
	if err := f.Sync(); err != nil {
		s.txnDirty.Store(true)
		return fmt.Errorf("fsync transaction index: %w", err)
	}
	return nil
}

func (s *segment) removeFiles(fsys vfs.FS, dir string) error {
	var errs []error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := fsys.Remove(fileName(dir, s.base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// canHold reports whether offsets up to last stay addressable by the
// int32 relative offsets of the indexes.
func (s *segment) canHold(last int64) bool { return last-s.base <= math.MaxInt32 }

// trackBatch updates the indexes for a batch written at pos, mirroring
// Kafka's LogSegment.append: the batch gets an offset index entry (its last
// offset -> its position) once more than index.interval.bytes were appended
// since the previous entry, and the time index gets the largest timestamp so
// far at the same moment if it grew. Caller holds log.mu.
func (s *segment) trackBatch(pos int64, size int, lastOffset, maxTs int64, interval int) {
	rel := int32(lastOffset - s.base)
	s.idxMu.Lock()
	if maxTs > s.maxTs {
		s.maxTs, s.maxTsRel = maxTs, rel
	}
	if s.bytesSinceIdx > interval {
		s.offIdx = append(s.offIdx, offsetEntry{rel: rel, pos: int32(pos)})
		s.maybeAppendTimeEntry()
		s.bytesSinceIdx = 0
	}
	s.idxMu.Unlock()
	s.bytesSinceIdx += size
	if s.rollBaseTs < 0 {
		s.rollBaseTs = maxTs
	}
	s.next = lastOffset + 1
}

// maybeAppendTimeEntry appends the largest timestamp so far when it is
// newer than the last entry. Caller holds idxMu.
func (s *segment) maybeAppendTimeEntry() {
	if s.maxTs < 0 {
		return
	}
	if n := len(s.timeIdx); n > 0 && s.timeIdx[n-1].ts >= s.maxTs {
		return
	}
	s.timeIdx = append(s.timeIdx, timeEntry{ts: s.maxTs, rel: s.maxTsRel})
}

// seal adds the final time index entry when a segment stops being active,
// as Kafka's onBecomeInactiveSegment does, so the last entry of every older
// segment's time index is its largest timestamp.
func (s *segment) seal() {
	s.idxMu.Lock()
	s.maybeAppendTimeEntry()
	s.idxMu.Unlock()
}

// persistIndexes writes the entries not yet in the index files, and fsyncs
// them when sync is set.
func (s *segment) persistIndexes(sync bool) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if s.idxSaved < len(s.offIdx) {
		s.persistBuf = appendOffsetEntries(s.persistBuf[:0], s.offIdx[s.idxSaved:])
		if _, err := s.idx.WriteAt(s.persistBuf, int64(s.idxSaved)*offsetEntrySize); err != nil {
			return fmt.Errorf("write offset index: %w", err)
		}
		s.idxSaved = len(s.offIdx)
		s.idxSynced = false
	}
	if s.tidxSaved < len(s.timeIdx) {
		s.persistBuf = appendTimeEntries(s.persistBuf[:0], s.timeIdx[s.tidxSaved:])
		if _, err := s.tidx.WriteAt(s.persistBuf, int64(s.tidxSaved)*timeEntrySize); err != nil {
			return fmt.Errorf("write time index: %w", err)
		}
		s.tidxSaved = len(s.timeIdx)
		s.idxSynced = false
	}
	if sync && !s.idxSynced {
		if err := errors.Join(s.idx.Sync(), s.tidx.Sync()); err != nil {
			return fmt.Errorf("fsync indexes: %w", err)
		}
		s.idxSynced = true
	}
	return nil
}

// evictIndexes drops the in-memory indexes of a sealed segment once every
// entry is in its files, so the heap does not grow with the log: a sealed
// segment's index never changes again, and lookups in it (a consumer
// catching up, ListOffsets by time) binary-search the files with pread,
// about 20 small reads served from the page cache for a 1 GiB segment.
// Kafka memory-maps the same files for the same reason. Only the active
// segment keeps its indexes in memory, where appends extend them.
func (s *segment) evictIndexes() {
	s.idxMu.Lock()
	if !s.evicted && s.idxSaved == len(s.offIdx) && s.tidxSaved == len(s.timeIdx) {
		s.offN, s.timeN = len(s.offIdx), len(s.timeIdx)
		s.offIdx, s.timeIdx = nil, nil
		s.evicted = true
	}
	s.idxMu.Unlock()
}

// resetIndexes replaces the in-memory indexes (after a rebuild) and
// truncates the files so that persistIndexes rewrites them whole.
func (s *segment) resetIndexes(off []offsetEntry, tim []timeEntry, saved bool) error {
	s.idxMu.Lock()
	s.offIdx, s.timeIdx = off, tim
	s.evicted, s.offN, s.timeN = false, 0, 0
	s.maxTs, s.maxTsRel = -1, 0
	if n := len(tim); n > 0 {
		s.maxTs, s.maxTsRel = tim[n-1].ts, tim[n-1].rel
	}
	s.idxSaved, s.tidxSaved = 0, 0
	if saved {
		s.idxSaved, s.tidxSaved = len(off), len(tim)
	}
	s.idxSynced = saved
	s.idxMu.Unlock()
	if saved {
		return nil
	}
	return errors.Join(s.idx.Truncate(0), s.tidx.Truncate(0))
}

// lookup returns the file position to scan from for offset; scratch (may
// be nil) is room for reading the index file of a sealed segment.
func (s *segment) lookup(offset int64, scratch []byte) int64 {
	s.idxMu.RLock()
	if s.evicted {
		n := s.offN
		s.idxMu.RUnlock()
		return lookupOffsetFile(s.idx, n, offset-s.base, scratch)
	}
	pos := lookupOffset(s.offIdx, offset-s.base)
	s.idxMu.RUnlock()
	return pos
}

// lookupTime returns the position to scan from for the first record with
// a timestamp >= ts (see lookupTimeBefore).
func (s *segment) lookupTime(ts int64) int64 {
	s.idxMu.RLock()
	if s.evicted {
		on, tn := s.offN, s.timeN
		s.idxMu.RUnlock()
		rel, found := lookupTimeBeforeFile(s.tidx, tn, ts)
		if !found {
			return 0
		}
		return lookupOffsetFile(s.idx, on, int64(rel), nil)
	}
	defer s.idxMu.RUnlock()
	rel, found := lookupTimeBefore(s.timeIdx, ts)
	if !found {
		return 0
	}
	return lookupOffset(s.offIdx, int64(rel))
}

// largestTimestamp is the segment's largest batch max timestamp, -1 if empty.
func (s *segment) largestTimestamp() int64 {
	s.idxMu.RLock()
	ts := s.maxTs
	s.idxMu.RUnlock()
	return ts
}

package log

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/log/vfs"
)

// keepSnapshots is how many producer snapshots survive a new one: the newest
// may be ahead of a log that lost its unsynced tail in a machine crash, and
// then the one before it still saves a replay from the start.
const keepSnapshots = 2

type snapshotFile struct {
	offset int64
	state  producers
}

// dirListing is what load finds in a partition directory.
type dirListing struct {
	bases     []int64        // segment base offsets, ascending
	snapshots map[int64]bool // offsets of the .snapshot files
	clean     bool           // the clean-shutdown marker was there
}

// load opens the segments in l.dir and recovers them. After a clean Close
// it trusts the indexes (checking they are sane and that the active
// segment's tail past its last index entry is valid) and the snapshot at
// the end offset. After an unclean stop it rescans, with CRCs, every segment
// that is not entirely below the newest valid snapshot (at least the active
// one), truncates the first segment with a torn or corrupt batch there and
// drops the segments after it, rebuilds the indexes of what it scanned, and
// replays the producer state from the newest usable snapshot.
func (l *Log) load() error {
	ls, err := l.listDir()
	if err != nil {
		return err
	}
	if ls.clean {
		if err := l.consumeCleanMarker(); err != nil {
			return err
		}
	}
	snaps := l.readSnapshots(ls.snapshots)
	scanFrom := rescanFrom(ls.clean, snaps)
	if !ls.clean && len(ls.bases) > 0 {
		// A brand-new partition has nothing to recover: no warning.
		l.logger.Warn("recovering log after an unclean shutdown", "segments", len(ls.bases), "snapshot", scanFrom)
	}
	segs, err := l.openSegments(ls.bases, ls.clean, scanFrom)
	if err != nil {
		return err
	}
	l.publishLoaded(segs)
	l.loadLogStart()
	dirChanged, err := l.loadProducers(snaps, l.endOffset.Load(), ls.clean)
	if err != nil {
		return err
	}
	return l.syncRecovered(segs, ls.clean, !ls.clean || dirChanged)
}

// rescanFrom is the offset past which segments are rescanned: none after
// a clean Close, else those reaching past the newest snapshot (snaps is
// newest first), or every segment without one.
func rescanFrom(clean bool, snaps []snapshotFile) int64 {
	switch {
	case clean:
		return math.MaxInt64
	case len(snaps) > 0:
		return snaps[0].offset
	}
	return -1
}

// listDir lists the partition directory, deleting what a crash can leave
// behind: temporary snapshot files of a write interrupted before its rename
// (the complete snapshots, older, are used instead) and index files without
// their segment.
func (l *Log) listDir() (dirListing, error) {
	ls := dirListing{snapshots: map[int64]bool{}}
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return ls, err
	}
	indexFiles := map[int64][]string{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == cleanShutdownFile:
			ls.clean = true
		case strings.HasSuffix(name, tmpSuffix):
			l.logger.Info("deleting an interrupted snapshot write", "file", name)
			l.fs.Remove(filepath.Join(l.dir, name))
		default:
			if off, ok := parseFileName(name, logSuffix); ok {
				ls.bases = append(ls.bases, off)
			} else if off, ok := parseFileName(name, snapshotSuffix); ok {
				ls.snapshots[off] = true
			} else if off, ok := parseFileName(name, indexSuffix); ok {
				indexFiles[off] = append(indexFiles[off], name)
			} else if off, ok := parseFileName(name, timeIndexSuffix); ok {
				indexFiles[off] = append(indexFiles[off], name)
			} else if off, ok := parseFileName(name, txnIndexSuffix); ok {
				indexFiles[off] = append(indexFiles[off], name)
			}
		}
	}
	slices.Sort(ls.bases)
	for off, names := range indexFiles {
		if _, found := slices.BinarySearch(ls.bases, off); !found {
			for _, n := range names {
				l.fs.Remove(filepath.Join(l.dir, n))
			}
		}
	}
	return ls, nil
}

// consumeCleanMarker deletes the clean-shutdown marker, durably, before
// anything changes: from here on a crash must be seen as unclean.
func (l *Log) consumeCleanMarker() error {
	if err := l.fs.Remove(filepath.Join(l.dir, cleanShutdownFile)); err != nil {
		return err
	}
	return l.fs.SyncDir(l.dir)
}

// openSegments opens the segments at bases and recovers each: trusted when
// the log was closed cleanly or the segment ends at or below scanFrom,
// rescanned otherwise. It stops at the first overlapping or truncated
// segment, deleting the ones after it, drops empty segments other than the
// last, and creates segment 0 in an empty directory.
func (l *Log) openSegments(bases []int64, clean bool, scanFrom int64) ([]*segment, error) {
	var segs []*segment
	fail := func(err error) ([]*segment, error) {
		for _, s := range segs {
			s.closeFiles()
		}
		return nil, err
	}
	for i, base := range bases {
		s, err := openSegmentFiles(l.fs, l.dir, base, false)
		if err != nil {
			return fail(err)
		}
		last := i == len(bases)-1
		truncated, err := l.recoverSegment(s, last, clean || (!last && bases[i+1] <= scanFrom))
		if err != nil {
			s.closeFiles()
			return fail(fmt.Errorf("segment %d: %w", base, err))
		}
		if n := len(segs); n > 0 && s.base < segs[n-1].next {
			l.logger.Warn("segment overlaps its predecessor; dropping it and its successors", "segment", base, "previous_end", segs[n-1].next)
			s.closeFiles()
			l.dropSegments(bases[i:])
			break
		}
		if n := len(segs); n > 0 && s.base > segs[n-1].next {
			// Kafka tolerates gaps (compaction makes them); here they mean
			// a lost tail, and readers simply skip to the next segment.
			l.logger.Warn("offset gap before segment", "segment", base, "previous_end", segs[n-1].next)
		}
		if s.size.Load() == 0 && !last {
			l.logger.Warn("dropping empty segment", "segment", base)
			s.closeFiles()
			s.removeFiles(l.fs, l.dir)
			continue
		}
		segs = append(segs, s)
		if truncated && !last {
			l.logger.Warn("segment truncated; dropping the segments after it", "segment", base)
			l.dropSegments(bases[i+1:])
			break
		}
	}
	if len(segs) == 0 {
		// A new log (its files are made durable by syncRecovered).
		s, err := openSegmentFiles(l.fs, l.dir, 0, true)
		if err != nil {
			return nil, err
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// recoverSegment loads one segment: from its indexes when trusted,
// otherwise by a CRC rescan that rebuilds them. truncated reports that
// invalid bytes were cut off its end.
func (l *Log) recoverSegment(s *segment, active, trusted bool) (truncated bool, err error) {
	if trusted {
		return l.loadTrusted(s, active)
	}
	return l.rebuild(s, true)
}

// publishLoaded publishes the recovered segments and the offsets and size
// they hold.
func (l *Log) publishLoaded(segs []*segment) {
	l.publish(segs)
	var total int64
	for _, s := range segs {
		total += s.size.Load()
	}
	l.size.Store(total)
	l.logStart.Store(segs[0].base)
	l.endOffset.Store(segs[len(segs)-1].next)
}

// syncRecovered makes what recovery kept or rewrote durable before anyone
// relies on it (after a clean Close the segments already are), and with
// dirChanged fsyncs the directory, whose entries recovery created (a new
// log's first segment, the snapshot) or deleted (segments after a torn
// one, which must not come back after a crash).
func (l *Log) syncRecovered(segs []*segment, clean, dirChanged bool) error {
	for _, s := range segs {
		if !clean {
			s.dirty.Store(true)
		}
		if err := l.syncSegment(s, s != segs[len(segs)-1]); err != nil {
			return err
		}
	}
	if dirChanged {
		if err := l.fs.SyncDir(l.dir); err != nil {
			return err
		}
	}
	l.synced.Store(l.endOffset.Load())
	return nil
}

// readSnapshots decodes the snapshots, newest first, deleting invalid ones.
func (l *Log) readSnapshots(offsets map[int64]bool) []snapshotFile {
	var out []snapshotFile
	for off := range offsets {
		name := fileName(l.dir, off, snapshotSuffix)
		b, err := vfs.ReadFile(l.fs, name)
		var got int64
		var p producers
		if err == nil {
			got, p, err = decodeSnapshot(b)
		}
		if err == nil && got != off {
			err = fmt.Errorf("%w: names offset %d, holds %d", errSnapshot, off, got)
		}
		if err != nil {
			l.logger.Warn("ignoring producer snapshot", "file", filepath.Base(name), "err", err)
			l.fs.Remove(name)
			continue
		}
		out = append(out, snapshotFile{offset: off, state: p})
	}
	slices.SortFunc(out, func(a, b snapshotFile) int { return cmp.Compare(b.offset, a.offset) })
	return out
}

// loadProducers restores the producer state, the open transactions and
// the aborted-transaction indexes from the newest snapshot inside
// [log start, end] and the batches after it, and removes snapshots that
// are ahead of the (possibly truncated) log. dirChanged reports that it
// wrote a snapshot at end or created or removed a .txnindex, whose names
// the caller makes durable.
//
// The .txnindex entries of markers below the replay start are kept from
// the files (they were made durable with their segment before the snapshot
// was); those of markers after it are rebuilt by the replay, which needs
// the open transactions at its start: that is what the snapshot's
// txnFirstOffset is for. A .txnindex that fails its checks forces a
// replay from a snapshot at or below its segment, or from the log start.
func (l *Log) loadProducers(snaps []snapshotFile, end int64, clean bool) (dirChanged bool, err error) {
	start := l.logStart.Load()
	segs := *l.segs.Load()
	loaded := make([][]abortedTxn, len(segs))
	replayBelow := int64(math.MaxInt64) // the replay must start at or below this
	for i, s := range segs {
		loaded[i], err = l.loadTxnIndex(s)
		if err != nil {
			l.logger.Warn("rebuilding transaction index", "segment", s.base, "err", err)
			replayBelow = min(replayBelow, s.base)
		}
	}
	from := start
	l.producers = make(producers)
	found := false
	for _, s := range snaps {
		if s.offset > end {
			l.logger.Warn("dropping producer snapshot beyond the log end", "snapshot", s.offset, "end", end)
			l.fs.Remove(fileName(l.dir, s.offset, snapshotSuffix))
			continue
		}
		if !found && s.offset >= start && s.offset <= replayBelow {
			l.producers, from, found = s.state, s.offset, true
		}
	}
	l.resetOpenTxns()
	// Entries of markers from the replay start on are rebuilt.
	rebuilt := make([][]abortedTxn, len(segs))
	for i, s := range segs {
		keepBelow := min(max(from, s.base), s.next)
		for _, t := range loaded[i] {
			if t.lastOffset < keepBelow {
				rebuilt[i] = append(rebuilt[i], t)
			}
		}
	}
	replayed, err := l.replay(segs, from, rebuilt)
	if err != nil {
		return false, err
	}
	l.firstUnstable.Store(l.oldestOpenTxn())
	if replayed > 0 || !found {
		l.logger.Info("rebuilt producer state", "from", from, "snapshot", found, "batches", replayed, "producers", len(l.producers), "open_transactions", len(l.openTxns))
	}
	for i, s := range segs {
		if slices.Equal(rebuilt[i], loaded[i]) && replayBelow > s.base {
			s.txnIdx = loaded[i]
			continue
		}
		changed, err := l.writeTxnIndex(s, rebuilt[i])
		if err != nil {
			return false, fmt.Errorf("rewrite transaction index of segment %d: %w", s.base, err)
		}
		dirChanged = dirChanged || changed
	}
	if clean && found && from == end {
		return dirChanged, nil
	}
	if err := writeSnapshot(l.fs, l.dir, end, l.producers); err != nil {
		return false, err
	}
	l.pruneSnapshots(end)
	return true, nil
}

// replay applies the batches from offset from on to the producer state and
// the open transactions, adding the aborted transactions of the markers to
// txns (per segment). It returns how many batches it applied.
func (l *Log) replay(segs []*segment, from int64, txns [][]abortedTxn) (replayed int, err error) {
	var dec batch.Decoder
	var buf []byte
	for i := max(segmentFor(segs, from), 0); i < len(segs); i++ {
		s := segs[i]
		if s.next <= from {
			continue
		}
		sc := newScanner(s.log, s.lookup(from, nil), s.size.Load(), false)
		for {
			h, pos, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return replayed, fmt.Errorf("replay producer state in segment %d: %w", s.base, err)
			}
			if h.BaseOffset < from || !h.Idempotent() {
				continue
			}
			if !h.IsControl() {
				if l.producers.apply(&h, h.MaxTimestamp) {
					l.openTxns[h.ProducerID] = h.BaseOffset
				}
				replayed++
				continue
			}
			buf = slices.Grow(buf[:0], h.Size())[:h.Size()]
			if _, err := s.log.ReadAt(buf, pos); err != nil {
				return replayed, fmt.Errorf("replay marker in segment %d: %w", s.base, err)
			}
			m, ok, err := decodeMarker(buf, &dec)
			if !ok {
				l.logger.Warn("skipping a control batch that is no transaction marker", "segment", s.base, "offset", h.BaseOffset, "err", err)
				continue
			}
			if first, open := l.openTxns[m.ProducerID]; open {
				if !m.Commit {
					txns[i] = append(txns[i], abortedTxn{producerID: m.ProducerID, firstOffset: first, lastOffset: h.BaseOffset, lastStableOffset: l.stableAfter(m.ProducerID, h.BaseOffset)})
				}
				delete(l.openTxns, m.ProducerID)
			}
			l.producers.applyMarker(m, h.MaxTimestamp)
			replayed++
		}
	}
	return replayed, nil
}

// pruneSnapshots keeps the newest keepSnapshots snapshots not above upto.
func (l *Log) pruneSnapshots(upto int64) {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return
	}
	var offs []int64
	for _, e := range entries {
		if off, ok := parseFileName(e.Name(), snapshotSuffix); ok && off <= upto {
			offs = append(offs, off)
		}
	}
	slices.Sort(offs)
	for len(offs) > keepSnapshots {
		l.fs.Remove(fileName(l.dir, offs[0], snapshotSuffix))
		offs = offs[1:]
	}
}

func (l *Log) dropSegments(bases []int64) {
	for _, b := range bases {
		(&segment{base: b}).removeFiles(l.fs, l.dir)
	}
}

// loadTrusted opens a segment whose files are believed consistent: the
// indexes pass their sanity checks, the batch at the last index entry is the
// one it names, and the tail after it parses (with CRCs for the active
// segment). Anything else falls back to a rebuild.
func (l *Log) loadTrusted(s *segment, active bool) (truncated bool, err error) {
	st, err := s.log.Stat()
	if err != nil {
		return false, err
	}
	logSize := st.Size()
	if logSize > math.MaxInt32 {
		return false, fmt.Errorf("segment of %d bytes exceeds the int32 positions of its index", logSize)
	}
	off, err := readOffsetIndex(s.idx, logSize)
	if err != nil {
		l.logger.Warn("rebuilding offset index", "segment", s.base, "err", err)
		return l.rebuild(s, true)
	}
	var startPos int64
	if n := len(off); n > 0 {
		startPos = int64(off[n-1].pos)
	}
	sc := newScanner(s.log, startPos, logSize, active)
	next, tailMax, tailMaxRel := s.base, int64(-1), int32(0)
	first := true
	for {
		h, _, err := sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil && first && len(off) > 0 && h.LastOffset()-s.base != int64(off[len(off)-1].rel) {
			err = fmt.Errorf("last offset index entry names offset %d, the batch there ends at %d", s.base+int64(off[len(off)-1].rel), h.LastOffset())
		}
		if err == nil && !batchFits(s, next, &h) {
			err = fmt.Errorf("batch at offset %d does not follow %d", h.BaseOffset, next)
		}
		if err != nil {
			l.logger.Warn("segment tail invalid; rescanning it", "segment", s.base, "err", err)
			return l.rebuild(s, true)
		}
		first = false
		next = h.LastOffset() + 1
		if h.MaxTimestamp > tailMax {
			tailMax, tailMaxRel = h.MaxTimestamp, int32(h.LastOffset()-s.base)
		}
	}
	if sc.zeroTail {
		// Zeros written ahead of the last batch (prealloc.go's zeroAhead):
		// the log ends where they start, cleanly.
		logSize = sc.end
		if err := s.log.Truncate(logSize); err != nil {
			return false, err
		}
	}
	if len(off) > 0 && first {
		return l.rebuild(s, true)
	}
	tim, err := readTimeIndex(s.tidx, next-1-s.base)
	if err == nil && len(tim) == 0 && len(off) > 0 {
		err = errors.New("time index empty while the offset index is not")
	}
	if err != nil {
		l.logger.Warn("rebuilding time index", "segment", s.base, "err", err)
		return l.rebuild(s, true)
	}
	rollTs := int64(-1)
	if logSize > 0 {
		var hb [batch.HeaderSize]byte
		if _, err := s.log.ReadAt(hb[:], 0); err != nil {
			return l.rebuild(s, true)
		}
		h, err := batch.ParseHeader(hb[:])
		if err != nil || h.BaseOffset < s.base {
			return l.rebuild(s, true)
		}
		rollTs = h.MaxTimestamp
	}
	if err := s.resetIndexes(off, tim, true); err != nil {
		return false, err
	}
	s.idxMu.Lock()
	if tailMax > s.maxTs {
		s.maxTs, s.maxTsRel = tailMax, tailMaxRel
	}
	s.idxMu.Unlock()
	s.next = next
	s.rollBaseTs = rollTs
	s.bytesSinceIdx = int(logSize - startPos)
	s.size.Store(logSize)
	return false, nil
}

// batchFits checks that a batch read from disk can follow offset next in s.
func batchFits(s *segment, next int64, h *batch.Header) bool {
	return h.BaseOffset >= next && h.BaseOffset <= math.MaxInt64-math.MaxInt32 && s.canHold(h.LastOffset())
}

// rebuild rescans a whole segment, truncates it at the first batch that is
// torn, corrupt (with crc) or out of order, and rebuilds its indexes.
func (l *Log) rebuild(s *segment, crc bool) (truncated bool, err error) {
	st, err := s.log.Stat()
	if err != nil {
		return false, err
	}
	logSize := min(st.Size(), math.MaxInt32)
	if err := s.resetIndexes(nil, nil, false); err != nil {
		return false, err
	}
	s.next, s.rollBaseTs, s.bytesSinceIdx = s.base, -1, 0
	sc := newScanner(s.log, 0, logSize, crc)
	var valid int64
	for {
		h, pos, err := sc.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil && !batchFits(s, s.next, &h) {
			err = fmt.Errorf("%w at position %d: batch at offset %d does not follow %d", errTorn, pos, h.BaseOffset, s.next)
		}
		if errors.Is(err, errTorn) {
			l.logger.Warn("truncating segment at an invalid batch", "segment", s.base, "position", pos, "dropped_bytes", st.Size()-pos, "err", err)
			truncated = true
			break
		}
		if err != nil {
			return false, err
		}
		s.trackBatch(pos, h.Size(), h.LastOffset(), h.MaxTimestamp, l.cfg.IndexIntervalBytes)
		valid = pos + int64(h.Size())
	}
	if valid != st.Size() {
		// An all-zero tail was written ahead (zeroAhead), not torn.
		if !sc.zeroTail || valid != sc.end {
			truncated = true
		}
		if err := s.log.Truncate(valid); err != nil {
			return false, err
		}
	}
	s.size.Store(valid)
	return truncated, nil
}

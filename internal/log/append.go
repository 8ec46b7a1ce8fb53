package log

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// AppendInfo describes an append, the fields of a Produce response partition.
type AppendInfo struct {
	BaseOffset int64 // offset of the first record
	LastOffset int64 // offset of the last record
	// LogAppendTime is the broker time stamped on the batches with
	// LogAppendTime, -1 with CreateTime.
	LogAppendTime  int64
	LogStartOffset int64
	// Duplicate reports a retry of one of a producer's last 5 batches:
	// nothing was appended and the offsets are those of the original.
	Duplicate  bool
	NumRecords int
}

// maxBatchesPerAppend bounds the batches of one record set handled without
// allocating; Produce requests from real clients carry one per partition.
const maxBatchesPerAppend = 8

// Append validates a Produce record set (one or more concatenated batches)
// completely, then appends it with offsets assigned, in one write.
//
// It rewrites recordSet in place (base offsets, partition leader epoch, and
// with LogAppendTime the timestamp and CRC): the caller must not share it.
//
// Errors wrap kerr values, mirroring Kafka's LogValidator:
// CORRUPT_MESSAGE for an empty, truncated, CRC-failing or structurally
// broken batch; UNSUPPORTED_FOR_MESSAGE_FORMAT for magic 0 or 1;
// MESSAGE_TOO_LARGE for a batch above MaxMessageBytes;
// RECORD_LIST_TOO_LARGE for a record set above SegmentBytes; INVALID_RECORD
// for a batch without records, with a record count that does not match its
// offset range, a control batch or an idempotent batch without sequence;
// INVALID_PRODUCER_EPOCH and OUT_OF_ORDER_SEQUENCE_NUMBER from the producer
// state (see checkProducer); KAFKA_STORAGE_ERROR (with ErrOffline) when
// the write or a roll fails, which takes the log offline, and on every call
// after that. Nothing is appended when any batch fails.
func (l *Log) Append(recordSet []byte, now time.Time) (AppendInfo, error) {
	var hdrs [maxBatchesPerAppend]batch.Header
	headers, err := l.validate(recordSet, hdrs[:0])
	if err != nil {
		return AppendInfo{LogAppendTime: -1}, fmt.Errorf("log %s: append: %w", l.dir, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	w, err := l.prepareLocked(recordSet, headers, now)
	info := w.info
	if err == nil && w.act != nil {
		n, werr := w.act.log.WriteAt(recordSet, w.pos)
		info, err = l.finishLocked(&w, headers, n, werr)
	}
	if err != nil && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("log %s: append: %w", l.dir, err)
	}
	return info, err
}

// preparedWrite is an append between prepareLocked and finishLocked: its
// offsets are assigned and its bytes are due at pos of act. mu stays held
// in between.
type preparedWrite struct {
	act     *segment // nil when nothing is to be written (a duplicate)
	pos     int64
	end     int64 // offset after the last record
	records int64
	set     []byte
	info    AppendInfo // the answer once written
}

// prepareLocked is Append after validation, under mu, up to the write:
// check the producers, roll when due, assign offsets, and make room in the
// segment (preallocate, zeros ahead). With a nil error and a nil w.act,
// w.info answers the append (a duplicate); with w.act set the caller
// writes w.set at w.pos and calls finishLocked, still under mu.
func (l *Log) prepareLocked(recordSet []byte, headers []batch.Header, now time.Time) (w preparedWrite, err error) {
	w.info = AppendInfo{LogAppendTime: -1}
	if l.closed {
		return w, ErrClosed
	}
	if err := l.Offline(); err != nil {
		return w, err
	}
	l.maybeExpireProducers(now)
	w.info.LogStartOffset = l.logStart.Load()
	if dup, err := l.checkProducers(headers, &w.info); dup || err != nil {
		return w, err
	}

	next := l.endOffset.Load()
	for i := range headers {
		w.records += int64(headers[i].LastOffsetDelta) + 1
	}
	act, err := l.maybeRoll(len(recordSet), next, next+w.records-1, now)
	if err != nil {
		return w, err
	}
	nowMs := now.UnixMilli()
	w.end = l.assignOffsets(recordSet, headers, next, nowMs)
	w.pos = l.beforeWrite(act, int64(len(recordSet)))
	w.act, w.set = act, recordSet
	w.info.BaseOffset = next
	w.info.LastOffset = w.end - 1
	w.info.NumRecords = int(w.records)
	if l.cfg.LogAppendTime {
		w.info.LogAppendTime = nowMs
	}
	return w, nil
}

// finishLocked ends a prepared append whose write returned n, werr: on
// success it indexes the batches and publishes them (segment size, log
// size, end offset); a failed write takes the log offline (afterWrite).
// Caller holds mu.
func (l *Log) finishLocked(w *preparedWrite, headers []batch.Header, n int, werr error) (AppendInfo, error) {
	if err := l.afterWrite(w.act, w.pos, n, werr); err != nil {
		return AppendInfo{LogAppendTime: -1, LogStartOffset: w.info.LogStartOffset}, err
	}
	l.index(w.act, w.pos, headers)
	w.act.size.Store(w.pos + int64(len(w.set)))
	l.size.Add(int64(len(w.set)))
	l.endOffset.Store(w.end)
	return w.info, nil
}

// checkProducers runs the idempotent producer checks of every batch. A
// duplicate anywhere in the set answers for the whole set, as Kafka's
// analyzeAndValidateProducerState does: dup is true and info holds the
// offsets of the original.
func (l *Log) checkProducers(headers []batch.Header, info *AppendInfo) (dup bool, err error) {
	for i := range headers {
		h := &headers[i]
		if !h.Idempotent() {
			continue
		}
		if prev := earlierOf(headers[:i], h); prev != nil {
			// Several batches of one producer in one set must chain.
			if h.ProducerEpoch != prev.ProducerEpoch || !inSequence(lastSequence(prev.BaseSequence, prev.LastOffsetDelta), h.BaseSequence) {
				return false, fmt.Errorf("%w: producer %d batches in one request do not follow each other", kerr.OutOfOrderSequenceNumber, h.ProducerID)
			}
			if prev.IsTransactional() && !h.IsTransactional() {
				return false, nonTransactionalInTxn(h)
			}
			continue
		}
		e := l.producers[h.ProducerID]
		if m := e.findDuplicate(h.ProducerEpoch, h.BaseSequence, lastSequence(h.BaseSequence, h.LastOffsetDelta)); m != nil {
			info.Duplicate = true
			info.BaseOffset = m.firstOffset
			info.LastOffset = m.firstOffset + int64(m.lastDelta)
			info.NumRecords = int(m.lastDelta) + 1
			if l.cfg.LogAppendTime {
				info.LogAppendTime = m.timestamp
			}
			return true, nil
		}
		if err := checkProducer(e, h); err != nil {
			return false, err
		}
		if e != nil && e.txnFirst >= 0 && !h.IsTransactional() {
			return false, nonTransactionalInTxn(h)
		}
	}
	return false, nil
}

// nonTransactionalInTxn is Kafka's answer to a plain idempotent batch from
// a producer whose transaction is open (ProducerAppendInfo.appendDataBatch:
// "Expected transactional write from producer").
func nonTransactionalInTxn(h *batch.Header) error {
	return fmt.Errorf("%w: non-transactional batch from producer %d, whose transaction is open", kerr.InvalidTxnState, h.ProducerID)
}

// maybeRoll returns the segment to append size bytes ending at lastOffset
// to: the active one, or a new one starting at next when it is due.
func (l *Log) maybeRoll(size int, next, lastOffset int64, now time.Time) (*segment, error) {
	act := l.active()
	if !l.shouldRoll(act, size, lastOffset, now) {
		return act, nil
	}
	return l.roll(next)
}

// assignOffsets stamps offsets from next on, the leader epoch and, with
// LogAppendTime, the broker time into the batches of recordSet (and their
// headers), and returns the offset after the last record.
func (l *Log) assignOffsets(recordSet []byte, headers []batch.Header, next, nowMs int64) (end int64) {
	off := next
	b := recordSet
	for i := range headers {
		h := &headers[i]
		size := h.Size()
		batch.SetBaseOffset(b, off)
		batch.SetPartitionLeaderEpoch(b, l.cfg.LeaderEpoch)
		if l.cfg.LogAppendTime {
			batch.SetLogAppendTime(b[:size], nowMs)
			h.MaxTimestamp = nowMs
		}
		h.BaseOffset = off
		off += int64(h.LastOffsetDelta) + 1
		b = b[size:]
	}
	return off
}

// write appends recordSet to the end of act in one pwrite and returns the
// position it starts at (beforeWrite, the write, afterWrite).
func (l *Log) write(act *segment, recordSet []byte) (pos int64, err error) {
	pos = l.beforeWrite(act, int64(len(recordSet)))
	n, err := act.log.WriteAt(recordSet, pos)
	return pos, l.afterWrite(act, pos, n, err)
}

// beforeWrite makes room for n bytes at the end of act (preallocate, zeros
// ahead) and returns the position they go to.
func (l *Log) beforeWrite(act *segment, n int64) (pos int64) {
	pos = act.size.Load()
	act.preallocate(pos+n, l.cfg.SegmentBytes)
	act.zeroAhead(pos, n, l.cfg.SegmentBytes)
	return pos
}

// afterWrite settles a write at pos that wrote n bytes and returned err.
// A failed write takes the log offline, as Kafka takes a failed log
// directory offline, and nothing of it is acknowledged: the segment size
// and the end offset, which readers and the high watermark follow, are not
// moved. A partial write is cut off so the file ends at a batch boundary;
// if even that fails, recovery does it on the next open (a torn batch
// fails its CRC).
func (l *Log) afterWrite(act *segment, pos int64, n int, err error) error {
	if err == nil {
		act.dirty.Store(true)
		return nil
	}
	if n > 0 || act.zeroed > pos {
		act.zeroed = 0
		if terr := act.log.Truncate(pos); terr != nil {
			err = errors.Join(err, fmt.Errorf("undo partial write: %w", terr))
		}
	}
	return l.goOffline(storageError("write", err))
}

// index adds the batches written at pos to the segment's indexes and the
// idempotent ones to the producer state, opening a transaction for the
// first transactional batch of a producer. It runs before the end offset
// is published.
func (l *Log) index(act *segment, pos int64, headers []batch.Header) {
	for i := range headers {
		h := &headers[i]
		act.trackBatch(pos, h.Size(), h.LastOffset(), h.MaxTimestamp, l.cfg.IndexIntervalBytes)
		pos += int64(h.Size())
		// A marker is not a producer batch: AppendMarker applies it.
		if h.Idempotent() && !h.IsControl() && l.producers.apply(h, h.MaxTimestamp) {
			l.beginTxn(h.ProducerID, h.BaseOffset)
		}
	}
}

// maybeExpireProducers sweeps the producer state at most once per
// producer.id.expiration.check.interval.ms of append time. Caller holds mu.
func (l *Log) maybeExpireProducers(now time.Time) {
	nowMs := now.UnixMilli()
	if nowMs < l.nextExpiry {
		return
	}
	l.nextExpiry = nowMs + producerExpirationCheckInterval.Milliseconds()
	l.expireProducers(nowMs)
}

// expireProducers drops the expired producer ids. Caller holds mu.
func (l *Log) expireProducers(nowMs int64) {
	if n := l.producers.expire(nowMs, l.cfg.ProducerIDExpiration); n > 0 {
		l.logger.Info("expired idle producer ids", "expired", n, "remaining", len(l.producers), "producer.id.expiration.ms", l.cfg.ProducerIDExpiration.Milliseconds())
	}
}

func earlierOf(earlier []batch.Header, h *batch.Header) *batch.Header {
	for i := len(earlier) - 1; i >= 0; i-- {
		if earlier[i].ProducerID == h.ProducerID {
			return &earlier[i]
		}
	}
	return nil
}

// decoders holds the *batch.Decoder of Append's validation, shared by every
// log: with one pool per log, 1,000 partitions kept 1,000 pools (and, for
// compressed batches, as many decompression buffers) whose every Get after
// a GC allocated, and whose decoders were cold in the cache.
var decoders = sync.Pool{New: func() any { return &batch.Decoder{ReuseBuffer: true} }}

// validate checks every batch of a record set without touching the log,
// appending their headers to dst. It runs before the append lock is taken,
// so decompressing one producer's batches does not stall the others.
func (l *Log) validate(recordSet []byte, dst []batch.Header) ([]batch.Header, error) {
	if len(recordSet) == 0 {
		return dst, fmt.Errorf("%w: empty record set", kerr.CorruptMessage)
	}
	// Lock-free, so the limits come from their atomics (Reconfigure).
	segBytes, maxMsg := l.segmentBytes.Load(), int(l.maxMessageBytes.Load())
	if int64(len(recordSet)) > segBytes {
		return dst, fmt.Errorf("%w: record set of %d bytes exceeds segment.bytes %d", kerr.RecordListTooLarge, len(recordSet), segBytes)
	}
	dec := decoders.Get().(*batch.Decoder)
	defer decoders.Put(dec)
	var records int64
	for rest, pos := recordSet, 0; len(rest) > 0; {
		b, r, h, err := batch.Next(rest)
		if err != nil {
			return dst, fmt.Errorf("batch at byte %d: %w", pos, batchError(rest, err))
		}
		if h.Size() > maxMsg {
			return dst, fmt.Errorf("%w: batch at byte %d is %d bytes, max.message.bytes is %d", kerr.MessageTooLarge, pos, h.Size(), maxMsg)
		}
		if _, err := batch.Validate(b); err != nil {
			return dst, fmt.Errorf("batch at byte %d: %w", pos, batchError(b, err))
		}
		if err := checkHeader(&h); err != nil {
			return dst, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		if err := dec.Check(b); err != nil {
			return dst, fmt.Errorf("%w: batch at byte %d: %w", kerr.CorruptMessage, pos, err)
		}
		records += int64(h.LastOffsetDelta) + 1
		if records > math.MaxInt32 {
			return dst, fmt.Errorf("%w: record set of more than %d records", kerr.InvalidRecord, math.MaxInt32)
		}
		dst = append(dst, h)
		pos += len(b)
		rest = r
	}
	return dst, nil
}

// batchError maps a codec error to the Kafka code Kafka's broker answers.
func batchError(b []byte, err error) error {
	if errors.Is(err, batch.ErrMagic) && len(b) > 16 && (b[16] == 0 || b[16] == 1) {
		// Message sets v0/v1: a format this broker does not speak.
		return fmt.Errorf("%w: %w", kerr.UnsupportedForMessageFormat, err)
	}
	return fmt.Errorf("%w: %w", kerr.CorruptMessage, err)
}

// checkHeader is Kafka's LogValidator.validateBatch for produced batches.
func checkHeader(h *batch.Header) error {
	switch {
	case h.NumRecords == 0:
		return fmt.Errorf("%w: batch without records", kerr.InvalidRecord)
	case int64(h.LastOffsetDelta)+1 != int64(h.NumRecords):
		return fmt.Errorf("%w: record count %d does not match last offset delta %d", kerr.InvalidRecord, h.NumRecords, h.LastOffsetDelta)
	case h.IsControl():
		return fmt.Errorf("%w: clients cannot append control batches", kerr.InvalidRecord)
	case h.Idempotent() && (h.ProducerEpoch < 0 || h.BaseSequence < 0):
		return fmt.Errorf("%w: producer id %d with epoch %d and base sequence %d", kerr.InvalidRecord, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
	case !h.Idempotent() && h.IsTransactional():
		return fmt.Errorf("%w: transactional batch without producer id", kerr.InvalidRecord)
	}
	return nil
}

// shouldRoll mirrors Kafka's LogSegment.shouldRoll: roll a non-empty active
// segment when the append would exceed segment.bytes, when segment.ms has
// passed since its first batch's max timestamp, or when the last offset
// would not fit the int32 relative offsets of its indexes.
func (l *Log) shouldRoll(s *segment, size int, lastOffset int64, now time.Time) bool {
	if s.size.Load() == 0 {
		return false
	}
	if s.size.Load()+int64(size) > l.cfg.SegmentBytes {
		return true
	}
	if s.rollBaseTs >= 0 && now.UnixMilli()-s.rollBaseTs > l.cfg.SegmentMs.Milliseconds() {
		return true
	}
	return !s.canHold(lastOffset)
}

// roll seals the active segment and starts a new one at offset next, with a
// producer snapshot at next so that crash recovery only rescans the new
// segment. The new files and the snapshot are made durable by one fsync of
// the directory before any record goes into them: without it a power loss
// can lose the new segment's name while its data was fsynced, and with it
// every record acknowledged under acks=all (docs/storage.md, Durability).
// A failure takes the log offline. Caller holds mu.
func (l *Log) roll(next int64) (*segment, error) {
	old := l.active()
	s, err := openSegmentFiles(l.fs, l.dir, next, true)
	if err != nil {
		return nil, l.goOffline(storageError("roll", err))
	}
	snapErr := writeSnapshot(l.fs, l.dir, next, l.producers)
	if snapErr != nil {
		l.logger.Warn("producer snapshot at roll", "err", snapErr)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		s.closeFiles()
		return nil, l.goOffline(storageError("roll: fsync directory", err))
	}
	if snapErr == nil {
		l.pruneSnapshots(next)
	}
	old.seal()
	if err := old.trimPreallocation(); err != nil {
		l.logger.Warn("giving back the rolled segment's preallocated space", "segment", old.base, "err", err)
	}
	if err := old.persistIndexes(false); err != nil {
		l.logger.Warn("persisting indexes of the rolled segment", "segment", old.base, "err", err)
	} else {
		old.evictIndexes()
	}
	segs := *l.segs.Load()
	nsegs := make([]*segment, len(segs), len(segs)+1)
	copy(nsegs, segs)
	l.publish(append(nsegs, s))
	l.logger.Debug("rolled segment", "base", next, "previous", old.base)
	return s, nil
}

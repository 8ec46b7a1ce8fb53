package log

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/kerr"
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
// Errors wrap internal/kerr values, mirroring Kafka's LogValidator:
// CORRUPT_MESSAGE for an empty, truncated, CRC-failing or structurally
// broken batch; UNSUPPORTED_FOR_MESSAGE_FORMAT for magic 0 or 1;
// MESSAGE_TOO_LARGE for a batch above MaxMessageBytes;
// RECORD_LIST_TOO_LARGE for a record set above SegmentBytes; INVALID_RECORD
// for a batch without records, with a record count that does not match its
// offset range, a control batch or an idempotent batch without sequence;
// INVALID_PRODUCER_EPOCH and OUT_OF_ORDER_SEQUENCE_NUMBER from the producer
// state (see checkProducer); KAFKA_STORAGE_ERROR when the write fails.
// Nothing is appended when any batch fails.
func (l *Log) Append(recordSet []byte, now time.Time) (AppendInfo, error) {
	info := AppendInfo{LogAppendTime: -1}
	var hdrs [maxBatchesPerAppend]batch.Header
	headers, err := l.validate(recordSet, hdrs[:0])
	if err != nil {
		return info, fmt.Errorf("log %s: append: %w", l.dir, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return info, ErrClosed
	}
	if l.failed != nil {
		return info, fmt.Errorf("log %s: append: %w", l.dir, l.failed)
	}
	info.LogStartOffset = l.logStart.Load()

	// Producer checks first: a duplicate anywhere in the set answers for the
	// whole set, as Kafka's analyzeAndValidateProducerState does.
	for i := range headers {
		h := &headers[i]
		if !h.Idempotent() {
			continue
		}
		if prev := earlierOf(headers[:i], h); prev != nil {
			// Several batches of one producer in one set must chain.
			if h.ProducerEpoch != prev.ProducerEpoch || !inSequence(lastSequence(prev.BaseSequence, prev.LastOffsetDelta), h.BaseSequence) {
				return info, fmt.Errorf("log %s: append: %w: producer %d batches in one request do not follow each other", l.dir, kerr.OutOfOrderSequenceNumber, h.ProducerID)
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
			return info, nil
		}
		if err := checkProducer(e, h); err != nil {
			return info, fmt.Errorf("log %s: append: %w", l.dir, err)
		}
	}

	next := l.endOffset.Load()
	var records int64
	for i := range headers {
		records += int64(headers[i].LastOffsetDelta) + 1
	}
	act := l.active()
	if l.shouldRoll(act, len(recordSet), next+records-1, now) {
		if act, err = l.roll(next); err != nil {
			return info, fmt.Errorf("log %s: append: %w", l.dir, err)
		}
	}

	nowMs := now.UnixMilli()
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

	pos := act.size.Load()
	if n, err := act.log.WriteAt(recordSet, pos); err != nil {
		// Take back a partial write so the file ends at a batch boundary;
		// if even that fails the segment's content is unknown and the log
		// refuses further appends (Kafka takes the log dir offline).
		if n > 0 {
			if terr := act.log.Truncate(pos); terr != nil {
				l.failed = storageError("write failed and could not be undone", errors.Join(err, terr))
			}
		}
		return info, fmt.Errorf("log %s: append: %w", l.dir, storageError("write", err))
	}
	act.dirty.Store(true)

	p := pos
	for i := range headers {
		h := &headers[i]
		act.trackBatch(p, h.Size(), h.LastOffset(), h.MaxTimestamp, l.cfg.IndexIntervalBytes)
		p += int64(h.Size())
		if h.Idempotent() {
			l.producers.apply(h, h.MaxTimestamp)
		}
	}
	act.size.Store(p)
	l.size.Add(int64(len(recordSet)))
	l.endOffset.Store(off)

	info.BaseOffset = next
	info.LastOffset = off - 1
	info.NumRecords = int(records)
	if l.cfg.LogAppendTime {
		info.LogAppendTime = nowMs
	}
	return info, nil
}

func earlierOf(earlier []batch.Header, h *batch.Header) *batch.Header {
	for i := len(earlier) - 1; i >= 0; i-- {
		if earlier[i].ProducerID == h.ProducerID {
			return &earlier[i]
		}
	}
	return nil
}

// validate checks every batch of a record set without touching the log,
// appending their headers to dst. It runs before the append lock is taken,
// so decompressing one producer's batches does not stall the others.
func (l *Log) validate(recordSet []byte, dst []batch.Header) ([]batch.Header, error) {
	if len(recordSet) == 0 {
		return dst, fmt.Errorf("%w: empty record set", kerr.CorruptMessage)
	}
	if int64(len(recordSet)) > l.cfg.SegmentBytes {
		return dst, fmt.Errorf("%w: record set of %d bytes exceeds segment.bytes %d", kerr.RecordListTooLarge, len(recordSet), l.cfg.SegmentBytes)
	}
	dec := l.decoders.Get().(*batch.Decoder)
	defer l.decoders.Put(dec)
	var records int64
	for rest, pos := recordSet, 0; len(rest) > 0; {
		b, r, h, err := batch.Next(rest)
		if err != nil {
			return dst, fmt.Errorf("batch at byte %d: %w", pos, batchError(rest, err))
		}
		if h.Size() > l.cfg.MaxMessageBytes {
			return dst, fmt.Errorf("%w: batch at byte %d is %d bytes, max.message.bytes is %d", kerr.MessageTooLarge, pos, h.Size(), l.cfg.MaxMessageBytes)
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
// segment. Caller holds mu.
func (l *Log) roll(next int64) (*segment, error) {
	old := l.active()
	s, err := openSegmentFiles(l.dir, next, true)
	if err != nil {
		return nil, storageError("roll", err)
	}
	old.seal()
	if err := old.persistIndexes(false); err != nil {
		l.logger.Warn("persisting indexes of the rolled segment", "segment", old.base, "err", err)
	} else {
		old.evictIndexes()
	}
	if err := writeSnapshot(l.dir, next, l.producers, false); err != nil {
		l.logger.Warn("producer snapshot at roll", "err", err)
	} else {
		l.pruneSnapshots(next)
	}
	segs := *l.segs.Load()
	nsegs := make([]*segment, len(segs), len(segs)+1)
	copy(nsegs, segs)
	l.publish(append(nsegs, s))
	l.logger.Debug("rolled segment", "base", next, "previous", old.base)
	return s, nil
}

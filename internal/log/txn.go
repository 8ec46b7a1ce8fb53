package log

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// Transactions (KIP-98) at the partition level: the producer state tracks
// each producer's open transaction (the first offset of its first
// transactional batch), the last stable offset (LSO) is the first offset of
// the oldest open transaction, a transaction marker (a control batch
// appended by the coordinator through AppendMarker) ends one, and an ABORT
// marker adds an entry to the segment's .txnindex, from which a Fetch
// answers the aborted transactions of its range.
//
// Control record of a marker (Kafka's ControlRecordType and
// EndTransactionMarker, franz-go's kmsg.ControlRecordKey and
// kmsg.EndTxnMarker), the one record of a control batch:
//
//	key (4 bytes):
//	offset  width  field
//	     0      2  version           int16  0
//	     2      2  type              int16  0 = ABORT, 1 = COMMIT
//
//	value (6 bytes):
//	offset  width  field
//	     0      2  version           int16  0
//	     2      4  coordinatorEpoch  int32
//
// The batch carries the producer id and epoch, base sequence -1, and the
// transactional (0x10) and control (0x20) attribute bits.
const (
	controlTypeAbort  = 0
	controlTypeCommit = 1
	markerKeySize     = 4
	markerValueSize   = 6
)

// Marker is a transaction marker the transaction coordinator writes to
// every partition of a transaction (WriteTxnMarkers).
type Marker struct {
	ProducerID    int64
	ProducerEpoch int16
	// CoordinatorEpoch is the epoch of the coordinator writing the marker;
	// one older than the last marker's is refused.
	CoordinatorEpoch int32
	// Commit is true for COMMIT, false for ABORT.
	Commit bool
}

// AbortedTxn is one entry of the aborted-transactions list of a Fetch
// response (v4+): the records of ProducerID from FirstOffset up to its
// ABORT marker are to be dropped by read_committed consumers.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
}

// LastStableOffset is the offset below which every transaction is decided:
// the first offset of the oldest open transaction, or the high watermark
// (EndOffset) when none is open. read_committed consumers never read past
// it (ReadCommitted) and ListOffsets with read_committed answers it.
func (l *Log) LastStableOffset() int64 {
	// firstUnstable is loaded first: an append that opens a transaction
	// publishes it before the end offset, and a marker publishes the end
	// offset before it moves firstUnstable forward, so the minimum never
	// exceeds the first offset of a transaction that is still open.
	fu := l.firstUnstable.Load()
	// Retention may delete the start of an open transaction; the LSO is
	// then the log start, as Kafka's updateFirstUnstableOffset clamps it.
	return min(max(fu, l.logStart.Load()), l.endOffset.Load())
}

// ReadCommitted is Read for read_committed consumers: it returns only
// batches below the last stable offset, which it also returns (the Fetch
// response's LastStableOffset). An offset in [LSO, EndOffset] returns no
// batches and no error, as Kafka answers a fetch past the LSO.
func (l *Log) ReadCommitted(offset int64, maxBytes int, dst []byte) ([]byte, int64, error) {
	lso := l.LastStableOffset()
	out, err := l.read(offset, lso, maxBytes, dst)
	return out, lso, err
}

// AbortedTransactions appends to dst the aborted transactions whose
// records overlap [start, upTo): those whose ABORT marker is at or after
// start and whose first offset is below upTo, Kafka's
// TransactionIndex.collectAbortedTxns over the segments from the one
// holding start on. The search stops at the first entry whose LSO reached
// upTo: every transaction aborted later began at or after it.
//
// A Fetch passes its fetch offset as start and, as upTo, the offset after
// the last batch it returns (Kafka's fetchUpperBoundOffset); with no
// batches it needs no list.
func (l *Log) AbortedTransactions(start, upTo int64, dst []AbortedTxn) ([]AbortedTxn, error) {
	if l.isClosed.Load() {
		return dst, ErrClosed
	}
	if err := l.Offline(); err != nil {
		return dst, fmt.Errorf("log %s: aborted transactions: %w", l.dir, err)
	}
	segs := *l.segs.Load()
	i := max(segmentFor(segs, start), 0)
	for ; i < len(segs); i++ {
		s := segs[i]
		s.idxMu.RLock()
		done := false
		for _, t := range s.txnIdx {
			if t.lastOffset >= start && t.firstOffset < upTo {
				dst = append(dst, AbortedTxn{ProducerID: t.producerID, FirstOffset: t.firstOffset})
			}
			if t.lastStableOffset >= upTo {
				done = true
				break
			}
		}
		s.idxMu.RUnlock()
		if done {
			break
		}
	}
	return dst, nil
}

// AppendMarker appends a COMMIT or ABORT marker for the producer's
// transaction, ending it, as the coordinator's WriteTxnMarkers does in
// Kafka (Log.appendAsLeader with origin COORDINATOR). An ABORT of a
// transaction with records adds an entry to the .txnindex of the segment
// the marker goes to.
//
// Errors mirror Kafka's ProducerAppendInfo.appendEndTxnMarker:
// INVALID_PRODUCER_EPOCH when the marker's producer epoch is older than the
// producer's (a newer epoch is accepted and taken over: the coordinator
// bumps it when it aborts a timed-out transaction, which fences the
// zombie), TRANSACTION_COORDINATOR_FENCED when its coordinator epoch is
// older than that of the producer's last marker, INVALID_RECORD for a
// negative producer id or epoch, and the storage errors of Append. A
// marker for a producer without an open transaction is appended all the
// same (the coordinator writes one to every partition it added) but adds no
// index entry.
func (l *Log) AppendMarker(m Marker, now time.Time) (AppendInfo, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	info, err := l.appendMarkerLocked(m, now)
	if err != nil && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("log %s: append marker for producer %d: %w", l.dir, m.ProducerID, err)
	}
	return info, err
}

func (l *Log) appendMarkerLocked(m Marker, now time.Time) (AppendInfo, error) {
	info := AppendInfo{LogAppendTime: -1}
	if l.closed {
		return info, ErrClosed
	}
	if err := l.Offline(); err != nil {
		return info, err
	}
	if m.ProducerID < 0 || m.ProducerEpoch < 0 {
		return info, fmt.Errorf("%w: marker with producer id %d, epoch %d", kerr.InvalidRecord, m.ProducerID, m.ProducerEpoch)
	}
	l.maybeExpireProducers(now)
	info.LogStartOffset = l.logStart.Load()
	e := l.producers[m.ProducerID]
	if err := checkMarker(e, m); err != nil {
		return info, err
	}
	nowMs := now.UnixMilli()
	b := encodeMarkerBatch(m, nowMs)
	h, err := batch.ParseHeader(b)
	if err != nil {
		return info, fmt.Errorf("encode marker: %w", err) // a bug, not input
	}
	headers := [1]batch.Header{h}
	next := l.endOffset.Load()
	act, err := l.maybeRoll(len(b), next, next, now)
	if err != nil {
		return info, err
	}
	end := l.assignOffsets(b, headers[:], next, nowMs)
	pos, err := l.write(act, b)
	if err != nil {
		return info, err
	}
	first, open := int64(-1), e != nil && e.txnFirst >= 0
	if open {
		first = e.txnFirst
	}
	if open && !m.Commit {
		t := abortedTxn{producerID: m.ProducerID, firstOffset: first, lastOffset: next, lastStableOffset: l.stableAfter(m.ProducerID, next)}
		if err := l.addAborted(act, t); err != nil {
			return info, err
		}
	}
	l.index(act, pos, headers[:])
	l.producers.applyMarker(m, headers[0].MaxTimestamp)
	act.size.Store(pos + int64(len(b)))
	l.size.Add(int64(len(b)))
	// End offset before the first unstable offset moves on: see
	// LastStableOffset.
	l.endOffset.Store(end)
	if open {
		delete(l.openTxns, m.ProducerID)
		l.firstUnstable.Store(l.oldestOpenTxn())
	}
	info.BaseOffset, info.LastOffset, info.NumRecords = next, next, 1
	if l.cfg.LogAppendTime {
		info.LogAppendTime = nowMs
	}
	return info, nil
}

// checkMarker is Kafka's checkProducerEpoch and checkCoordinatorEpoch for
// a marker. Since Kafka 2.7 (KIP-588) an old epoch is answered with
// INVALID_PRODUCER_EPOCH rather than PRODUCER_FENCED.
func checkMarker(e *producerEntry, m Marker) error {
	if e == nil {
		return nil
	}
	if m.ProducerEpoch < e.epoch {
		return fmt.Errorf("%w: marker epoch %d is older than the producer's epoch %d", kerr.InvalidProducerEpoch, m.ProducerEpoch, e.epoch)
	}
	if m.CoordinatorEpoch < e.coordEpoch {
		return fmt.Errorf("%w: marker coordinator epoch %d is older than %d", kerr.TransactionCoordinatorFenced, m.CoordinatorEpoch, e.coordEpoch)
	}
	return nil
}

// applyMarker ends the producer's open transaction, taking over the
// marker's epochs (Kafka's ProducerStateEntry.update).
func (p producers) applyMarker(m Marker, ts int64) {
	e := p[m.ProducerID]
	if e == nil {
		e = newProducerEntry(m.ProducerEpoch)
		p[m.ProducerID] = e
	}
	e.setEpoch(m.ProducerEpoch)
	e.coordEpoch = m.CoordinatorEpoch
	e.txnFirst = -1
	e.lastTs = ts
}

// beginTxn records a transaction opened at first. It runs before the end
// offset covering it is published (see LastStableOffset). Caller holds mu.
func (l *Log) beginTxn(pid, first int64) {
	l.openTxns[pid] = first
	if first < l.firstUnstable.Load() {
		l.firstUnstable.Store(first)
	}
}

// oldestOpenTxn is the first offset of the oldest open transaction,
// MaxInt64 when none is open. Caller holds mu.
func (l *Log) oldestOpenTxn() int64 {
	oldest := int64(math.MaxInt64)
	for _, first := range l.openTxns {
		oldest = min(oldest, first)
	}
	return oldest
}

// stableAfter is the LSO once pid's transaction, ended by a marker at
// markerOffset, is complete: the first offset of the oldest other open
// transaction, else markerOffset+1 (Kafka's
// ProducerStateManager.lastStableOffset(completedTxn)). Caller holds mu.
func (l *Log) stableAfter(pid, markerOffset int64) int64 {
	lso := markerOffset + 1
	for id, first := range l.openTxns {
		if id != pid {
			lso = min(lso, first)
		}
	}
	return lso
}

// resetOpenTxns derives the open transactions from the producer state
// (after recovery) and publishes the first unstable offset.
func (l *Log) resetOpenTxns() {
	l.openTxns = make(map[int64]int64)
	for id, e := range l.producers {
		if e.txnFirst >= 0 {
			l.openTxns[id] = e.txnFirst
		}
	}
	l.firstUnstable.Store(l.oldestOpenTxn())
}

// encodeMarkerBatch builds the control batch of a marker, with base offset
// 0 (assigned on append) and timestamp ts.
func encodeMarkerBatch(m Marker, ts int64) []byte {
	var key [markerKeySize]byte
	typ := uint16(controlTypeAbort)
	if m.Commit {
		typ = controlTypeCommit
	}
	binary.BigEndian.PutUint16(key[2:], typ)
	var val [markerValueSize]byte
	binary.BigEndian.PutUint32(val[2:], uint32(m.CoordinatorEpoch))
	var bld batch.Builder
	bld.Reset(nil, ts)
	batch.Append[batch.RecordHeader](&bld, ts, key[:], val[:], nil)
	b := bld.Finish(batch.Params{ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch, BaseSequence: -1, Transactional: true, PartitionLeaderEpoch: -1})
	// The builder has no control bit: set it and recompute the CRC-32C,
	// which covers the attributes (bytes 21..end).
	attrs := binary.BigEndian.Uint16(b[21:]) | batch.AttrControl | batch.AttrTransactional
	binary.BigEndian.PutUint16(b[21:], attrs)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return b
}

// decodeMarker parses the control record of a control batch b (validated
// by the caller). ok is false for a control record that is not a
// transaction marker (Kafka skips unknown control types) or is malformed.
func decodeMarker(b []byte, dec *batch.Decoder) (m Marker, ok bool, err error) {
	var n int
	err = dec.Records(b, func(h *batch.Header, r *batch.Record) error {
		n++
		if n > 1 || len(r.Key) < markerKeySize || len(r.Value) < markerValueSize {
			ok = false
			return nil
		}
		if binary.BigEndian.Uint16(r.Key) != 0 || binary.BigEndian.Uint16(r.Value) != 0 {
			return nil
		}
		typ := int16(binary.BigEndian.Uint16(r.Key[2:]))
		if typ != controlTypeAbort && typ != controlTypeCommit {
			return nil
		}
		m = Marker{
			ProducerID:       h.ProducerID,
			ProducerEpoch:    h.ProducerEpoch,
			CoordinatorEpoch: int32(binary.BigEndian.Uint32(r.Value[2:])),
			Commit:           typ == controlTypeCommit,
		}
		ok = true
		return nil
	})
	if n != 1 {
		ok = false
	}
	return m, ok && err == nil, err
}

// ProducerInfo is the state of one producer id, the fields of a
// DescribeProducers (KIP-664) response.
type ProducerInfo struct {
	ProducerID    int64
	ProducerEpoch int16
	// LastSequence is the last sequence of the producer's last batch, -1
	// when none of its epoch is known.
	LastSequence int32
	// LastTimestamp is the timestamp of its last batch or marker, -1 when
	// unknown.
	LastTimestamp    int64
	CoordinatorEpoch int32 // of its last marker, -1 before any
	// TxnStartOffset is the first offset of its open transaction, -1 when
	// none is open.
	TxnStartOffset int64
}

// Producers appends to dst the state of every producer the log knows, in
// ascending producer id, for DescribeProducers and for the coordinator to
// see which transactions a partition holds open.
func (l *Log) Producers(dst []ProducerInfo) []ProducerInfo {
	l.mu.Lock()
	start := len(dst)
	for id, e := range l.producers {
		p := ProducerInfo{ProducerID: id, ProducerEpoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTs, CoordinatorEpoch: e.coordEpoch, TxnStartOffset: e.txnFirst}
		if m := e.last(); m != nil {
			p.LastSequence = m.lastSeq
		}
		dst = append(dst, p)
	}
	l.mu.Unlock()
	slices.SortFunc(dst[start:], func(a, b ProducerInfo) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
	return dst
}

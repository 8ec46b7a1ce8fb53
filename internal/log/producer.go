package log

import (
	"fmt"
	"math"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// maxCachedBatches is how many batches per producer are remembered for
// duplicate detection: the Java producer keeps at most 5 requests in flight
// per partition with idempotence (max.in.flight.requests.per.connection),
// so a retry always targets one of the last 5 batches.
const maxCachedBatches = 5

// batchMeta is what the broker remembers of an appended idempotent batch.
type batchMeta struct {
	firstSeq    int32
	lastSeq     int32
	firstOffset int64
	lastDelta   int32 // lastOffset - firstOffset
	timestamp   int64 // the batch's max timestamp (the append time with LogAppendTime)
}

// producerEntry is the state of one producer id, Kafka's ProducerStateEntry.
type producerEntry struct {
	epoch int16
	// coordEpoch is the coordinator epoch of the last transaction marker,
	// -1 before any: a marker from an older coordinator is fenced.
	coordEpoch int32
	// txnFirst is the first offset of the producer's open transaction, -1
	// when none is open (Kafka's currentTxnFirstOffset). It holds back the
	// last stable offset until a marker ends the transaction.
	txnFirst int64
	// lastTs is the timestamp of the producer's last batch or marker
	// (Kafka's lastTimestamp), -1 when unknown; expiry goes by it.
	lastTs  int64
	batches [maxCachedBatches]batchMeta // ring, oldest first from head
	head    int
	n       int
}

func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, coordEpoch: -1, txnFirst: -1, lastTs: -1}
}

// setEpoch moves the entry to epoch; a new epoch forgets the batches of
// the old one, as Kafka's ProducerStateEntry.maybeUpdateProducerEpoch.
func (e *producerEntry) setEpoch(epoch int16) {
	if epoch != e.epoch {
		e.epoch = epoch
		e.head, e.n = 0, 0
	}
}

func (e *producerEntry) last() *batchMeta {
	if e.n == 0 {
		return nil
	}
	return &e.batches[(e.head+e.n-1)%maxCachedBatches]
}

func (e *producerEntry) add(m batchMeta) {
	if e.n < maxCachedBatches {
		e.batches[(e.head+e.n)%maxCachedBatches] = m
		e.n++
		return
	}
	e.batches[e.head] = m
	e.head = (e.head + 1) % maxCachedBatches
}

// each calls fn for the cached batches, oldest first.
func (e *producerEntry) each(fn func(m *batchMeta)) {
	for i := 0; i < e.n; i++ {
		fn(&e.batches[(e.head+i)%maxCachedBatches])
	}
}

// findDuplicate returns the cached batch with exactly this sequence range
// (Kafka's ProducerStateEntry.findDuplicateBatch).
func (e *producerEntry) findDuplicate(epoch int16, first, last int32) *batchMeta {
	if e == nil || epoch != e.epoch {
		return nil
	}
	for i := 0; i < e.n; i++ {
		m := &e.batches[(e.head+i)%maxCachedBatches]
		if m.firstSeq == first && m.lastSeq == last {
			return m
		}
	}
	return nil
}

// lastSequence is the sequence of a batch's last record; sequences wrap
// from MaxInt32 to 0 (Kafka's DefaultRecordBatch.incrementSequence).
func lastSequence(base int32, lastOffsetDelta int32) int32 {
	if base > math.MaxInt32-lastOffsetDelta {
		return lastOffsetDelta - (math.MaxInt32 - base) - 1
	}
	return base + lastOffsetDelta
}

// inSequence is Kafka's ProducerAppendInfo.inSequence.
func inSequence(lastSeq, nextSeq int32) bool {
	return int64(nextSeq) == int64(lastSeq)+1 || (nextSeq == 0 && lastSeq == math.MaxInt32)
}

// checkProducer decides whether an idempotent batch may be appended after
// entry (nil for a producer without state), mirroring Kafka's
// ProducerAppendInfo.checkProducerEpoch and checkSequence:
//
//   - an epoch older than the known one is fenced: INVALID_PRODUCER_EPOCH;
//   - a newer epoch must start at sequence 0: OUT_OF_ORDER_SEQUENCE_NUMBER;
//   - the same epoch must continue at lastSeq+1: OUT_OF_ORDER_SEQUENCE_NUMBER,
//     which includes retries older than the 5 cached batches;
//   - a producer without state is accepted at any sequence. Kafka before 2.5
//     answered UNKNOWN_PRODUCER_ID when that sequence was not 0; KIP-360
//     removed that, because the state of a live producer legitimately
//     disappears when retention deletes all its batches, and current Kafka
//     ("If there is no current producer epoch ... accept writes with any
//     sequence number") appends the batch. skiff does the same, so
//     kerr.UnknownProducerID is never returned.
//
// Duplicates are detected before this check (findDuplicate).
func checkProducer(entry *producerEntry, h *batch.Header) error {
	if entry == nil {
		return nil
	}
	if h.ProducerEpoch < entry.epoch {
		return fmt.Errorf("%w: producer %d epoch %d is older than the current epoch %d", kerr.InvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, entry.epoch)
	}
	if h.ProducerEpoch != entry.epoch {
		if h.BaseSequence != 0 {
			return fmt.Errorf("%w: producer %d starts epoch %d at sequence %d, not 0 (current epoch %d)", kerr.OutOfOrderSequenceNumber, h.ProducerID, h.ProducerEpoch, h.BaseSequence, entry.epoch)
		}
		return nil
	}
	last := entry.last()
	if last == nil {
		// Known epoch but no batch (an epoch bump seen through a snapshot
		// without batches): like Kafka, accept any sequence.
		return nil
	}
	if !inSequence(last.lastSeq, h.BaseSequence) {
		return fmt.Errorf("%w: producer %d epoch %d sent sequence %d, expected %d", kerr.OutOfOrderSequenceNumber, h.ProducerID, h.ProducerEpoch, h.BaseSequence, nextSeq(last.lastSeq))
	}
	return nil
}

func nextSeq(s int32) int32 {
	if s == math.MaxInt32 {
		return 0
	}
	return s + 1
}

// producers is the producer state of a partition, guarded by log.mu.
type producers map[int64]*producerEntry

// apply records an appended idempotent batch (after checkProducer passed,
// or while replaying the log during recovery). A new epoch drops the
// batches cached for the old one, as Kafka does.
//
// A transactional batch of a producer without an open transaction begins
// one at its first offset (Kafka's ProducerAppendInfo.appendDataBatch);
// began reports that, so the log can hold the last stable offset there.
func (p producers) apply(h *batch.Header, ts int64) (began bool) {
	e := p[h.ProducerID]
	if e == nil {
		e = newProducerEntry(h.ProducerEpoch)
		p[h.ProducerID] = e
	}
	e.setEpoch(h.ProducerEpoch)
	e.lastTs = ts
	if h.IsTransactional() && e.txnFirst < 0 {
		e.txnFirst = h.BaseOffset
		began = true
	}
	e.add(batchMeta{
		firstSeq:    h.BaseSequence,
		lastSeq:     lastSequence(h.BaseSequence, h.LastOffsetDelta),
		firstOffset: h.BaseOffset,
		lastDelta:   h.LastOffsetDelta,
		timestamp:   ts,
	})
	return began
}

// expire drops the producers whose last batch or marker is at least ttl
// before nowMs, Kafka's ProducerStateManager.removeExpiredProducers. A
// producer with an open transaction never expires (Kafka's
// isProducerExpired): its first offset holds the last stable offset, and
// only a marker, written by the coordinator when the transaction ends or
// times out, may release it. An entry without a timestamp (an epoch from a
// snapshot) has -1, as in Kafka, so it expires.
func (p producers) expire(nowMs int64, ttl time.Duration) (n int) {
	cutoff := nowMs - ttl.Milliseconds()
	for id, e := range p {
		if e.txnFirst < 0 && e.lastTs <= cutoff {
			delete(p, id)
			n++
		}
	}
	return n
}

package accum

import (
	"time"

	"github.com/skiffkit/skiff/internal/batch"
)

// Split breaks a drained batch that the broker refused as too large
// (MESSAGE_TOO_LARGE: its topic's max.message.bytes is below batch.size, or
// compression did less than hoped) into two halves by record count, and
// puts them back at the head of the partition in order, to be retried
// after a backoff; Kafka's producer does the same
// (RecordAccumulator.splitAndReenqueue). Callbacks move with their records.
// With idempotence the halves keep the original sequence range (the
// original was not written), so later batches stay valid.
//
// The halves' buffers are allocated outside buffer.memory (the sender must
// not block waiting for memory); the original's buffer goes back at once,
// so the overshoot is transient and at most one batch. The original's
// Done channel closes once both halves are released.
//
// It returns false, leaving b as it was, if b has a single record or its
// bytes cannot be decoded; the caller then fails b.
func (a *Accumulator[M]) Split(b *Batch[M], now time.Time) bool {
	if b.recordsN < 2 || b.wire == nil {
		return false
	}
	k := int32(b.recordsN / 2)
	var halves [2]*Batch[M]
	for i := range halves {
		h := &Batch[M]{
			p:          b.p,
			buf:        make([]byte, 0, len(b.wire)), // b.b is reset once shrink gave its buffer back
			created:    b.created,
			deadline:   b.deadline,
			full:       true,
			attempts:   b.attempts,
			order:      b.order,
			seq:        -1,
			lastErr:    b.lastErr,
			unbudgeted: true,
			parent:     b,
		}
		halves[i] = h
	}
	var d batch.Decoder
	err := d.Records(b.wire, func(hdr *batch.Header, r *batch.Record) error {
		delta := int32(r.Offset - hdr.BaseOffset)
		h := halves[0]
		if delta >= k {
			h = halves[1]
		}
		if h.recordsN == 0 {
			h.b.Reset(h.buf, r.Timestamp)
		}
		batch.Append(&h.b, r.Timestamp, r.Key, r.Value, r.Headers)
		h.recordsN++
		h.sizeBytes = h.b.Len()
		return nil
	})
	if err != nil || halves[0].recordsN == 0 || halves[1].recordsN == 0 {
		return false
	}
	for _, pe := range b.pending {
		h := halves[0]
		if pe.OffsetDelta >= k {
			h = halves[1]
			pe.OffsetDelta -= k
		}
		h.addPending(&a.pendingPool, pe)
	}
	if b.seq >= 0 {
		halves[0].seq = b.seq
		halves[1].seq = addSeq(b.seq, int(k))
	}
	for _, h := range halves {
		// The builder may have grown past the buffer sized from the
		// original; keep buf pointing at the storage Release drops.
		h.buf = h.b.Buffer()
		h.retryAt = now.Add(a.Backoff(h.attempts))
	}
	b.splitLeft.Store(2)

	// The original's memory and callbacks are no longer needed.
	b.releasePending(&a.pendingPool)
	a.unreserve(b)
	a.wirePool.put(b.wireBuf)
	b.wire, b.wireBuf = nil, nil
	if !b.unbudgeted {
		a.pool.put(b.buf)
	}
	b.buf = nil
	b.b = batch.Builder{}

	a.incompleteMu.Lock()
	a.incomplete.add(halves[0])
	a.incomplete.add(halves[1])
	a.incompleteMu.Unlock()

	p := b.p
	p.mu.Lock()
	p.inFlight--
	i := 0
	for i < len(p.q) && p.q[i].attempts > 0 && p.q[i].order < b.order {
		i++
	}
	p.q = append(p.q, nil, nil)
	copy(p.q[i+2:], p.q[i:])
	p.q[i], p.q[i+1] = halves[0], halves[1]
	a.publish(p)
	p.mu.Unlock()
	a.inFlight.Add(-1)
	a.signal()
	return true
}

package accum

import (
	"math"
	"math/rand/v2"
	"time"
)

// Ready appends to nodes the leaders that have at least one sendable batch
// and returns the earliest time something else may become sendable or
// expire (zero when nothing is waiting), and whether some partition with
// data has no known leader (the producer should refresh metadata).
//
// A partition's head batch is sendable when it is not backing off, its
// partition has room in flight, and it is due (linger.go): full, or
// lingered long enough, or a flush or close is in progress, or appenders
// wait for memory.
func (a *Accumulator[M]) Ready(now time.Time, nodes []int32) (_ []int32, next time.Time, unknownLeader bool) {
	urgent := a.urgent()
	all := *a.all.Load()
	chunks := *a.slots.Load()
	clk := a.scanClock(now)
	// Young batches not due yet are skipped (slots.go); of those, the
	// oldest gives the wake-up time: its linger ends first, and its
	// delivery timeout too.
	oldest, oldestAt := -1, int64(math.MaxInt64)
	for i := range all {
		st := slotAt(chunks, i).state.Load()
		if st == slotEmpty {
			continue
		}
		if !urgent && clk.youngNotDue(st) {
			if st < oldestAt {
				oldest, oldestAt = i, st
			}
			continue
		}
		nodes, next, unknownLeader = a.readyOne(all[i], now, urgent, nodes, next, unknownLeader)
	}
	if oldest >= 0 {
		next = a.youngWake(all[oldest], next)
	}
	return nodes, next, unknownLeader
}

// youngWake lowers next to when p's head batch, young when Ready skipped
// it, needs the sender: its linger or its delivery timeout. The linger
// counts even if the batch could not leave then (no producer id yet, an
// in-flight limit): Ready then looks at it under the lock from that
// wake-up on, as it did at every wake-up before the slots. Should an
// appender have filled the batch meanwhile, it signalled the sender.
func (a *Accumulator[M]) youngWake(p *partition[M], next time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.q) == 0 {
		return next
	}
	head := p.q[0]
	return earliest(earliest(next, head.deadline), a.lingerWake(head.created))
}

// readyOne is Ready for partition p.
func (a *Accumulator[M]) readyOne(p *partition[M], now time.Time, urgent bool, nodes []int32, next time.Time, unknownLeader bool) ([]int32, time.Time, bool) {
	a.lockedVisits++
	p.mu.Lock()
	if len(p.q) == 0 {
		p.mu.Unlock()
		return nodes, next, unknownLeader
	}
	head := p.q[0]
	next = earliest(next, head.deadline)
	sendable, at := a.drainable(p, head, now)
	if sendable {
		sendable, at = a.due(p, head, now, urgent) // linger.go
	}
	if sendable && !a.compressed(p, head) {
		sendable = false // the compressor wakes the sender when done
	}
	p.mu.Unlock()
	next = earliest(next, at)
	node, ok := a.cfg.Leader(p.topic, p.id)
	if !ok {
		return nodes, next, true
	}
	if sendable && !containsNode(nodes, node) {
		nodes = append(nodes, node)
	}
	return nodes, next, unknownLeader
}

// compressed reports whether head, which is due to be sent, is ready for
// the wire as far as compression goes; if it is raw, it is closed and
// handed to the compressor, which wakes the sender once it is done. Without
// a compressor (or once it stopped) Drain compresses it. p.mu must be held.
func (a *Accumulator[M]) compressed(p *partition[M], head *Batch[M]) bool {
	if a.comp == nil {
		return true
	}
	switch head.cstate {
	case cCompressed:
		return true
	case cCompressing:
		return false
	}
	// Kafka closes a batch when it is drained; this closes it a little
	// earlier, when it is due, so it can be compressed first.
	head.full = true
	if p.open == head {
		p.open = nil
	}
	a.predictStamp(p, head)
	ok := !a.comp.submit(head)
	a.publish(p)
	return ok
}

// predictStamp sets b's stamp fields, which the compression worker writes
// into the header, to the producer id, epoch and base sequence Drain will
// give b if nothing changes before then, or to -1s when it cannot tell
// cheaply. b is closed, never drained, and the head or the tail of p.q
// (where batches are closed). Drain hands out sequences in queue order:
// the head gets p.nextSeq (0 on a partition still to adopt the current
// identity, see adopt), any other batch the sequence after the guess for
// the batch ahead of it; walking the queue instead would cost O(queue)
// per batch, and a producer far ahead of the network queues hundreds.
// Drain compares the stamp with what it assigns, so a wrong guess costs a
// restamp, never a wrong header. p.mu must be held.
func (a *Accumulator[M]) predictStamp(p *partition[M], b *Batch[M]) {
	b.stampPID, b.stampEp, b.stampSeq = -1, -1, -1
	if !a.cfg.Idempotent || b.seq >= 0 || len(p.q) == 0 {
		return
	}
	cur := a.ident.Load()
	adopting := p.ident != cur
	if cur == noIdentity || (!adopting && p.fenced) {
		return
	}
	var seq int32
	switch n := len(p.q); {
	case p.q[0] == b:
		if !adopting {
			seq = p.nextSeq
		}
	case p.q[n-1] == b:
		// The batch ahead is closed, so its record count is final; its
		// stamp is a guess only if it went to the compressor (a batch
		// opened with a zero stamp otherwise).
		x := p.q[n-2]
		if x.seq >= 0 || x.cstate == cRaw || x.stampSeq < 0 || x.stampPID != cur.id || x.stampEp != cur.epoch {
			return
		}
		seq = addSeq(x.stampSeq, x.recordsN)
	default:
		return
	}
	b.stampPID, b.stampEp, b.stampSeq = cur.id, cur.epoch, seq
}

// drainable reports whether head may be drained now, and if not because of
// a backoff, when it may; p.mu must be held.
func (a *Accumulator[M]) drainable(p *partition[M], head *Batch[M], now time.Time) (bool, time.Time) {
	if a.cfg.Idempotent {
		cur := a.ident.Load()
		switch {
		case cur == noIdentity:
			return false, time.Time{} // SetProducerID wakes the sender
		case p.ident != cur && p.inFlight > 0:
			// Moving to a new identity waits for the batches sent under
			// the old one (Java's shouldStopDrainBatchesForPartition).
			return false, time.Time{}
		case p.ident == cur && p.fenced:
			return false, time.Time{}
		}
	}
	if limit := a.cfg.MaxInFlightPerPartition; limit > 0 && p.inFlight >= limit {
		return false, time.Time{} // Done or Reenqueue wakes the sender
	}
	// A retried batch goes out only once everything sent before it has
	// come back, so retries keep the partition's order (with idempotence
	// the broker would reject anything else as out of order).
	if head.attempts > 0 && p.inFlight > 0 {
		return false, time.Time{}
	}
	if now.Before(head.retryAt) {
		return false, head.retryAt
	}
	return true, time.Time{}
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func containsNode(nodes []int32, n int32) bool {
	for _, x := range nodes {
		if x == n {
			return true
		}
	}
	return false
}

// Drain takes, for one Produce request to node, at most one batch from
// each partition it leads whose head batch is due (linger.go: unlike
// Kafka's drain, a young batch on a node that is ready for another
// partition stays), in a rotating order so no partition starves, until
// the batches' sizes reach maxBytes (the first batch is always taken).
// A request that goes out anyway also takes heads at least half full
// (see rideAlong). With idempotence, batches get their base sequence
// here. The batches are appended to out, finished for the wire.
func (a *Accumulator[M]) Drain(node int32, maxBytes int, now time.Time, out []*Batch[M]) []*Batch[M] {
	all := *a.all.Load()
	if len(all) == 0 {
		return out
	}
	chunks := *a.slots.Load()
	clk := a.scanClock(now)
	urgent := a.urgent()
	start := len(out)
	size := 0
	a.drainStart++
	if a.drainStart >= len(all) {
		a.drainStart = 0
	}
	a.drainGen++
	for pass := range 2 {
		if pass == 1 && (len(out) == start || a.comp != nil) {
			// Nothing due: no request. Or batches are compressed when they
			// close, and closing a half-full one to ride along would only
			// make it due later, not send it now.
			break
		}
		for i := range all {
			j := a.drainStart + i
			if j >= len(all) {
				j -= len(all)
			}
			// Without the partition lock or a leader lookup, skip what
			// this pass cannot take (slots.go): pass 0 takes due batches,
			// pass 1 those not due that may ride along.
			s := slotAt(chunks, j)
			st := s.state.Load()
			if st == slotEmpty || !urgent && (pass == 0 && clk.youngNotDue(st) || pass == 1 && st >= slotYoung && !s.ride.Load()) {
				continue
			}
			p := all[j]
			if leader, ok := a.cfg.Leader(p.topic, p.id); !ok || leader != node {
				continue
			}
			a.lockedVisits++
			p.mu.Lock()
			if len(p.q) == 0 || p.drainGen == a.drainGen {
				p.mu.Unlock() // empty, or has a batch in this request already
				continue
			}
			head := p.q[0]
			if ok, _ := a.drainable(p, head, now); !ok {
				p.mu.Unlock()
				continue
			}
			due, _ := a.due(p, head, now, urgent)
			if pass == 0 && !due || pass == 1 && (due || !a.rideAlong(head)) {
				p.mu.Unlock() // pass 0 takes due batches, pass 1 those that may ride along
				continue
			}
			if size+head.sizeBytes > maxBytes && len(out) > start {
				p.mu.Unlock()
				return out
			}
			if !a.compressed(p, head) {
				p.mu.Unlock()
				continue
			}
			p.drainGen = a.drainGen
			size += head.sizeBytes
			out = append(out, a.take(p, head))
		}
	}
	return out
}

// take removes head from p for a request and finishes it for the wire;
// p.mu must be held, and take releases it.
func (a *Accumulator[M]) take(p *partition[M], head *Batch[M]) *Batch[M] {
	if a.cfg.Idempotent {
		if cur := a.ident.Load(); p.ident != cur {
			a.adopt(p, cur) // drainable saw nothing in flight
		}
	}
	copy(p.q, p.q[1:])
	p.q[len(p.q)-1] = nil
	p.q = p.q[:len(p.q)-1]
	if p.open == head {
		p.open = nil
	}
	head.full = true
	a.publish(p)
	if head.attempts == 0 {
		head.order = p.nextOrder
		p.nextOrder++
	}
	head.attempts++
	pid, epoch := int64(-1), int16(-1)
	if a.cfg.Idempotent {
		if head.seq < 0 {
			head.seq = p.nextSeq
			p.nextSeq = addSeq(p.nextSeq, head.recordsN)
		}
		pid, epoch = p.ident.id, p.ident.epoch
	}
	p.inFlight++
	p.mu.Unlock()
	a.inFlight.Add(1)
	head.finish(a.codec, pid, epoch, a.cfg.Transactional, &a.wirePool)
	a.shrink(head) // shrink.go
	return head
}

// adopt moves p, with nothing in flight, to identity id: its sequences
// restart at 0 and its queued batches get new ones when drained; p.mu must
// be held.
func (a *Accumulator[M]) adopt(p *partition[M], id *identity) {
	p.ident, p.fenced = id, false
	p.nextSeq, p.ackedSeq = 0, 0
	for _, b := range p.q {
		b.seq = -1
	}
}

// addSeq advances a sequence; Kafka wraps sequences at MaxInt32 to 0.
func addSeq(seq int32, n int) int32 {
	return int32((int64(seq) + int64(n)) % (1 << 31))
}

// Done reports that a drained batch got its final answer (acknowledged, or
// failed for good); acked says which. The batch still holds its callbacks
// until Release.
func (a *Accumulator[M]) Done(b *Batch[M], acked bool) {
	p := b.p
	p.mu.Lock()
	p.inFlight--
	if acked && b.seq >= 0 {
		if next := addSeq(b.seq, b.recordsN); seqAfter(next, p.ackedSeq) {
			p.ackedSeq = next
		}
	}
	p.mu.Unlock()
	a.inFlight.Add(-1)
	a.signal()
}

// seqAfter reports whether sequence x comes after y, allowing for wrap.
func seqAfter(x, y int32) bool {
	d := int64(x) - int64(y)
	if d < -(1 << 30) {
		d += 1 << 31
	} else if d > 1<<30 {
		d -= 1 << 31
	}
	return d > 0
}

// IsNextExpected reports whether b is the partition's first unacknowledged
// batch: its base sequence is the one after the last acknowledged batch.
// An OUT_OF_ORDER_SEQUENCE_NUMBER for such a batch means the broker lost
// the producer's state (KIP-360); for any later batch it means an earlier
// one is still unresolved.
func (a *Accumulator[M]) IsNextExpected(b *Batch[M]) bool {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return b.seq >= 0 && b.seq == p.ackedSeq
}

// Reenqueue puts a drained batch back at the head of its partition, among
// other retried batches in the order they were first drained, to be sent
// again after a backoff of retry.backoff.ms doubled per attempt, capped at
// retry.backoff.max.ms, with ±20% jitter (KIP-580).
func (a *Accumulator[M]) Reenqueue(b *Batch[M], now time.Time) {
	b.retryAt = now.Add(a.Backoff(b.attempts))
	p := b.p
	p.mu.Lock()
	p.inFlight--
	i := 0
	for i < len(p.q) && p.q[i].attempts > 0 && p.q[i].order < b.order {
		i++
	}
	p.q = append(p.q, nil)
	copy(p.q[i+1:], p.q[i:])
	p.q[i] = b
	a.publish(p)
	p.mu.Unlock()
	a.inFlight.Add(-1)
	a.signal()
}

// Backoff is the retry backoff before attempt number attempts+1.
func (a *Accumulator[M]) Backoff(attempts int) time.Duration {
	d := a.cfg.RetryBackoff
	for i := 1; i < attempts && d < a.cfg.RetryBackoffMax; i++ {
		d *= 2
	}
	d = min(d, a.cfg.RetryBackoffMax)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// Release returns a finished batch's memory to the pool, after its
// callbacks ran, and closes its Done channel.
func (a *Accumulator[M]) Release(b *Batch[M]) {
	one := [1]*Batch[M]{b}
	a.ReleaseAll(one[:])
}

// complete takes b off the incomplete set and closes its Done channel if
// anyone asked for it; a.incompleteMu must be held.
func (a *Accumulator[M]) complete(b *Batch[M]) {
	a.incomplete.remove(b)
	b.released = true
	if b.done != nil {
		close(b.done)
	}
}

// Expire removes from the queues every batch whose delivery.timeout.ms
// passed and appends it to out. The caller fails and releases them. A
// returned batch with Attempts() > 0 was sent before with an unknown
// outcome: an idempotent producer must bump its epoch before the
// partition's next batch, as the Java client does.
func (a *Accumulator[M]) Expire(now time.Time, out []*Batch[M]) []*Batch[M] {
	chunks := *a.slots.Load()
	clk := a.scanClock(now)
	for i, p := range *a.all.Load() {
		if st := slotAt(chunks, i).state.Load(); st == slotEmpty || clk.youngNotExpired(st) {
			continue // (slots.go)
		}
		p.mu.Lock()
		n := 0
		// A batch being compressed is left to its worker; it expires on
		// a later call, once the worker is done with it.
		for n < len(p.q) && !now.Before(p.q[n].deadline) && p.q[n].cstate != cCompressing {
			n++
		}
		if n > 0 {
			out = a.removeHead(p, n, out)
		}
		p.mu.Unlock()
	}
	return out
}

// Abort stops the compression workers, then removes every queued (not
// in-flight) batch and appends it to out.
func (a *Accumulator[M]) Abort(out []*Batch[M]) []*Batch[M] {
	if a.comp != nil {
		a.comp.stop()
	}
	for _, p := range *a.all.Load() {
		p.mu.Lock()
		out = a.removeHead(p, len(p.q), out)
		p.mu.Unlock()
	}
	return out
}

// removeHead takes the first n batches off p; p.mu must be held.
func (a *Accumulator[M]) removeHead(p *partition[M], n int, out []*Batch[M]) []*Batch[M] {
	for _, b := range p.q[:n] {
		if p.open == b {
			p.open = nil
		}
		b.full = true
		out = append(out, b)
	}
	copy(p.q, p.q[n:])
	clear(p.q[len(p.q)-n:])
	p.q = p.q[:len(p.q)-n]
	a.publish(p)
	return out
}

// AbortQueued removes every queued batch (not in flight) and appends it to
// out, unlike Abort leaving the compression workers running; the caller
// fails and releases them. A transactional producer's AbortTransaction uses
// it, as Java's abortUndrainedBatches: what is not in flight needs no
// abort marker, or gets one anyway if an earlier attempt was written. A
// returned batch with BaseSequence() >= 0 leaves a sequence gap: the caller
// must move to a new epoch. Batches a compression worker holds stay.
func (a *Accumulator[M]) AbortQueued(out []*Batch[M]) []*Batch[M] {
	for _, p := range *a.all.Load() {
		p.mu.Lock()
		kept := p.q[:0]
		for _, b := range p.q {
			if b.cstate == cCompressing {
				kept = append(kept, b)
				continue
			}
			if p.open == b {
				p.open = nil
			}
			b.full = true
			out = append(out, b)
		}
		clear(p.q[len(kept):])
		p.q = kept
		a.publish(p)
		p.mu.Unlock()
	}
	a.signal()
	return out
}

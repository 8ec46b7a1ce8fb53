package accum

import (
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
)

// Header is a record header. It is an alias of the batch encoder's header
// struct, so the producer's headers reach the encoder without a copy.
type Header = batch.RecordHeader

// Record is one record to append. Timestamp is in Unix milliseconds.
// Callback is opaque to the accumulator: it is handed back, in record order,
// through (*Batch).Pending. A nil Callback costs nothing.
type Record[M any] struct {
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Callback  func(M, error)
}

// Pending is a record of a batch whose Callback was not nil.
type Pending[M any] struct {
	Callback    func(M, error)
	OffsetDelta int32 // the record's offset is the batch's base offset plus this
	Timestamp   int64 // Unix milliseconds
}

// Batch is a record batch of one partition: open while records are appended,
// then drained, sent, possibly re-enqueued, and finally released.
//
// The sender owns a drained batch until it calls Reenqueue or Done.
type Batch[M any] struct {
	p       *partition[M]
	b       batch.Builder
	buf     []byte // budget buffer backing b
	pending []Pending[M]
	// recordsN and sizeBytes sit with b and pending, which every append
	// updates too, so an append touches two cache lines of the batch (and
	// its callback's) rather than three: at 1,000 partitions each append
	// finds its batch cold in the cache.
	recordsN  int
	sizeBytes int
	created   time.Time
	deadline  time.Time // created + delivery.timeout.ms
	full      bool      // no more appends (guarded by p.mu)
	cstate    uint8     // cRaw, cCompressing or cCompressed (guarded by p.mu)

	// Send state, owned by whoever holds the batch outside the deque.
	attempts int
	retryAt  time.Time
	order    uint64 // drain order within the partition, for in-order re-enqueue
	seq      int32  // base sequence, -1 until assigned
	stampPID int64
	stampEp  int16
	stampSeq int32
	wire     []byte // finished batch bytes
	wireBuf  []byte // pooled compression buffer behind wire, nil when wire aliases buf
	reserved int64  // buffer.memory kept for wireBuf after shrink gave buf back (shrink.go)
	lastErr  error

	// done is closed by Release. It is made on first use (Done): at
	// 1,000 partitions a batch holds a handful of records, and a channel
	// per batch that only a flush ever waits on was a tenth of the
	// producer's allocations. Both fields are guarded by the
	// accumulator's incompleteMu.
	done     chan struct{}
	released bool
	inc      incompleteLinks[M] // in the accumulator's incomplete list (incomplete.go)

	// inline holds the first callbacks, so a small batch takes no slice
	// from the pending pool (whose lock and misses showed in profiles at
	// 1,000 partitions); pending moves to a pooled slice when it outgrows
	// it.
	inline [pendingInline]Pending[M]

	// Split halves: their buffers are outside buffer.memory (see Split),
	// and the batch they came from completes when both have.
	unbudgeted bool
	parent     *Batch[M]
	splitLeft  atomic.Int32 // on a parent: halves not yet released
}

// SetLastError records why the latest attempt failed, so an expiry can
// say more than "timed out".
func (b *Batch[M]) SetLastError(err error) { b.lastErr = err }

// LastError is the error given to SetLastError, nil if none.
func (b *Batch[M]) LastError() error { return b.lastErr }

// Topic is the batch's topic.
func (b *Batch[M]) Topic() string { return b.p.topic }

// Partition is the batch's partition.
func (b *Batch[M]) Partition() int32 { return b.p.id }

// NumRecords is the number of records in the batch.
func (b *Batch[M]) NumRecords() int { return b.recordsN }

// Size is the uncompressed encoded size, batch header included.
func (b *Batch[M]) Size() int { return b.sizeBytes }

// Records is the finished record batch as it goes on the wire, compressed
// and stamped with producer id, epoch and sequence. Valid after Drain until
// Release.
func (b *Batch[M]) Records() []byte { return b.wire }

// Pending lists the records appended with a callback, in append order.
func (b *Batch[M]) Pending() []Pending[M] { return b.pending }

// Attempts is how many times the batch was drained for sending.
func (b *Batch[M]) Attempts() int { return b.attempts }

// BaseSequence is the idempotent base sequence, -1 when not assigned.
func (b *Batch[M]) BaseSequence() int32 { return b.seq }

// Created is when the batch was opened.
func (b *Batch[M]) Created() time.Time { return b.created }

// Deadline is when delivery.timeout.ms expires for the batch.
func (b *Batch[M]) Deadline() time.Time { return b.deadline }

// Done is closed once the batch is released: its callbacks have run.
func (b *Batch[M]) Done() <-chan struct{} {
	mu := &b.p.acc.incompleteMu
	mu.Lock()
	defer mu.Unlock()
	if b.done == nil {
		if b.released {
			return closedDone
		}
		b.done = make(chan struct{})
	}
	return b.done
}

// closedDone is the Done channel of a batch released before anyone asked.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// pendingInline is how many callbacks a batch holds without a pooled slice.
const pendingInline = 16

// addPending records a callback, in the inline array while it fits.
func (b *Batch[M]) addPending(pool *pendingPool[M], pe Pending[M]) {
	switch {
	case b.pending == nil:
		b.pending = b.inline[:0]
	case len(b.pending) == pendingInline && b.pendingIsInline():
		s := pool.get()
		s = append(s, b.pending...)
		clear(b.inline[:]) // drop the callback references
		b.pending = s
	}
	b.pending = append(b.pending, pe)
}

func (b *Batch[M]) pendingIsInline() bool {
	return cap(b.pending) > 0 && &b.pending[:1][0] == &b.inline[0]
}

// releasePending drops b's callbacks, returning a pooled slice to pool.
func (b *Batch[M]) releasePending(pool *pendingPool[M]) {
	if b.pendingIsInline() {
		clear(b.inline[:])
	} else {
		pool.put(b.pending)
	}
	b.pending = nil
}

// finish encodes the batch for the wire, once, and afterwards only restamps
// the producer fields when they changed (an epoch bump resets sequences).
func (b *Batch[M]) finish(codec compress.Codec, pid int64, epoch int16, txn bool, wirePool *bufPool) {
	if b.wire != nil {
		if pid != b.stampPID || epoch != b.stampEp || b.seq != b.stampSeq {
			batch.SetProducer(b.wire, pid, epoch, b.seq)
			b.stampPID, b.stampEp, b.stampSeq = pid, epoch, b.seq
		}
		return
	}
	params := batch.Params{Codec: codec, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: b.seq, PartitionLeaderEpoch: -1, Transactional: txn}
	b.stampPID, b.stampEp, b.stampSeq = pid, epoch, b.seq
	if codec != compress.None {
		dst := wirePool.get(b.b.Len())
		out, err := b.b.AppendCompressed(dst, params)
		if err == nil {
			b.wire, b.wireBuf = out, out
			return
		}
		// The codec was validated up front; should a compressor still fail,
		// sending uncompressed is correct (the attributes say so).
		wirePool.put(dst)
	}
	b.wire = b.b.Finish(params)
}

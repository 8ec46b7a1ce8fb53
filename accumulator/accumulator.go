package accumulator

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/skiffkit/skiff/internal/accum"
)

// Header is a record header. It is the batch encoder's own header struct
// (an alias, not a new type), so headers reach the encoder without a copy;
// the producer's Header is this type too.
type Header = struct {
	Key   string
	Value []byte
}

// Record is one record to append. Timestamp is its CreateTime in Unix
// milliseconds. Callback, which may be nil at no cost, is handed back with
// the record's offset within its batch through (*Batch).Pending; the
// accumulator never calls it.
type Record[M any] struct {
	Timestamp int64
	Key       []byte // nil is a null key
	Value     []byte // nil is a null value
	Headers   []Header
	Callback  func(M, error)
}

// Pending is a record of a drained batch that was appended with a callback.
type Pending[M any] struct {
	Callback    func(M, error)
	OffsetDelta int32 // the record's offset is the batch's base offset plus this
	Timestamp   int64 // Unix milliseconds, as appended
}

// Batch is one partition's record batch, handed out by Drain. It is the
// sender's until it calls Release.
type Batch[M any] accum.Batch[M]

func (b *Batch[M]) inner() *accum.Batch[M] { return (*accum.Batch[M])(b) }

// Topic is the batch's topic.
func (b *Batch[M]) Topic() string { return b.inner().Topic() }

// Partition is the batch's partition.
func (b *Batch[M]) Partition() int32 { return b.inner().Partition() }

// NumRecords is the number of records in the batch.
func (b *Batch[M]) NumRecords() int { return b.inner().NumRecords() }

// Size is the uncompressed size, batch header included.
func (b *Batch[M]) Size() int { return b.inner().Size() }

// Records is the record batch as it goes into a Produce request's
// partition, compressed with Config.Codec. It is valid until Release.
func (b *Batch[M]) Records() []byte { return b.inner().Records() }

// Pending yields the records appended with a callback, in offset order.
func (b *Batch[M]) Pending() iter.Seq[Pending[M]] {
	return func(yield func(Pending[M]) bool) {
		for _, p := range b.inner().Pending() {
			if !yield(Pending[M](p)) {
				return
			}
		}
	}
}

// Created is when the batch was opened: its first record was appended.
func (b *Batch[M]) Created() time.Time { return b.inner().Created() }

// Done is closed once the batch is released.
func (b *Batch[M]) Done() <-chan struct{} { return b.inner().Done() }

// Accumulator holds the records waiting to be sent, per partition. M is the
// metadata type record callbacks receive.
type Accumulator[M any] struct {
	a     *accum.Accumulator[M]
	cfg   Config
	drain []*accum.Batch[M] // Drain's scratch; Drain has one caller
}

// New returns an accumulator for cfg, or every problem found in cfg.
func New[M any](cfg Config) (*Accumulator[M], error) {
	a, err := accum.New[M](cfg.internal())
	if err != nil {
		return nil, err
	}
	return &Accumulator[M]{a: a, cfg: fromInternal(a.Config(), cfg.Leader)}, nil
}

// Config returns the effective configuration, defaults filled in.
func (a *Accumulator[M]) Config() Config { return a.cfg }

// CheckSize fails with an error wrapping ErrRecordTooLarge (and
// kerr.MessageTooLarge) when r could never be sent: it is larger than
// max.request.size or buffer.memory. Append checks this itself; CheckSize
// lets a caller reject a record before choosing its partition.
func (a *Accumulator[M]) CheckSize(r *Record[M]) error {
	return a.a.CheckSize((*accum.Record[M])(r))
}

// Append encodes r into topic/partition's open batch, opening a new one when
// it is full. The accumulator copies r's bytes: the caller may reuse them
// at once. While buffer.memory is exhausted Append waits up to max.block or
// until ctx ends, then fails with ErrBufferFull; after Close it fails with
// ErrClosed.
func (a *Accumulator[M]) Append(ctx context.Context, topic string, partition int32, r *Record[M]) error {
	return a.a.Append(ctx, topic, partition, (*accum.Record[M])(r))
}

// AppendN appends n records to one partition, taking the partition's lock
// once (it lets go only to wait for memory); rec fills in the i-th record.
// It returns how many records were accepted; on an error the accepted ones
// stay accepted.
func (a *Accumulator[M]) AppendN(ctx context.Context, topic string, partition int32, n int, rec func(i int, r *Record[M])) (int, error) {
	return a.a.AppendN(ctx, topic, partition, n, func(i int, r *accum.Record[M]) { rec(i, (*Record[M])(r)) })
}

// Wakeup receives a value whenever Ready may have a new answer: a batch
// filled or was opened (its linger started), a batch was released, an
// appender is waiting for memory, or a flush or Close began. A sender
// sleeps on it and on the time Ready returned.
func (a *Accumulator[M]) Wakeup() <-chan struct{} { return a.a.Wakeup() }

// Ready appends to nodes the leaders (from Config.Leader) of partitions
// with a batch to send now, and returns when to ask again if nothing else
// wakes the sender (zero when nothing waits) and whether some partition
// with records has no known leader (refresh metadata).
//
// A partition's oldest batch is ready when the partition has room in flight
// (MaxInFlightPerPartition) and the batch is full, or it lingered for
// linger.ms, or a Flush or Close is in progress, or an Append is waiting
// for memory.
func (a *Accumulator[M]) Ready(now time.Time, nodes []int32) (_ []int32, next time.Time, unknownLeader bool) {
	return a.a.Ready(now, nodes)
}

// Drain takes, for one Produce request to node, the oldest batch of each
// partition node leads whose oldest batch is ready by itself (as in Ready:
// a younger batch waits for its own linger.ms even when another partition
// made node ready), in an order that rotates between calls so no
// partition starves, until their sizes reach maxBytes (the first is always
// taken). The batches, finished for the wire, are appended to out. Each
// stays in flight, counting against MaxInFlightPerPartition, until Release.
func (a *Accumulator[M]) Drain(node int32, maxBytes int, now time.Time, out []*Batch[M]) []*Batch[M] {
	a.drain = a.a.Drain(node, maxBytes, now, a.drain[:0])
	for i, b := range a.drain {
		out = append(out, (*Batch[M])(b))
		a.drain[i] = nil
	}
	return out
}

// Release ends a drained batch's life once its outcome is final and its
// callbacks have run: its memory returns to the pool, its partition may
// send again, and b.Done() is closed. b must not be used afterwards.
func (a *Accumulator[M]) Release(b *Batch[M]) {
	a.a.Done(b.inner(), true)
	a.a.Release(b.inner())
}

// Flush makes every batch ready at once, ignoring linger.ms, and waits
// until the batches holding the records appended before the call have been
// released, or ctx ends.
func (a *Accumulator[M]) Flush(ctx context.Context) error {
	a.a.BeginFlush()
	defer a.a.EndFlush()
	for _, b := range a.a.Incomplete(nil) {
		select {
		case <-b.Done():
		case <-ctx.Done():
			return fmt.Errorf("accumulator: flush: %w", ctx.Err())
		}
	}
	return nil
}

// Close refuses further appends with ErrClosed, fails appenders waiting for
// memory with ErrClosed, and makes every queued batch ready at once, so a
// sender drains what is left.
func (a *Accumulator[M]) Close() { a.a.Close() }

// MemoryUsed is the part of buffer.memory currently backing batches.
func (a *Accumulator[M]) MemoryUsed() int64 { return a.a.MemoryUsed() }

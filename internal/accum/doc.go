// Package accum is the machinery behind package accum: per-partition
// queues of record batches, the memory budget they are carved from, the
// ready/drain decisions that tell a sender what to send and when, and the
// operations only a full Kafka sender needs (retries, splitting, expiry,
// idempotent sequences and epoch bumps).
//
// Package accumulator is the public face of this package, with the small
// API a user needs to build a sender of their own (append, ready, drain,
// release). The producer's sender uses this package directly. Batch is
// generic over M, the metadata type the sender hands to record callbacks,
// so callbacks come back typed.
//
// It mirrors Kafka's RecordAccumulator:
//
//   - Each partition has a deque of batches. New records are encoded straight
//     into the open batch at the tail (record batch v2 varint format), under
//     the partition's lock, with no allocation per record.
//   - Batch buffers come from a bounded pool (buffer.memory). When the pool
//     is exhausted, Append blocks until memory is released, its context ends
//     or max.block passes, and then fails with ErrBufferFull having lost
//     nothing accepted before.
//   - Ready reports which leaders have something to send: a full batch, a
//     batch whose linger passed, a flush or close in progress, or appenders
//     waiting for memory. Drain takes at most one batch per partition for
//     one Produce request up to max.request.size.
//   - Failed batches go back to the head of their partition in sequence
//     order (Reenqueue) with exponential backoff (KIP-580), batches the
//     broker found too large are split in two (Split), and batches that
//     outlive delivery.timeout.ms are handed back by Expire.
//   - With idempotence, base sequences are assigned when a batch is first
//     drained, so sequences follow the order batches are sent. A partition
//     whose sequences broke is fenced (Fence) until SetProducerID installs
//     a new epoch; every partition moves to a new epoch, at sequence 0, once
//     its in-flight batches are back, so the others never stop for a bump.
//
// The accumulator does no network I/O. One sender goroutine owns the calls
// to Ready, Drain, Done, Reenqueue, Split, Expire, Abort, Fence and
// SetProducerID; Append, AppendN, BeginFlush/EndFlush, Close and Release are
// safe from any goroutine.
//
// Compression: with Config.CompressWorkers, closed batches are compressed
// on up to that many worker goroutines (compressor.go). A worker writes
// the producer id, epoch and sequence Drain is going to assign
// (predictStamp), so the sender only checks them, and patches the header
// when they changed meanwhile; otherwise Drain compresses.
//
// Caveats: the memory budget counts uncompressed batch buffers. Compressed
// copies are pooled separately: those in use are bounded by the number of
// batches compressed and not yet released, the free ones kept to 8 MiB.
package accum

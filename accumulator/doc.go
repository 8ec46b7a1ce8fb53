// Package accumulator is the producer's record accumulator: per-partition
// queues of record batches, the memory budget they are carved from, and the
// ready/drain decisions that tell the sender what to send and when.
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
//     drained, so sequences follow the order batches are sent.
//
// The accumulator does no network I/O. The producer's sender goroutine owns
// the calls to Ready, Drain, Expire, Reenqueue and Complete; Append is safe
// from any goroutine.
//
// Caveats: the memory budget counts uncompressed batch buffers. Compressed
// copies made at drain time are pooled separately and are bounded by the
// number of batches in flight.
package accumulator

package accum

import "github.com/skiffkit/skiff/internal/batch"

// Giving back a small batch's buffer once it is drained.
//
// Every batch takes a batch.size buffer from buffer.memory when it opens
// (Kafka's BufferPool does the same) and, uncompressed, its wire bytes are
// that buffer, so it held all of it until its answer came back. At 1,000
// partitions a batch sent at its linger carries a few kilobytes, and the
// thousands in flight towards a broker that answers acks=all after its
// write held their full 16 KiB each: buffer.memory ran out, appenders
// waited, and memory pressure made every young batch due at once (Kafka's
// "exhausted"), which is again the tiny batches issue 14 is about. So a
// drained batch that uses at most half its buffer moves its bytes into a
// buffer of their size and gives the batch.size buffer back to the pool
// at once, keeping only what it uses counted against buffer.memory until
// Release. The copy costs a memmove of a small batch, once per batch.
//
// Compressed batches already live in a buffer of their own (wireBuf,
// outside buffer.memory, as Java's compression streams are) and keep
// their budget buffer until Release, as before.

// shrinkBelow: a drained batch whose bytes fill at most 1/shrinkBelow of
// its buffer gives the buffer back.
const shrinkBelow = 2

// shrink moves drained, uncompressed b out of its budget buffer if it uses
// little of it; the sender owns b.
func (a *Accumulator[M]) shrink(b *Batch[M]) {
	if b.buf == nil || b.unbudgeted || b.wireBuf != nil || cap(b.buf) != a.pool.batchSize || len(b.wire)*shrinkBelow > cap(b.buf) {
		return
	}
	dst := a.wirePool.get(len(b.wire))
	dst = append(dst[:0], b.wire...)
	b.wire, b.wireBuf = dst, dst
	b.reserved = int64(cap(dst))
	a.pool.exchange(b.buf, b.reserved)
	b.buf = nil
	b.b = batch.Builder{} // it wrote into buf, which another batch may now use
}

// unreserve gives back the budget a shrunk batch kept; before its wireBuf
// goes back to the wire pool.
func (a *Accumulator[M]) unreserve(b *Batch[M]) {
	if b.reserved > 0 {
		a.pool.release(b.reserved)
		b.reserved = 0
	}
}

// exchange takes back buf, a buffer from get, and keeps n <= cap(buf)
// bytes of budget for a copy the caller made outside the pool, all under
// one lock so the budget never counts both or neither.
func (p *pool) exchange(buf []byte, n int64) {
	p.mu.Lock()
	if cap(buf) == p.batchSize {
		p.free = append(p.free, buf[:0])
	} else {
		p.avail += int64(cap(buf))
	}
	for p.avail < n && len(p.free) > 0 {
		p.free[len(p.free)-1] = nil
		p.free = p.free[:len(p.free)-1]
		p.avail += int64(p.batchSize)
	}
	p.avail -= n
	p.wakeHeadLocked()
	p.mu.Unlock()
}

// release gives back n bytes of budget kept by exchange.
func (p *pool) release(n int64) {
	p.mu.Lock()
	p.avail += n
	p.wakeHeadLocked()
	p.mu.Unlock()
}

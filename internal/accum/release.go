package accum

import "github.com/skiffkit/skiff/internal/batch"

// ReleaseAll is Release for each of bs, in order, taking the memory
// pool's, the wire buffer pool's and the incomplete set's locks once for
// all of them rather than once per batch each. The producer's completion
// goroutine releases the batches of a response together: at 1,000
// partitions a response answers a couple of hundred small batches, and
// those locks, shared with the sender and the appenders, were three
// acquisitions per batch.
func (a *Accumulator[M]) ReleaseAll(bs []*Batch[M]) {
	if len(bs) == 0 {
		return
	}
	var reserved int64
	for _, b := range bs {
		b.releasePending(&a.pendingPool)
		reserved += b.reserved
		b.reserved = 0
	}
	if reserved > 0 {
		// The budget a shrunk batch kept, before its wireBuf goes back
		// to the wire pool (shrink.go).
		a.pool.release(reserved)
	}

	a.wirePool.mu.Lock()
	for _, b := range bs {
		a.wirePool.putLocked(b.wireBuf)
		b.wire, b.wireBuf = nil, nil
	}
	a.wirePool.mu.Unlock()

	a.pool.mu.Lock()
	for _, b := range bs {
		if !b.unbudgeted && b.buf != nil {
			a.pool.putLocked(b.buf)
		}
		b.buf = nil
		b.b = batch.Builder{} // drop the buffer reference
	}
	a.pool.wakeHeadLocked()
	a.pool.mu.Unlock()

	a.incompleteMu.Lock()
	defer a.incompleteMu.Unlock()
	for _, b := range bs {
		a.complete(b)
		// A split batch completes with its last half; halves split
		// again complete theirs in turn.
		for parent := b.parent; parent != nil && parent.splitLeft.Add(-1) == 0; parent = parent.parent {
			a.complete(parent)
		}
	}
}

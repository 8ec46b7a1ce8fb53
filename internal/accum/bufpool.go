package accum

import (
	"math/bits"
	"sync"
)

// bufPool recycles the buffers compressed batches are written into. They
// are outside buffer.memory (as the Java client's compression streams are);
// the pool keeps at most maxFreeBufs of them and maxFreeBytes in all. At
// 1,000 partitions a thousand or more compressed batches are queued or in
// flight at once, so a pool of 64 missed on nearly every batch.
type bufPool struct {
	mu        sync.Mutex
	free      [][]byte
	freeBytes int
}

const (
	maxFreeBufs  = 4096
	maxFreeBytes = 8 << 20
)

// get returns an empty buffer that can hold a compressed batch whose
// uncompressed records take n bytes without growing (see wireBound).
func (p *bufPool) get(n int) []byte {
	need := wireBound(n)
	p.mu.Lock()
	if k := len(p.free); k > 0 && cap(p.free[k-1]) >= need {
		buf := p.free[k-1]
		p.free[k-1] = nil
		p.free = p.free[:k-1]
		p.freeBytes -= cap(buf)
		p.mu.Unlock()
		return buf[:0]
	}
	p.mu.Unlock()
	// Rounded up to a size class, so buffers freed by batches of about the
	// same size fit each other; a smaller buffer on top of the free list
	// stays for a smaller batch.
	return make([]byte, 0, sizeClass(need))
}

// sizeClass rounds n up to a multiple of an eighth of the power of two
// above it (at least 256): at most a quarter more than asked, and full
// 16 KiB batches, whose sizes differ by a few bytes, all land in one class.
func sizeClass(n int) int {
	step := max(256, 1<<max(bits.Len(uint(n-1))-3, 0))
	return (n + step - 1) &^ (step - 1)
}

// wireBound bounds what a batch of n bytes becomes compressed with lz4,
// zstd or gzip when it does not compress (a stored block costs at most a
// few bytes per 255, plus frame headers); snappy can exceed it by n/6, and
// the buffer then grows.
func wireBound(n int) int { return n + n/255 + 128 }

func (p *bufPool) put(buf []byte) {
	if buf == nil {
		return
	}
	p.mu.Lock()
	if len(p.free) < maxFreeBufs && p.freeBytes+cap(buf) <= maxFreeBytes {
		p.free = append(p.free, buf[:0])
		p.freeBytes += cap(buf)
	}
	p.mu.Unlock()
}

// pendingPool recycles the per-batch callback slices.
type pendingPool[M any] struct {
	mu   sync.Mutex
	free [][]Pending[M]
}

func (p *pendingPool[M]) get() []Pending[M] {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return s
	}
	return make([]Pending[M], 0, 64)
}

func (p *pendingPool[M]) put(s []Pending[M]) {
	if s == nil {
		return
	}
	clear(s) // drop callback references
	p.mu.Lock()
	if len(p.free) < 1024 {
		p.free = append(p.free, s[:0])
	}
	p.mu.Unlock()
}

package accum

import (
	"math/bits"
	"sort"
	"sync"
)

// bufPool recycles the buffers compressed batches are written into, and
// those small drained batches move into (shrink.go). They are outside
// buffer.memory (as the Java client's compression streams are); the pool
// keeps at most maxFreeBufs of them and maxFreeBytes in all. At 1,000
// partitions a thousand or more such batches are queued or in flight at
// once, so a pool of 64 missed on nearly every batch.
//
// Free buffers are kept per size class (sizeClass): batches of a few
// records differ in size from one to the next, and a single free list,
// whose top buffer was too small as often as not, made a new buffer for
// about every other small batch (issue 14's profile at 1,000 partitions:
// makeslice and memclr under shrink).
type bufPool struct {
	mu        sync.Mutex
	free      [][][]byte // by class index (classes); buffers at least that class's size
	freeN     int
	freeBytes int
}

const (
	maxFreeBufs  = 4096
	maxFreeBytes = 8 << 20
)

// classes are the size classes up to maxClass, ascending; larger buffers
// are not pooled.
var classes = func() []int {
	var cs []int
	for n := 1; n <= maxClass; n = sizeClass(n) + 1 {
		cs = append(cs, sizeClass(n))
	}
	return cs
}()

// maxClass is the largest size class pooled: a full batch of the default
// 1 MiB max.request.size.
const maxClass = 1<<20 + 1<<18

// classFloor is the index of the largest class not above n, -1 if n is
// below the smallest.
func classFloor(n int) int {
	return sort.SearchInts(classes, n+1) - 1
}

// get returns an empty buffer that can hold a compressed batch whose
// uncompressed records take n bytes without growing (see wireBound).
func (p *bufPool) get(n int) []byte {
	size := sizeClass(wireBound(n))
	if size <= maxClass {
		c := classFloor(size) // size is a class: its own index
		p.mu.Lock()
		// The buffer's own class, or the next one up: at most a quarter
		// larger, and taken before a new one is made.
		for k := c; k < len(p.free) && k <= c+1; k++ {
			if m := len(p.free[k]); m > 0 {
				buf := p.free[k][m-1]
				p.free[k][m-1] = nil
				p.free[k] = p.free[k][:m-1]
				p.freeN--
				p.freeBytes -= cap(buf)
				p.mu.Unlock()
				return buf[:0]
			}
		}
		p.mu.Unlock()
	}
	// Rounded up to a size class, so buffers freed by batches of about the
	// same size fit each other.
	return make([]byte, 0, size)
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
	p.putLocked(buf)
	p.mu.Unlock()
}

// putLocked is put with p.mu held.
func (p *bufPool) putLocked(buf []byte) {
	c := classFloor(cap(buf))
	if buf == nil || c < 0 || cap(buf) > maxClass {
		return
	}
	if p.freeN < maxFreeBufs && p.freeBytes+cap(buf) <= maxFreeBytes {
		if c >= len(p.free) {
			p.free = append(p.free, make([][][]byte, c+1-len(p.free))...)
		}
		p.free[c] = append(p.free[c], buf[:0])
		p.freeN++
		p.freeBytes += cap(buf)
	}
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

package broker

import "sync"

// framesPool recycles Produce request frames on a free list the garbage
// collector does not empty.
//
// Produce frames were in a sync.Pool (bufPool). A client writing to many
// partitions sends frames of several MB (kgo at 1,000 partitions: 757
// batches, about 4 MB per request, issue 14), and each one read adds that
// much to the heap: the collector runs every few requests and a sync.Pool
// loses what it holds after two cycles, so most frames were allocated
// afresh, zeroed, grown by doubling in ReadBody (each step a copy) and
// faulted in page by page. In a perf profile of the broker ingesting from
// kgo at 1,000 partitions, page faults under ReadBody's copies and clears
// took about 13% of its CPU.
//
// The free list keeps at most limit bytes, so what it pins is bounded
// whatever the clients send; a frame larger than max is never kept. get
// picks the smallest kept buffer that holds the whole body, so a small
// request does not take the buffer a wide one needs. When none does, it
// allocates the whole body at once, an eighth more so that the next,
// slightly larger request of the same client fits too: growing a frame as
// the bytes arrive (ReadBody's way for frames not pooled) copied it at
// every doubling, and a pool that kept the smaller steps missed on most
// requests (6 hits in 35 in one run). That allocation is no more than the
// connection took from queued.max.request.bytes before reading, as Kafka's
// memory pool allocates a whole request, plus the eighth.
type framesPool struct {
	initial, max, limit int

	mu    sync.Mutex
	free  []*[]byte
	bytes int // the capacities of free, summed
}

func newFramesPool(initial, max, limit int) *framesPool {
	return &framesPool{initial: initial, max: max, limit: limit}
}

// get returns an empty buffer for a body of n bytes, the caller having
// taken n bytes of queued.max.request.bytes.
func (p *framesPool) get(n int) *[]byte {
	p.mu.Lock()
	best := -1
	for i, bp := range p.free {
		if c := cap(*bp); c >= n && (best < 0 || c < cap(*p.free[best])) {
			best = i
		}
	}
	if best >= 0 {
		bp := p.free[best]
		last := len(p.free) - 1
		p.free[best] = p.free[last]
		p.free[last] = nil
		p.free = p.free[:last]
		p.bytes -= cap(*bp)
		p.mu.Unlock()
		*bp = (*bp)[:0]
		return bp
	}
	p.mu.Unlock()
	size := min(p.max, n+n/8)
	if n > p.max {
		// Not kept afterwards anyway: ReadBody grows it as bytes arrive.
		size = p.initial
	}
	b := make([]byte, 0, size)
	return &b
}

// put gives bp back; it reports whether the pool kept it. A buffer above
// max is dropped; when the list would exceed limit, the smallest buffers
// make room (or bp itself goes, when it is the smallest). The caller must
// not use bp afterwards.
func (p *framesPool) put(bp *[]byte) bool {
	c := cap(*bp)
	if c > p.max || c == 0 {
		return false
	}
	*bp = (*bp)[:0]
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.bytes+c > p.limit {
		small := 0
		for i, f := range p.free {
			if cap(*f) < cap(*p.free[small]) {
				small = i
			}
		}
		if len(p.free) == 0 || cap(*p.free[small]) >= c {
			return false
		}
		p.bytes -= cap(*p.free[small])
		last := len(p.free) - 1
		p.free[small] = p.free[last]
		p.free[last] = nil
		p.free = p.free[:last]
	}
	p.free = append(p.free, bp)
	p.bytes += c
	return true
}

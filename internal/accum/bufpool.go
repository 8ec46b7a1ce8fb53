package accum

import "sync"

// bufPool recycles the buffers compressed batches are written into. They
// are outside buffer.memory (as the Java client's compression streams are);
// their number is bounded by the batches compressed and not yet released.
type bufPool struct {
	mu   sync.Mutex
	free [][]byte
}

func (p *bufPool) get(hint int) []byte {
	p.mu.Lock()
	for n := len(p.free); n > 0; n = len(p.free) {
		buf := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		if cap(buf) >= hint/2 {
			p.mu.Unlock()
			return buf[:0]
		}
	}
	p.mu.Unlock()
	return make([]byte, 0, hint)
}

func (p *bufPool) put(buf []byte) {
	if buf == nil {
		return
	}
	p.mu.Lock()
	if len(p.free) < 64 {
		p.free = append(p.free, buf[:0])
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

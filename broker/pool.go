package broker

import "sync"

// bufPool recycles byte buffers (*[]byte, so Put does not allocate) and
// refuses those above max. A sync.Pool keeps whatever it is given until
// two garbage collections pass: one 50 MiB fetch response put back would
// otherwise pin 50 MiB for the next small answer, on every P that served
// one. Above max a buffer goes to the garbage collector instead.
type bufPool struct {
	pool sync.Pool
	max  int // largest capacity kept
}

func newBufPool(initial, max int) *bufPool {
	p := &bufPool{max: max}
	p.pool.New = func() any { b := make([]byte, 0, initial); return &b }
	return p
}

// get returns an empty buffer.
func (p *bufPool) get() *[]byte {
	bp := p.pool.Get().(*[]byte)
	*bp = (*bp)[:0]
	return bp
}

// put gives bp back, unless it grew beyond the pool's max; it reports
// whether the pool kept it. The caller must not use bp afterwards.
func (p *bufPool) put(bp *[]byte) bool {
	if cap(*bp) > p.max {
		return false
	}
	*bp = (*bp)[:0]
	p.pool.Put(bp)
	return true
}

// The broker's pools and the largest buffer each keeps.
var (
	// reqPool recycles Produce request frames. Under ingest load every
	// produce request is a fresh 16 KiB or more; its record bytes are dead
	// once the log appended them (the log copies nothing and keeps no
	// reference), so the frame can carry the connection's next produce
	// instead of garbage. A client producing to many partitions sends
	// requests of several MB (kgo at 1,000 partitions: about 4 MB, issue
	// 14; up to 16 MB when batches of 16 KiB fill), so frames up to 16
	// MiB are kept, on a free list the collector does not empty
	// (frame_pool.go), holding at most 64 MiB.
	reqPool = newFramesPool(64<<10, 16<<20, 64<<20)

	// framePool recycles response frames once the writer has written them.
	// The largest are Fetch responses; 8 MiB keeps those of consumers with
	// the usual 1 MiB per partition and drops what a 55 MiB
	// fetch.max.bytes response leaves behind.
	framePool = newBufPool(4096, 8<<20)

	// fetchDataPool recycles the buffers fetches read the log into (see
	// fetchOp.data): encoding copies them into the response frame, so the
	// read buffer is garbage as soon as the frame is built.
	fetchDataPool = newBufPool(64<<10, 8<<20)
)

package accum

import (
	"runtime"
	"sync"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
)

// Compression states of a batch (Batch.cstate, guarded by its partition's
// mu). With a compressor, a batch is compressed once it is closed, off the
// sender goroutine, and Drain only patches the producer fields of the
// header afterwards; a partition's head batch is not drainable while it is
// being compressed, so batches still leave in order per partition.
const (
	cRaw         uint8 = iota // not compressed (nor submitted): Drain finishes it itself
	cCompressing              // queued for or held by a compressor worker, which owns b.b and b.wire
	cCompressed               // b.wire holds the compressed batch
)

// compressor compresses closed batches on up to max worker goroutines, so
// the sender goroutine only ships finished bytes (issue 14: zstd on the
// sender capped a producer at about a quarter of its uncompressed rate).
//
// Workers are started on demand, when a batch is queued and fewer than max
// run, and exit as soon as the queue is empty; so an idle producer has
// none, and stop only has to wait for the ones running. The producer id,
// epoch and base sequence are assigned at drain time, as Java's
// RecordAccumulator.drain does; a worker writes the ones the batch will get
// if nothing changes before then (see predictStamp), so the header and its
// CRC32C are written once, off the sender. Drain checks the guess and, when
// it was wrong (an epoch bump, a retry ahead of the batch), patches the
// 14 bytes and recomputes the CRC (batch.SetProducer).
//
// Lock order: a partition's mu may be held while taking c.mu; a worker
// takes the batch's partition mu only after letting go of c.mu.
type compressor[M any] struct {
	codec compress.Codec
	max   int
	wire  *bufPool
	wake  func() // tells the sender a head batch became drainable

	txn     bool       // batches are transactional (attributes bit 4)
	mu      sync.Mutex // guards everything below
	q       []*Batch[M]
	head    int // q[head:] are queued
	running int
	stopped bool
	wg      sync.WaitGroup
}

func newCompressor[M any](codec compress.Codec, workers int, wire *bufPool, wake func(), txn bool) *compressor[M] {
	return &compressor[M]{codec: codec, max: workers, wire: wire, wake: wake, txn: txn}
}

// submit hands the closed batch b to the workers, to be stamped with the
// producer fields b.stamp* (see predictStamp); b.p.mu must be held. It
// returns false once the compressor is stopped (b stays raw).
func (c *compressor[M]) submit(b *Batch[M]) bool {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return false
	}
	b.cstate = cCompressing
	if c.head > 0 && len(c.q) == cap(c.q) {
		// Compact rather than let append grow past the dead prefix.
		n := copy(c.q, c.q[c.head:])
		clear(c.q[n:])
		c.q, c.head = c.q[:n], 0
	}
	c.q = append(c.q, b)
	start := c.running < c.max
	if start {
		c.running++
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if start {
		go c.work()
	}
	return true
}

// work compresses queued batches until the queue is empty or c stops.
func (c *compressor[M]) work() {
	defer c.wg.Done()
	for {
		c.mu.Lock()
		if c.stopped || c.head == len(c.q) {
			c.running--
			c.mu.Unlock()
			return
		}
		b := c.q[c.head]
		c.q[c.head] = nil
		c.head++
		if c.head == len(c.q) {
			c.q, c.head = c.q[:0], 0
		}
		c.mu.Unlock()

		wire, wireBuf := compressBatch(b, c.codec, c.wire, c.txn)
		p := b.p
		p.mu.Lock()
		b.wire, b.wireBuf = wire, wireBuf
		b.cstate = cCompressed
		atHead := len(p.q) > 0 && p.q[0] == b
		p.acc.publish(p)
		p.mu.Unlock()
		if atHead {
			c.wake()
		}
		// A worker with a long queue never blocks, and Go preempts a
		// running goroutine only after 10ms: with every P compressing,
		// the sender just woken (it sits in this P's runnext) and the
		// appenders would wait that long while the connection idles.
		// Traced on two cores with zstd, the sender and appenders spent
		// ~2s runnable-but-waiting per 500k records (kgo's goroutines
		// 0.26s). Yielding between batches bounds that wait by one
		// batch's compression, for a few hundred ns per batch.
		runtime.Gosched()
	}
}

// stop makes later submits fail, returns the queued batches to the raw
// state (Drain then compresses them itself) and waits for running workers.
func (c *compressor[M]) stop() {
	c.mu.Lock()
	c.stopped = true
	queued := append([]*Batch[M](nil), c.q[c.head:]...)
	clear(c.q)
	c.q, c.head = nil, 0
	c.mu.Unlock()
	for _, b := range queued {
		b.p.mu.Lock()
		b.cstate = cRaw
		b.p.acc.publish(b.p)
		b.p.mu.Unlock()
	}
	c.wg.Wait()
}

// compressBatch encodes b compressed with codec and the producer fields
// b.stamp* into a buffer from wirePool. If the compressor fails (the codec
// was validated, so it should not), the batch goes uncompressed, which its
// attributes then say: wireBuf is nil and wire aliases the batch buffer.
func compressBatch[M any](b *Batch[M], codec compress.Codec, wirePool *bufPool, txn bool) (wire, wireBuf []byte) {
	params := batch.Params{Codec: codec, ProducerID: b.stampPID, ProducerEpoch: b.stampEp, BaseSequence: b.stampSeq, PartitionLeaderEpoch: -1, Transactional: txn}
	dst := wirePool.get(b.b.Len())
	out, err := b.b.AppendCompressed(dst, params)
	if err == nil {
		return out, out
	}
	wirePool.put(dst)
	return b.b.Finish(params), nil
}

package producer

import (
	"sync"
	"time"

	"github.com/skiffkit/skiff/internal/accum"
)

// sendBatch is the accumulator's batch, its callbacks typed as Callback.
type sendBatch = accum.Batch[RecordMetadata]

// completion is a batch's final outcome.
type completion struct {
	b          *sendBatch
	baseOffset int64 // -1 when unknown
	appendTime int64 // broker LogAppendTime in ms, -1 for CreateTime
	err        error
}

// completer runs user callbacks on its own goroutine, so neither the
// connection readers nor the sender wait for user code. One goroutine and a
// FIFO keep each partition's callbacks in order and never concurrent.
type completer struct {
	p     *Producer
	mu    sync.Mutex
	items []completion
	done  bool
	wake  chan struct{} // cap 1
}

func (c *completer) init(p *Producer) {
	c.p = p
	c.wake = make(chan struct{}, 1)
}

func (c *completer) push(items ...completion) {
	if len(items) == 0 {
		return
	}
	c.mu.Lock()
	c.items = append(c.items, items...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// stop makes run return once the queue is empty. Call after the sender
// exited, so nothing is pushed afterwards.
func (c *completer) stop() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *completer) run() {
	var buf []completion
	var release []*sendBatch
	for {
		c.mu.Lock()
		items, done := c.items, c.done
		c.items = buf[:0]
		c.mu.Unlock()
		for i := range items {
			c.complete(&items[i])
			release = append(release, items[i].b)
			items[i] = completion{}
		}
		// Their memory goes back together, each pool's lock taken once
		// (ReleaseAll); every callback of these batches has run.
		c.p.acc.ReleaseAll(release)
		clear(release)
		release = release[:0]
		buf = items
		if len(items) > 0 {
			continue
		}
		if done {
			return
		}
		<-c.wake
	}
}

func (c *completer) complete(cp *completion) {
	b := cp.b
	topic, partition := b.Topic(), b.Partition()
	for _, h := range c.p.hooks.done {
		h.OnBatchDone(topic, partition, b.NumRecords(), cp.err)
	}
	for _, pe := range b.Pending() {
		md := RecordMetadata{Topic: topic, Partition: partition, Offset: -1}
		ts := pe.Timestamp
		if cp.appendTime >= 0 {
			ts = cp.appendTime
		}
		md.Timestamp = time.UnixMilli(ts)
		if cp.err == nil && cp.baseOffset >= 0 {
			md.Offset = cp.baseOffset + int64(pe.OffsetDelta)
		}
		pe.Callback(md, cp.err)
	}
}

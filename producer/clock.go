package producer

import (
	"sync/atomic"
	"time"
)

// clockTick is how often the record clock refreshes while records are
// being sent: Kafka's CreateTime has millisecond resolution.
const clockTick = time.Millisecond

// recordClock stamps records whose Timestamp is zero. time.Now costs
// ~100 ns on common VMs, as much as the rest of an append, so while
// records flow a tracked goroutine refreshes a cached Unix-millisecond
// value every clockTick and Send reads it with one atomic load.
//
// Accuracy: a cached value lags the wall clock by at most clockTick plus
// however late the runtime runs the ticking goroutine (normally well under
// a millisecond; a few under CPU starvation). Kafka only asks CreateTime to
// be the client's idea of "now" in milliseconds, and the Java client's
// System.currentTimeMillis has had coarser ticks on some platforms.
//
// When a tick finds that nobody read the clock since the previous tick,
// the goroutine clears the cache and parks, so an idle producer costs no
// wake-ups, and the first record after a pause reads time.Now itself: a
// stale value is never served after idleness.
type recordClock struct {
	ms   atomic.Int64  // cached Unix ms; 0 when the ticker is parked
	used atomic.Bool   // read since the last tick
	kick chan struct{} // cap 1: start ticking
}

func (c *recordClock) init() { c.kick = make(chan struct{}, 1) }

// nowMillis is the current time in Unix milliseconds.
func (c *recordClock) nowMillis() int64 {
	if ms := c.ms.Load(); ms != 0 {
		// Load before Store: one store per tick, not per record, so the
		// cache line is not bounced between appending goroutines.
		if !c.used.Load() {
			c.used.Store(true)
		}
		return ms
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return time.Now().UnixMilli()
}

// run refreshes the cache while it is being read; it returns when quit is
// closed.
func (c *recordClock) run(quit <-chan struct{}) {
	t := time.NewTicker(clockTick)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-c.kick:
		case <-quit:
			return
		}
		c.used.Store(false)
		c.ms.Store(time.Now().UnixMilli())
		t.Reset(clockTick)
		for c.ms.Load() != 0 {
			select {
			case <-t.C:
			case <-quit:
				return
			}
			if c.used.Swap(false) {
				c.ms.Store(time.Now().UnixMilli())
			} else {
				c.ms.Store(0)
			}
		}
		t.Stop()
	}
}

// millis converts a record's timestamp, stamping zero with the clock.
func (c *recordClock) millis(t time.Time) int64 {
	if t.IsZero() {
		return c.nowMillis()
	}
	return t.UnixMilli()
}

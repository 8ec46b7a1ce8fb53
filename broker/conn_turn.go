package broker

import "time"

// The turn: a connection's requests are handled one after another, in the
// order read. The reader enqueues a request when the connection has none
// being handled; a request it reads while one is (a client pipelining)
// waits in the connection's next ring, and the worker that ends the turn
// takes it and serves it at once (Broker.serve returns it).
//
// Before, the reader held the next request until the turn was free,
// then put it on the request queue: every pipelined request woke the
// reader (turn) and then a worker (queue), each often on the other P, for
// a futex wake-up and a trip through the scheduler, while the worker that
// was free to serve it had just finished the previous one. Profiled with
// kgo on one connection (issue 14), the broker spent about a fifth of its
// CPU in the scheduler (findRunnable, futex, netpoll) and sysmon. Now the
// reader only waits for bytes and for its in-flight slots, and a burst of
// requests is served by one worker without a hand-off between them.

// requestRing is a FIFO of at most maxInFlight requests (each holds one of
// the connection's in-flight slots).
type requestRing struct {
	buf  [maxInFlight]*request
	head int
	n    int
}

func (q *requestRing) push(r *request) bool {
	if q.n == len(q.buf) {
		return false
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
	return true
}

func (q *requestRing) pop() *request {
	if q.n == 0 {
		return nil
	}
	r := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return r
}

// takeTurn gives the reader the turn for r when no request of the
// connection is being handled; otherwise r waits in next for the worker
// ending the turn, and takeTurn reports false.
func (c *conn) takeTurn(r *request) bool {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	select {
	case c.turn <- struct{}{}:
		return true
	default:
	}
	if !c.next.push(r) {
		// Every read request holds an in-flight slot, and the turn
		// holder one of them: the ring cannot fill.
		c.b.log.Error("bug: more requests waiting for the turn than in-flight slots", "remote", c.remote)
		r.releaseFrame()
		c.b.queueBytes.release(int64(r.size))
		c.shutdown()
	}
	return false
}

// endTurn ends the turn of the request whose handler returned: it returns
// the connection's next request, which the caller serves, or releases the
// turn when the reader has none waiting. A next request of a muted
// connection (KIP-219: a quota throttled the one before) waits for the
// mute in the purgatory, still holding the turn, as the reader waits for
// it before it enqueues a request (waitThrottle).
func (c *conn) endTurn() *request {
	c.tmu.Lock()
	r := c.next.pop()
	if r == nil {
		select {
		case <-c.turn:
		default:
		}
	}
	c.tmu.Unlock()
	if r == nil {
		return nil
	}
	if end := c.throttled.Load(); end != 0 && time.Now().UnixNano() < end {
		c.b.purg.Watch(nil, &mutedRequest{b: c.b, r: r}, time.Unix(0, end))
		return nil
	}
	return r
}

// mutedRequest is a connection's next request waiting, in the purgatory
// under no key, for the connection's quota mute to end.
type mutedRequest struct {
	b *Broker
	r *request
}

func (m *mutedRequest) TryComplete() bool { return false }
func (m *mutedRequest) OnComplete()       {}

// OnExpire runs on a worker (the purgatory hands expired ops to them).
func (m *mutedRequest) OnExpire() {
	m.b.serveTurns(newWorker(), m.r)
}

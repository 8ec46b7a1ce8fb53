package broker

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/internal/reqframe"
)

// maxInFlight bounds the requests of one connection between its reader and
// its writer. Kafka mutes a connection until its one request is answered;
// pipelining up to this many with ordered responses is the equivalent that
// lets a client's in-flight produce requests (5 for an idempotent producer)
// overlap with the writes of earlier answers. It also bounds what a client
// that stops reading can make the broker hold (this many encoded answers),
// and sizes respCh, so answering a request never blocks, even on a dead
// connection.
const maxInFlight = 16

// response is one answer on its way to the writer. A nil frame with close
// false is an acks=0 produce: nothing is written, the order moves on. close
// closes the connection after writing frame, if any.
type response struct {
	seq   uint64
	frame *[]byte
	close bool
	// fetch, instead of frame, is a Fetch answer whose record batches
	// the writer sends from the segment files (sendfile.go).
	fetch *fetchFrame
}

// conn is one client connection: a reader goroutine that parses requests in
// order and queues them, and a writer goroutine that writes the answers back
// in request order whatever order the workers and the purgatory finish them.
type conn struct {
	b      *Broker
	nc     net.Conn // a *tls.Conn on SSL and SASL_SSL listeners
	remote string
	ln     *listener // the listener it came through
	// principal names the client in logs: its certificate's subject with
	// mTLS, its SASL user once logged in.
	principal string
	// sasl is the login state on SASL listeners, nil on the others, so a
	// plaintext connection pays one nil check per request for SASL.
	sasl *saslState

	respCh   chan response // answers, any order; capacity maxInFlight
	inflight chan struct{} // semaphore: a slot per request read and not yet written
	// turn is held from enqueueing a request until the handler of the
	// last one it passed to (next) returned: a connection's requests are
	// handled one after another, in order, as Kafka does (an idempotent
	// producer pipelines produce requests on one connection and relies on
	// them being appended in that order). Only answers that wait in the
	// purgatory overlap with later requests.
	turn chan struct{}
	done chan struct{} // closed by shutdown
	// tmu guards next: the requests read while the turn was held, which
	// the worker ending the turn takes over (conn_turn.go).
	tmu  sync.Mutex
	next requestRing

	// unwritten is the bytes of this connection's encoded answers waiting
	// for the writer (not those of the write in progress, which is itself
	// at most about fetch.max.bytes). Fetches read less while it is high
	// (see fetchOp.read): a client that pipelines fetches and does not
	// read the answers could otherwise make the broker hold maxInFlight
	// responses of fetch.max.bytes each; now it holds about two.
	unwritten atomic.Int64
	once      sync.Once
	// throttled is when a quota mute ends (unix ns), 0 when not muted
	// (throttle_conn.go).
	throttled atomic.Int64
	// reqTime is the handler time of each request in flight, by seq
	// modulo maxInFlight, for request_percentage (throttle_request.go);
	// kept here rather than in request, which it would outgrow its size
	// class for.
	reqTime [maxInFlight]atomic.Int64

	// tlsOut gathers small answers into one TLS write (writeTLS); only
	// the writer uses it, and only on SSL and SASL_SSL listeners.
	tlsOut []byte

	// zc is the raw socket when fetches use sendfile, nil when they
	// copy (sendfile.go).
	zc syscall.RawConn
	// fetchMu guards writerGone: once the writer returned, answers
	// holding pinned segments are released instead of queued.
	fetchMu    sync.Mutex
	writerGone bool
}

func newConn(b *Broker, nc net.Conn) *conn {
	l := plaintextListener
	if len(b.listeners) > 0 {
		l = b.listeners[0]
	}
	return newConnOn(b, nc, l)
}

// plaintextListener stands for the listener of connections that tests
// hand to a broker that has none.
var plaintextListener = &listener{proto: auth.ProtocolPlaintext}

func newConnOn(b *Broker, nc net.Conn, l *listener) *conn {
	c := &conn{
		b:        b,
		nc:       nc,
		remote:   nc.RemoteAddr().String(),
		ln:       l,
		respCh:   make(chan response, maxInFlight),
		inflight: make(chan struct{}, maxInFlight),
		turn:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if l.tls != nil {
		// No I/O yet: the reader runs the handshake (handshakeTLS), and
		// the writer has nothing to write before the reader read a
		// request.
		c.nc = tls.Server(nc, l.tls)
	}
	if l.proto.SASL() {
		c.sasl = &saslState{}
	}
	c.zc = zeroCopyConn(b, nc, l)
	return c
}

// shutdown closes the connection; the reader and writer return.
func (c *conn) shutdown() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// send hands an answer to the writer. It never blocks: at most maxInFlight
// requests are outstanding, and respCh has room for all of them.
func (c *conn) send(r response) {
	select {
	case c.respCh <- r:
	default:
		c.b.log.Error("bug: response channel full", "remote", c.remote)
		c.shutdown()
	}
}

// readLoop reads size-prefixed requests until the connection fails, idles
// out, or sends bytes that do not parse.
func (c *conn) readLoop() {
	defer c.shutdown()
	if c.ln.tls != nil && !c.handshakeTLS() {
		return
	}
	var (
		size [4]byte
		seq  uint64
		max  = c.b.cfg.SocketRequestMaxBytes
		idle = c.b.cfg.ConnectionsMaxIdle
		// One read syscall usually brings a whole produce request (and
		// often several small ones) instead of one for the size prefix
		// and one for the body.
		rd = bufio.NewReaderSize(c.nc, readBufferSize)
	)
	// Kafka's order: TLS, then SASL, then requests.
	if c.sasl != nil && !c.authenticate(rd, &seq, nil) {
		return
	}
	for {
		select {
		case c.inflight <- struct{}{}:
		case <-c.done:
			return
		}
		if !c.waitThrottle() { // KIP-219 quota mute (throttle_conn.go)
			return
		}
		// connections.max.idle.ms: a client silent that long is gone.
		c.nc.SetReadDeadline(time.Now().Add(idle))
		n, err := reqframe.ReadSize(rd, &size, max)
		if errors.Is(err, reqframe.ErrTooLarge) {
			c.b.log.Warn("closing connection: request size out of bounds (socket.request.max.bytes)",
				"remote", c.remote, "size", n, "max", max)
			return
		}
		if err != nil {
			c.endOfInput(err)
			return
		}
		// queued.max.request.bytes: taken before the body is read, so a
		// reader blocked here holds no memory for it.
		if !c.b.queueBytes.acquire(int64(n), c.done, c.b.stopping) {
			return
		}
		// Blocked on the budget, the reader was not idle.
		c.nc.SetReadDeadline(time.Now().Add(idle))
		// Only produce frames are pooled (see reqPool); the api key is
		// the first field of the body.
		var pooled *[]byte
		if n >= 2 {
			if key, err := rd.Peek(2); err == nil && int16(binary.BigEndian.Uint16(key)) == produceKey {
				pooled = reqPool.get(int(n))
			}
		}
		var start []byte
		if pooled != nil {
			start = (*pooled)[:0]
		}
		frame, err := reqframe.ReadBody(rd, int(n), start)
		if err != nil {
			c.b.queueBytes.release(int64(n))
			c.endOfInput(err)
			return
		}
		r, err := parseRequest(frame)
		if err != nil {
			c.b.queueBytes.release(int64(n))
			c.b.log.Warn("closing connection: unparseable request", "remote", c.remote, "err", err)
			return
		}
		r.size = n
		if pooled != nil {
			*pooled = frame
			r.pooled = pooled
		}
		r.c, r.seq = c, seq
		seq++
		if c.sasl != nil {
			// KIP-368: re-authentication, or a session that ended.
			if handled, ok := c.reauthenticate(r, rd, &seq); !ok {
				return
			} else if handled {
				continue
			}
		}
		if !c.takeTurn(r) {
			continue // the worker serving the connection takes it next
		}
		if !c.waitThrottle() || !c.b.enqueue(r, c.done) {
			c.b.queueBytes.release(int64(n))
			return
		}
	}
}

// tlsCoalesceMax is the most writeTLS gathers into one write: four TLS
// records of crypto/tls's 16 KiB maximum.
const tlsCoalesceMax = 64 << 10

// writeTLS writes answers to a TLS connection. tls.Conn has no vectored
// write: net.Buffers.WriteTo would seal each answer into its own record
// and write syscall, so a burst of small produce answers costs a syscall
// each. Copying them together first costs less than the encryption they
// go through anyway; answers of tlsCoalesceMax or more go out as they are.
func (c *conn) writeTLS(bufs net.Buffers) error {
	out := c.tlsOut[:0]
	for _, b := range bufs {
		if len(out) > 0 && len(out)+len(b) > tlsCoalesceMax {
			if _, err := c.nc.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
		if len(b) >= tlsCoalesceMax {
			if _, err := c.nc.Write(b); err != nil {
				return err
			}
			continue
		}
		out = append(out, b...)
	}
	c.tlsOut = out[:0]
	if len(out) > 0 {
		_, err := c.nc.Write(out)
		return err
	}
	return nil
}

// readBufferSize is the per-connection read buffer: a 16 KiB produce
// request and its size prefix arrive in one read.
const readBufferSize = 32 << 10

// endOfInput ends the reader after a failed read. At EOF (a client that
// closed its socket, or only its write side, with requests still queued or
// parked) every complete request read before it is still handled and
// answered: an acks=0 producer closes right after its last write, and its
// requests must be appended, as Kafka handles the receives it completed
// before it saw the peer close. Any other read error closes at once.
func (c *conn) endOfInput(err error) {
	c.logReadErr(err)
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return
	}
	// The reader holds one slot (taken for the read that failed); the
	// writer gives back the others as it writes, or skips, each answer.
	for range maxInFlight - 1 {
		select {
		case c.inflight <- struct{}{}:
		case <-c.done:
			return
		}
	}
}

func (c *conn) logReadErr(err error) {
	switch {
	case c.closed(), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.b.log.Debug("closing idle connection (connections.max.idle.ms)", "remote", c.remote)
	default:
		c.b.log.Debug("connection read failed", "remote", c.remote, "err", err)
	}
}

// writeLoop puts answers back in request order (a ring indexed by sequence
// number: at most maxInFlight are outstanding) and writes every answer that
// is ready in one vectored write; a zero-copy fetch answer splits it around
// its sendfile ranges (writeFetchFrame).
//
// Why a goroutine and not the worker that finished the answer (issue 14
// asked to try that): a worker goes on to its next request without
// yielding, so the writer runs once several answers are ready and writes
// them together (about 4.5 per writev with 8 connections pipelining 5
// produces each). Workers writing their own answers, each with a
// non-blocking writev that left a full socket to this goroutine, made one
// writev per answer, each also waking the client: 13% more CPU per request
// in BenchmarkConnProduceConns/conns=8 and no gain at conns=200, where
// answers rarely share a write anyway. It also keeps a worker from ever
// waiting on a client's socket (TestStalledClientKeepsWorkerFree).
func (c *conn) writeLoop() {
	var (
		ring    [maxInFlight]*response
		slots   [maxInFlight]response
		next    uint64
		bufs    net.Buffers
		written []*[]byte
		fetches []*fetchFrame // written, or partly: released after the write
	)
	defer c.shutdown()
	defer c.dropUnwritten(&ring)
	release := func() {
		for _, bp := range written {
			framePool.put(bp)
		}
		clear(written)
		written = written[:0]
		for _, f := range fetches {
			f.release()
		}
		clear(fetches)
		fetches = fetches[:0]
		clear(bufs)
		bufs = bufs[:0]
	}
	defer release()
	place := func(r response) {
		i := r.seq % maxInFlight
		slots[i] = r
		ring[i] = &slots[i]
	}
	// One vectored write takes at most about fetch.max.bytes of answers
	// (at least one): with fetchOp.read's budget, that bounds what a
	// connection whose client does not read holds (see conn.unwritten).
	maxWrite := int64(c.b.cfg.FetchMaxBytes)
	for {
		if ring[next%maxInFlight] == nil {
			// Nothing ready to go in order: wait for the next answer.
			select {
			case r := <-c.respCh:
				place(r)
			case <-c.done:
				return
			}
		}
	drain:
		for {
			select {
			case r := <-c.respCh:
				place(r)
			default:
				break drain
			}
		}
		closeAfter, answeredClose, consumed, size := false, false, 0, int64(0)
		var err error
		for size < maxWrite && err == nil {
			i := next % maxInFlight
			r := ring[i]
			if r == nil {
				break
			}
			ring[i] = nil
			next++
			consumed++
			// Taken off the count before the write, not after: once the
			// bytes reach the client it may send its next fetch at once,
			// and that fetch must not see its previous answer as still
			// unwritten.
			if r.frame != nil {
				bufs = append(bufs, *r.frame)
				written = append(written, r.frame)
				size += int64(len(*r.frame))
				c.unwritten.Add(-int64(len(*r.frame)))
			}
			if r.fetch != nil {
				fetches = append(fetches, r.fetch)
				size += r.fetch.size
				c.unwritten.Add(-r.fetch.size)
				err = c.writeFetchFrame(&bufs, r.fetch)
			}
			if r.close {
				// With a frame: the last answer before closing (a failed
				// login); without: a dropped request.
				closeAfter, answeredClose = true, r.frame != nil
				break
			}
		}
		if err == nil && len(bufs) > 0 {
			if c.ln.tls != nil && len(bufs) > 1 {
				c.nc.SetWriteDeadline(time.Now().Add(c.b.cfg.ConnectionsMaxIdle))
				err = c.writeTLS(bufs)
			} else {
				err = c.flush(&bufs) // sets the deadline
			}
		}
		release()
		if err != nil {
			if !c.closed() {
				c.b.log.Debug("connection write failed", "remote", c.remote, "err", err)
			}
			return
		}
		if closeAfter {
			if !answeredClose {
				c.b.log.Info("closing connection instead of answering (fault injection)", "remote", c.remote)
			}
			return
		}
		// Written and skipped (acks=0) answers free their reader slots.
		for ; consumed > 0; consumed-- {
			<-c.inflight
		}
	}
}

package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
)

// Conn is one TCP connection to a broker, shared by every caller that talks
// to that broker. Requests are pipelined: any number may be outstanding, a
// single writer goroutine coalesces queued requests into one vectored write,
// and a single reader goroutine matches responses to requests by correlation
// id. Kafka answers the requests of one connection strictly in order (it
// mutes the channel until each response is sent), so responses and callbacks
// complete in request order.
//
// A Conn never recovers from an error: the first write, read, decode-framing
// or timeout failure fails every outstanding request with an error wrapping
// ErrConnClosed, closes Closed(), and the Client dials a new Conn on next use.
type Conn struct {
	cfg      *Config
	log      *slog.Logger
	node     int32
	addr     string
	nc       net.Conn
	versions Versions // written once by negotiate before the Conn is shared
	format   *kmsg.RequestFormatter

	wake    chan struct{} // capacity 1: a request was queued for the writer
	closed  chan struct{} // closed by fail
	lastUse atomic.Int64  // unix nanos of the last write or read, for ConnMaxIdle

	// mu guards every field below. It is never held while calling a user
	// callback or doing I/O. Lock order: Client.mu before Conn.mu (the
	// client only takes Conn.mu through Closed()/isIdle()).
	mu       sync.Mutex
	corrID   int32
	dead     bool
	err      error       // why the conn died; wraps ErrConnClosed
	writeQ   []*pending  // encoded requests not yet taken by the writer
	waiting  []*pending  // requests expecting a response, in correlation order
	order    []*pending  // every incomplete request, in correlation order
	draining bool        // some goroutine is running drain's callback loop
	timer    *time.Timer // request timeouts; its channel is served by writeLoop
	timerAt  time.Time   // when timer fires; zero when stopped
	reauth   reauthHold  // KIP-368 re-authentication in progress; see reauth.go
	// lastNoResp is the correlation id of the newest acks=0 Produce and
	// lastAnswered that of the newest request answered; while lastNoResp is
	// ahead, the broker may not have handled every acks=0 write yet, and a
	// graceful close sends a barrier first (see closeGracefully). Ids wrap
	// at 2^31 requests; both are compared as distances from corrID.
	lastNoResp   int32
	lastAnswered int32
	// shutWrite asks the writer to write what is queued and then half-close
	// the socket (FIN): no request is accepted after it is set.
	shutWrite bool
}

// pending is one request from DoAsync until its callback ran.
type pending struct {
	req      kmsg.Request
	version  int16 // req's version when sent; the caller may reuse req later
	corrID   int32
	buf      *[]byte // encoded frame; owned by the writer once queued
	fn       func(kmsg.Response, error)
	deadline time.Time
	noResp   bool // Produce with acks=0: Kafka sends nothing back
	done     bool
	resp     kmsg.Response
	err      error
}

// ErrMalformedResponse is wrapped when a response body does not decode at
// the version it was requested with. The connection stays usable (the frame
// boundary is intact) but the broker is likely not speaking Kafka correctly.
var ErrMalformedResponse = errors.New("malformed response")

var errClosedLocally = errors.New("closed locally")

// bufPool recycles request frames. Frames above maxPooledBuf are dropped so a
// rare huge Produce does not pin memory forever.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBuf = 4 << 20

func putBuf(b *[]byte) {
	if b != nil && cap(*b) <= maxPooledBuf {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

func newConn(cfg *Config, log *slog.Logger, node int32, addr string, nc net.Conn) *Conn {
	cn := &Conn{
		cfg:    cfg,
		log:    log.With("node", node, "addr", addr),
		node:   node,
		addr:   addr,
		nc:     nc,
		format: kmsg.NewRequestFormatter(kmsg.FormatterClientID(cfg.ClientID)),
		wake:   make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	cn.timer = time.NewTimer(time.Hour)
	cn.timer.Stop()
	cn.lastUse.Store(time.Now().UnixNano())
	return cn
}

// Node returns the broker's node id; seed connections (before the node id
// is known) use SeedNode(i).
func (cn *Conn) Node() int32 { return cn.node }

// Addr returns the host:port dialed.
func (cn *Conn) Addr() string { return cn.addr }

// Versions returns the API versions the broker advertised on connect.
func (cn *Conn) Versions() Versions { return cn.versions }

// Closed is closed once the connection has failed or was closed.
func (cn *Conn) Closed() <-chan struct{} { return cn.closed }

// Close fails every outstanding request with an error wrapping
// ErrConnClosed and closes the socket. It does not wait for the conn's
// goroutines (Client.Close does), so it is safe to call from a callback.
func (cn *Conn) Close() error {
	cn.fail(errClosedLocally)
	return nil
}

// Err returns why the connection died, or nil while it is alive.
func (cn *Conn) Err() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

func (cn *Conn) isClosed() bool {
	select {
	case <-cn.closed:
		return true
	default:
		return false
	}
}

// idleFor reports how long the conn has had no traffic, or 0 if requests
// are outstanding.
func (cn *Conn) idleFor(now time.Time) time.Duration {
	cn.mu.Lock()
	busy := len(cn.order) > 0
	cn.mu.Unlock()
	if busy {
		return 0
	}
	return now.Sub(time.Unix(0, cn.lastUse.Load()))
}

type result struct {
	resp kmsg.Response
	err  error
}

// Do sends req and waits for its response. The version is the highest both
// the client (kmsg) and the broker support, at least MinVersion if req was
// wrapped with it, at most MaxVersion. A Produce request with Acks 0 returns (nil, nil) as soon
// as it is written, since Kafka sends no response to it.
//
// If ctx ends first Do returns ctx.Err(); the request stays on the wire and
// its response is discarded when it arrives.
func (cn *Conn) Do(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := make(chan result, 1)
	cn.DoAsync(req, func(resp kmsg.Response, err error) { ch <- result{resp, err} })
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// DoAsync queues req and returns immediately. fn runs exactly once, in
// request order, on one of the connection's goroutines (the reader for
// responses, the writer for acks=0 Produce, whichever goroutine fails the
// conn otherwise); fn must not block long, since it holds up every later
// response on this connection. If req cannot be sent at all (unsupported
// version, dead conn) fn runs before DoAsync returns, on the caller's
// goroutine.
func (cn *Conn) DoAsync(req kmsg.Request, fn func(kmsg.Response, error)) {
	req, minVer, maxVer := unwrapRequest(req)
	ver, err := cn.versions.choose(req, minVer, maxVer)
	if err != nil {
		fn(nil, &connErr{cn.node, cn.addr, err})
		return
	}
	req.SetVersion(ver)
	cn.send(req, fn)
}

// send queues a request whose version is already set.
func (cn *Conn) send(req kmsg.Request, fn func(kmsg.Response, error)) {
	buf := bufPool.Get().(*[]byte)
	*buf = encodeRequest(*buf, cn.format, req)

	timeout := cn.cfg.RequestTimeout
	// Requests that make the broker wait (Produce acks, JoinGroup's
	// rebalance) get that wait on top of request.timeout.ms, as the Java
	// client does for JoinGroup, so a slow-by-design response is not
	// mistaken for a dead broker.
	if tr, ok := req.(kmsg.TimeoutRequest); ok && tr.Timeout() > 0 {
		timeout += time.Duration(tr.Timeout()) * time.Millisecond
	}
	p := &pending{
		req:      req,
		version:  req.GetVersion(),
		buf:      buf,
		fn:       fn,
		deadline: time.Now().Add(timeout),
		noResp:   isAcksZero(req),
	}

	cn.mu.Lock()
	if cn.dead || cn.shutWrite {
		err := cn.err
		if err == nil {
			err = &connErr{cn.node, cn.addr, fmt.Errorf("%w: %w", ErrConnClosed, ErrClientClosed)}
		}
		cn.mu.Unlock()
		putBuf(buf)
		fn(nil, err)
		return
	}
	if cn.reauth.holdLocked(p) {
		cn.mu.Unlock()
		return
	}
	cn.enqueueLocked(p)
	cn.mu.Unlock()

	select {
	case cn.wake <- struct{}{}:
	default: // the writer is already awake and will see the queue
	}
}

// enqueueLocked gives p its correlation id and queues it for the writer.
func (cn *Conn) enqueueLocked(p *pending) {
	cn.corrID++
	p.corrID = cn.corrID
	if p.noResp {
		cn.lastNoResp = p.corrID
	}
	binary.BigEndian.PutUint32((*p.buf)[corrIDOffset:], uint32(p.corrID))
	cn.writeQ = append(cn.writeQ, p)
	cn.order = append(cn.order, p)
	if !p.noResp {
		cn.waiting = append(cn.waiting, p)
	}
	cn.armTimerLocked(p.deadline)
}

func isAcksZero(req kmsg.Request) bool {
	p, ok := req.(*kmsg.ProduceRequest)
	return ok && p.Acks == 0
}

// armTimerLocked makes sure the timeout timer fires no later than deadline.
// The timer is lazy: it is only moved earlier here and recomputed when it
// fires, so the common case (monotonic deadlines) costs nothing per request.
func (cn *Conn) armTimerLocked(deadline time.Time) {
	if !cn.timerAt.IsZero() && !deadline.Before(cn.timerAt) {
		return
	}
	cn.timerAt = deadline
	cn.timer.Reset(time.Until(deadline))
}

// checkTimeouts runs when the timer fires: it kills the conn if any request
// is past its deadline, else re-arms for the earliest remaining one.
func (cn *Conn) checkTimeouts() {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	now := time.Now()
	var next time.Time
	for _, p := range cn.order {
		if p.done {
			continue
		}
		if !p.deadline.After(now) {
			cn.mu.Unlock()
			cn.fail(fmt.Errorf("%w: %s correlation id %d got no response within %v",
				ErrRequestTimeout, kmsg.NameForKey(p.req.Key()), p.corrID, cn.cfg.RequestTimeout))
			return
		}
		if next.IsZero() || p.deadline.Before(next) {
			next = p.deadline
		}
	}
	cn.timerAt = next
	if !next.IsZero() {
		cn.timer.Reset(time.Until(next))
	}
	cn.mu.Unlock()
}

// fail kills the connection once: every incomplete request completes with an
// error wrapping ErrConnClosed and cause.
func (cn *Conn) fail(cause error) {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	cn.dead = true
	err := &connErr{cn.node, cn.addr, fmt.Errorf("%w: %w", ErrConnClosed, cause)}
	cn.err = err
	for _, p := range cn.order {
		if !p.done {
			p.done, p.err = true, err
		}
	}
	for _, p := range cn.writeQ {
		putBuf(p.buf)
		p.buf = nil
	}
	cn.writeQ, cn.waiting = nil, nil
	cn.timer.Stop()
	close(cn.closed)
	cn.mu.Unlock()

	_ = cn.nc.Close()
	if errors.Is(cause, errClosedLocally) || errors.Is(cause, ErrClientClosed) {
		// Closing our own client is not a failure worth a warning.
		cn.log.Debug("connection closed")
	} else if cn.node < 0 {
		// A seed connection only bootstraps metadata; the broker behind
		// it has a real connection whose failure is the one to report.
		cn.log.Debug("seed connection failed", "addr", cn.addr, "err", cause)
	} else {
		cn.log.Warn("connection failed", "err", cause)
	}
	cn.drain()
}

// drain runs the callbacks of completed requests at the head of the order
// queue. Only one goroutine drains at a time; others just mark requests done
// and leave, and the draining goroutine picks their work up, which keeps
// callbacks in request order without holding a lock across them.
func (cn *Conn) drain() {
	cn.mu.Lock()
	if cn.draining {
		cn.mu.Unlock()
		return
	}
	cn.draining = true
	for len(cn.order) > 0 && cn.order[0].done {
		p := cn.order[0]
		cn.order[0] = nil
		cn.order = cn.order[1:]
		cn.mu.Unlock()
		p.fn(p.resp, p.err)
		cn.mu.Lock()
	}
	if len(cn.order) == 0 {
		cn.order = cn.order[:0:0] // drop the consumed backing array
	}
	cn.draining = false
	cn.mu.Unlock()
}

// writeLoop owns writes to the socket and the request-timeout timer. Each
// wake-up takes the whole queue and writes it with one writev, so pipelined
// requests coalesce into few syscalls. A write stuck on a peer that stopped
// reading is bounded by a write deadline of RequestTimeout. Once shutWrite
// is set it writes what was queued before it and half-closes the socket.
func (cn *Conn) writeLoop() {
	var (
		batch      []*pending
		vec        [][]byte
		halfClosed bool
	)
	for {
		select {
		case <-cn.wake:
		case <-cn.timer.C:
			cn.checkTimeouts()
			continue
		case <-cn.closed:
			return
		}
		cn.mu.Lock()
		batch = append(batch[:0], cn.writeQ...)
		clear(cn.writeQ)
		cn.writeQ = cn.writeQ[:0]
		shut := cn.shutWrite && !halfClosed
		cn.mu.Unlock()
		if len(batch) > 0 && !cn.writeBatch(batch, &vec) {
			return
		}
		clear(batch)
		if shut {
			halfClosed = true
			if !cn.halfClose() {
				return
			}
		}
	}
}

// writeBatch writes batch with one writev and completes its acks=0
// requests. It reports false if the write failed (the conn is then dead).
func (cn *Conn) writeBatch(batch []*pending, vec *[][]byte) bool {
	*vec = (*vec)[:0]
	for _, p := range batch {
		*vec = append(*vec, *p.buf)
	}
	bufs := net.Buffers(*vec)
	_ = cn.nc.SetWriteDeadline(time.Now().Add(cn.cfg.RequestTimeout))
	_, err := bufs.WriteTo(cn.nc)
	for _, p := range batch {
		putBuf(p.buf)
		p.buf = nil
	}
	clear(*vec)
	if err != nil {
		cn.fail(fmt.Errorf("write: %w", err))
		return false
	}
	cn.lastUse.Store(time.Now().UnixNano())

	acked := false
	cn.mu.Lock()
	for _, p := range batch {
		if p.noResp && !p.done {
			p.done = true
			acked = true
		}
	}
	cn.mu.Unlock()
	if acked {
		cn.drain()
	}
	return true
}

// halfClose sends FIN after everything written so far, so the broker reads
// every request and then EOF, and answers what it owes before closing its
// side (which the reader sees as EOF). A socket that cannot half-close is
// closed outright: its bytes are written, which is all it can promise. It
// reports false if the conn is dead.
func (cn *Conn) halfClose() bool {
	cw, ok := cn.nc.(interface{ CloseWrite() error })
	if !ok {
		cn.fail(ErrClientClosed)
		return false
	}
	if err := cw.CloseWrite(); err != nil {
		cn.fail(fmt.Errorf("close write: %w", err))
		return false
	}
	return true
}

// closeGracefully shuts the connection down so that nothing it wrote is
// lost, before deadline:
//
//  1. If an acks=0 Produce was sent after the last answered request, send
//     an ApiVersions barrier and wait for its answer. acks=0 has no
//     response, and a broker may still drop a request it read but had not
//     handled when the connection went away; Kafka handles one connection's
//     requests in order, so the barrier's answer proves every earlier
//     request was handled (issue 13: clean Close lost whole acks=0 runs).
//  2. Write what is queued and half-close (FIN after the data).
//  3. If no request is outstanding, wait for the broker's EOF, reading what
//     it still sends: closing with unread bytes in the receive buffer makes
//     the kernel send RST, and a RST can make the broker's kernel discard
//     requests it has not read.
//
// Requests still outstanding at the end fail with ErrClientClosed, as on
// Close. Past deadline it gives up; the caller then closes the socket.
func (cn *Conn) closeGracefully(deadline time.Time) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	cn.mu.Lock()
	barrier := !cn.dead && cn.lastNoResp-cn.lastAnswered > 0
	cn.mu.Unlock()
	if barrier {
		answered := make(chan struct{})
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = "skiff"
		req.ClientSoftwareVersion = softwareVersion
		cn.DoAsync(req, func(kmsg.Response, error) { close(answered) })
		select {
		case <-answered:
		case <-timer.C:
			cn.log.Warn("closing connection: broker did not answer the acks=0 barrier in time; the last acks=0 requests may be lost")
			return
		}
	}
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	cn.shutWrite = true
	// A parked request (a Fetch waiting out fetch.max.wait.ms) would hold
	// the broker's EOF back for its whole wait; what it carries is
	// abandoned anyway, and nothing without a response is left to protect
	// once the barrier is answered, so only an idle conn waits for EOF.
	waitEOF := len(cn.waiting) == 0
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	if !waitEOF {
		return
	}
	select {
	case <-cn.closed:
	case <-timer.C:
	}
}

// readLoop owns reads from the socket: size-prefixed frames, each matched to
// the oldest request still waiting for a response.
func (cn *Conn) readLoop() {
	br := bufio.NewReaderSize(cn.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		size, err := readFrameSize(br, &sizeBuf, cn.cfg.MaxResponseSize)
		if err != nil {
			cn.failRead(err)
			return
		}
		// Each response gets its own buffer: kmsg's decoded byte fields
		// (Fetch records) alias it and outlive this loop.
		frame, err := readFrame(br, int(size))
		if err != nil {
			cn.failRead(err)
			return
		}
		cn.lastUse.Store(time.Now().UnixNano())

		cn.mu.Lock()
		if len(cn.waiting) == 0 {
			cn.mu.Unlock()
			cn.fail(fmt.Errorf("%w: response of %d bytes with no request outstanding", ErrCorrelationMismatch, size))
			return
		}
		p := cn.waiting[0]
		cn.waiting[0] = nil
		cn.waiting = cn.waiting[1:]
		cn.lastAnswered = p.corrID
		cn.mu.Unlock()

		resp, err := decodeResponse(p, frame)
		if errors.Is(err, errFatalFrame) {
			cn.fail(err)
			return
		}
		cn.mu.Lock()
		p.resp, p.err, p.done = resp, err, true
		cn.mu.Unlock()
		cn.drain()
	}
}

// failRead kills the conn after a read error; EOF after our own half-close
// is the end of a graceful close, not a failure.
func (cn *Conn) failRead(err error) {
	cn.mu.Lock()
	shut := cn.shutWrite
	cn.mu.Unlock()
	if shut && errors.Is(err, io.EOF) {
		cn.fail(ErrClientClosed)
		return
	}
	cn.fail(fmt.Errorf("read: %w", err))
}

var errFatalFrame = errors.New("unusable response frame")

// decodeResponse parses frame as the response to p. Errors wrapping
// errFatalFrame mean the stream can no longer be trusted.
func decodeResponse(p *pending, frame []byte) (kmsg.Response, error) {
	resp := p.req.ResponseKind()
	key := resp.Key()
	resp.SetVersion(p.version)
	// ApiVersions responses always use header v0 so that a client that
	// sent a too-new version can still read the error (KIP-511).
	flexHeader := resp.IsFlexible() && key != int16(kmsg.ApiVersions)
	corrID, body, err := parseResponseHeader(frame, flexHeader)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errFatalFrame, err)
	}
	if corrID != p.corrID {
		return nil, fmt.Errorf("%w: %w: got %d, want %d", errFatalFrame, ErrCorrelationMismatch, corrID, p.corrID)
	}
	// A broker that does not support our ApiVersions version answers in v0
	// format, carrying UNSUPPORTED_VERSION and its own ApiVersions range.
	if key == int16(kmsg.ApiVersions) && len(body) >= 2 &&
		int16(binary.BigEndian.Uint16(body)) == kerr.UnsupportedVersion.Code {
		resp.SetVersion(0)
	}
	if err := readFrom(resp, body); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %w", ErrMalformedResponse, kmsg.NameForKey(key), p.version, err)
	}
	return resp, nil
}

// readFrom decodes body into resp. kmsg's decoders are bounds-checked and
// fuzzed (FuzzResponseFrames), but they are a dependency: a panic there on
// hostile input must cost one request, not the user's process.
func readFrom(resp kmsg.Response, body []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return resp.ReadFrom(body)
}

// softwareVersion is sent as ClientSoftwareVersion; brokers validate it
// against [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? (KIP-511).
const softwareVersion = "0.1.0"

// negotiate runs the ApiVersions handshake: our highest version first; a
// broker that does not know it answers UNSUPPORTED_VERSION in v0 format with
// its supported ApiVersions range, and we retry at the version it names (or
// v0), as Kafka's NetworkClient does.
func (cn *Conn) negotiate(ctx context.Context) error {
	ver := kmsg.NewPtrApiVersionsRequest().MaxVersion()
	for range 3 {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName = "skiff"
		req.ClientSoftwareVersion = softwareVersion
		req.SetVersion(ver)
		ch := make(chan result, 1)
		cn.send(req, func(r kmsg.Response, err error) { ch <- result{r, err} })
		var r result
		select {
		case r = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return fmt.Errorf("ApiVersions v%d: %w", ver, r.err)
		}
		resp := r.resp.(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode == kerr.UnsupportedVersion.Code {
			next := int16(0)
			for _, k := range resp.ApiKeys {
				if k.ApiKey == int16(kmsg.ApiVersions) {
					next = k.MaxVersion
				}
			}
			if next >= ver || next < 0 {
				if ver == 0 {
					break
				}
				next = 0
			}
			cn.log.Debug("broker rejected ApiVersions version, retrying", "version", ver, "next", next)
			ver = next
			continue
		}
		if err := kerr.ForCode(resp.ErrorCode); err != nil {
			return fmt.Errorf("ApiVersions v%d: %w", ver, err)
		}
		cn.versions = versionsFrom(resp.ApiKeys)
		return nil
	}
	return fmt.Errorf("ApiVersions: broker rejected every version down to v%d: %w", ver, kerr.UnsupportedVersion)
}

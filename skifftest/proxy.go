package skifftest

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Direction says which way through a Proxy a fault applies to.
type Direction uint8

const (
	// ToBroker is the client→broker direction: requests.
	ToBroker Direction = 1 << iota
	// ToClient is the broker→client direction: responses.
	ToClient
	// BothWays is ToBroker|ToClient.
	BothWays = ToBroker | ToClient
)

func (d Direction) String() string {
	switch d {
	case ToBroker:
		return "to-broker"
	case ToClient:
		return "to-client"
	case BothWays:
		return "both-ways"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// dirs lists the single directions with their index in per-direction arrays.
var dirs = [2]Direction{ToBroker, ToClient}

// dirFaults are the faults of one direction; the zero value forwards as
// fast as the sockets allow.
type dirFaults struct {
	latency, jitter time.Duration
	bytesPerSec     int64
	resetAfter      int64 // bytes a new connection forwards before its reset; 0: never
	blackhole       bool
}

// ProxyStats is a snapshot of what a Proxy has seen. Tests wait on it with
// Proxy.Wait instead of sleeping.
type ProxyStats struct {
	// Accepted counts client connections accepted since the start.
	Accepted int
	// Live counts connections open now: accepted, dialed to the broker and
	// not yet closed on both sides. A blackholed connection whose client
	// has gone stays live until Heal lets its close through.
	Live int
	// Resets counts connections the proxy reset (ResetAfter, ResetAll).
	Resets int
	// DialErrors counts accepted connections whose broker dial failed;
	// the client's connection was reset.
	DialErrors int
	// Forwarded counts the bytes written on, per direction (index 0
	// ToBroker, 1 ToClient).
	Forwarded [2]int64
	// Held counts the bytes read from one side and not yet written to the
	// other, per direction (same indexes): what latency, bandwidth and
	// blackholes hold.
	Held [2]int64
	// Requests counts the Kafka requests read from clients, by API key
	// (whether or not they were forwarded yet).
	Requests map[int16]int
	// Rewritten counts the responses whose broker addresses were replaced.
	Rewritten int
}

// Proxy is a fault-injecting TCP proxy in front of one Kafka broker, for
// tests of how a client lives through a bad network. Clients dial Addr; each
// accepted connection gets its own connection to the target broker, and two
// pumps per connection copy bytes each way through the faults in force:
// latency and jitter, a bandwidth limit, a reset after a number of bytes,
// and a blackhole. Faults can be set and cleared at any time, per
// direction, and apply to live connections at once; Heal clears them all.
// Faults apply to every connection through one proxy, so to fault one
// client among several, give that client a proxy of its own.
//
// Stats counts connections, resets, bytes forwarded and held, and requests
// by API key; Wait blocks until a condition on them holds, woken by each
// change, so a test waits for "a Fetch is held" or "the client dialed
// again" rather than sleeping:
//
//	p := skifftest.NewProxy(t, b.Addr())
//	// ... a client with Brokers: p.Addr() ...
//	before := p.Stats()
//	p.Blackhole(skifftest.BothWays)
//	_, err := p.Wait(ctx, func(s skifftest.ProxyStats) bool { return s.Accepted > before.Accepted })
//	p.Heal()
//
// # Blackholes hold bytes, never drop them
//
// A blackhole stops forwarding in its direction without closing anything:
// the proxy keeps reading (up to a bounded queue per connection, then the
// sender's TCP window fills) and holds what it read; Heal delivers it, in
// order, and with it any close that arrived meanwhile. That is what a TCP
// connection does across a network partition: the peer's stack
// retransmits until the path comes back. Dropping bytes would instead
// corrupt the stream in the middle of a frame, which no network can do to
// a live TCP connection. So a request sent into a blackhole reaches the
// broker after Heal, even if the client gave up on it and closed its
// connection: the stale retransmission an idempotent producer must
// survive. New connections are still accepted while blackholed, and their
// bytes are held too (a client sees its connect succeed and then no
// answer, rather than a connect timeout). A close is held like the bytes
// before it, but a reset is not: an RST from either side (or a socket
// error) aborts both sides at once, blackhole or not.
//
// # Kafka-aware address rewriting
//
// A client that bootstraps through the proxy would dial the broker itself
// for everything else, since Metadata advertises the broker's address. So
// the proxy reads the header of every request (size, API key, version,
// correlation ID) to know which response answers what, and rewrites the
// broker addresses in Metadata, FindCoordinator (Host/Port up to v3, the
// Coordinators list from v4, KIP-699) and DescribeCluster responses,
// re-encoding them with kmsg and fixing the size prefix. Bytes it cannot
// parse (another protocol, TLS, a version kmsg does not know) are
// forwarded unchanged; a malformed stream switches the connection to plain
// forwarding, never to a panic.
//
// With one broker (the default), every broker address in a response is
// replaced by the proxy's. For a cluster, run one proxy per broker and give
// every proxy the whole map of broker address → proxy address with
// MapAddr, so that each leader and coordinator a client learns about is
// reached through its own proxy; NewProxies does exactly that:
//
//	ps := skifftest.NewProxies(t, "10.0.0.1:9092", "10.0.0.2:9092", "10.0.0.3:9092")
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(ps[0].Addr()))
//	ps[1].Blackhole(skifftest.BothWays) // partition broker 2 away
//
// Once MapAddr has been called, only mapped addresses are rewritten; the
// map's keys must be the addresses the brokers advertise.
type Proxy struct {
	target string
	ln     net.Listener
	addr   string
	host   string
	port   int32
	ctx    context.Context // cancelled by Close; bounds broker dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and every connection's pumps

	// mu guards everything below, and the per-connection fields documented
	// as such. It is never held while doing I/O, and it is the only lock
	// of the proxy, so there is no lock order.
	mu            sync.Mutex
	faults        [2]dirFaults
	faultsChanged chan struct{} // closed and replaced when faults change
	statsChanged  chan struct{} // closed and replaced when stats change
	stats         ProxyStats
	conns         map[*proxyConn]struct{}
	addrs         map[string]string // advertised broker address → proxy address
	single        bool              // no MapAddr yet: rewrite every address
	closed        bool
}

// NewProxy starts a proxy on 127.0.0.1 with a free port in front of the
// broker at target (host:port) and closes it in t.Cleanup. It fails the
// test if it cannot listen.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("skifftest: proxy listen: %v", err)
	}
	ta := ln.Addr().(*net.TCPAddr)
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target:        target,
		ln:            ln,
		addr:          ta.String(),
		host:          ta.IP.String(),
		port:          int32(ta.Port),
		ctx:           ctx,
		cancel:        cancel,
		faultsChanged: make(chan struct{}),
		statsChanged:  make(chan struct{}),
		stats:         ProxyStats{Requests: map[int16]int{}},
		conns:         map[*proxyConn]struct{}{},
		addrs:         map[string]string{target: ta.String()},
		single:        true,
	}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// NewProxies starts one proxy per broker address and maps every broker to
// its proxy on all of them (see Proxy), so a client bootstrapped through
// any of them reaches each broker through that broker's proxy.
func NewProxies(t testing.TB, targets ...string) []*Proxy {
	t.Helper()
	ps := make([]*Proxy, len(targets))
	for i, target := range targets {
		ps[i] = NewProxy(t, target)
	}
	for _, p := range ps {
		for i, target := range targets {
			p.MapAddr(target, ps[i].Addr())
		}
	}
	return ps
}

// Addr is the host:port clients dial.
func (p *Proxy) Addr() string { return p.addr }

// Target is the broker address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// MapAddr makes responses that advertise the broker at broker (host:port,
// as the broker advertises itself) advertise via instead. The first call
// ends the single-broker default of rewriting every address.
func (p *Proxy) MapAddr(broker, via string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.single = false
	p.addrs[broker] = via
}

// mapAddr is the rewriting rule of Proxy's doc for one advertised address.
func (p *Proxy) mapAddr(host string, port int32) (string, int32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.single {
		return p.host, p.port, host != p.host || port != p.port
	}
	via, ok := p.addrs[net.JoinHostPort(host, strconv.Itoa(int(port)))]
	if !ok {
		return "", 0, false
	}
	h, ps, err := net.SplitHostPort(via)
	if err != nil {
		return "", 0, false
	}
	n, err := strconv.ParseInt(ps, 10, 32)
	if err != nil {
		return "", 0, false
	}
	return h, int32(n), h != host || int32(n) != port
}

// SetLatency delays every byte in d by latency plus a uniform random extra
// in [0, jitter). Order is kept, as on a TCP connection: a byte is never
// delivered before the bytes sent ahead of it. Zero latency and jitter clear
// the fault.
func (p *Proxy) SetLatency(d Direction, latency, jitter time.Duration) {
	p.setFaults(d, false, func(f *dirFaults) { f.latency, f.jitter = max(latency, 0), max(jitter, 0) })
}

// SetBandwidth limits each connection to bytesPerSec in d (a limit per
// connection, as a slow link between one client and the broker). Zero or
// less clears the limit.
func (p *Proxy) SetBandwidth(d Direction, bytesPerSec int64) {
	p.setFaults(d, false, func(f *dirFaults) { f.bytesPerSec = max(bytesPerSec, 0) })
}

// ResetAfter resets every connection, live or new, once it has forwarded n
// more bytes in d (counted from this call for live ones, from their start
// for new ones): the proxy writes the first n bytes, then closes both of
// its sockets with SO_LINGER 0, so the client and the broker each get a
// TCP RST, usually in the middle of a frame. The fault stays until cleared
// with n <= 0, Clear or Heal, so every new connection lives for n bytes.
func (p *Proxy) ResetAfter(d Direction, n int64) {
	n = max(n, 0)
	p.setFaults(d, true, func(f *dirFaults) { f.resetAfter = n })
}

// ResetAll resets every live connection now (TCP RST to both sides).
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	cs := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		c.reset()
	}
}

// Blackhole stops forwarding in d without closing anything; see Proxy for
// why held bytes are delivered, not dropped, on Heal.
func (p *Proxy) Blackhole(d Direction) {
	p.setFaults(d, false, func(f *dirFaults) { f.blackhole = true })
}

// Clear clears every fault of d (latency, bandwidth, resets to come and
// blackhole) and lets the bytes held in d through.
func (p *Proxy) Clear(d Direction) {
	p.setFaults(d, true, func(f *dirFaults) { *f = dirFaults{} })
}

// Heal clears every fault in both directions: Clear(BothWays).
func (p *Proxy) Heal() { p.Clear(BothWays) }

// setFaults edits the faults of d; writers waiting on a fault re-read
// them. With rearm (ResetAfter, Clear), live connections also take the new
// reset count at once, counting from now.
func (p *Proxy) setFaults(d Direction, rearm bool, fn func(*dirFaults)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, dd := range dirs {
		if d&dd == 0 {
			continue
		}
		fn(&p.faults[i])
		if !rearm {
			continue
		}
		for c := range p.conns {
			c.resetLeft[i] = p.faults[i].resetAfter
			c.resetGen[i]++
		}
	}
	close(p.faultsChanged)
	p.faultsChanged = make(chan struct{})
}

// Stats returns a snapshot of the proxy's counters.
func (p *Proxy) Stats() ProxyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

func (p *Proxy) statsLocked() ProxyStats {
	s := p.stats
	s.Requests = make(map[int16]int, len(p.stats.Requests))
	for k, v := range p.stats.Requests {
		s.Requests[k] = v
	}
	return s
}

// Wait blocks until cond holds for the proxy's stats, and returns them. It
// is woken by every change (a connection, a request, bytes forwarded), so
// it waits on events, not on a poll interval. It returns ctx's error with
// the last stats when ctx ends first.
func (p *Proxy) Wait(ctx context.Context, cond func(ProxyStats) bool) (ProxyStats, error) {
	for {
		p.mu.Lock()
		s, ch := p.statsLocked(), p.statsChanged
		p.mu.Unlock()
		if cond(s) {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}

// changedLocked wakes the waiters of Wait.
func (p *Proxy) changedLocked() {
	close(p.statsChanged)
	p.statsChanged = make(chan struct{})
}

// Close stops accepting, closes every connection (both sides) and returns
// once every goroutine of the proxy has ended. NewProxy registers it with
// t.Cleanup; calling it earlier is allowed, and again is a no-op.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	cs := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	_ = p.ln.Close() // ends accept
	p.cancel()       // ends dials in progress
	for _, c := range cs {
		c.teardown(false)
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			// The listener is closed (Close) or broken; either way no
			// connection will come, and a test sees dials fail.
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = nc.Close()
			return
		}
		p.stats.Accepted++
		p.changedLocked()
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(nc.(*net.TCPConn))
	}
}

// dialTimeout bounds the broker dial of one accepted connection.
const dialTimeout = 10 * time.Second

// serve dials the broker for one accepted client connection and starts
// its pumps.
func (p *Proxy) serve(client *net.TCPConn) {
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	defer cancel()
	var d net.Dialer
	sc, err := d.DialContext(ctx, "tcp", p.target)
	if err != nil {
		// A broker that cannot be reached looks to the client like one
		// that refuses the connection.
		_ = client.SetLinger(0)
		_ = client.Close()
		p.mu.Lock()
		p.stats.DialErrors++
		p.changedLocked()
		p.mu.Unlock()
		return
	}
	c := &proxyConn{
		p:       p,
		client:  client,
		server:  sc.(*net.TCPConn),
		done:    make(chan struct{}),
		pending: map[int32]reqInfo{},
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = client.Close()
		_ = sc.Close()
		return
	}
	p.conns[c] = struct{}{}
	for i := range dirs {
		c.resetLeft[i] = p.faults[i].resetAfter
	}
	p.stats.Live++
	p.changedLocked()
	p.wg.Add(4)
	p.mu.Unlock()

	up := make(chan chunk, queueChunks)
	down := make(chan chunk, queueChunks)
	go c.read(0, client, up)
	go c.write(0, c.server, up)
	go c.read(1, c.server, down)
	go c.write(1, client, down)
}

// Each direction of a connection queues at most queueChunks reads of up to
// chunkSize bytes (2 MiB) between its reader and its writer; beyond that
// the reader stops and TCP flow control pushes back on the sender.
const (
	queueChunks = 64
	chunkSize   = 32 << 10
)

// chunk is one read, queued for its writer.
type chunk struct {
	data []byte    // what is left to write
	buf  []byte    // all of it, for freeChunk once written
	at   time.Time // when it was read: latency counts from here
	eof  bool      // the source closed its side: pass the close on
}

// chunkPool recycles the chunks of the common case, one read of at most
// chunkSize bytes, so forwarding does not allocate per read.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

func copyChunk(b []byte) []byte {
	if len(b) > chunkSize { // a rewritten response larger than one read
		return append([]byte(nil), b...)
	}
	p := chunkPool.Get().(*[]byte)
	return append((*p)[:0], b...)
}

// freeChunk returns a written chunk's buffer; the writer, its only owner,
// calls it when it is done with the chunk.
func freeChunk(b []byte) {
	if cap(b) == chunkSize {
		b = b[:0]
		chunkPool.Put(&b)
	}
}

// reqInfo is what a response needs from its request to be decoded.
type reqInfo struct{ key, version int16 }

// proxyConn is one client connection and its broker connection.
type proxyConn struct {
	p              *Proxy
	client, server *net.TCPConn
	done           chan struct{} // closed by teardown: pumps stop
	once           sync.Once

	// Guarded by p.mu.
	resetLeft [2]int64          // bytes to forward per direction before a reset; 0: not armed
	resetGen  [2]int            // bumped when resetLeft is set from outside the writer
	held      [2]int64          // this connection's share of stats.Held
	eofs      int               // directions whose close has been passed on
	gone      bool              // torn down: its held bytes are no longer counted
	pending   map[int32]reqInfo // correlation ID → request, for responses to rewrite
}

// read is the reader of direction i: it reads src, parses the Kafka
// framing (headers of requests, responses to rewrite) and queues what is
// to be written for the writer.
func (c *proxyConn) read(i int, src *net.TCPConn, q chan<- chunk) {
	defer c.p.wg.Done()
	buf := make([]byte, chunkSize)
	var (
		reqs  reqScanner
		resps = respRewriter{expecting: c.expecting, lookup: c.takePending, rewrite: c.rewrite}
		out   [][]byte
	)
	push := func(ch chunk) bool {
		select {
		case q <- ch:
			return true
		case <-c.done:
			return false
		}
	}
	for {
		n, err := src.Read(buf)
		if n > 0 {
			now := time.Now()
			out = out[:0]
			if i == 0 {
				reqs.scan(buf[:n], c.sawRequest)
				out = append(out, copyChunk(buf[:n]))
			} else {
				resps.feed(buf[:n], func(b []byte) { out = append(out, copyChunk(b)) })
			}
			for _, b := range out {
				c.hold(i, int64(len(b)))
				if !push(chunk{data: b, buf: b, at: now}) {
					return
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// A reset or a broken socket on one side: abort both,
				// as a router forwarding the RST would.
				c.teardown(true)
				return
			}
			if i == 1 {
				var rest []byte
				resps.flush(func(b []byte) { rest = b })
				if len(rest) > 0 {
					c.hold(i, int64(len(rest)))
					if !push(chunk{data: rest, at: time.Now()}) {
						return
					}
				}
			}
			push(chunk{eof: true, at: time.Now()})
			return
		}
	}
}

// write is the writer of direction i: it delivers queued chunks to dst
// through the faults of its direction.
func (c *proxyConn) write(i int, dst *net.TCPConn, q <-chan chunk) {
	defer c.p.wg.Done()
	p := c.p
	var (
		lastDue time.Time // deliveries never overtake each other
		bwNext  time.Time // when the bandwidth limit lets the next byte go
		timer   = time.NewTimer(time.Hour)
	)
	timer.Stop()
	defer timer.Stop()
	// wait returns false if the connection ended while waiting.
	wait := func(until time.Time, changed <-chan struct{}) bool {
		var tc <-chan time.Time
		if !until.IsZero() {
			timer.Reset(time.Until(until))
			tc = timer.C
		}
		defer timer.Stop()
		select {
		case <-tc:
		case <-changed:
		case <-c.done:
			return false
		}
		return true
	}
	for {
		var ch chunk
		select {
		case ch = <-q:
		case <-c.done:
			return
		}
		var jitter time.Duration = -1
		for first := true; first || len(ch.data) > 0; first = false {
			// Wait until the faults in force let the next piece go;
			// they are read again after every wake, so a change (Heal
			// above all) applies to bytes already queued.
			var (
				f     dirFaults
				left  int64
				gen   int
				piece = len(ch.data)
			)
			for {
				p.mu.Lock()
				f, left, gen = p.faults[i], c.resetLeft[i], c.resetGen[i]
				changed := p.faultsChanged
				p.mu.Unlock()
				if f.blackhole {
					if !wait(time.Time{}, changed) {
						return
					}
					continue
				}
				if jitter < 0 {
					jitter = 0
					if f.jitter > 0 {
						jitter = time.Duration(rand.Int64N(int64(f.jitter)))
					}
				}
				due := ch.at.Add(f.latency + min(jitter, f.jitter))
				if due.Before(lastDue) {
					due = lastDue
				}
				if f.bytesPerSec > 0 && bwNext.After(due) {
					due = bwNext
				}
				if time.Now().Before(due) {
					if !wait(due, changed) {
						return
					}
					continue
				}
				lastDue = due
				break
			}
			if ch.eof {
				// Pass the close on as a half-close, so a client that
				// writes and closes (acks=0) still gets its bytes
				// delivered, and the other direction can finish.
				_ = dst.CloseWrite()
				c.closedOne()
				return
			}
			if f.bytesPerSec > 0 {
				// Pieces of 10ms worth of bytes keep the rate smooth.
				piece = min(piece, int(max(f.bytesPerSec/100, 1)))
			}
			if left > 0 && int64(piece) > left {
				piece = int(left)
			}
			if _, err := dst.Write(ch.data[:piece]); err != nil {
				c.teardown(true)
				return
			}
			ch.data = ch.data[piece:]
			now := time.Now()
			if f.bytesPerSec > 0 {
				if bwNext.Before(now) {
					bwNext = now
				}
				bwNext = bwNext.Add(time.Duration(int64(piece) * int64(time.Second) / f.bytesPerSec))
			}
			reset := false
			p.mu.Lock()
			p.stats.Forwarded[i] += int64(piece)
			if !c.gone {
				p.stats.Held[i] -= int64(piece)
				c.held[i] -= int64(piece)
			}
			// Bytes written under an older ResetAfter do not count
			// against a newer one.
			if c.resetLeft[i] > 0 && c.resetGen[i] == gen {
				c.resetLeft[i] -= int64(min(int64(piece), c.resetLeft[i]))
				reset = c.resetLeft[i] == 0
			}
			p.changedLocked()
			p.mu.Unlock()
			if reset {
				c.reset()
				return
			}
		}
		freeChunk(ch.buf)
	}
}

// hold counts n bytes of direction i read and queued for writing.
func (c *proxyConn) hold(i int, n int64) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if !c.gone {
		c.p.stats.Held[i] += n
		c.held[i] += n
		c.p.changedLocked()
	}
}

// closedOne records that one direction passed its close on; once both
// have, the connection is over.
func (c *proxyConn) closedOne() {
	c.p.mu.Lock()
	c.eofs++
	both := c.eofs == 2
	c.p.mu.Unlock()
	if both {
		c.teardown(false)
	}
}

// reset aborts the connection with a TCP RST to both sides and counts it.
func (c *proxyConn) reset() {
	if c.teardown(true) {
		c.p.mu.Lock()
		c.p.stats.Resets++
		c.p.changedLocked()
		c.p.mu.Unlock()
	}
}

// teardown closes both sockets (abortively: SO_LINGER 0, so the peers get
// an RST) and stops the pumps. It reports whether this call did it.
func (c *proxyConn) teardown(abort bool) bool {
	did := false
	c.once.Do(func() {
		did = true
		if abort {
			_ = c.client.SetLinger(0)
			_ = c.server.SetLinger(0)
		}
		_ = c.client.Close()
		_ = c.server.Close()
		close(c.done)
		p := c.p
		p.mu.Lock()
		delete(p.conns, c)
		p.stats.Live--
		for i := range c.held {
			p.stats.Held[i] -= c.held[i]
		}
		c.held, c.gone = [2]int64{}, true
		p.changedLocked()
		p.mu.Unlock()
	})
	return did
}

// sawRequest records a request header read from the client.
func (c *proxyConn) sawRequest(h reqInfo, corr int32) {
	p := c.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests[h.key]++
	p.changedLocked()
	if rewrites(h.key) && len(c.pending) < maxPending {
		// Recorded before the request is forwarded, so before the
		// broker can answer it.
		c.pending[corr] = h
	}
}

// maxPending bounds the requests awaiting a response to rewrite on one
// connection (a client pipelining Metadata requests without reading).
const maxPending = 1024

func (c *proxyConn) expecting() bool {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return len(c.pending) > 0
}

func (c *proxyConn) takePending(corr int32) (reqInfo, bool) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	h, ok := c.pending[corr]
	if ok {
		delete(c.pending, corr)
	}
	return h, ok
}

func (c *proxyConn) rewrite(h reqInfo, frame []byte) []byte {
	out, ok := rewriteResponse(h, frame, c.p.mapAddr)
	if !ok {
		return frame
	}
	c.p.mu.Lock()
	c.p.stats.Rewritten++
	c.p.changedLocked()
	c.p.mu.Unlock()
	return out
}

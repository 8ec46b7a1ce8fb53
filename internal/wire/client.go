package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client owns the connections to a Kafka cluster and the metadata cache.
// It is safe for concurrent use.
type Client struct {
	cfg Config
	log *slog.Logger

	ctx    context.Context // cancelled by Close; parent of every dial
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine the client or its conns start

	meta      atomic.Pointer[metaSnapshot]
	metaMu    sync.Mutex    // serializes metadata writers (merge + store)
	refreshCh chan struct{} // capacity 1: coalesced RefreshMetadata triggers

	// mu guards the fields below. Lock order: mu, then a Conn's mu.
	mu           sync.Mutex
	closed       bool
	conns        map[connKey]*connSlot
	extraBrokers map[int32]BrokerInfo // learned from FindCoordinator, not yet in metadata
	coords       map[coordKey]int32
	dialFails    map[int32]dialFailure // recent failed dials, for reconnect backoff
	reach        reachState
}

// dialFailure remembers a node's failed dials so that callers hammering a
// dead broker get the last error back instead of a fresh dial each time,
// like Kafka's reconnect.backoff.ms (here RetryBackoff doubling to 1s).
type dialFailure struct {
	at    time.Time
	count int
	err   error
}

func (c *Client) reconnectBackoff(count int) time.Duration {
	d := c.cfg.RetryBackoff
	for i := 1; i < count && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, maxRetryBackoff)
}

// connSlot is one broker's connection, shared by concurrent callers: the
// first caller creates the slot and a goroutine dials; everyone waits on ready.
type connSlot struct {
	ready chan struct{}
	cn    *Conn // set before ready is closed; nil if err != nil
	err   error
}

// SeedNode returns the node id used for the connection to the i-th seed
// broker: seeds are dialed before their real node ids are known, so they get
// ids far below any real one (as franz-go does).
func SeedNode(i int) int32 { return math.MinInt32 + int32(i) }

func seedIndex(node int32) (int, bool) {
	if node >= 0 || node < math.MinInt32 || int64(node) >= int64(math.MinInt32)+(1<<16) {
		return 0, false
	}
	return int(int64(node) - math.MinInt32), true
}

// NewClient validates cfg and returns a Client. It does not dial: the first
// request does.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:          cfg,
		log:          cfg.Logger,
		ctx:          ctx,
		cancel:       cancel,
		refreshCh:    make(chan struct{}, 1),
		conns:        make(map[connKey]*connSlot),
		extraBrokers: make(map[int32]BrokerInfo),
		coords:       make(map[coordKey]int32),
		dialFails:    make(map[int32]dialFailure),
	}
	c.meta.Store(emptySnapshot())
	c.mu.Lock()
	c.goLocked(c.backgroundLoop)
	c.mu.Unlock()
	return c, nil
}

// goLocked starts fn as a goroutine owned by the client. c.mu must be held
// and c.closed false, so that Close's wg.Wait never races an Add.
func (c *Client) goLocked(fn func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

// Close closes every connection gracefully (see Conn.closeGracefully:
// everything written reaches the broker, acks=0 Produce included, then FIN
// and the broker's EOF, all within RequestTimeout or 5s, whichever is less),
// fails their outstanding requests with errors wrapping ErrConnClosed, and
// returns once every goroutine the client started has exited. Later calls
// return nil. It must not be called from a DoAsync callback.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	slots := make([]*connSlot, 0, len(c.conns))
	for _, s := range c.conns {
		slots = append(slots, s)
	}
	c.mu.Unlock()

	c.cancel() // aborts dials in progress; their goroutines close what they made
	deadline := time.Now().Add(min(c.cfg.RequestTimeout, closeGrace))
	var graceful sync.WaitGroup
	for _, s := range slots {
		select {
		case <-s.ready:
			if cn := s.cn; cn != nil {
				graceful.Go(func() {
					cn.closeGracefully(deadline)
					cn.fail(ErrClientClosed)
				})
			}
		default:
		}
	}
	graceful.Wait()
	c.wg.Wait()
	return nil
}

// closeGrace bounds the graceful part of Close (the acks=0 barrier, FIN and
// the broker's EOF) for a broker that has stopped answering.
const closeGrace = 5 * time.Second

// addrLocked returns the address of node: a seed, a broker from metadata,
// or a coordinator learned from FindCoordinator.
func (c *Client) addrLocked(node int32) (string, bool) {
	if i, ok := seedIndex(node); ok {
		if i < len(c.cfg.SeedBrokers) {
			return c.cfg.SeedBrokers[i], true
		}
		return "", false
	}
	if b, ok := c.meta.Load().brokers[node]; ok {
		return b.addr(), true
	}
	if b, ok := c.extraBrokers[node]; ok {
		return b.addr(), true
	}
	return "", false
}

// Conn returns the shared data connection to node (produce, fetch,
// metadata, offsets), dialing and negotiating versions if there is none or
// the previous one died. Concurrent callers share one dial. Node ids come
// from metadata (Brokers, Leader, Coordinator) or SeedNode. After a failed
// dial, calls within the reconnect backoff (RetryBackoff, doubling per
// consecutive failure up to 1s) return that failure at once instead of
// dialing again.
func (c *Client) Conn(ctx context.Context, node int32) (*Conn, error) {
	return c.conn(ctx, connKey{node, purposeData})
}

// CoordinatorConn returns node's coordinator connection: a second
// connection to the same broker that carries only group and transaction
// coordinator traffic (see IsCoordinatorRequest). Kafka answers one
// connection's requests strictly in order, so a heartbeat or offset commit
// sharing the data connection would wait behind a Fetch parked for
// fetch.max.wait.ms, or behind a Produce waiting for acks; the Java client
// keeps its coordinator connection apart for the same reason (it gives the
// coordinator node the id Integer.MAX_VALUE - node). RequestNode uses it
// for coordinator requests by itself.
func (c *Client) CoordinatorConn(ctx context.Context, node int32) (*Conn, error) {
	return c.conn(ctx, connKey{node, purposeCoordinator})
}

func (c *Client) conn(ctx context.Context, key connKey) (*Conn, error) {
	node := key.node
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClientClosed
		}
		slot := c.conns[key]
		if slot != nil {
			select {
			case <-slot.ready:
				if slot.cn == nil || slot.cn.isClosed() {
					delete(c.conns, key)
					slot = nil
				}
			default:
			}
		}
		if slot == nil {
			addr, ok := c.addrLocked(node)
			if !ok {
				c.mu.Unlock()
				// A node id we have never seen: load broker metadata once
				// (it may come from a response newer than our cache).
				if attempt == 0 && node >= 0 {
					if _, err := c.Metadata(ctx, []string{}); err != nil {
						return nil, fmt.Errorf("broker %d: %w (%w)", node, ErrUnknownBroker, err)
					}
					continue
				}
				return nil, fmt.Errorf("broker %d: %w", node, ErrUnknownBroker)
			}
			if f, ok := c.dialFails[node]; ok && time.Since(f.at) < c.reconnectBackoff(f.count) {
				c.mu.Unlock()
				// The same error again: the caller learns nothing new
				// from "(reconnect backoff)", and the address is in it.
				return nil, f.err
			}
			slot = &connSlot{ready: make(chan struct{})}
			c.conns[key] = slot
			c.goLocked(func() { c.dial(slot, key, addr) })
		}
		c.mu.Unlock()

		select {
		case <-slot.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if slot.err != nil {
			return nil, slot.err
		}
		return slot.cn, nil
	}
}

// dial connects to addr, starts the conn's reader and writer, and runs the
// ApiVersions handshake, all bounded by DialTimeout and Close.
func (c *Client) dial(slot *connSlot, key connKey, addr string) {
	node := key.node
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()
	start := time.Now()
	cn, err := c.connect(ctx, key, addr)

	c.mu.Lock()
	if err == nil && c.closed {
		err = ErrClientClosed
	}
	var failed *Conn // closed after unlocking: fail runs callbacks
	prevFails := c.dialFails[node].count
	clusterDown := c.reach.down
	if err != nil {
		failed, cn = cn, nil
		if !errors.Is(err, ErrClientClosed) {
			err = &ConnectError{Addr: addr, Node: max(node, -1), Err: err}
			c.dialFails[node] = dialFailure{at: time.Now(), count: prevFails + 1, err: err}
		}
		if c.conns[key] == slot {
			delete(c.conns, key)
		}
	} else {
		delete(c.dialFails, node)
	}
	slot.cn, slot.err = cn, err
	c.mu.Unlock()
	// ready closes last: whoever waited for this connection then also
	// sees the reachability state and its log lines ("broker reachable
	// again"), not only the connection.
	defer close(slot.ready)
	if failed != nil {
		failed.fail(err)
	}

	switch {
	case errors.Is(err, ErrClientClosed):
	case err != nil && node >= 0 && prevFails == 0 && !clusterDown:
		// A known broker went away while others may still answer: worth
		// one Warn. Its later failures, and the seeds' (the "no broker
		// reachable" state covers them), are Debug: see reachState.
		c.log.Warn("cannot connect to broker; retrying", "err", err, "purpose", key.purpose)
	case err != nil:
		c.log.Debug("connect failed", "err", err, "purpose", key.purpose, "failures", prevFails+1)
	default:
		if node >= 0 && prevFails > 0 {
			c.log.Info("connected to broker again", "node", node, "addr", addr, "purpose", key.purpose)
		} else {
			c.log.Debug("connected", "node", node, "addr", addr, "purpose", key.purpose, "took", time.Since(start))
		}
		c.noteReachable(addr)
	}
}

func (c *Client) connect(ctx context.Context, key connKey, addr string) (*Conn, error) {
	nc, err := c.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if nc, err = c.startTLS(ctx, nc, addr); err != nil {
		return nil, err
	}
	cn := newConn(&c.cfg, c.log.With("purpose", key.purpose), key.node, addr, nc)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = nc.Close()
		return nil, ErrClientClosed
	}
	c.goLocked(cn.readLoop)
	c.goLocked(cn.writeLoop)
	c.mu.Unlock()
	if err := cn.negotiate(ctx); err != nil {
		return cn, c.explainNegotiateFailure(ctx, addr, err)
	}
	if err := c.login(ctx, cn); err != nil {
		return cn, err
	}
	return cn, nil
}

// RequestNode sends req to the broker with the given node id, on its
// coordinator connection if IsCoordinatorRequest(req), else on its data
// connection.
func (c *Client) RequestNode(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	key := connKey{node, purposeData}
	if IsCoordinatorRequest(req) {
		key.purpose = purposeCoordinator
	}
	cn, err := c.conn(ctx, key)
	if err != nil {
		return nil, err
	}
	return cn.Do(ctx, req)
}

// Request sends req to any broker: a live connection if there is one, else
// the known brokers and then the seeds in turn, moving on whenever a dial
// fails and backing off (RetryBackoff, doubling to 1s) after a full round,
// until ctx ends. A request that reached a broker is not retried.
func (c *Client) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	cn, err := c.anyConn(ctx)
	if err != nil {
		return nil, err
	}
	return cn.Do(ctx, req)
}

func (c *Client) anyConn(ctx context.Context) (*Conn, error) {
	start := time.Now()
	backoff := c.cfg.RetryBackoff
	var last *NoBrokersError
	for {
		cn, err := c.connectRound(ctx)
		if err == nil {
			return cn, nil
		}
		var nb *NoBrokersError
		if !errors.As(err, &nb) {
			return nil, err
		}
		if len(nb.Tried) > 0 || last == nil {
			last = nb
		}
		t := time.NewTimer(backoff)
		if ctx.Err() == nil {
			select {
			case <-t.C:
				backoff = min(2*backoff, maxRetryBackoff)
				continue
			case <-ctx.Done():
			case <-c.ctx.Done():
				t.Stop()
				return nil, ErrClientClosed
			}
		}
		t.Stop()
		return nil, &NoBrokersError{Tried: last.Tried, Waited: time.Since(start), Ctx: ctx.Err()}
	}
}

// connectRound returns a live connection, or tries the known brokers and
// then the seeds each once. When all fail it returns a *NoBrokersError
// with one entry per address (a seed and the broker it turned out to be
// share one) and, unless ctx ended the round, logs the state (reachState).
func (c *Client) connectRound(ctx context.Context) (*Conn, error) {
	if cn := c.liveConn(); cn != nil {
		return cn, nil
	}
	var tried []*ConnectError
	for _, node := range c.candidates() {
		cn, err := c.Conn(ctx, node)
		if err == nil {
			return cn, nil
		}
		if errors.Is(err, ErrClientClosed) || isFatalConnectError(err) {
			return nil, err
		}
		var ce *ConnectError
		if errors.As(err, &ce) && !slices.ContainsFunc(tried, func(t *ConnectError) bool { return t.Addr == ce.Addr }) {
			tried = append(tried, ce)
		}
		if ctx.Err() != nil {
			return nil, &NoBrokersError{Tried: tried, Ctx: ctx.Err()}
		}
	}
	nb := &NoBrokersError{Tried: tried}
	c.noteUnreachable(nb)
	return nil, nb
}

// liveConn returns any established, healthy connection, preferring real
// brokers over seed connections.
func (c *Client) liveConn() *Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	var seed *Conn
	for key, s := range c.conns {
		select {
		case <-s.ready:
		default:
			continue
		}
		if s.cn == nil || s.cn.isClosed() {
			continue
		}
		if key.node >= 0 && key.purpose == purposeData {
			return s.cn
		}
		if seed == nil || key.purpose == purposeData {
			seed = s.cn
		}
	}
	return seed
}

// candidates lists nodes to try for Request: known brokers, then seeds.
func (c *Client) candidates() []int32 {
	snap := c.meta.Load()
	out := make([]int32, 0, len(snap.brokerList)+len(c.cfg.SeedBrokers))
	for _, b := range snap.brokerList {
		out = append(out, b.NodeID)
	}
	for i := range c.cfg.SeedBrokers {
		out = append(out, SeedNode(i))
	}
	return out
}

// reapIdle closes connections idle for longer than ConnMaxIdle
// (connections.max.idle.ms), before the broker does it under us.
func (c *Client) reapIdle() {
	now := time.Now()
	var idle []*Conn
	c.mu.Lock()
	for key, s := range c.conns {
		select {
		case <-s.ready:
		default:
			continue
		}
		if s.cn != nil && s.cn.idleFor(now) > c.cfg.ConnMaxIdle {
			idle = append(idle, s.cn)
			delete(c.conns, key)
		}
	}
	c.mu.Unlock()
	for _, cn := range idle {
		c.log.Debug("closing idle connection", "node", cn.node, "addr", cn.addr)
		cn.fail(errClosedLocally)
	}
}

// BrokerInfo is one broker from a Metadata response.
type BrokerInfo struct {
	NodeID int32
	Host   string
	Port   int32
	Rack   *string
}

func (b BrokerInfo) addr() string {
	return net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
}

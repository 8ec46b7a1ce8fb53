package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/internal/auth"
	"github.com/skiffkit/skiff/internal/coordinator"
	"github.com/skiffkit/skiff/internal/purgatory"
	"github.com/skiffkit/skiff/internal/txncoord"
)

// Broker is a running single-node Kafka broker. Start one, point clients at
// Addr, and Close it when done.
type Broker struct {
	cfg Config
	log *slog.Logger

	dirLock *os.File // flock on DataDir/.lock, held until Close
	// listeners are Config.Listeners in order; advHost and advPort are the
	// first one's advertised address, which the group coordinator gives
	// (groups.go rewrites it for clients of the other listeners).
	listeners []*listener
	advHost   string
	advPort   int32
	clusterID string
	// sasl runs the SASL listeners' logins (sasl.go); nil without one.
	sasl *auth.Authenticator

	topics *topicTable
	pids   *producerIDs
	purg   *purgatory.Purgatory
	// fetchSessions is the KIP-227 fetch session cache (fetch_session.go).
	fetchSessions *fetchSessionCache
	// expired takes ops from the purgatory's timer to the workers.
	expired *expiredOps
	flush   *flusher

	queue      chan *request // queued.max.requests
	queueBytes *byteBudget   // queued.max.request.bytes

	// groups answers the consumer group APIs (groups.go).
	groups *coordinator.Coordinator
	// txns is the transaction coordinator (txn.go).
	txns *txncoord.Coordinator
	// acls holds the ACLs of CreateAcls (acls.go), quotas the client
	// quotas of AlterClientQuotas (quotas.go).
	acls   *aclStore
	quotas *quotaStore
	// scram holds the SCRAM credentials of AlterUserScramCredentials
	// (scram_credentials.go).
	scram *scramStore
	// authz enforces acls (authz.go).
	authz *authorizer

	// sendfileBytes counts the record bytes fetches sent with sendfile
	// (sendfile.go); tests read it.
	sendfileBytes atomic.Int64

	// Lock order: goMu, then connsMu. topicTable has its own lock (see
	// topics.go), never held while calling into the broker.
	goMu     sync.Mutex
	stopping chan struct{} // closed when Close begins
	stopped  bool          // goMu: no new goroutines
	wg       sync.WaitGroup

	connsMu sync.Mutex
	conns   map[*conn]struct{}

	ctx    context.Context // cancelled by Close; handed to the group coordinator
	cancel context.CancelFunc

	bugs atomic.Int64 // panics recovered while handling requests

	closeOnce sync.Once
	closeErr  error
	closeDone chan struct{}
}

// Start opens (or creates) DataDir, recovers every partition log, and
// starts accepting clients on Listen. ctx bounds startup only; the broker
// runs until Close.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data dir: %w", err)
	}
	dirLock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	b := &Broker{
		dirLock:    dirLock,
		cfg:        cfg,
		log:        cfg.Logger.With("node", *cfg.NodeID),
		queue:      make(chan *request, cfg.QueuedMaxRequests),
		queueBytes: newByteBudget(cfg.QueuedMaxRequestBytes),
		stopping:   make(chan struct{}),
		conns:      make(map[*conn]struct{}),
		closeDone:  make(chan struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if b.pids, err = openProducerIDs(cfg.DataDir); err != nil {
		b.unlockDataDir()
		return nil, err
	}
	b.expired = newExpiredOps()
	b.purg = purgatory.New(purgatory.ExpireWith(b.expired.push))
	if b.topics, err = openTopics(ctx, b); err != nil {
		b.purg.Close()
		b.unlockDataDir()
		return nil, err
	}
	b.clusterID = b.topics.clusterID
	b.fetchSessions = b.newFetchSessionCache()
	if b.acls, err = openACLs(cfg.DataDir); err == nil {
		b.quotas, err = openQuotas(cfg.DataDir)
	}
	if err == nil {
		b.scram, err = openSCRAM(cfg.DataDir)
		b.authz = newAuthorizer(cfg, b.acls, b.log.Debug)
	}
	if err != nil {
		b.purg.Close()
		b.topics.closeAll()
		b.unlockDataDir()
		return nil, err
	}

	if err = b.openListeners(ctx); err != nil {
		b.purg.Close()
		b.topics.closeAll()
		b.unlockDataDir()
		return nil, err
	}
	b.sasl, err = b.newAuthenticator()
	if err == nil {
		err = b.startCoordinator()
	}
	if err != nil {
		b.closeListeners()
		b.purg.Close()
		b.topics.closeAll()
		b.unlockDataDir()
		return nil, err
	}

	b.flush = newFlusher(b)
	if err := b.startTxnCoordinator(); err != nil {
		b.closeListeners()
		b.closeCoordinator()
		b.purg.Close()
		b.topics.closeAll()
		b.unlockDataDir()
		return nil, err
	}
	b.goroutine(b.flush.run)
	b.goroutine(b.retentionLoop)
	for range cfg.NumIOThreads {
		b.goroutine(b.workerLoop)
	}
	for _, l := range b.listeners {
		b.goroutine(func() { b.acceptLoop(l) })
		b.log.Info("listening", "addr", l.ln.Addr().String(), "protocol", string(l.proto))
	}
	b.log.Info("broker started", "addr", b.Addr(), "data_dir", cfg.DataDir, "fsync", cfg.Fsync.String())
	return b, nil
}

// unlockDataDir releases the DataDir lock; closing the file drops the flock.
func (b *Broker) unlockDataDir() {
	if b.dirLock != nil {
		b.dirLock.Close()
		b.dirLock = nil
	}
}

// Addr is the address of the first listener (the only one with Listen),
// with the port chosen when it asked for port 0. See Listeners and
// ListenerAddr for the others.
func (b *Broker) Addr() string { return b.listeners[0].ln.Addr().String() }

// goroutine starts f as an owned goroutine that Close waits for. It reports
// false, without starting f, once Close has begun.
func (b *Broker) goroutine(f func()) bool {
	b.goMu.Lock()
	defer b.goMu.Unlock()
	if b.stopped {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		f()
	}()
	return true
}

func (b *Broker) acceptLoop(l *listener) {
	backoff := 5 * time.Millisecond
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			select {
			case <-b.stopping:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: back off as net/http does.
			b.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-b.stopping:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !b.admitConnection(nc) { // connection_creation_rate (throttle_conn_rate.go)
			continue
		}
		b.serveOn(nc, l)
	}
}

// serveConn serves nc as a client of the first listener.
func (b *Broker) serveConn(nc net.Conn) { b.serveOn(nc, b.listeners[0]) }

func (b *Broker) serveOn(nc net.Conn, l *listener) {
	c := newConnOn(b, nc, l)
	b.connsMu.Lock()
	if max := b.cfg.MaxConnections; max > 0 && len(b.conns) >= max {
		b.connsMu.Unlock()
		b.log.Warn("closing connection: max.connections reached", "remote", c.remote, "max", max)
		nc.Close()
		return
	}
	b.conns[c] = struct{}{}
	b.connsMu.Unlock()
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	started := b.goroutine(func() {
		defer func() {
			b.connsMu.Lock()
			delete(b.conns, c)
			b.connsMu.Unlock()
		}()
		c.readLoop()
	})
	if !started || !b.goroutine(c.writeLoop) {
		c.shutdown()
		b.connsMu.Lock()
		delete(b.conns, c)
		b.connsMu.Unlock()
	}
}

// enqueue hands r to the I/O workers, blocking while the queue is full
// (queued.max.requests backpressure reaches the reader, then TCP). It
// reports false when the connection or the broker closed meanwhile.
func (b *Broker) enqueue(r *request, connDone <-chan struct{}) bool {
	select {
	case b.queue <- r:
		return true
	case <-connDone:
	case <-b.stopping:
	}
	return false
}

// Close stops the broker, in this order: stop accepting, close every
// connection (in-flight answers are dropped), drop parked requests, stop the
// workers, flusher and retention goroutines, close the group coordinator
// (which flushes committed offsets), then fsync and close every log. It returns when every goroutine has returned, or ctx's error if ctx
// ends first (the rest of the shutdown then finishes in the background).
// As every Close in skiff: later and concurrent calls wait for the shutdown
// like the first and return nil; only the first reports its error.
func (b *Broker) Close(ctx context.Context) error {
	first := false
	b.closeOnce.Do(func() {
		first = true
		go b.shutdown()
	})
	select {
	case <-b.closeDone:
		if !first {
			return nil
		}
		return b.closeErr
	case <-ctx.Done():
		return fmt.Errorf("broker: close: %w", ctx.Err())
	}
}

func (b *Broker) shutdown() {
	defer close(b.closeDone)
	b.goMu.Lock()
	b.stopped = true
	close(b.stopping)
	b.goMu.Unlock()
	b.cancel()
	b.closeListeners()

	b.connsMu.Lock()
	for c := range b.conns {
		c.shutdown()
	}
	b.connsMu.Unlock()
	b.purg.Close()
	b.wg.Wait()

	// After the workers: no request can reach the coordinator any more.
	// The transaction coordinator goes first: its marker goroutines write
	// to the logs and commit offsets through the group coordinator.
	b.closeErr = errors.Join(b.closeTxnCoordinator(), b.closeCoordinator(), b.topics.closeAll())
	// Last: the next broker on DataDir may start once the logs are closed.
	b.unlockDataDir()
	b.log.Info("broker stopped", "addr", b.Addr())
}

// CreateTopic creates a topic as CreateTopics would, for embedders and test
// fixtures: partitions < 1 means NumPartitions, and configs are topic
// configs by their Kafka names (retention.ms, segment.bytes, ...). The
// error wraps the Kafka error (TOPIC_ALREADY_EXISTS, INVALID_CONFIG, ...).
func (b *Broker) CreateTopic(name string, partitions int32, configs map[string]string) error {
	select {
	case <-b.stopping:
		return ErrClosed
	default:
	}
	if partitions < 1 {
		partitions = b.cfg.NumPartitions
	}
	if err := validateTopicConfigs(configs); err != nil {
		return fmt.Errorf("broker: create topic %s: %w", name, err)
	}
	cp := make(map[string]string, len(configs))
	for k, v := range configs {
		cp[k] = v
	}
	if _, err := b.topics.create(name, partitions, cp); err != nil {
		return fmt.Errorf("broker: create topic %s: %w", name, err)
	}
	return nil
}

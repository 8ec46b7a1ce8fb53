package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/internal/coordinator"
	"github.com/skiffkit/skiff/internal/purgatory"
)

// Broker is a running single-node Kafka broker. Start one, point clients at
// Addr, and Close it when done.
type Broker struct {
	cfg Config
	log *slog.Logger

	dirLock   *os.File // flock on DataDir/.lock, held until Close
	ln        net.Listener
	advHost   string
	advPort   int32
	clusterID string

	topics *topicTable
	pids   *producerIDs
	purg   *purgatory.Purgatory
	// expired takes ops from the purgatory's timer to the workers.
	expired *expiredOps
	flush   *flusher

	queue      chan *request // queued.max.requests
	queueBytes *byteBudget   // queued.max.request.bytes

	// groups answers the consumer group APIs (groups.go).
	groups *coordinator.Coordinator
	// acls holds the ACLs of CreateAcls (acls.go), quotas the client
	// quotas of AlterClientQuotas (quotas.go).
	acls   *aclStore
	quotas *quotaStore
	// scram holds the SCRAM credentials of AlterUserScramCredentials
	// (scram_credentials.go).
	scram *scramStore

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
	if b.acls, err = openACLs(cfg.DataDir); err == nil {
		b.quotas, err = openQuotas(cfg.DataDir)
	}
	if err == nil {
		b.scram, err = openSCRAM(cfg.DataDir)
	}
	if err != nil {
		b.purg.Close()
		b.topics.closeAll()
		b.unlockDataDir()
		return nil, err
	}

	var lc net.ListenConfig
	if b.ln, err = lc.Listen(ctx, "tcp", cfg.Listen); err != nil {
		b.purg.Close()
		b.topics.closeAll()
		b.unlockDataDir()
		return nil, fmt.Errorf("broker: listen: %w", err)
	}
	err = b.setAdvertised()
	if err == nil {
		err = b.startCoordinator()
	}
	if err != nil {
		b.ln.Close()
		b.purg.Close()
		b.topics.closeAll()
		b.unlockDataDir()
		return nil, err
	}

	b.flush = newFlusher(b)
	b.goroutine(b.flush.run)
	b.goroutine(b.retentionLoop)
	for range cfg.NumIOThreads {
		b.goroutine(b.workerLoop)
	}
	b.goroutine(b.acceptLoop)
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

// Addr is the address the broker accepts clients on, with the port chosen
// when Listen asked for port 0.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

func (b *Broker) setAdvertised() error {
	addr := b.cfg.AdvertisedAddr
	if addr == "" {
		addr = b.Addr()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("broker: advertised address %q: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("broker: advertised port %q: %w", port, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	b.advHost, b.advPort = host, int32(p)
	return nil
}

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

func (b *Broker) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		nc, err := b.ln.Accept()
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
		b.serveConn(nc)
	}
}

func (b *Broker) serveConn(nc net.Conn) {
	c := newConn(b, nc)
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
// Calling Close again waits for the first call and returns its result.
func (b *Broker) Close(ctx context.Context) error {
	b.closeOnce.Do(func() {
		go b.shutdown()
	})
	select {
	case <-b.closeDone:
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
	b.ln.Close()

	b.connsMu.Lock()
	for c := range b.conns {
		c.shutdown()
	}
	b.connsMu.Unlock()
	b.purg.Close()
	b.wg.Wait()

	// After the workers: no request can reach the coordinator any more.
	b.closeErr = errors.Join(b.closeCoordinator(), b.topics.closeAll())
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

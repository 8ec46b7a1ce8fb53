package skifftest

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/skiffkit/skiff/broker"
)

// API keys for the fault hooks, as the Kafka protocol numbers them.
const (
	Produce              int16 = 0
	Fetch                int16 = 1
	ListOffsets          int16 = 2
	Metadata             int16 = 3
	OffsetCommit         int16 = 8
	OffsetFetch          int16 = 9
	FindCoordinator      int16 = 10
	JoinGroup            int16 = 11
	Heartbeat            int16 = 12
	LeaveGroup           int16 = 13
	SyncGroup            int16 = 14
	ApiVersions          int16 = 18
	CreateTopics         int16 = 19
	DeleteTopics         int16 = 20
	InitProducerID       int16 = 22
	OffsetForLeaderEpoch int16 = 23
	DescribeConfigs      int16 = 32
)

// Broker is a bundled broker running for one test.
type Broker struct {
	*broker.Broker

	mu     sync.Mutex
	faults map[int16][]*fault // per API key, applied in order
}

type fault struct {
	left int
	f    broker.Fault
}

type options struct {
	cfg    broker.Config
	topics []topicSpec
	mtls   bool // WithClientCertRequired (secure.go)
}

type topicSpec struct {
	name       string
	partitions int32
	configs    map[string]string
}

// Option configures NewBroker.
type Option func(*options)

// WithConfig edits the broker Config before start. Listen, DataDir and
// Faults are set by NewBroker unless the function sets them.
func WithConfig(fn func(*broker.Config)) Option { return func(o *options) { fn(&o.cfg) } }

// WithTopic creates a topic before NewBroker returns.
func WithTopic(name string, partitions int32) Option {
	return func(o *options) { o.topics = append(o.topics, topicSpec{name: name, partitions: partitions}) }
}

// WithTopicConfigs creates a topic with topic configs (retention.ms, ...).
func WithTopicConfigs(name string, partitions int32, configs map[string]string) Option {
	return func(o *options) {
		o.topics = append(o.topics, topicSpec{name: name, partitions: partitions, configs: configs})
	}
}

// WithLogger sends the broker's logs to l; by default they are discarded.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.cfg.Logger = l } }

// NewBroker starts a broker on 127.0.0.1:0 with its data in t.TempDir()
// and stops it in t.Cleanup. It fails the test if the broker cannot start.
func NewBroker(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	b := &Broker{faults: make(map[int16][]*fault)}
	cfg := o.cfg
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.GroupInitialRebalanceDelay == 0 {
		// Tests want a group's first rebalance now, not after Kafka's 3s.
		cfg.GroupInitialRebalanceDelay = -1
	}
	if cfg.Faults == nil {
		cfg.Faults = b.next
	}
	var err error
	b.Broker, err = broker.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("skifftest: start broker: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("skifftest: close broker: %v", err)
		}
	})
	for _, ts := range o.topics {
		if err := b.CreateTopic(ts.name, ts.partitions, ts.configs); err != nil {
			t.Fatalf("skifftest: %v", err)
		}
	}
	return b
}

// FailNext answers the next n requests with API key apiKey with the Kafka
// error code in every error field of the response (per partition for
// Produce and Fetch), without handling them. Use the codes of franz-go's
// kerr package, e.g. kerr.NotLeaderForPartition.Code.
func (b *Broker) FailNext(apiKey int16, n int, code int16) {
	b.add(apiKey, n, broker.Fault{ErrCode: code})
}

// DelayNext handles the next n requests with API key apiKey d later.
func (b *Broker) DelayNext(apiKey int16, n int, d time.Duration) {
	b.add(apiKey, n, broker.Fault{Delay: d})
}

// DropNext closes the connection of each of the next n requests with API
// key apiKey instead of answering it.
func (b *Broker) DropNext(apiKey int16, n int) {
	b.add(apiKey, n, broker.Fault{Drop: true})
}

// Pending reports how many injected faults of apiKey are still to happen.
func (b *Broker) Pending(apiKey int16) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, f := range b.faults[apiKey] {
		n += f.left
	}
	return n
}

func (b *Broker) add(apiKey int16, n int, f broker.Fault) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	b.faults[apiKey] = append(b.faults[apiKey], &fault{left: n, f: f})
	b.mu.Unlock()
}

// next is the broker's Faults hook.
func (b *Broker) next(apiKey, _ int16) broker.Fault {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.faults[apiKey]
	if len(q) == 0 {
		return broker.Fault{}
	}
	f := q[0]
	f.left--
	if f.left == 0 {
		b.faults[apiKey] = q[1:]
	}
	return f.f
}

package consumer

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/skifftest"
)

// logCapture keeps every log record, at every level.
type logCapture struct {
	mu   sync.Mutex
	recs []capturedLog
}

type capturedLog struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

type captureHandler struct {
	c    *logCapture
	with []slog.Attr
}

func newLogCapture() (*logCapture, *slog.Logger) {
	c := &logCapture{}
	return c, slog.New(&captureHandler{c: c})
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := capturedLog{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.with {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.c.mu.Lock()
	h.c.recs = append(h.c.recs, rec)
	h.c.mu.Unlock()
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{c: h.c, with: append(append([]slog.Attr(nil), h.with...), as...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

// count returns how many records have the level and, if msg is not
// empty, the message.
func (c *logCapture) count(level slog.Level, msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.recs {
		if r.level == level && (msg == "" || r.msg == msg) {
			n++
		}
	}
	return n
}

func (c *logCapture) find(msg string) (capturedLog, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.recs {
		if r.msg == msg {
			return r, true
		}
	}
	return capturedLog{}, false
}

// createTopic creates a one-partition topic through the admin API.
func createTopic(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, 1, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	require.NoError(t, err)
	require.Zero(t, resp.Topics[0].ErrorCode)
}

// missingTopicBackend is a cluster without the topic, where the test
// creates it later.
type missingTopicBackend struct {
	addrs  []string
	create func(t *testing.T, topic string)
}

// TestSubscribeMissingTopic: subscribing to a topic that does not exist
// (the broker refuses auto-creation) is not silent: one Warn naming the
// topic, ErrTopicNotAvailable from Poll once, and the records once the
// topic is created, with one Info, against kfake and the bundled broker.
func TestSubscribeMissingTopic(t *testing.T) {
	backends := map[string]func(t *testing.T) missingTopicBackend{
		"kfake": func(t *testing.T) missingTopicBackend {
			c := newCluster(t, 1, 1) // kfake refuses auto-creation by default
			return missingTopicBackend{addrs: c.ListenAddrs(), create: func(t *testing.T, topic string) {
				createTopic(t, newProducer(t, c), topic)
			}}
		},
		"bundled broker": func(t *testing.T) missingTopicBackend {
			b := skifftest.NewBroker(t, skifftest.WithConfig(func(c *broker.Config) { c.DisableAutoCreateTopics = true }))
			return missingTopicBackend{addrs: []string{b.Addr()}, create: func(t *testing.T, topic string) {
				require.NoError(t, b.CreateTopic(topic, 1, nil))
			}}
		},
	}
	for name, newBackend := range backends {
		t.Run(name, func(t *testing.T) {
			be := newBackend(t)
			logs, logger := newLogCapture()
			c := newTestConsumer(t, Config{
				Brokers:           be.addrs,
				GroupID:           "missing-topic",
				Topics:            []string{"later"},
				AutoOffsetReset:   "earliest",
				HeartbeatInterval: 50 * time.Millisecond,
				Logger:            logger,
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := c.Poll(ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrTopicNotAvailable)
			assert.ErrorIs(t, err, kerr.UnknownTopicOrPartition)
			assert.Regexp(t, `^consumer: topic not available: later \(waiting for it\): UNKNOWN_TOPIC_OR_PARTITION`, err.Error())
			require.NoError(t, ctx.Err(), "said so before the context ended")

			const warnMsg = "subscribed topic is not available; waiting for it"
			assert.Equal(t, 1, logs.count(slog.LevelWarn, warnMsg))
			w, _ := logs.find(warnMsg)
			assert.Equal(t, "later", w.attrs["topic"])

			be.create(t, "later")
			cl, err := kgo.NewClient(kgo.SeedBrokers(be.addrs...), kgo.ProducerLinger(0))
			require.NoError(t, err)
			defer cl.Close()
			require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "later", Value: []byte("v")}).FirstErr())

			recs := pollN(t, c, 1, 20*time.Second) // fails on a second ErrTopicNotAvailable
			assert.Equal(t, "v", string(recs[0].Value))
			assert.Equal(t, 1, logs.count(slog.LevelWarn, warnMsg), "warned once")
			assert.Equal(t, 1, logs.count(slog.LevelInfo, "subscribed topic is available"))
		})
	}
}

// TestUnreachableClusterWarnsOnce: while no broker answers, the retries
// (finding the group's coordinator, here) log at Debug; the only Warn is
// the connection layer's, once, naming the address and its OS error.
func TestUnreachableClusterWarnsOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())

	logs, logger := newLogCapture()
	c := newTestConsumer(t, Config{
		Brokers:      []string{dead},
		GroupID:      "g",
		Topics:       []string{"t"},
		RetryBackoff: 10 * time.Millisecond,
		Logger:       logger,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { _, _ = c.Poll(ctx) }() // joins happen in the background anyway

	// No event marks "the client retried N times"; poll the log.
	require.Eventually(t, func() bool {
		return logs.count(slog.LevelDebug, "no broker reachable yet; retrying") >= 4
	}, 15*time.Second, 5*time.Millisecond)
	assert.Equal(t, 1, logs.count(slog.LevelWarn, ""), "one Warn for the whole outage")
	w, ok := logs.find("no broker reachable; retrying")
	require.True(t, ok)
	assert.Equal(t, dead+": connection refused", w.attrs["brokers"])

	perr := c.Ping(ctx)
	require.Error(t, perr)
	assert.Equal(t, "no broker reachable: "+dead+": connection refused", perr.Error())
	assert.ErrorIs(t, perr, ErrNoBrokers)
	assert.ErrorIs(t, perr, syscall.ECONNREFUSED)
}

// TestConsumerPing: Ping succeeds against a live cluster and returns
// ErrClosed after Close.
func TestConsumerPing(t *testing.T) {
	cl := newCluster(t, 1, 1, "t")
	c := newTestConsumer(t, Config{Brokers: cl.ListenAddrs(), GroupID: "g", Topics: []string{"t"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Ping(ctx))
	require.NoError(t, c.Close(ctx))
	assert.ErrorIs(t, c.Ping(ctx), ErrClosed)
}

// TestAssignMissingTopic: an explicitly assigned topic that does not exist
// is reported once (Warn, ErrTopicNotAvailable from Poll) and consumed
// once it is created.
func TestAssignMissingTopic(t *testing.T) {
	cl := newCluster(t, 1, 1)
	logs, logger := newLogCapture()
	c := newTestConsumer(t, Config{
		Brokers: cl.ListenAddrs(),
		Assign:  map[string][]TopicPartitionOffset{"later": {{Partition: 0, Offset: OffsetEarliest, LeaderEpoch: -1}}},
		Logger:  logger,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.Poll(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTopicNotAvailable)
	assert.ErrorIs(t, err, kerr.UnknownTopicOrPartition)
	assert.Equal(t, "consumer: topic not available: later (waiting for it): UNKNOWN_TOPIC_OR_PARTITION: This server does not host this topic-partition.", err.Error())
	require.NoError(t, ctx.Err())

	p := newProducer(t, cl)
	createTopic(t, p, "later")
	produce(t, p, &kgo.Record{Topic: "later", Value: []byte("v")})
	recs := pollN(t, c, 1, 20*time.Second)
	assert.Equal(t, "v", string(recs[0].Value))
	assert.Equal(t, 1, logs.count(slog.LevelWarn, "assigned topic is not available; waiting for it"))
	assert.Equal(t, 1, logs.count(slog.LevelInfo, "assigned topic is available"))
}

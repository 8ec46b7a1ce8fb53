package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/broker"
)

func testLogger() *slog.Logger {
	if os.Getenv("SKIFF_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// backend is a cluster the admin client is tested against: franz-go's
// kfake, or the bundled broker.
type backend struct {
	name  string
	addrs []string
	// bundled is true for the bundled broker, which lacks some admin APIs
	// (see TestBundledBrokerMissingAPIs).
	bundled bool
}

func newKfake(t testing.TB, opts ...kfake.Opt) backend {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return backend{name: "kfake", addrs: c.ListenAddrs()}
}

func newBundled(t testing.TB) backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, broker.Config{
		Listen:                     "127.0.0.1:0",
		DataDir:                    t.TempDir(),
		GroupInitialRebalanceDelay: -1,
		Logger:                     testLogger(),
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = b.Close(ctx)
	})
	return backend{name: "bundled", addrs: []string{b.Addr()}, bundled: true}
}

// backends returns both clusters, for conformance tests that must pass on
// each.
func backends(t testing.TB) []backend {
	return []backend{newKfake(t), newBundled(t)}
}

func newAdmin(t testing.TB, be backend) *Client {
	t.Helper()
	c, err := New(Config{Brokers: be.addrs, Logger: testLogger(), RetryBackoff: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustCreate creates a topic and fails the test if it could not.
func mustCreate(t testing.TB, c *Client, name string, partitions int32, configs map[string]string) {
	t.Helper()
	rs, err := c.CreateTopics(testCtx(t), NewTopic{Name: name, Partitions: partitions, Configs: configs})
	require.NoError(t, err)
	require.NoError(t, rs.Error())
}

// newKgo returns a franz-go client on be, closed at cleanup.
func newKgo(t testing.TB, be backend, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(be.addrs...), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression())}, opts...)
	cl, err := kgo.NewClient(opts...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// produceN writes n records to each partition of topic, with timestamps
// base, base+1s, ... so that AtTime lookups have known answers.
func produceN(t testing.TB, be backend, topic string, partitions int32, n int, base time.Time) {
	t.Helper()
	cl := newKgo(t, be, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for p := range partitions {
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: fmt.Append(nil, i), Timestamp: base.Add(time.Duration(i) * time.Second)})
		}
	}
	require.NoError(t, cl.ProduceSync(testCtx(t), recs...).FirstErr())
}

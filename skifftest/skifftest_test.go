package skifftest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/broker"
)

func newClient(t *testing.T, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestFailNextRetriable(t *testing.T) {
	b := NewBroker(t, WithTopic("orders", 1))
	// kgo refreshes metadata after NOT_LEADER at most every MetadataMinAge.
	cl := newClient(t, b, kgo.MetadataMinAge(10*time.Millisecond), kgo.RetryBackoffFn(func(int) time.Duration { return 5 * time.Millisecond }))
	ctx := testCtx(t)
	// Warm up so the injected failures hit the produce path, not metadata.
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("first")}).FirstErr())

	b.FailNext(Produce, 2, kerr.NotLeaderForPartition.Code)
	require.Equal(t, 2, b.Pending(Produce))
	r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("second")}).First()
	require.NoError(t, err, "kgo retries NOT_LEADER_OR_FOLLOWER until it succeeds")
	assert.EqualValues(t, 1, r.Offset, "the failed attempts appended nothing")
	assert.Zero(t, b.Pending(Produce), "both injected failures were used")
}

func TestFailNextFatal(t *testing.T) {
	b := NewBroker(t, WithTopic("orders", 1))
	cl := newClient(t, b, kgo.DisableIdempotentWrite())
	ctx := testCtx(t)
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("warm")}).FirstErr())

	b.FailNext(Produce, 1, kerr.MessageTooLarge.Code)
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("x")}).FirstErr()
	require.Error(t, err)
	assert.True(t, errors.Is(err, kerr.MessageTooLarge), "got %v", err)
}

func TestDropNext(t *testing.T) {
	b := NewBroker(t, WithTopic("orders", 1))
	cl := newClient(t, b)
	ctx := testCtx(t)
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("warm")}).FirstErr())

	b.DropNext(Produce, 1)
	r, err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("after drop")}).First()
	require.NoError(t, err, "kgo reconnects and retries; idempotence keeps it exactly once")
	assert.Zero(t, b.Pending(Produce))

	recs := consumeAll(t, b, "orders", int(r.Offset)+1)
	var vals []string
	for _, r := range recs {
		vals = append(vals, string(r.Value))
	}
	assert.Equal(t, []string{"warm", "after drop"}, vals)
}

func TestDelayNext(t *testing.T) {
	b := NewBroker(t, WithTopic("orders", 1))
	cl := newClient(t, b)
	ctx := testCtx(t)
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("warm")}).FirstErr())

	const d = 300 * time.Millisecond
	b.DelayNext(Produce, 1, d)
	start := time.Now()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("slow")}).FirstErr())
	assert.GreaterOrEqual(t, time.Since(start), d)
}

func consumeAll(t *testing.T, b *Broker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testCtx(t)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		out = append(out, fs.Records()...)
	}
	return out
}

func TestOptionsAndGroups(t *testing.T) {
	b := NewBroker(t,
		WithTopicConfigs("audit", 2, map[string]string{"retention.ms": "3600000"}),
		WithConfig(func(c *broker.Config) { c.NumPartitions = 3 }),
	)
	cl := newClient(t, b, kgo.AllowAutoTopicCreation())
	ctx := testCtx(t)
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range []string{"audit", "auto"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = true
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 2)
	assert.Len(t, resp.Topics[0].Partitions, 2, "WithTopicConfigs partitions")
	assert.Len(t, resp.Topics[1].Partitions, 3, "WithConfig NumPartitions for auto-created topics")

	// Consumer groups work, and their first rebalance is not delayed.
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "audit", Value: []byte("e")}).FirstErr())
	g := newClient(t, b, kgo.ConsumerGroup("g"), kgo.ConsumeTopics("audit"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for {
		fs := g.PollFetches(ctx)
		require.NoError(t, ctx.Err())
		if fs.NumRecords() > 0 {
			break
		}
	}
}

package eos_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/eos"
	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/producer"
)

const (
	group = "etl"
	txnID = "etl-txn"
)

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

func newCluster(tb testing.TB) *kfake.Cluster {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"), kfake.SeedTopics(1, "out"),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c
}

func kgoClient(tb testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(0)}, opts...)...)
	require.NoError(tb, err)
	tb.Cleanup(cl.Close)
	return cl
}

// pipeline is one run of a consume-transform-produce process: a group
// consumer without auto-commit reading committed input, and a
// transactional producer with a fixed transactional id.
type pipeline struct {
	c *consumer.Consumer
	p *producer.Producer
}

func startPipeline(tb testing.TB, cl *kfake.Cluster, instanceID string) *pipeline {
	tb.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := consumer.New(consumer.Config{
		Brokers: cl.ListenAddrs(), GroupID: group, GroupInstanceID: instanceID, Topics: []string{"in"}, Logger: quiet,
		DisableAutoCommit: true, IsolationLevel: consumer.ReadCommitted,
		AutoOffsetReset: "earliest", MaxPollRecords: 25,
	})
	require.NoError(tb, err)
	p, err := producer.New(producer.Config{Brokers: cl.ListenAddrs(), TransactionalID: txnID, Linger: producer.NoLinger, Logger: quiet})
	require.NoError(tb, err)
	pl := &pipeline{c: c, p: p}
	tb.Cleanup(func() { pl.close(tb) })
	require.NoError(tb, p.InitTransactions(testCtx(tb)))
	return pl
}

// close stops both clients without committing or aborting anything: to
// the cluster it looks like a crashed process (the transaction stays open
// until the next producer with the same id fences it).
func (pl *pipeline) close(tb testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	assert.NoError(tb, pl.p.Close(ctx))
	assert.NoError(tb, pl.c.Close(ctx))
}

// step runs one transaction over one Poll's records and returns how many
// it processed. With crash set it writes the output and the offsets, makes
// sure the output reached the log, and returns before committing.
func (pl *pipeline) step(tb testing.TB, crash bool) int {
	tb.Helper()
	ctx := testCtx(tb)
	recs, err := pl.c.Poll(ctx)
	require.NoError(tb, err)
	if len(recs) == 0 {
		return 0
	}
	require.NoError(tb, pl.p.BeginTransaction())
	for _, r := range recs {
		out := producer.Record{Topic: "out", Key: r.Key, Value: append([]byte("out-"), r.Value...)}
		require.NoError(tb, pl.p.Send(ctx, out, nil))
	}
	require.NoError(tb, eos.SendOffsets(ctx, pl.p, pl.c))
	if crash {
		require.NoError(tb, pl.p.Flush(ctx))
		return len(recs)
	}
	require.NoError(tb, pl.p.CommitTransaction(ctx))
	return len(recs)
}

// readOut reads the output topic with kgo at the given isolation level up
// to the sentinel "end" and returns the values before it.
func readOut(tb testing.TB, cl *kfake.Cluster, committed bool) []string {
	tb.Helper()
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	r := kgoClient(tb, cl, kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level))
	ctx := testCtx(tb)
	var out []string
	for {
		fs := r.PollFetches(ctx)
		require.NoError(tb, ctx.Err(), "read %d values, never saw the end", len(out))
		fs.EachError(func(t string, p int32, err error) { tb.Fatalf("fetch %s[%d]: %v", t, p, err) })
		for _, rec := range fs.Records() {
			if string(rec.Value) == "end" {
				return out
			}
			out = append(out, string(rec.Value))
		}
	}
}

// TestExactlyOnceThroughCrash runs a skiff consume-transform-produce
// pipeline, crashes it in the middle of a transaction whose output and
// offsets were already sent, and finishes the input with a new pipeline of
// the same transactional id and group: under read_committed every input
// record appears in the output exactly once, although the log holds the
// crashed transaction's duplicates.
func TestExactlyOnceThroughCrash(t *testing.T) {
	for _, tc := range []struct{ name, instanceID string }{
		{"dynamic member", ""},
		// A static member sends no LeaveGroup on Close (KIP-345), so the
		// crashed member is still in the group, as after a kill -9; the
		// restart takes its place.
		{"static member", "etl-0"},
	} {
		t.Run(tc.name, func(t *testing.T) { exactlyOnceThroughCrash(t, tc.instanceID) })
	}
}

func exactlyOnceThroughCrash(t *testing.T, instanceID string) {
	const n = 300
	cl := newCluster(t)
	in := kgoClient(t, cl, kgo.DefaultProduceTopic("in"))
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "v%d", i)})
	}
	require.NoError(t, in.ProduceSync(testCtx(t), recs...).FirstErr())

	first := startPipeline(t, cl, instanceID)
	done := 0
	for done < n/3 {
		done += first.step(t, false)
	}
	crashed := first.step(t, true)
	require.Positive(t, crashed)
	// The crashed process's consumer is gone, but its producer lingers as
	// a zombie: the new pipeline's InitTransactions aborts the open
	// transaction and fences it, so its late commit must fail.
	require.NoError(t, first.c.Close(testCtx(t)))
	second := startPipeline(t, cl, instanceID)
	err := first.p.CommitTransaction(testCtx(t))
	assert.ErrorIs(t, err, producer.ErrFatalTxn, "the zombie's commit: %v", err)
	first.close(t)

	redo := 0
	for redo < n-done {
		redo += second.step(t, false)
	}
	assert.Equal(t, n-done, redo, "the second pipeline resumes at the committed offsets")
	committed := 0
	for _, o := range second.c.Positions() {
		committed += int(o.Offset)
	}
	assert.Equal(t, n, committed)
	got, err := second.c.Committed(testCtx(t), []consumer.TopicPartition{{Topic: "in", Partition: 0}, {Topic: "in", Partition: 1}})
	require.NoError(t, err)
	sum := int64(0)
	for _, o := range got {
		sum += o.Offset
	}
	assert.Equal(t, int64(n), sum, "the group's offsets, committed only through transactions, cover the input")
	second.close(t)

	end := kgoClient(t, cl, kgo.DefaultProduceTopic("out"))
	require.NoError(t, end.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("end")}).FirstErr())

	seen := map[string]int{}
	for _, v := range readOut(t, cl, true) {
		seen[v]++
	}
	for i := range n {
		assert.Equal(t, 1, seen[fmt.Sprintf("out-v%d", i)], "out-v%d", i)
	}
	assert.Len(t, seen, n)
	assert.Len(t, readOut(t, cl, false), n+crashed, "read_uncommitted also sees the crashed transaction's output")
}

// TestSendOffsetsNeedsManualCommit checks that SendOffsets refuses a
// consumer that auto-commits (Java requires enable.auto.commit=false for
// EOS) and one without a group, before touching the producer.
func TestSendOffsetsNeedsManualCommit(t *testing.T) {
	cl := newCluster(t)
	for _, tc := range []struct {
		name string
		cfg  consumer.Config
		want error
	}{
		{"auto-commit", consumer.Config{Brokers: cl.ListenAddrs(), GroupID: group, Topics: []string{"in"}}, eos.ErrAutoCommit},
		{"no group", consumer.Config{Brokers: cl.ListenAddrs(), DisableAutoCommit: true, Assign: map[string][]consumer.TopicPartitionOffset{"in": {{Partition: 0, Offset: consumer.OffsetEarliest}}}}, consumer.ErrNoGroup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := consumer.New(tc.cfg)
			require.NoError(t, err)
			defer func() { assert.NoError(t, c.Close(testCtx(t))) }()
			var called bool
			err = eos.SendOffsets(testCtx(t), fakeTxn(func() { called = true }), c)
			assert.ErrorIs(t, err, tc.want)
			assert.False(t, called)
		})
	}
}

type fakeTxn func()

func (f fakeTxn) SendOffsetsToTransaction(context.Context, map[string]map[int32]producer.Offset, producer.GroupMetadata) error {
	f()
	return nil
}

// Both the plain and the typed producer can commit a consumer's offsets.
var (
	_ eos.Transactional = (*producer.Producer)(nil)
	_ eos.Transactional = (*producer.Typed[string, string])(nil)
)

// TestStaleGenerationIsFenced checks KIP-447's point: the group metadata
// follows rebalances, and the coordinator refuses offsets sent with a
// generation the member has left (a zombie's), while the consumer's
// current metadata is accepted.
func TestStaleGenerationIsFenced(t *testing.T) {
	cl := newCluster(t)
	in := kgoClient(t, cl, kgo.DefaultProduceTopic("in"))
	require.NoError(t, in.ProduceSync(testCtx(t), &kgo.Record{Key: []byte("a"), Value: []byte("x")}, &kgo.Record{Key: []byte("b"), Value: []byte("y")}).FirstErr())

	member := func() *consumer.Consumer {
		c, err := consumer.New(consumer.Config{
			Brokers: cl.ListenAddrs(), GroupID: group, Topics: []string{"in"}, DisableAutoCommit: true,
			AutoOffsetReset: "earliest", IsolationLevel: consumer.ReadCommitted,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, c.Close(testCtx(t))) })
		return c
	}
	// pollUntil polls the members in turn until cond holds.
	pollUntil := func(cond func() bool, cs ...*consumer.Consumer) {
		ctx := testCtx(t)
		for !cond() {
			require.NoError(t, ctx.Err(), "condition never held")
			for _, c := range cs {
				pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
				_, err := c.Poll(pctx)
				cancel()
				if pctx.Err() == nil {
					require.NoError(t, err)
				}
			}
		}
	}
	c1 := member()
	pollUntil(func() bool { return len(c1.Assignment()) == 2 && len(c1.Positions()) == 2 }, c1)
	old := c1.GroupMetadata()
	require.NotEmpty(t, old.MemberID)

	c2 := member()
	pollUntil(func() bool {
		g1, g2 := c1.GroupMetadata(), c2.GroupMetadata()
		return g1.GenerationID > old.GenerationID && g1.GenerationID == g2.GenerationID && len(c2.Assignment()) > 0
	}, c1, c2)

	p, err := producer.New(producer.Config{Brokers: cl.ListenAddrs(), TransactionalID: txnID, Linger: producer.NoLinger})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close(testCtx(t))) })
	ctx := testCtx(t)
	require.NoError(t, p.InitTransactions(ctx))
	require.NoError(t, p.BeginTransaction())
	offsets := map[string]map[int32]producer.Offset{"in": {0: {Offset: 0, LeaderEpoch: -1}}}
	err = p.SendOffsetsToTransaction(ctx, offsets, producer.GroupMetadata(old))
	assert.ErrorIs(t, err, producer.ErrAbortableTxn, "the zombie's generation: %v", err)
	assert.ErrorIs(t, err, kerr.IllegalGeneration)
	require.NoError(t, p.AbortTransaction(ctx))

	require.NoError(t, p.BeginTransaction())
	require.NoError(t, eos.SendOffsets(ctx, p, c1), "the current generation")
	require.NoError(t, p.CommitTransaction(ctx))
}

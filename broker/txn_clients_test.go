package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/producer"
)

// TestKgoGroupTransactSessionETL runs franz-go's consume-transform-produce
// helper (GroupTransactSession: the group's offsets committed inside each
// transaction through AddOffsetsToTxn and TxnOffsetCommit) against the
// broker: every input record appears exactly once in the output under
// read_committed, and the group's committed offsets cover the input.
func TestKgoGroupTransactSessionETL(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 2, GroupInitialRebalanceDelay: -1})
	admin := newClient(t, b)
	createTopic(t, admin, "etl-in", 2, nil)
	createTopic(t, admin, "etl-out", 2, nil)
	const n = 200
	var in []*kgo.Record
	for i := range n {
		in = append(in, &kgo.Record{Topic: "etl-in", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	require.NoError(t, admin.ProduceSync(ctx(t), in...).FirstErr())

	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(b.Addr()),
		kgo.TransactionalID("etl-1"),
		kgo.ConsumerGroup("etl-group"),
		kgo.ConsumeTopics("etl-in"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.DefaultProduceTopic("etl-out"),
	)
	require.NoError(t, err)
	defer sess.Close()
	c := ctx(t)
	done := 0
	for done < n {
		fs := sess.PollFetches(c)
		require.NoError(t, c.Err(), "transformed %d of %d", done, n)
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s[%d]: %v", topic, p, err) })
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		require.NoError(t, sess.Begin())
		for _, r := range recs {
			sess.Produce(c, &kgo.Record{Key: r.Key, Value: append([]byte("out-"), r.Value...)}, func(_ *kgo.Record, err error) {
				assert.NoError(t, err)
			})
		}
		committed, err := sess.End(c, kgo.TryCommit)
		require.NoError(t, err)
		if committed {
			done += len(recs)
		}
	}

	out := consumeN(t, b, "etl-out", n, readCommitted())
	seen := map[string]int{}
	for _, r := range out {
		seen[string(r.Value)]++
	}
	for i := range n {
		assert.Equal(t, 1, seen[fmt.Sprintf("out-v%d", i)], "out-v%d", i)
	}
	// The offsets become visible after the last transaction's markers,
	// in the background; no event tells when, so poll.
	var total int64
	assert.Eventually(t, func() bool {
		offs, err := kadm.NewClient(admin).FetchOffsets(ctx(t), "etl-group")
		require.NoError(t, err)
		total = 0
		offs.Each(func(o kadm.OffsetResponse) { total += o.At })
		return total == n
	}, 10*time.Second, 20*time.Millisecond, "the group's offsets are committed with the transactions")
}

// TestSkiffTransactionalProducer: skiff's own transactional producer
// (InitTransactions, Begin, Commit, Abort) against the bundled broker,
// read back by a read_committed kgo consumer.
func TestSkiffTransactionalProducer(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 1})
	admin := newClient(t, b)
	createTopic(t, admin, "skiff-txn", 1, nil)
	p, err := producer.New(producer.Config{Brokers: []string{b.Addr()}, TransactionalID: "skiff-tx", Linger: producer.NoLinger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(ctx(t)) })
	require.NoError(t, p.InitTransactions(ctx(t)))

	send := func(prefix string, n int) {
		for i := range n {
			require.NoError(t, p.Send(ctx(t), producer.Record{Topic: "skiff-txn", Value: fmt.Appendf(nil, "%s-%d", prefix, i)}, nil))
		}
	}
	require.NoError(t, p.BeginTransaction())
	send("c1", 10)
	require.NoError(t, p.CommitTransaction(ctx(t)))
	require.NoError(t, p.BeginTransaction())
	send("ab", 10)
	require.NoError(t, p.Flush(ctx(t)))
	require.NoError(t, p.AbortTransaction(ctx(t)))
	require.NoError(t, p.BeginTransaction())
	send("c2", 10)
	require.NoError(t, p.CommitTransaction(ctx(t)))

	got := valuesByPrefix(consumeN(t, b, "skiff-txn", 20, readCommitted()))
	assert.Equal(t, map[string]int{"c1": 10, "c2": 10}, got)
	all := valuesByPrefix(consumeN(t, b, "skiff-txn", 30))
	assert.Equal(t, map[string]int{"c1": 10, "ab": 10, "c2": 10}, all)
}

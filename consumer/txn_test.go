package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// pollValuesUntil polls until it returns a record with value last, and returns
// the values of every record in order.
func pollValuesUntil(t testing.TB, c *Consumer, last string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []string
	for {
		recs, err := c.Poll(ctx)
		require.NoError(t, ctx.Err(), "read %v, never saw %q", out, last)
		require.NoError(t, err)
		for _, r := range recs {
			out = append(out, string(r.Value))
			if string(r.Value) == last {
				return out
			}
		}
	}
}

// TestReadCommittedDropsAborted writes, with two kgo transactional
// producers whose transactions interleave on one partition, committed and
// aborted batches: read_committed must drop exactly the aborted producer's
// records (found through the Fetch response's aborted-transactions list,
// not by position) and every control batch; read_uncommitted sees every
// data record.
func TestReadCommittedDropsAborted(t *testing.T) {
	cl := newCluster(t, 1, 1, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	txA := newProducer(t, cl, kgo.TransactionalID("a"), kgo.DefaultProduceTopic("t"))
	txB := newProducer(t, cl, kgo.TransactionalID("b"), kgo.DefaultProduceTopic("t"))
	plain := newProducer(t, cl, kgo.DefaultProduceTopic("t"))
	rec := func(v string) *kgo.Record { return &kgo.Record{Value: []byte(v)} }
	end := func(p *kgo.Client, commit kgo.TransactionEndTry) {
		require.NoError(t, p.EndTransaction(ctx, commit))
	}

	require.NoError(t, txA.BeginTransaction())
	require.NoError(t, txB.BeginTransaction())
	produce(t, txA, rec("a-aborted-0"))
	produce(t, txB, rec("b-committed-0"))
	produce(t, plain, rec("plain-0")) // not transactional: never dropped
	produce(t, txA, rec("a-aborted-1"))
	produce(t, txB, rec("b-committed-1"))
	end(txB, kgo.TryCommit)
	produce(t, txA, rec("a-aborted-2")) // after B's marker, before A's
	end(txA, kgo.TryAbort)
	// The same producer id commits after its abort: the tracker must
	// forget the abort at A's marker.
	require.NoError(t, txA.BeginTransaction())
	produce(t, txA, rec("a-committed-0"))
	end(txA, kgo.TryCommit)
	require.NoError(t, txB.BeginTransaction())
	produce(t, txB, rec("b-aborted-0"))
	end(txB, kgo.TryAbort)
	produce(t, plain, rec("end"))

	// Where each value landed, to start a fetch in the middle of A's
	// aborted transaction: its first offset is then before the fetch
	// offset, and the aborted list still has to drop the rest of it.
	at := map[string]int64{}
	{
		c := newTestConsumer(t, Config{Brokers: cl.ListenAddrs()})
		require.NoError(t, c.Assign(allPartitions("t", 1, OffsetEarliest)))
		for _, r := range pollN(t, c, 9, 20*time.Second) {
			at[string(r.Value)] = r.Offset
		}
	}

	for _, tc := range []struct {
		name  string
		level IsolationLevel
		from  int64
		want  []string
	}{
		{"read_committed", ReadCommitted, OffsetEarliest, []string{"b-committed-0", "plain-0", "b-committed-1", "a-committed-0", "end"}},
		{"read_committed inside an aborted transaction", ReadCommitted, at["a-aborted-1"], []string{"b-committed-1", "a-committed-0", "end"}},
		{"read_uncommitted", ReadUncommitted, OffsetEarliest, []string{"a-aborted-0", "b-committed-0", "plain-0", "a-aborted-1", "b-committed-1", "a-aborted-2", "a-committed-0", "b-aborted-0", "end"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestConsumer(t, Config{Brokers: cl.ListenAddrs(), IsolationLevel: tc.level})
			require.NoError(t, c.Assign(allPartitions("t", 1, tc.from)))
			assert.Equal(t, tc.want, pollValuesUntil(t, c, "end"))
		})
	}
}

// TestGroupMetadata checks that the consumer reports the generation and
// member id the coordinator gave it (KIP-447's fencing needs both), and
// its static instance id.
func TestGroupMetadata(t *testing.T) {
	cl := newCluster(t, 1, 1, "t")
	kp := newProducer(t, cl, kgo.DefaultProduceTopic("t"))
	produce(t, kp, &kgo.Record{Value: []byte("x")})

	c := newTestConsumer(t, Config{Brokers: cl.ListenAddrs(), GroupID: "g", GroupInstanceID: "inst-1", Topics: []string{"t"}, DisableAutoCommit: true, AutoOffsetReset: "earliest"})
	before := c.GroupMetadata()
	assert.Equal(t, GroupMetadata{GroupID: "g", GenerationID: -1, GroupInstanceID: "inst-1"}, before, "before joining")
	pollN(t, c, 1, 20*time.Second)
	md := c.GroupMetadata()
	assert.Equal(t, "g", md.GroupID)
	assert.Equal(t, "inst-1", md.GroupInstanceID)
	assert.GreaterOrEqual(t, md.GenerationID, int32(1))
	assert.NotEmpty(t, md.MemberID)
	assert.Equal(t, map[TopicPartition]TopicPartitionOffset{{"t", 0}: {Partition: 0, Offset: 1, LeaderEpoch: 0}}, c.Positions())

	a := newTestConsumer(t, Config{Brokers: cl.ListenAddrs()})
	assert.Equal(t, GroupMetadata{GenerationID: -1}, a.GroupMetadata(), "assign mode has no group")
}

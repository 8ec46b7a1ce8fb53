package broker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listOffsetAt asks ListOffsets v7 for one partition at timestamp ts with
// an isolation level (0 read_uncommitted, 1 read_committed) and returns
// the answer's offset and timestamp.
func listOffsetAt(t testing.TB, b *Broker, topic string, ts int64, isolation int8) (offset, timestamp int64) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, ts, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := dialRaw(t, b).roundTrip(req, 7).(*kmsg.ListOffsetsResponse)
	require.Len(t, resp.Topics, 1)
	require.Len(t, resp.Topics[0].Partitions, 1)
	sp := resp.Topics[0].Partitions[0]
	require.Zero(t, sp.ErrorCode)
	return sp.Offset, sp.Timestamp
}

// TestTxnListOffsetsMaxTimestamp: ListOffsets with timestamp -3 (KIP-734,
// the record with the largest timestamp) under read_committed answers as
// Kafka's Partition.fetchOffsetForTimestamp does for every timestamp
// lookup: the largest timestamp of the whole log, dropped (-1, -1) when
// its record is at or past the last stable offset, in a transaction that
// may yet abort. read_uncommitted sees it; once the transaction commits so
// does read_committed; an open transaction whose timestamps are all
// smaller does not hide a committed maximum below the LSO.
func TestTxnListOffsetsMaxTimestamp(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 1})
	admin := newClient(t, b)
	createTopic(t, admin, "maxts", 1, nil)
	cl := newClient(t, b, kgo.TransactionalID("tx-maxts"), kgo.DefaultProduceTopic("maxts"))
	// Record timestamps an hour ahead: a marker's control batch carries
	// the time it was written, and is a record of the log as Kafka's
	// maximum-timestamp lookup sees it.
	base := time.Now().Add(time.Hour).UnixMilli()
	at := func(ms int64) time.Time { return time.UnixMilli(base + ms) }
	produce := func(commit bool, stamps ...int64) {
		t.Helper()
		require.NoError(t, cl.BeginTransaction())
		for _, ms := range stamps {
			require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte("v"), Timestamp: at(ms)}).FirstErr())
		}
		if commit {
			require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit))
		}
	}
	const readUncommitted, readCommitted = 0, 1
	type answer struct{ offset, timestamp int64 }
	ask := func(isolation int8) answer {
		t.Helper()
		o, ts := listOffsetAt(t, b, "maxts", listMaxTimestamp, isolation)
		if ts >= 0 {
			ts -= base
		}
		return answer{o, ts}
	}

	// Offsets 0-2 committed (marker at 3), the maximum 3000 at offset 1.
	produce(true, 1000, 3000, 2000)
	// The markers are written after EndTxn is answered; wait for the LSO.
	require.Eventually(t, func() bool { return ask(readCommitted) == answer{1, 3000} }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, answer{1, 3000}, ask(readUncommitted))

	// Offsets 4-5 open, the new maximum 5000 at offset 5, past the LSO (4).
	produce(false, 2500, 5000)
	assert.Equal(t, answer{5, 5000}, ask(readUncommitted))
	assert.Equal(t, answer{-1, -1}, ask(readCommitted), "the maximum is in an open transaction")
	off, _ := listOffsetAt(t, b, "maxts", listLatest, readCommitted)
	assert.EqualValues(t, 4, off, "the LSO is the open transaction's first offset")

	require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit))
	require.Eventually(t, func() bool { return ask(readCommitted) == answer{5, 5000} }, 10*time.Second, 10*time.Millisecond,
		"committed: read_committed sees the maximum")

	// A new open transaction with smaller timestamps does not hide the
	// committed maximum, which is below the LSO.
	produce(false, 100)
	assert.Equal(t, answer{5, 5000}, ask(readCommitted))
	assert.Equal(t, answer{5, 5000}, ask(readUncommitted))
	require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryAbort))
}

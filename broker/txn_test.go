package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnProduce runs one kgo transaction of n records valued prefix-i and
// commits or aborts it.
func txnProduce(t testing.TB, cl *kgo.Client, topic, prefix string, n int, commit bool) {
	t.Helper()
	require.NoError(t, cl.BeginTransaction())
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%s-%d", prefix, i)})
	}
	require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())
	require.NoError(t, cl.EndTransaction(ctx(t), kgo.TransactionEndTry(commit)))
}

// valuesByPrefix counts records by the part of their value before '-'.
func valuesByPrefix(recs []*kgo.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		p, _, _ := strings.Cut(string(r.Value), "-")
		m[p]++
	}
	return m
}

func readCommitted() kgo.Opt { return kgo.FetchIsolationLevel(kgo.ReadCommitted()) }

// TestKgoTransactions: franz-go's transactional producer commits and aborts
// against the broker; a read_committed kgo consumer sees exactly the
// committed records, a read_uncommitted one all of them (so the aborted
// records were written and the filtering is what hides them).
func TestKgoTransactions(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 3})
	admin := newClient(t, b)
	createTopic(t, admin, "txn", 3, nil)
	cl := newClient(t, b, kgo.TransactionalID("tx-1"), kgo.DefaultProduceTopic("txn"))
	const n = 50
	txnProduce(t, cl, "txn", "c1", n, true)
	txnProduce(t, cl, "txn", "ab", n, false)
	txnProduce(t, cl, "txn", "c2", n, true)

	got := valuesByPrefix(consumeN(t, b, "txn", 2*n, readCommitted()))
	assert.Equal(t, map[string]int{"c1": n, "c2": n}, got)
	all := valuesByPrefix(consumeN(t, b, "txn", 3*n))
	assert.Equal(t, map[string]int{"c1": n, "ab": n, "c2": n}, all)

	// The last markers are written (the consumer saw them) before
	// CompleteCommit is logged; no event tells when, so poll.
	assert.Eventually(t, func() bool { return describeTxn(t, admin, "tx-1").State == "CompleteCommit" },
		10*time.Second, 10*time.Millisecond)
}

func describeTxn(t testing.TB, cl *kgo.Client, id string) kmsg.DescribeTransactionsResponseTransactionState {
	t.Helper()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp, err := req.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Len(t, resp.TransactionStates, 1)
	require.Zero(t, resp.TransactionStates[0].ErrorCode)
	return resp.TransactionStates[0]
}

// TestKgoTransactionFencing: a second kgo client with the same
// transactional id fences the first, whose next transaction fails with
// PRODUCER_FENCED (or INVALID_PRODUCER_EPOCH from older paths); the
// fenced transaction's records are never visible to read_committed.
func TestKgoTransactionFencing(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 1})
	admin := newClient(t, b)
	createTopic(t, admin, "fence", 1, nil)
	first := newClient(t, b, kgo.TransactionalID("tx-f"), kgo.DefaultProduceTopic("fence"))
	txnProduce(t, first, "fence", "one", 5, true)

	second := newClient(t, b, kgo.TransactionalID("tx-f"), kgo.DefaultProduceTopic("fence"))
	txnProduce(t, second, "fence", "two", 5, true)

	require.NoError(t, first.BeginTransaction())
	err := first.ProduceSync(ctx(t), &kgo.Record{Value: []byte("zombie-0")}).FirstErr()
	if err == nil {
		err = first.EndTransaction(ctx(t), kgo.TryCommit)
	}
	require.Error(t, err)
	assert.True(t, errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch), "fenced: %v", err)

	txnProduce(t, second, "fence", "three", 5, true)
	got := valuesByPrefix(consumeN(t, b, "fence", 15, readCommitted()))
	assert.Equal(t, map[string]int{"one": 5, "two": 5, "three": 5}, got)
}

// TestTxnRestartMidTransaction closes the broker with a transaction
// Ongoing: after the restart it is still Ongoing (a restart does not decide
// it), then its timeout aborts it. Committed records survive and the
// aborted ones never reach read_committed.
func TestTxnRestartMidTransaction(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NumPartitions: 2, DataDir: dir, TransactionAbortCheckInterval: 50 * time.Millisecond}
	b := startBroker(t, cfg)
	admin := newClient(t, b)
	createTopic(t, admin, "rs", 2, nil)
	cl := newClient(t, b, kgo.TransactionalID("tx-r"), kgo.DefaultProduceTopic("rs"),
		kgo.TransactionTimeout(3*time.Second))
	const n = 20
	txnProduce(t, cl, "rs", "kept", n, true)
	require.NoError(t, cl.BeginTransaction())
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, "open-%d", i)})
	}
	require.NoError(t, cl.ProduceSync(ctx(t), recs...).FirstErr())
	cl.Close()
	admin.Close()
	closeBroker(t, b)

	b = startBroker(t, cfg)
	admin = newClient(t, b)
	assert.Equal(t, "Ongoing", describeTxn(t, admin, "tx-r").State, "a restart leaves an Ongoing transaction open")
	// No event tells when the coordinator's timer aborts it; poll.
	require.Eventually(t, func() bool {
		return describeTxn(t, admin, "tx-r").State == "CompleteAbort"
	}, 20*time.Second, 50*time.Millisecond)

	cl = newClient(t, b, kgo.TransactionalID("tx-r"), kgo.DefaultProduceTopic("rs"))
	txnProduce(t, cl, "rs", "after", n, true)
	got := valuesByPrefix(consumeN(t, b, "rs", 2*n, readCommitted()))
	assert.Equal(t, map[string]int{"kept": n, "after": n}, got)
	all := valuesByPrefix(consumeN(t, b, "rs", 3*n))
	assert.Equal(t, map[string]int{"kept": n, "open": n, "after": n}, all)
}

// TestTxnProduceNotAdded: a transactional produce to a partition the
// transaction never added is INVALID_TXN_STATE, and a transactional batch
// without a transactional id is INVALID_RECORD; the broker stays up.
func TestTxnProduceNotAdded(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 1})
	cl := newClient(t, b)
	createTopic(t, cl, "na", 1, nil)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID = kmsg.StringPtr("tx-na")
	init.TransactionTimeoutMillis = 10000
	ir, err := init.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Zero(t, ir.ErrorCode)

	for _, tc := range []struct {
		name  string
		txnID *string
		want  int16
	}{
		{"not added", kmsg.StringPtr("tx-na"), kerr.InvalidTxnState.Code},
		{"no transactional id", nil, kerr.InvalidRecord.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := produceReq("na", 0, txnBatch(ir.ProducerID, ir.ProducerEpoch))
			req.TransactionID = tc.txnID
			resp := dialRaw(t, b).roundTrip(req, 9).(*kmsg.ProduceResponse)
			assert.Equal(t, tc.want, resp.Topics[0].Partitions[0].ErrorCode)
		})
	}
}

// txnBatch is one transactional record batch of one record.
func txnBatch(pid int64, epoch int16) []byte {
	return makeBatch(1, 8, batch.Params{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 0, Transactional: true, PartitionLeaderEpoch: -1})
}

// TestTxnOffsetsRequireStable: offsets staged by TxnOffsetCommit are
// invisible until the transaction commits, and OffsetFetch with
// require_stable answers UNSTABLE_OFFSET_COMMIT meanwhile (KIP-447).
func TestTxnOffsetsRequireStable(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 1, GroupInitialRebalanceDelay: -1})
	cl := newClient(t, b)
	createTopic(t, cl, "so", 1, nil)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("tx-so"), 10000
	ir, err := init.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Zero(t, ir.ErrorCode)

	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = "tx-so", ir.ProducerID, ir.ProducerEpoch, "g-so"
	ar, err := add.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Zero(t, ar.ErrorCode)
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = "tx-so", "g-so", ir.ProducerID, ir.ProducerEpoch
	commit.Generation = -1
	commit.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "so", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42, LeaderEpoch: -1}}}}
	cr, err := commit.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Zero(t, cr.Topics[0].Partitions[0].ErrorCode)

	fetch := func(stable bool) (int64, int16) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.RequireStable = "g-so", stable
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "so", Partitions: []int32{0}}}
		resp := dialRaw(t, b).roundTrip(req, 7).(*kmsg.OffsetFetchResponse)
		p := resp.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	off, code := fetch(true)
	assert.Equal(t, kerr.UnstableOffsetCommit.Code, code)
	off, code = fetch(false)
	assert.Equal(t, [2]int64{-1, 0}, [2]int64{off, int64(code)}, "staged offsets are invisible before the commit")

	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx-so", ir.ProducerID, ir.ProducerEpoch, true
	er, err := end.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Zero(t, er.ErrorCode)
	// The offsets are committed after the markers, in the background.
	require.Eventually(t, func() bool { off, code = fetch(true); return code == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, int64(42), off)
}

// TestTxnBadInput: the coordinator's errors reach the client with Kafka's
// codes and the broker keeps serving.
func TestTxnBadInput(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 1})
	cl := newClient(t, b)
	createTopic(t, cl, "bi", 1, nil)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("tx-bi"), 10000
	ir, err := init.RequestWith(ctx(t), cl)
	require.NoError(t, err)
	require.Zero(t, ir.ErrorCode)

	addParts := func(topic string, epoch int16) int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = "tx-bi", ir.ProducerID, epoch
		req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: []int32{0}}}
		resp := dialRaw(t, b).roundTrip(req, 3).(*kmsg.AddPartitionsToTxnResponse)
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	endTxn := func(epoch int16) int16 {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = "tx-bi", ir.ProducerID, epoch, true
		return dialRaw(t, b).roundTrip(req, 3).(*kmsg.EndTxnResponse).ErrorCode
	}
	tooLong := kmsg.NewPtrInitProducerIDRequest()
	tooLong.TransactionalID, tooLong.TransactionTimeoutMillis = kmsg.StringPtr("tx-long"), int32((time.Hour).Milliseconds())
	for _, tc := range []struct {
		name string
		got  func() int16
		want int16
	}{
		{"EndTxn with no transaction", func() int16 { return endTxn(ir.ProducerEpoch) }, kerr.InvalidTxnState.Code},
		{"unknown topic", func() int16 { return addParts("nope", ir.ProducerEpoch) }, kerr.UnknownTopicOrPartition.Code},
		{"old epoch", func() int16 { return addParts("bi", ir.ProducerEpoch-1) }, kerr.ProducerFenced.Code},
		{"timeout above transaction.max.timeout.ms", func() int16 {
			return dialRaw(t, b).roundTrip(tooLong, 4).(*kmsg.InitProducerIDResponse).ErrorCode
		}, kerr.InvalidTransactionTimeout.Code},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.got()) })
	}
	assert.Zero(t, addParts("bi", ir.ProducerEpoch), "the broker still serves the transaction")
	assert.Zero(t, endTxn(ir.ProducerEpoch))
}

// TestTxnLastStableOffset: while a transaction is open, ListOffsets latest
// with read_committed answers its first offset (the LSO) and a
// read_committed Fetch stops there and reports it; read_uncommitted sees
// the end of the log. The commit marker moves the LSO to the end.
func TestTxnLastStableOffset(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: 1})
	admin := newClient(t, b)
	createTopic(t, admin, "lso", 1, nil)
	now := time.Now()
	require.NoError(t, admin.ProduceSync(ctx(t), &kgo.Record{Topic: "lso", Value: []byte("plain"), Timestamp: now.Add(-time.Minute)}).FirstErr())
	cl := newClient(t, b, kgo.TransactionalID("tx-lso"), kgo.DefaultProduceTopic("lso"))
	require.NoError(t, cl.BeginTransaction())
	require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte("t0")}, &kgo.Record{Value: []byte("t1")}).FirstErr())

	var listOffset func(level int8, ts int64) int64
	latest := func(level int8) int64 { return listOffset(level, -1) }
	listOffset = func(level int8, ts int64) int64 {
		req := kmsg.NewPtrListOffsetsRequest()
		req.IsolationLevel = level
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "lso"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := dialRaw(t, b).roundTrip(req, 5).(*kmsg.ListOffsetsResponse)
		require.Zero(t, resp.Topics[0].Partitions[0].ErrorCode)
		return resp.Topics[0].Partitions[0].Offset
	}
	fetch := func(level int8) (lso, hw int64, records int) {
		req := kmsg.NewPtrFetchRequest()
		req.IsolationLevel, req.MaxBytes, req.MaxWaitMillis = level, 1<<20, 0
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "lso"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.LogStartOffset = 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := dialRaw(t, b).roundTrip(req, 11).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		require.Zero(t, p.ErrorCode)
		fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{Topic: "lso", Partition: 0, KeepControlRecords: true}, &p, kgo.DefaultDecompressor(), nil)
		return p.LastStableOffset, p.HighWatermark, len(fp.Records)
	}
	assert.Equal(t, int64(1), latest(1), "read_committed: the open transaction's first offset")
	assert.Equal(t, int64(3), latest(0))
	assert.Equal(t, int64(0), listOffset(1, now.Add(-time.Hour).UnixMilli()), "a timestamp lookup finds the committed record")
	mid := now.Add(-30 * time.Second).UnixMilli() // after "plain", before the transaction's records
	assert.Equal(t, int64(1), listOffset(0, mid))
	assert.Equal(t, int64(-1), listOffset(1, mid), "read_committed finds nothing at or past the LSO")
	lso, hw, n := fetch(1)
	assert.Equal(t, [3]int64{1, 3, 1}, [3]int64{lso, hw, int64(n)}, "read_committed stops at the LSO")
	_, _, n = fetch(0)
	assert.Equal(t, 3, n)

	require.NoError(t, cl.EndTransaction(ctx(t), kgo.TryCommit))
	require.Eventually(t, func() bool { return latest(1) == 4 }, 10*time.Second, 10*time.Millisecond,
		"the commit marker (offset 3) moves the LSO past it")
}

package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/kerr"
	"github.com/skiffkit/skiff/serializer"
)

func txnConfig(c *kfake.Cluster, id string) Config {
	return Config{Brokers: c.ListenAddrs(), TransactionalID: id, Linger: NoLinger, RetryBackoff: 20 * time.Millisecond}
}

func txnCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// sendAll sends values to topic's partition 0 and returns a wait for their
// callbacks' errors.
func sendAll(tb testing.TB, p *Producer, topic string, values ...string) func() []error {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(values))
	for i, v := range values {
		wg.Add(1)
		require.NoError(tb, p.Send(txnCtx(tb), Record{Topic: topic, Partition: ToPartition(0), Value: []byte(v)}, func(_ RecordMetadata, err error) {
			errs[i] = err
			wg.Done()
		}))
	}
	return func() []error { wg.Wait(); return errs }
}

// readUntil reads topic (one partition) from the start with kgo at the
// given isolation level until it has seen the value last, and returns the
// values in order.
func readUntil(tb testing.TB, addrs []string, topic string, committed bool, last string) []string {
	tb.Helper()
	level := kgo.ReadUncommitted()
	if committed {
		level = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(level))
	require.NoError(tb, err)
	defer cl.Close()
	ctx := txnCtx(tb)
	var out []string
	for {
		fs := cl.PollFetches(ctx)
		require.NoError(tb, ctx.Err(), "read %v, never saw %q", out, last)
		fs.EachError(func(t string, p int32, err error) { tb.Fatalf("fetch %s[%d]: %v", t, p, err) })
		for _, r := range fs.Records() {
			out = append(out, string(r.Value))
			if string(r.Value) == last {
				return out
			}
		}
	}
}

func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestTxnCommitAndAbort(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	p := newProducer(t, txnConfig(c, "tx-commit"))
	ctx := txnCtx(t)
	require.NoError(t, p.InitTransactions(ctx))

	require.NoError(t, p.BeginTransaction())
	wait := sendAll(t, p, "t", values("c", 10)...)
	require.NoError(t, p.CommitTransaction(ctx))
	for _, err := range wait() {
		assert.NoError(t, err)
	}

	// Aborted records that reached the broker, and some that did not.
	require.NoError(t, p.BeginTransaction())
	wait = sendAll(t, p, "t", values("a", 10)...)
	require.NoError(t, p.Flush(ctx))
	for _, err := range wait() {
		assert.NoError(t, err)
	}
	waitLate := sendAll(t, p, "t", values("late", 3)...)
	require.NoError(t, p.AbortTransaction(ctx))
	for _, err := range waitLate() {
		if err != nil { // sent before the abort took it, or discarded
			assert.ErrorIs(t, err, ErrAbortedTxn)
		}
	}

	require.NoError(t, p.BeginTransaction())
	wait = sendAll(t, p, "t", values("d", 5)...)
	require.NoError(t, p.CommitTransaction(ctx))
	for _, err := range wait() {
		assert.NoError(t, err)
	}

	want := append(values("c", 10), values("d", 5)...)
	assert.Equal(t, want, readUntil(t, c.ListenAddrs(), "t", true, "d4"))
	// The aborted records are in the log: read_uncommitted sees them.
	all := readUntil(t, c.ListenAddrs(), "t", false, "d4")
	assert.Subset(t, all, values("a", 10))
}

func TestTxnTyped(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	tp := NewTyped(newProducer(t, txnConfig(c, "tx-typed")), serializer.String(), serializer.String())
	ctx := txnCtx(t)
	require.NoError(t, tp.InitTransactions(ctx))
	require.NoError(t, tp.BeginTransaction())
	_, err := tp.SendSync(ctx, TypedRecord[string, string]{Topic: "t", Key: "k", Value: "aborted"})
	require.NoError(t, err)
	require.NoError(t, tp.AbortTransaction(ctx))
	require.NoError(t, tp.BeginTransaction())
	require.NoError(t, tp.Send(ctx, TypedRecord[string, string]{Topic: "t", Key: "k", Value: "kept"}, nil))
	require.NoError(t, tp.CommitTransaction(ctx))
	assert.Equal(t, []string{"kept"}, readUntil(t, c.ListenAddrs(), "t", true, "kept"))
}

func TestTxnFencing(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	ctx := txnCtx(t)
	p1 := newProducer(t, txnConfig(c, "tx-fence"))
	require.NoError(t, p1.InitTransactions(ctx))
	require.NoError(t, p1.BeginTransaction())
	_, err := p1.SendSync(ctx, Record{Topic: "t", Value: []byte("p1-first")})
	require.NoError(t, err)

	// The second instance fences the first and aborts its open transaction.
	p2 := newProducer(t, txnConfig(c, "tx-fence"))
	require.NoError(t, p2.InitTransactions(ctx))

	_, err = p1.SendSync(ctx, Record{Topic: "t", Value: []byte("p1-zombie")})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrFatalTxn)
	assert.True(t, errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch), "%v", err)
	// Fatal for good: every later call says so.
	for name, call := range map[string]func() error{
		"commit": func() error { return p1.CommitTransaction(ctx) },
		"abort":  func() error { return p1.AbortTransaction(ctx) },
		"begin":  p1.BeginTransaction,
		"send":   func() error { return p1.Send(ctx, Record{Topic: "t"}, nil) },
	} {
		assert.ErrorIs(t, call(), ErrFatalTxn, name)
	}

	require.NoError(t, p2.BeginTransaction())
	_, err = p2.SendSync(ctx, Record{Topic: "t", Value: []byte("p2")})
	require.NoError(t, err)
	require.NoError(t, p2.CommitTransaction(ctx))
	assert.Equal(t, []string{"p2"}, readUntil(t, c.ListenAddrs(), "t", true, "p2"))
}

// TestTxnAbortableError: AddPartitionsToTxn refused for a partition dooms
// the transaction, not the producer: after AbortTransaction the next
// transaction commits.
func TestTxnAbortableError(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	ctx := txnCtx(t)
	p := newProducer(t, txnConfig(c, "tx-abortable"))
	require.NoError(t, p.InitTransactions(ctx))

	c.ControlKey(int16(kmsg.AddPartitionsToTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req := kreq.(*kmsg.AddPartitionsToTxnRequest)
		resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = rt.Topic
			for _, part := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition, sp.ErrorCode = part, kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true // once
	})
	require.NoError(t, p.BeginTransaction())
	_, err := p.SendSync(ctx, Record{Topic: "t", Value: []byte("doomed")})
	require.ErrorIs(t, err, ErrAbortableTxn)
	assert.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	assert.NotErrorIs(t, err, ErrFatalTxn)
	assert.ErrorIs(t, p.CommitTransaction(ctx), ErrAbortableTxn, "commit after an abortable error")
	assert.ErrorIs(t, p.Send(ctx, Record{Topic: "t"}, nil), ErrAbortableTxn)

	require.NoError(t, p.AbortTransaction(ctx))
	require.NoError(t, p.BeginTransaction())
	_, err = p.SendSync(ctx, Record{Topic: "t", Value: []byte("ok")})
	require.NoError(t, err)
	require.NoError(t, p.CommitTransaction(ctx))
	assert.Equal(t, []string{"ok"}, readUntil(t, c.ListenAddrs(), "t", true, "ok"))
}

// committedOffset is group's committed offset of topic[0], -1 if none.
func committedOffset(tb testing.TB, addrs []string, group, topic string) int64 {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	require.NoError(tb, err)
	defer cl.Close()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{0}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(txnCtx(tb), cl)
	require.NoError(tb, err)
	if resp.ErrorCode == kerr.GroupIDNotFound.Code {
		return -1 // nothing committed yet
	}
	require.NoError(tb, kerr.ForCode(resp.ErrorCode))
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			require.NoError(tb, kerr.ForCode(p.ErrorCode))
			return p.Offset
		}
	}
	return -1
}

func TestTxnSendOffsets(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "in", "out"))
	ctx := txnCtx(t)
	p := newProducer(t, txnConfig(c, "tx-offsets"))
	require.NoError(t, p.InitTransactions(ctx))
	group := GroupMetadata{GroupID: "g", GenerationID: -1}

	require.NoError(t, p.BeginTransaction())
	_, err := p.SendSync(ctx, Record{Topic: "out", Value: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, p.SendOffsetsToTransaction(ctx, map[string]map[int32]Offset{"in": {0: {Offset: 5, LeaderEpoch: -1}}}, group))
	assert.Equal(t, int64(-1), committedOffset(t, c.ListenAddrs(), "g", "in"), "visible before the commit")
	require.NoError(t, p.CommitTransaction(ctx))
	assert.Equal(t, int64(5), committedOffset(t, c.ListenAddrs(), "g", "in"))

	require.NoError(t, p.BeginTransaction())
	require.NoError(t, p.SendOffsetsToTransaction(ctx, map[string]map[int32]Offset{"in": {0: {Offset: 9, LeaderEpoch: -1}}}, group))
	require.NoError(t, p.AbortTransaction(ctx))
	assert.Equal(t, int64(5), committedOffset(t, c.ListenAddrs(), "g", "in"), "an aborted offset commit stays invisible")
}

func TestTxnStateErrors(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	ctx := txnCtx(t)

	_, err := New(Config{Brokers: c.ListenAddrs(), TransactionalID: "x", DisableIdempotence: true})
	assert.ErrorContains(t, err, "requires idempotence")

	plain := newProducer(t, Config{Brokers: c.ListenAddrs()})
	assert.ErrorIs(t, plain.InitTransactions(ctx), ErrTxnState)
	assert.ErrorIs(t, plain.BeginTransaction(), ErrTxnState)

	p := newProducer(t, txnConfig(c, "tx-state"))
	assert.ErrorIs(t, p.BeginTransaction(), ErrTxnState, "begin before InitTransactions")
	assert.ErrorIs(t, p.Send(ctx, Record{Topic: "t"}, nil), ErrTxnState, "send before InitTransactions")
	require.NoError(t, p.InitTransactions(ctx))
	assert.ErrorIs(t, p.InitTransactions(ctx), ErrTxnState, "init twice")
	assert.ErrorIs(t, p.CommitTransaction(ctx), ErrTxnState, "commit without begin")
	assert.ErrorIs(t, p.AbortTransaction(ctx), ErrTxnState, "abort without begin")
	assert.ErrorIs(t, p.Send(ctx, Record{Topic: "t"}, nil), ErrTxnState, "send outside a transaction")
	_, err = p.SendBatch(ctx, []Record{{Topic: "t"}}, nil)
	assert.ErrorIs(t, err, ErrTxnState, "batch outside a transaction")
	assert.ErrorIs(t, p.SendOffsetsToTransaction(ctx, nil, GroupMetadata{GroupID: "g"}), ErrTxnState)
	require.NoError(t, p.BeginTransaction())
	assert.ErrorIs(t, p.BeginTransaction(), ErrTxnState, "begin twice")
	// An empty transaction commits without contacting the coordinator.
	require.NoError(t, p.CommitTransaction(ctx))
	require.NoError(t, p.BeginTransaction())
	require.NoError(t, p.AbortTransaction(ctx))
}

// TestTxnCloseWhileAddingPartitions: records held back for an
// AddPartitionsToTxn that never answers still get their callbacks when
// Close gives up, and Close leaves nothing running.
func TestTxnCloseWhileAddingPartitions(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	ctx := txnCtx(t)
	p, err := New(txnConfig(c, "tx-close"))
	require.NoError(t, err)
	require.NoError(t, p.InitTransactions(ctx))

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	arrived := make(chan struct{}, 1)
	c.ControlKey(int16(kmsg.AddPartitionsToTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case arrived <- struct{}{}:
		default:
		}
		sleepUntil(c, release)
		return nil, nil, false
	})
	require.NoError(t, p.BeginTransaction())
	wait := sendAll(t, p, "t", "held")
	<-arrived // the request is parked: the record is held by the sender

	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Close(cctx), context.DeadlineExceeded)
	errs := wait()
	assert.ErrorIs(t, errs[0], ErrClosed)
}

// TestTxnManyPartitions: each partition joins a transaction once, however
// many batches it gets, and joins again in the next transaction.
func TestTxnManyPartitions(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(4, "t"))
	ctx := txnCtx(t)
	var mu sync.Mutex
	added := map[int32]int{}
	c.ControlKey(int16(kmsg.AddPartitionsToTxn), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, rt := range kreq.(*kmsg.AddPartitionsToTxnRequest).Topics {
			for _, part := range rt.Partitions {
				added[part]++
			}
		}
		return nil, nil, false
	})
	p := newProducer(t, txnConfig(c, "tx-many"))
	require.NoError(t, p.InitTransactions(ctx))
	for txn := 1; txn <= 2; txn++ {
		require.NoError(t, p.BeginTransaction())
		var recs []Record
		for i := range 200 {
			recs = append(recs, Record{Topic: "t", Partition: ToPartition(int32(i % 4)), Value: []byte(fmt.Sprint(i))})
		}
		_, err := p.SendBatch(ctx, recs, nil)
		require.NoError(t, err)
		require.NoError(t, p.CommitTransaction(ctx))
		mu.Lock()
		assert.Equal(t, map[int32]int{0: txn, 1: txn, 2: txn, 3: txn}, added, "transaction %d", txn)
		mu.Unlock()
	}
}

// TestTxnProduceErrorThenAbort: a batch the broker refuses (a non-retriable
// error, or lost sequences) dooms the transaction, not the producer; the
// abort moves the producer to a new epoch and the next transaction commits.
func TestTxnProduceErrorThenAbort(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int16
	}{
		{"out_of_order_sequence", kerr.OutOfOrderSequenceNumber.Code},
		{"unknown_producer_id", kerr.UnknownProducerID.Code},
		{"topic_authorization_failed", kerr.TopicAuthorizationFailed.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, kfake.SeedTopics(1, "t"))
			ctx := txnCtx(t)
			p := newProducer(t, txnConfig(c, "tx-"+tc.name))
			require.NoError(t, p.InitTransactions(ctx))
			_, epoch0 := p.acc.ProducerID()
			c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				return produceError(kreq.(*kmsg.ProduceRequest), tc.code), nil, true // once
			})
			require.NoError(t, p.BeginTransaction())
			_, err := p.SendSync(ctx, Record{Topic: "t", Value: []byte("refused")})
			require.ErrorIs(t, err, ErrAbortableTxn)
			assert.ErrorIs(t, err, kerr.ForCode(tc.code))
			assert.ErrorIs(t, p.CommitTransaction(ctx), ErrAbortableTxn)
			require.NoError(t, p.AbortTransaction(ctx))
			_, epoch1 := p.acc.ProducerID()
			assert.Greater(t, epoch1, epoch0, "the abort bumps the epoch: the refused batch left a sequence gap")

			require.NoError(t, p.BeginTransaction())
			_, err = p.SendSync(ctx, Record{Topic: "t", Value: []byte("ok")})
			require.NoError(t, err)
			require.NoError(t, p.CommitTransaction(ctx))
			assert.Equal(t, []string{"ok"}, readUntil(t, c.ListenAddrs(), "t", true, "ok"))
		})
	}
}

// TestTxnFencedCommit: a producer fenced while its transaction is open
// learns it from CommitTransaction, as a fatal error.
func TestTxnFencedCommit(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	ctx := txnCtx(t)
	p1 := newProducer(t, txnConfig(c, "tx-fenced-commit"))
	require.NoError(t, p1.InitTransactions(ctx))
	require.NoError(t, p1.BeginTransaction())
	_, err := p1.SendSync(ctx, Record{Topic: "t", Value: []byte("zombie")})
	require.NoError(t, err)

	p2 := newProducer(t, txnConfig(c, "tx-fenced-commit"))
	require.NoError(t, p2.InitTransactions(ctx))

	err = p1.CommitTransaction(ctx)
	require.ErrorIs(t, err, ErrFatalTxn)
	assert.True(t, errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch), "%v", err)
	assert.NotErrorIs(t, err, ErrAbortableTxn)
	assert.ErrorIs(t, p1.BeginTransaction(), ErrFatalTxn)

	// p2's InitTransactions aborted the zombie's transaction.
	require.NoError(t, p2.BeginTransaction())
	_, err = p2.SendSync(ctx, Record{Topic: "t", Value: []byte("p2")})
	require.NoError(t, err)
	require.NoError(t, p2.CommitTransaction(ctx))
	assert.Equal(t, []string{"p2"}, readUntil(t, c.ListenAddrs(), "t", true, "p2"))
}

func TestTxnConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"default timeout", Config{Brokers: []string{"127.0.0.1:1"}, TransactionalID: "x"}, ""},
		{"without idempotence", Config{Brokers: []string{"127.0.0.1:1"}, TransactionalID: "x", DisableIdempotence: true}, "requires idempotence"},
		{"negative timeout", Config{Brokers: []string{"127.0.0.1:1"}, TransactionalID: "x", TransactionTimeout: -time.Second}, "TransactionTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.withDefaults()
			err := cfg.validate()
			if tc.want == "" {
				assert.NoError(t, err)
				assert.Equal(t, 60*time.Second, cfg.TransactionTimeout)
				return
			}
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestTxnAbortStopsRetries: AbortTransaction does not wait out
// delivery.timeout.ms for a batch the broker keeps refusing with a
// retriable error: the doomed transaction's batches stop retrying. The
// abort moves to a new epoch (a sent batch failed) and the next
// transaction commits.
func TestTxnAbortStopsRetries(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(1, "t"))
	ctx := txnCtx(t)
	p := newProducer(t, txnConfig(c, "tx-abort-retries"))
	require.NoError(t, p.InitTransactions(ctx))
	_, epoch0 := p.acc.ProducerID()

	var refuse atomic.Bool
	refuse.Store(true)
	refused := make(chan struct{}, 1)
	c.ControlKey(int16(kmsg.Produce), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refuse.Load() {
			return nil, nil, false
		}
		select {
		case refused <- struct{}{}:
		default:
		}
		return produceError(kreq.(*kmsg.ProduceRequest), kerr.NotEnoughReplicas.Code), nil, true
	})
	require.NoError(t, p.BeginTransaction())
	wait := sendAll(t, p, "t", "doomed")
	<-refused // sent and refused at least once: it is retrying

	actx, cancel := context.WithTimeout(ctx, 10*time.Second) // far below delivery.timeout.ms (120s)
	defer cancel()
	require.NoError(t, p.AbortTransaction(actx))
	err := wait()[0]
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrAbortedTxn), "%v", err)
	_, epoch1 := p.acc.ProducerID()
	assert.Greater(t, epoch1, epoch0)

	refuse.Store(false)
	require.NoError(t, p.BeginTransaction())
	_, err = p.SendSync(ctx, Record{Topic: "t", Value: []byte("ok")})
	require.NoError(t, err)
	require.NoError(t, p.CommitTransaction(ctx))
	assert.Equal(t, []string{"ok"}, readUntil(t, c.ListenAddrs(), "t", true, "ok"))
}

package broker

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sarama's transactional producer (IBM/sarama, a client we did not write)
// against the bundled broker.

// saramaTxnConfig is a transactional sarama config: sarama requires
// idempotence, acks=all and one request in flight for a transactional id.
func saramaTxnConfig(version sarama.KafkaVersion, txnID string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "skiff-sarama-txn"
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Transaction.ID = txnID
	cfg.Producer.Transaction.Timeout = 30 * time.Second
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Retry.Backoff = 50 * time.Millisecond
	cfg.Net.MaxOpenRequests = 1
	return cfg
}

// saramaReadCommitted reads every partition of topic from the oldest offset
// with a read_committed sarama consumer until it has n records.
func saramaReadCommitted(t testing.TB, b *Broker, version sarama.KafkaVersion, topic string, partitions int32, n int) []string {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cons, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
	require.NoError(t, err)
	defer cons.Close()
	msgs := make(chan *sarama.ConsumerMessage)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var pcs []sarama.PartitionConsumer
	// The readers end when their Messages channels close (AsyncClose).
	defer func() {
		close(stop)
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		wg.Wait()
	}()
	for p := range partitions {
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		require.NoError(t, err)
		pcs = append(pcs, pc)
		wg.Go(func() {
			for m := range pc.Messages() {
				select {
				case msgs <- m:
				case <-stop:
				}
			}
		})
	}
	c := ctx(t)
	var out []string
	for len(out) < n {
		select {
		case m := <-msgs:
			out = append(out, string(m.Value))
		case <-c.Done():
			t.Fatalf("sarama read_committed consumer got %d of %d records of %s", len(out), n, topic)
		}
	}
	sort.Strings(out)
	return out
}

// TestSaramaTransactions: BeginTxn/CommitTxn/AbortTxn of sarama's
// transactional producer, at a version sending the pre-2.7 request
// versions and one sending the flexible ones; read_committed readers of two
// families (kgo and sarama) see exactly the committed records, a
// read_uncommitted one all of them.
func TestSaramaTransactions(t *testing.T) {
	for _, tc := range []struct {
		version sarama.KafkaVersion
		uses    []apiUse // the transaction requests and versions sarama sends
	}{
		{sarama.V2_0_0_0, []apiUse{{findCoordinatorKey, 2}, {initProducerIDKey, 1}, {addPartitionsToTxnKey, 1}, {produceKey, 6}, {endTxnKey, 1}}},
		{sarama.V2_8_0_0, []apiUse{{findCoordinatorKey, 3}, {initProducerIDKey, 4}, {addPartitionsToTxnKey, 3}, {produceKey, 9}, {endTxnKey, 3}}},
	} {
		version := tc.version
		t.Run(version.String(), func(t *testing.T) {
			t.Parallel()
			b, rec := clientBroker(t)
			const topic, n = "sarama-txn", 30 // a multiple of the partitions: each transaction reaches every one
			require.NoError(t, b.CreateTopic(topic, clientPartitions, nil))
			cfg := saramaTxnConfig(version, "sarama-tx-"+version.String())
			// Round robin puts each transaction's records on every
			// partition, so a reader that saw all of "c2" read past "ab".
			cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
			seen := rec.during(func() {
				prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
				require.NoError(t, err)
				defer func() { assert.NoError(t, prod.Close()) }()
				for _, tx := range []struct {
					prefix string
					commit bool
				}{{"c1", true}, {"ab", false}, {"c2", true}} {
					require.NoError(t, prod.BeginTxn())
					var msgs []*sarama.ProducerMessage
					for i := range n {
						msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprintf("%s-%d", tx.prefix, i))})
					}
					// SendMessages returns once every record is acknowledged,
					// so the aborted ones are in the log.
					require.NoError(t, prod.SendMessages(msgs), tx.prefix)
					if tx.commit {
						require.NoError(t, prod.CommitTxn(), tx.prefix)
					} else {
						require.NoError(t, prod.AbortTxn(), tx.prefix)
					}
					assert.Equal(t, sarama.ProducerTxnFlagReady, prod.TxnStatus(), "%s: ready for the next transaction", tx.prefix)
				}
			})
			assertUsed(t, "sarama "+version.String(), seen, tc.uses...)

			want := prefixedValues(n, "c1", "c2")
			assert.Equal(t, want, kgoValues(consumeN(t, b, topic, 2*n, readCommitted())), "read_committed (kgo)")
			assert.Equal(t, want, saramaReadCommitted(t, b, version, topic, clientPartitions, 2*n), "read_committed (sarama)")
			assert.Equal(t, prefixedValues(n, "c1", "ab", "c2"), kgoValues(consumeN(t, b, topic, 3*n)), "read_uncommitted (kgo)")
		})
	}
}

// saramaTxnETL is a consume-transform-produce sarama ConsumerGroupHandler:
// for each batch a claim delivers it opens a transaction, produces the
// transformed records and adds the batch's offsets with the session's
// group metadata (AddOffsetsToTxnWithGroupMetadata: AddOffsetsToTxn +
// TxnOffsetCommit v3 with member and generation). The first transaction
// of the run is aborted and its batch done again, as an application does
// after an abortable error.
type saramaTxnETL struct {
	group    string
	out      string
	prod     sarama.SyncProducer
	total    int
	mu       sync.Mutex // serialises transactions: one producer, a goroutine per claim
	done     int
	aborted  bool
	finished chan struct{}
	// afterAbort runs once the aborted transaction is answered.
	afterAbort func()
}

func (h *saramaTxnETL) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaTxnETL) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaTxnETL) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		var batch []*sarama.ConsumerMessage
		select {
		case m, ok := <-c.Messages():
			if !ok {
				return nil
			}
			batch = append(batch, m)
		case <-s.Context().Done():
			return nil
		}
	more: // whatever else is already there joins the batch
		for {
			select {
			case m, ok := <-c.Messages():
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		if err := h.transact(s, batch); err != nil {
			return err
		}
	}
}

func (h *saramaTxnETL) transact(s sarama.ConsumerGroupSession, batch []*sarama.ConsumerMessage) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		abort := !h.aborted
		if err := h.prod.BeginTxn(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		var msgs []*sarama.ProducerMessage
		for _, m := range batch {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: h.out, Key: sarama.ByteEncoder(m.Key), Value: sarama.ByteEncoder(append([]byte("out-"), m.Value...))})
		}
		if err := h.prod.SendMessages(msgs); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		last := batch[len(batch)-1]
		offsets := map[string][]*sarama.PartitionOffsetMetadata{last.Topic: {{Partition: last.Partition, Offset: last.Offset + 1}}}
		if err := h.prod.AddOffsetsToTxnWithGroupMetadata(offsets, sarama.NewConsumerGroupMetadataFromSession(s, h.group, nil)); err != nil {
			return fmt.Errorf("add offsets: %w", err)
		}
		if abort {
			h.aborted = true
			if err := h.prod.AbortTxn(); err != nil {
				return fmt.Errorf("abort: %w", err)
			}
			h.afterAbort()
			continue // the same batch again, committed this time
		}
		if err := h.prod.CommitTxn(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		h.done += len(batch)
		if h.done == h.total {
			close(h.finished)
		}
		return nil
	}
}

// TestSaramaTransactionalETL: a sarama consumer group and transactional
// producer in a consume-transform-produce loop, with the offsets in the
// transactions and one aborted transaction: every input record appears
// exactly once in the output under read_committed, and the group's
// committed offsets are the input's end (none from the aborted one).
func TestSaramaTransactionalETL(t *testing.T) {
	b := startBroker(t, Config{NumPartitions: clientPartitions, GroupInitialRebalanceDelay: -1})
	const in, out, group, n = "sarama-etl-in", "sarama-etl-out", "sarama-etl", 60
	require.NoError(t, b.CreateTopic(in, clientPartitions, nil))
	require.NoError(t, b.CreateTopic(out, clientPartitions, nil))
	admin := newClient(t, b)
	var input []*kgo.Record
	for i := range n {
		input = append(input, &kgo.Record{Topic: in, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v-%d", i)})
	}
	require.NoError(t, admin.ProduceSync(ctx(t), input...).FirstErr())
	end := map[int32]int64{}
	for _, r := range input {
		end[r.Partition] = max(end[r.Partition], r.Offset+1)
	}

	cfg := saramaTxnConfig(sarama.V2_8_0_0, "sarama-etl-tx")
	prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
	require.NoError(t, err)
	defer func() { assert.NoError(t, prod.Close()) }()

	ccfg := sarama.NewConfig()
	ccfg.Version = sarama.V2_8_0_0
	ccfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	ccfg.Consumer.Offsets.AutoCommit.Enable = false // the transactions commit
	ccfg.Consumer.IsolationLevel = sarama.ReadCommitted
	ccfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cg, err := sarama.NewConsumerGroup([]string{b.Addr()}, group, ccfg)
	require.NoError(t, err)
	var offsetsAfterAbort kadm.OffsetResponses
	h := &saramaTxnETL{group: group, out: out, prod: prod, total: n, finished: make(chan struct{}), afterAbort: func() {
		// Offsets would be materialised before CompleteAbort is logged;
		// no event tells when that is, so poll.
		assert.Eventually(t, func() bool { return describeTxn(t, admin, "sarama-etl-tx").State == "CompleteAbort" },
			10*time.Second, 10*time.Millisecond)
		offs, err := kadm.NewClient(admin).FetchOffsets(ctx(t), group)
		assert.NoError(t, err)
		offsetsAfterAbort = offs
	}}
	c := ctx(t)
	stop, cancel := context.WithCancel(c)
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for stop.Err() == nil {
			if err := cg.Consume(stop, []string{in}, h); err != nil && stop.Err() == nil {
				errs <- err
				return
			}
		}
	}()
	select {
	case <-h.finished:
	case err := <-errs:
		t.Fatalf("sarama consume-transform-produce: %v", err)
	case <-c.Done():
		h.mu.Lock()
		t.Fatalf("sarama transformed %d of %d records", h.done, n)
	}
	cancel()
	for err := range errs {
		assert.NoError(t, err)
	}
	require.NoError(t, cg.Close())
	assert.True(t, h.aborted)
	offsetsAfterAbort.Each(func(o kadm.OffsetResponse) {
		assert.Fail(t, "the aborted transaction committed an offset", "%s[%d] at %d", o.Topic, o.Partition, o.At)
	})

	assert.Equal(t, prefixedValues(n, "out-v"), kgoValues(consumeN(t, b, out, n, readCommitted())), "every input exactly once under read_committed")
	// The group's offsets become visible with the last transaction's
	// markers, in the background; no event tells when, so poll.
	assert.Eventually(t, func() bool {
		offs, err := kadm.NewClient(admin).FetchOffsets(ctx(t), group)
		require.NoError(t, err)
		got := map[int32]int64{}
		offs.Each(func(o kadm.OffsetResponse) { got[o.Partition] = o.At })
		return assert.ObjectsAreEqual(end, got)
	}, 10*time.Second, 20*time.Millisecond, "the group's offsets are the input's end")
}

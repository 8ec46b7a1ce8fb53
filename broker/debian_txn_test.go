package broker

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The transactional side of confluent-kafka-python 1.7.0 on librdkafka
// 2.0.2 (Debian's python3-confluent-kafka) against the broker, driven by
// testdata/clients/confluent_txn.py. Like debian_clients_test.go it skips
// only when the client is missing, and fails when it is missing under
// CI=true.

// txnValues returns the sorted values of records.
func txnValues(recs []clientRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Value
	}
	sort.Strings(out)
	return out
}

// prefixedValues returns "<prefix>-0" … "<prefix>-<n-1>" for each prefix,
// sorted as txnValues sorts.
func prefixedValues(n int, prefixes ...string) []string {
	var out []string
	for _, p := range prefixes {
		for i := range n {
			out = append(out, fmt.Sprintf("%s-%d", p, i))
		}
	}
	sort.Strings(out)
	return out
}

func kgoValues(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	sort.Strings(out)
	return out
}

func TestConfluentKafkaPythonTransactions(t *testing.T) {
	py := pythonWith(t, "python3-confluent-kafka", "confluent_kafka")
	parts := strconv.Itoa(clientPartitions)

	// init_transactions, a committed, an aborted and a committed
	// transaction; a read_committed librdkafka consumer sees exactly the
	// committed records, a read_uncommitted one all of them (so the
	// aborted ones were written and filtering is what hides them).
	t.Run("commit-abort", func(t *testing.T) {
		t.Parallel()
		b, rec := clientBroker(t)
		const topic, n = "confluent-txn", 30
		require.NoError(t, b.CreateTopic(topic, clientPartitions, nil))
		var out []byte
		seen := rec.during(func() {
			out = runScript(t, py, "confluent_txn.py", "--bootstrap", b.Addr(), "--topic", topic, "--mode", "txn",
				"--partitions", parts, "--count", strconv.Itoa(n), "--debug", "eos,protocol,broker")
		})
		assertUsed(t, "confluent-kafka transactions", seen, apiUse{findCoordinatorKey, 2}, apiUse{initProducerIDKey, 4},
			apiUse{addPartitionsToTxnKey, 0}, apiUse{endTxnKey, 1}, apiUse{produceKey, 7})
		var res struct {
			DeliveryErrors    []string       `json:"delivery_errors"`
			Committed         []clientRecord `json:"committed"`
			CommittedErrors   []string       `json:"committed_errors"`
			Uncommitted       []clientRecord `json:"uncommitted"`
			UncommittedErrors []string       `json:"uncommitted_errors"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "confluent_txn.py output: %s", out)
		assert.Empty(t, res.DeliveryErrors)
		assert.Empty(t, res.CommittedErrors)
		assert.Empty(t, res.UncommittedErrors)
		assert.Equal(t, prefixedValues(n, "c1", "c2"), txnValues(res.Committed), "read_committed (librdkafka)")
		assert.Equal(t, prefixedValues(n, "c1", "ab", "c2"), txnValues(res.Uncommitted), "read_uncommitted (librdkafka)")
		// And a client of another family agrees.
		assert.Equal(t, prefixedValues(n, "c1", "c2"), kgoValues(consumeN(t, b, topic, 2*n, readCommitted())), "read_committed (kgo)")
		admin := newClient(t, b)
		assert.Eventually(t, func() bool { return describeTxn(t, admin, "skiff-confluent-txn").State == "CompleteCommit" },
			10*time.Second, 10*time.Millisecond)
	})

	// send_offsets_to_transaction with a consumer group: an aborted
	// transaction's output and offsets vanish, a committed one's output
	// appears exactly once and its offsets are the group's.
	t.Run("send-offsets", func(t *testing.T) {
		t.Parallel()
		b, rec := startClientBrokerNoDelay(t)
		const in, outTopic, group, n = "confluent-etl-in", "confluent-etl-out", "confluent-etl", 40
		require.NoError(t, b.CreateTopic(in, clientPartitions, nil))
		require.NoError(t, b.CreateTopic(outTopic, clientPartitions, nil))
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

		var out []byte
		seen := rec.during(func() {
			out = runScript(t, py, "confluent_txn.py", "--bootstrap", b.Addr(), "--topic", in, "--out", outTopic,
				"--mode", "etl", "--group", group, "--txn-id", "confluent-etl-tx", "--partitions", parts,
				"--count", strconv.Itoa(n), "--debug", "eos,protocol,cgrp")
		})
		assertUsed(t, "confluent-kafka send_offsets_to_transaction", seen,
			apiUse{addOffsetsToTxnKey, 0}, apiUse{txnOffsetCommitKey, 3}, apiUse{endTxnKey, 1})
		var res struct {
			DeliveryErrors      []string        `json:"delivery_errors"`
			CommittedAfterAbort map[int32]int64 `json:"committed_after_abort"`
			GroupCommitted      map[int32]int64 `json:"group_committed"`
			Assignment          []int32         `json:"assignment"`
			Committed           []clientRecord  `json:"committed"`
			CommittedErrors     []string        `json:"committed_errors"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "confluent_txn.py output: %s", out)
		assert.Empty(t, res.DeliveryErrors)
		assert.Empty(t, res.CommittedErrors)
		assert.Equal(t, []int32{0, 1, 2}, res.Assignment)
		assert.Len(t, res.CommittedAfterAbort, clientPartitions)
		for p, off := range res.CommittedAfterAbort {
			assert.Negative(t, off, "partition %d: the aborted transaction's offset %d was committed", p, off)
		}
		want := prefixedValues(n, "out-v")
		assert.Equal(t, want, txnValues(res.Committed), "read_committed output (librdkafka): every input exactly once")
		assert.Equal(t, want, kgoValues(consumeN(t, b, outTopic, n, readCommitted())), "read_committed output (kgo)")
		for p := range int32(clientPartitions) {
			assert.Equal(t, end[p], res.GroupCommitted[p], "partition %d: offset committed in the transaction, as librdkafka read it", p)
		}
		assert.Equal(t, end, committedOffsets(t, b, group, in, clientPartitions))
	})
}

// startClientBrokerNoDelay is clientBroker without the group's initial
// rebalance delay, so a one-member group is formed at once.
func startClientBrokerNoDelay(t testing.TB) (*Broker, *apiRecorder) {
	t.Helper()
	rec := &apiRecorder{seen: map[apiUse]bool{}}
	return startBroker(t, Config{NumPartitions: clientPartitions, Faults: rec.faults, GroupInitialRebalanceDelay: -1}), rec
}

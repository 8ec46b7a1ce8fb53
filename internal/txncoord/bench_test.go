package txncoord

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkTransaction is one committed transaction on two partitions with
// staged offsets, as the coordinator sees it: AddPartitions,
// AddOffsetsToTxn, TxnOffsetCommit, EndTxn, the markers (free here) and
// the completion record. Each step is one fsync of the log.
func BenchmarkTransaction(b *testing.B) {
	e := newEnv(b)
	c := e.open(b)
	done := make(chan struct{}, 1)
	c.completed = func(string) { done <- struct{}{} }
	pe, err := c.InitProducerID("bench", txnTimeout, NoProducer)
	require.NoError(b, err)
	req := TxnOffsetCommitRequest{TransactionalID: "bench", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g", Generation: -1}
	offs := []TxnOffset{{Topic: "in", Partition: 0, LeaderEpoch: -1}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for _, err := range c.AddPartitions("bench", pe.ProducerID, pe.Epoch, []TopicPartition{tpA0, tpB0}) {
			require.NoError(b, err)
		}
		require.NoError(b, c.AddOffsetsToTxn("bench", pe.ProducerID, pe.Epoch, "g"))
		offs[0].Offset = int64(i)
		require.NoError(b, c.TxnOffsetCommit(req, offs))
		require.NoError(b, c.EndTxn("bench", pe.ProducerID, pe.Epoch, true))
		<-done
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txns/s")
}

// BenchmarkTransactionsConcurrent is BenchmarkTransaction from 8
// transactional ids at once, each on its own partitions' worth of work:
// what sharing the log's fsyncs between them (group commit) buys.
func BenchmarkTransactionsConcurrent(b *testing.B) {
	const producers = 8
	e := newEnv(b)
	c := e.open(b)
	done := make(map[string]chan struct{}, producers)
	ids := make([]string, producers)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d", i)
		done[ids[i]] = make(chan struct{}, 1)
	}
	c.completed = func(id string) { done[id] <- struct{}{} }
	pes := make([]ProducerIDEpoch, producers)
	for i, id := range ids {
		pe, err := c.InitProducerID(id, txnTimeout, NoProducer)
		require.NoError(b, err)
		pes[i] = pe
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			id, pe := ids[p], pes[p]
			req := TxnOffsetCommitRequest{TransactionalID: id, ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "g-" + id, Generation: -1}
			offs := []TxnOffset{{Topic: "in", Partition: int32(p), LeaderEpoch: -1}}
			for i := p; i < b.N; i += producers {
				for _, err := range c.AddPartitions(id, pe.ProducerID, pe.Epoch, []TopicPartition{tpA0, tpB0}) {
					require.NoError(b, err)
				}
				require.NoError(b, c.AddOffsetsToTxn(id, pe.ProducerID, pe.Epoch, req.Group))
				offs[0].Offset = int64(i)
				require.NoError(b, c.TxnOffsetCommit(req, offs))
				require.NoError(b, c.EndTxn(id, pe.ProducerID, pe.Epoch, true))
				<-done[id]
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txns/s")
}

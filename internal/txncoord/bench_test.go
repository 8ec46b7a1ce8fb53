package txncoord

import (
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

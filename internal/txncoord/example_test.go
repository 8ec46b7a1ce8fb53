package txncoord_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/skiffkit/skiff/internal/txncoord"
)

type ids struct{ next int64 }

func (p *ids) NextProducerID() (int64, error) { p.next++; return p.next, nil }

type topics struct{}

func (topics) PartitionExists(topic string, partition int32) bool { return topic == "out" }

type logs struct{}

func (l logs) WriteMarker(topic string, partition int32, pid int64, epoch int16, _ int32, commit bool) error {
	fmt.Printf("marker %s[%d] producer %d epoch %d commit=%v\n", topic, partition, pid, epoch, commit)
	return nil
}

type groups struct{ done chan struct{} }

func (groups) ValidateTxnOffsetCommit(string, string, *string, int32) error { return nil }

func (g groups) CommitTxnOffsets(group string, pid int64, offs []txncoord.TxnOffset) error {
	fmt.Printf("offsets of %s visible: %s[%d]=%d\n", group, offs[0].Topic, offs[0].Partition, offs[0].Offset)
	close(g.done)
	return nil
}

// A consume-transform-produce transaction as the broker drives it.
func Example() {
	dir, _ := os.MkdirTemp("", "txncoord")
	defer os.RemoveAll(dir)
	done := make(chan struct{})
	c, err := txncoord.New(txncoord.Config{
		DataDir: dir, ProducerIDs: &ids{}, Partitions: topics{},
		Markers: logs{}, Offsets: groups{done: done},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close(context.Background())

	pe, _ := c.InitProducerID("etl", time.Minute, txncoord.NoProducer)
	c.AddPartitions("etl", pe.ProducerID, pe.Epoch, []txncoord.TopicPartition{{Topic: "out", Partition: 0}})
	c.AddOffsetsToTxn("etl", pe.ProducerID, pe.Epoch, "readers")
	c.TxnOffsetCommit(txncoord.TxnOffsetCommitRequest{
		TransactionalID: "etl", ProducerID: pe.ProducerID, Epoch: pe.Epoch, Group: "readers", Generation: -1,
	}, []txncoord.TxnOffset{{Topic: "in", Partition: 0, Offset: 100, LeaderEpoch: -1}})
	if err := c.EndTxn("etl", pe.ProducerID, pe.Epoch, true); err != nil {
		panic(err)
	}
	<-done // the commit completes in the background
	// Output:
	// marker out[0] producer 1 epoch 0 commit=true
	// offsets of readers visible: in[0]=100
}

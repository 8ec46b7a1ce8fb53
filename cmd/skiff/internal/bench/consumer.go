package bench

import (
	"context"

	"github.com/skiffkit/skiff/consumer"
)

var _ ConsumeTarget = (*Cluster)(nil)

// NewConsumer opens a skiff consumer in assign mode (no group: a group's
// join and rebalance would be measured too) on every partition of topic,
// from the earliest offset.
func (c *Cluster) NewConsumer(_ context.Context, p FetchPoint, topic string, partitions int) (Consumer, error) {
	assign := make([]consumer.TopicPartitionOffset, partitions)
	for i := range assign {
		assign[i] = consumer.TopicPartitionOffset{Partition: int32(i), Offset: consumer.OffsetEarliest, LeaderEpoch: -1}
	}
	cons, err := consumer.New(consumer.Config{
		Brokers:                c.brokers,
		ClientID:               "skiff-bench",
		Assign:                 map[string][]consumer.TopicPartitionOffset{topic: assign},
		FetchMinBytes:          int32(p.MinBytes),
		MaxPartitionFetchBytes: int32(p.MaxPartitionBytes),
		Logger:                 c.log,
		TLS:                    c.tls,
		SASL:                   c.sasl,
	})
	if err != nil {
		return nil, err
	}
	return skiffConsumer{cons}, nil
}

type skiffConsumer struct{ c *consumer.Consumer }

func (s skiffConsumer) Poll(ctx context.Context) (int, int64, error) {
	recs, err := s.c.Poll(ctx)
	var bytes int64
	for i := range recs {
		bytes += int64(len(recs[i].Key) + len(recs[i].Value))
	}
	return len(recs), bytes, err
}

func (s skiffConsumer) Close(ctx context.Context) error { return s.c.Close(ctx) }

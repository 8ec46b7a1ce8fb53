package consumer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/serializer"
)

// exampleCluster starts an in-process Kafka (kfake) with three records in
// topic "orders", so the examples run as they are.
func exampleCluster() (*kfake.Cluster, func()) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		panic(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	for i := 1; i <= 3; i++ {
		r := &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprintf("order-%d", i)), Value: []byte(fmt.Sprintf(`{"id":%d,"amount":%d}`, i, i*10))}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			panic(err)
		}
	}
	return c, c.Close
}

// A consumer group member: Poll, process, commit.
func Example() {
	cluster, stop := exampleCluster()
	defer stop()

	c, err := consumer.New(consumer.Config{
		Brokers:           cluster.ListenAddrs(),
		GroupID:           "billing",
		Topics:            []string{"orders"},
		AutoOffsetReset:   "earliest",
		DisableAutoCommit: true,
	})
	if err != nil {
		panic(err)
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for seen := 0; seen < 3; {
		recs, err := c.Poll(ctx)
		if err != nil {
			panic(err)
		}
		for _, r := range recs {
			fmt.Printf("%s[%d]@%d %s\n", r.Topic, r.Partition, r.Offset, r.Key)
		}
		seen += len(recs)
		if err := c.CommitSync(ctx); err != nil {
			panic(err)
		}
	}
	// Output:
	// orders[0]@0 order-1
	// orders[0]@1 order-2
	// orders[0]@2 order-3
}

// Assign mode with typed records: explicit partitions and start offsets,
// keys and values deserialized.
func ExampleNewTyped() {
	cluster, stop := exampleCluster()
	defer stop()

	type order struct {
		ID     int `json:"id"`
		Amount int `json:"amount"`
	}
	c, err := consumer.New(consumer.Config{
		Brokers: cluster.ListenAddrs(),
		Assign:  map[string][]consumer.TopicPartitionOffset{"orders": {{Partition: 0, Offset: 1}}},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close(context.Background())
	typed := consumer.NewTyped(c, serializer.String(), serializer.JSON[order]())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for seen := 0; seen < 2; {
		recs, err := typed.Poll(ctx)
		if err != nil {
			panic(err)
		}
		for _, r := range recs {
			fmt.Printf("%s: id %d amount %d\n", r.Key, r.Value.ID, r.Value.Amount)
		}
		seen += len(recs)
	}
	// Output:
	// order-2: id 2 amount 20
	// order-3: id 3 amount 30
}

// Rebalance callbacks run inside Poll, on the polling goroutine.
func ExampleRebalanceFuncs() {
	cluster, stop := exampleCluster()
	defer stop()

	c, err := consumer.New(consumer.Config{
		Brokers: cluster.ListenAddrs(),
		GroupID: "audit",
		Topics:  []string{"orders"},
		Rebalance: consumer.RebalanceFuncs{
			Assigned: func(ctx context.Context, c *consumer.Consumer, ps []consumer.TopicPartition) {
				fmt.Println("assigned", ps)
				// Start every new partition at the beginning instead of
				// the committed offset.
				for _, p := range ps {
					_ = c.Seek(p.Topic, p.Partition, consumer.OffsetEarliest)
				}
			},
			Revoked: func(ctx context.Context, c *consumer.Consumer, ps []consumer.TopicPartition) {
				fmt.Println("revoked", ps)
			},
		},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for seen := 0; seen < 3; {
		recs, err := c.Poll(ctx)
		if err != nil {
			panic(err)
		}
		seen += len(recs)
	}
	_ = c.Close(ctx)
	// Output:
	// assigned [orders[0]]
	// revoked [orders[0]]
}

package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/serializer"
)

// A throwaway broker for the examples; use your cluster's addresses.
func exampleBrokers() ([]string, func()) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"))
	if err != nil {
		log.Fatal(err)
	}
	return c.ListenAddrs(), c.Close
}

func Example() {
	brokers, stop := exampleBrokers()
	defer stop()

	p, err := producer.New(producer.Config{Brokers: brokers, Linger: 5 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	ctx := context.Background()
	for i := range 3 {
		rec := producer.Record{Topic: "orders", Key: []byte("customer-1"), Value: fmt.Appendf(nil, "order %d", i)}
		err := p.Send(ctx, rec, func(md producer.RecordMetadata, err error) {
			if err != nil {
				log.Printf("order %d failed: %v", i, err)
				return
			}
			fmt.Printf("order %d at offset %d\n", i, md.Offset)
		})
		if err != nil {
			log.Fatal(err) // not accepted: too large, buffer full, closed...
		}
	}
	if err := p.Flush(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// order 0 at offset 0
	// order 1 at offset 1
	// order 2 at offset 2
}

func ExampleProducer_SendSync() {
	brokers, stop := exampleBrokers()
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	md, err := p.SendSync(context.Background(), producer.Record{
		Topic:     "orders",
		Partition: producer.ToPartition(2),
		Value:     []byte("hello"),
		Headers:   []producer.Header{{Key: "source", Value: []byte("example")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(md.Topic, md.Partition, md.Offset)
	// Output: orders 2 0
}

type Order struct {
	ID   int    `json:"id"`
	Item string `json:"item"`
}

func ExampleNewTyped() {
	brokers, stop := exampleBrokers()
	defer stop()
	p, err := producer.New(producer.Config{Brokers: brokers, Compression: producer.CompressionZstd})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	orders := producer.NewTyped(p, serializer.String(), serializer.JSON[Order]())
	md, err := orders.SendSync(context.Background(), producer.TypedRecord[string, Order]{
		Topic: "orders", Key: "customer-7", Value: Order{ID: 1, Item: "oar"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(md.Offset)
	// Output: 0
}

// A transaction: the records become visible to read_committed consumers
// all together on commit, or never.
func ExampleProducer_BeginTransaction() {
	brokers, stop := exampleBrokers()
	defer stop()

	p, err := producer.New(producer.Config{Brokers: brokers, TransactionalID: "orders-etl-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	ctx := context.Background()
	if err := p.InitTransactions(ctx); err != nil { // fences older instances
		log.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		if err := p.Send(ctx, producer.Record{Topic: "orders", Value: fmt.Appendf(nil, "order %d", i)}, nil); err != nil {
			log.Fatal(err)
		}
	}
	// The consumed input's offsets commit with the output (exactly once).
	offsets := map[string]map[int32]producer.Offset{"orders": {0: {Offset: 42, LeaderEpoch: -1}}}
	group := producer.GroupMetadata{GroupID: "etl", GenerationID: -1}
	err = p.SendOffsetsToTransaction(ctx, offsets, group)
	if err == nil {
		err = p.CommitTransaction(ctx) // flushes first
	}
	switch {
	case errors.Is(err, producer.ErrFatalTxn):
		log.Fatal(err) // fenced: another instance took over
	case err != nil:
		_ = p.AbortTransaction(ctx) // and retry the input from its last commit
		fmt.Println("aborted:", err)
	default:
		fmt.Println("committed")
	}
	// Output: committed
}

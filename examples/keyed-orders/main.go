// Command keyed-orders sends JSON orders keyed by customer with a typed
// producer and shows that every order of a customer lands on one partition
// (Kafka's murmur2 key hash, so the Java client would pick the same ones).
//
//	go run ./examples/keyed-orders
//
// Without SKIFF_BROKERS it starts the bundled broker in a temporary
// directory (examples/internal/cluster); with SKIFF_BROKERS=host:port it uses
// that cluster, creating the topic (or checking it has 4 partitions).
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/skiffkit/skiff/examples/internal/cluster"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/serializer"
)

// Order is the record value, serialized as JSON.
type Order struct {
	ID       int     `json:"id"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	brokers, stop, err := cluster.Start(ctx, "orders", 4)
	if err != nil {
		return err
	}
	defer stop()

	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		return err
	}
	defer p.Close(context.Background())
	orders := producer.NewTyped(p, serializer.String(), serializer.JSON[Order]())

	customers := []string{"alice", "bob", "carol", "dave", "erin"}
	partitionOf := map[string]int32{}
	for id := range 20 {
		o := Order{ID: id, Customer: customers[id%len(customers)], Amount: float64(10 + id)}
		md, err := orders.SendSync(ctx, producer.TypedRecord[string, Order]{Topic: "orders", Key: o.Customer, Value: o})
		if err != nil {
			return err
		}
		fmt.Printf("order %2d  %-5s → partition %d offset %d\n", o.ID, o.Customer, md.Partition, md.Offset)
		if prev, seen := partitionOf[o.Customer]; seen && prev != md.Partition {
			return fmt.Errorf("customer %s moved from partition %d to %d", o.Customer, prev, md.Partition)
		}
		partitionOf[o.Customer] = md.Partition
	}
	for _, c := range customers {
		fmt.Printf("%s: every order on partition %d\n", c, partitionOf[c])
	}
	return nil
}

// Command hello produces ten records and reads them back.
//
//	go run ./examples/hello
//
// Without SKIFF_BROKERS it starts the bundled broker in a temporary
// directory (examples/internal/cluster); with SKIFF_BROKERS=host:port it uses
// that cluster, creating the topic if needed.
package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/examples/internal/cluster"
	"github.com/skiffkit/skiff/producer"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	brokers, stop, err := cluster.Start(ctx, "hello", 1)
	if err != nil {
		return err
	}
	defer stop()

	p, err := producer.New(producer.Config{Brokers: brokers})
	if err != nil {
		return err
	}
	start := map[int32]int64{} // where our records begin, per partition
	for i := range 10 {
		md, err := p.SendSync(ctx, producer.Record{Topic: "hello", Value: fmt.Appendf(nil, "hello %d", i)})
		if err != nil {
			return err
		}
		if _, ok := start[md.Partition]; !ok {
			start[md.Partition] = md.Offset
		}
	}
	if err := p.Close(ctx); err != nil {
		return err
	}

	var assign []consumer.TopicPartitionOffset
	for part, off := range start {
		assign = append(assign, consumer.TopicPartitionOffset{Partition: part, Offset: off, LeaderEpoch: -1})
	}
	c, err := consumer.New(consumer.Config{Brokers: brokers, Assign: map[string][]consumer.TopicPartitionOffset{"hello": assign}})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for n := 0; n < 10; {
		recs, err := c.Poll(ctx)
		if err != nil {
			return err
		}
		for _, r := range recs {
			fmt.Printf("%s[%d]@%d: %s\n", r.Topic, r.Partition, r.Offset, r.Value)
			n++
		}
	}
	return nil
}

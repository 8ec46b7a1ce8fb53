package eos_test

import (
	"context"
	"errors"
	"log"

	"github.com/skiffkit/skiff/consumer"
	"github.com/skiffkit/skiff/eos"
	"github.com/skiffkit/skiff/producer"
)

// The consume-transform-produce loop: each Poll's output and the input
// offsets commit together, or not at all. examples/exactly-once runs it.
func ExampleSendOffsets() {
	ctx := context.Background()
	brokers := []string{"127.0.0.1:9092"}
	c, err := consumer.New(consumer.Config{
		Brokers: brokers, GroupID: "etl", Topics: []string{"in"},
		DisableAutoCommit: true, IsolationLevel: consumer.ReadCommitted,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(ctx)
	p, err := producer.New(producer.Config{Brokers: brokers, TransactionalID: "etl-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)
	if err := p.InitTransactions(ctx); err != nil {
		log.Fatal(err)
	}
	for {
		recs, err := c.Poll(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if len(recs) == 0 {
			continue
		}
		if err := p.BeginTransaction(); err != nil {
			log.Fatal(err)
		}
		for _, r := range recs {
			if err := p.Send(ctx, producer.Record{Topic: "out", Key: r.Key, Value: r.Value}, nil); err != nil {
				log.Fatal(err)
			}
		}
		err = eos.SendOffsets(ctx, p, c)
		if err == nil {
			err = p.CommitTransaction(ctx)
		}
		if errors.Is(err, producer.ErrAbortableTxn) {
			// Throw the output away and read the input again from the
			// last committed transaction.
			if err := p.AbortTransaction(ctx); err != nil {
				log.Fatal(err)
			}
			for _, tp := range c.Assignment() {
				_ = c.Seek(tp.Topic, tp.Partition, consumer.OffsetCommitted)
			}
			continue
		}
		if err != nil {
			log.Fatal(err) // fenced by a newer instance, or fatal: stop
		}
	}
}

// Command hello produces ten records and reads them back.
//
//	go run ./examples/hello
//
// Without SKIFF_BROKERS it starts the bundled broker in a temporary
// directory; with SKIFF_BROKERS=host:port it uses that cluster (create the
// topic first: skiff topics create hello).
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/consumer"
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
	brokers, stop, err := cluster(ctx, "hello", 1)
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

// cluster returns $SKIFF_BROKERS, or the bundled broker started in a temporary
// directory with the topic created; stop shuts it down and deletes its data.
func cluster(ctx context.Context, topic string, partitions int32) ([]string, func(), error) {
	if env := os.Getenv("SKIFF_BROKERS"); env != "" {
		return strings.Split(env, ","), func() {}, nil
	}
	dir, err := os.MkdirTemp("", "skiff-example-")
	if err != nil {
		return nil, nil, err
	}
	b, err := broker.Start(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	stop := func() { b.Close(context.Background()); os.RemoveAll(dir) }
	if err := b.CreateTopic(topic, partitions, nil); err != nil {
		stop()
		return nil, nil, err
	}
	return []string{b.Addr()}, stop, nil
}

package broker_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/broker"
)

func Example() {
	dir, err := os.MkdirTemp("", "skiff-broker")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	b, err := broker.Start(ctx, broker.Config{
		Listen:  "127.0.0.1:0", // any free port; b.Addr() says which
		DataDir: dir,
		Fsync:   broker.FsyncAlways, // acks=all waits for the fsync
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close(ctx)

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics("greetings"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()

	res, err := cl.ProduceSync(ctx, &kgo.Record{Topic: "greetings", Value: []byte("hello")}).First()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("produced at offset", res.Offset)

	fetches := cl.PollFetches(ctx)
	fetches.EachRecord(func(r *kgo.Record) { fmt.Printf("consumed %s\n", r.Value) })
	// Output:
	// produced at offset 0
	// consumed hello
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/skiffkit/skiff/internal/fastack"
)

func init() {
	register("sink", "benchmark helper: a Kafka endpoint that acknowledges produce requests without storing them", runSink)
}

func runSink(ctx context.Context, args []string) int {
	return sinkMain(ctx, args, os.Stdout, os.Stderr)
}

// sinkMain runs internal/fastack as its own process, so producers can be
// measured across processes (issue 14) with the broker's costs out of the
// way: it answers Metadata, InitProducerId and Produce, counting records
// and discarding them. It prints "listening on ADDR" once it accepts
// connections, and on SIGINT/SIGTERM the totals it acknowledged.
func sinkMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("skiff sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", "127.0.0.1:9092", "address to listen on (port 0 picks a free one)")
		partitions = fs.Int("partitions", 3, "partitions of every topic")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	s, err := fastack.Listen(*listen, *partitions)
	if err != nil {
		fmt.Fprintf(stderr, "skiff sink: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "listening on %s\n", s.Addr())
	<-ctx.Done()
	s.Close()
	fmt.Fprintf(stdout, "acknowledged %d records in %d batches, %d produce requests\n", s.Records(), s.Batches(), s.Requests())
	return 0
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/consumer"
)

func init() {
	register("bench-consume", "benchmark helper: time one consumer (skiff or kgo) reading a topic from a broker in another process", runBenchRead)
}

var benchReadUsage = usageText{
	synopsis: []string{"skiff bench-consume --brokers ADDR --topic T --records N [flags]"},
	about: "Reads --records records of --topic from the start with one consumer (skiff or kgo, assign mode,\n" +
		"no group) and prints one line:\n\n" +
		"  client=<kgo|skiff> records=<n> bytes=<keys+values> seconds=<s> MB/s=<bytes/s/1e6>\n\n" +
		"The clock starts when the first records arrive. bench/fetch-zerocopy.sh runs it against a `skiff broker` and reads\n" +
		"the broker's CPU time around it.",
	examples: []string{"skiff bench-consume --brokers 127.0.0.1:9092 --topic bench --records 1000000 --client kgo"},
}

func runBenchRead(ctx context.Context, args []string) int {
	return benchReadMain(ctx, args, os.Stdout, os.Stderr)
}

func benchReadMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const cmd = "skiff bench-consume"
	fs := newFlagSet(cmd, benchReadUsage, stdout, stderr)
	var (
		client     = fs.String("client", "kgo", "consumer to time: kgo or skiff")
		brokers    = fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers")
		topic      = fs.String("topic", "bench", "topic to read")
		partitions = fs.Int("partitions", 1, "partitions of --topic (skiff assigns them all)")
		records    = fs.Int("records", 1_000_000, "records to read")
		timeout    = fs.Duration("timeout", 5*time.Minute, "give up after this long")
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, cmd, "unexpected argument %q", pos[0])
	}
	if *records <= 0 || *partitions <= 0 {
		return usageErr(stderr, cmd, "--records and --partitions must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	seeds := strings.Split(*brokers, ",")
	var (
		n, bytes int64
		start    time.Time
		err      error
	)
	switch *client {
	case "kgo":
		n, bytes, start, err = benchConsumeKgo(ctx, seeds, *topic, int64(*records))
	case "skiff":
		n, bytes, start, err = benchConsumeSkiff(ctx, seeds, *topic, *partitions, int64(*records))
	default:
		return usageErr(stderr, cmd, "--client: want kgo or skiff, got %q", *client)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: after %d records: %v\n", cmd, n, err)
		return 1
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "client=%s records=%d bytes=%d seconds=%.3f MB/s=%.1f\n", *client, n, bytes, secs, float64(bytes)/secs/1e6)
	return 0
}

// benchConsumeKgo reads until want records; the clock starts at the first
// fetch that returns records, so connecting and metadata are not timed.
func benchConsumeKgo(ctx context.Context, seeds []string, topic string, want int64) (n, bytes int64, start time.Time, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return 0, 0, start, err
	}
	defer cl.Close()
	for n < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, bytes, start, err
		}
		if err := fs.Err0(); err != nil {
			return n, bytes, start, err
		}
		if start.IsZero() {
			start = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			bytes += int64(len(r.Key) + len(r.Value))
		})
	}
	return n, bytes, start, nil
}

func benchConsumeSkiff(ctx context.Context, seeds []string, topic string, partitions int, want int64) (n, bytes int64, start time.Time, err error) {
	assign := make([]consumer.TopicPartitionOffset, partitions)
	for p := range assign {
		assign[p] = consumer.TopicPartitionOffset{Partition: int32(p), Offset: consumer.OffsetEarliest}
	}
	c, err := consumer.New(consumer.Config{Brokers: seeds, Assign: map[string][]consumer.TopicPartitionOffset{topic: assign},
		FetchMaxWait: 100 * time.Millisecond})
	if err != nil {
		return 0, 0, start, err
	}
	defer c.Close(context.Background())
	for n < want {
		recs, err := c.Poll(ctx)
		if err != nil {
			return n, bytes, start, err
		}
		if start.IsZero() {
			start = time.Now()
		}
		for _, r := range recs {
			n++
			bytes += int64(len(r.Key) + len(r.Value))
		}
	}
	return n, bytes, start, nil
}

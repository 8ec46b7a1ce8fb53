package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/skiffkit/skiff/broker"
)

func init() { register("broker", "run the bundled Kafka broker", runBroker) }

// runBroker runs the bundled broker until ctx is cancelled (SIGINT or
// SIGTERM), then shuts it down cleanly. It prints "listening <addr>" on
// stdout once clients can connect, so scripts can wait for that line.
func runBroker(ctx context.Context, args []string) int {
	return brokerMain(ctx, args, os.Stdout, os.Stderr)
}

func brokerMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("skiff broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", "127.0.0.1:9092", "address to accept clients on (listeners); port 0 picks one")
		advertised = fs.String("advertised", "", "host:port returned to clients in Metadata (advertised.listeners); default the listen address")
		dataDir    = fs.String("data", "./data", "data directory (log.dirs)")
		nodeID     = fs.Int("node-id", 1, "node.id (the apache/kafka image uses 1)")
		partitions = fs.Int("partitions", 1, "partitions of auto-created topics (num.partitions)")
		autoCreate = fs.Bool("auto-create", true, "create unknown topics on Metadata (auto.create.topics.enable)")
		fsync      = fs.String("fsync", "interval", "when to fsync: interval (log.flush.interval.ms), always (acks=all waits for fsync) or none")
		flushEvery = fs.Duration("flush-interval", time.Second, "fsync interval with --fsync interval (log.flush.interval.ms)")
		segBytes   = fs.Int64("segment-bytes", 1<<30, "log.segment.bytes")
		retention  = fs.Duration("retention", 7*24*time.Hour, "log.retention.ms; negative keeps data forever")
		retBytes   = fs.Int64("retention-bytes", -1, "log.retention.bytes per partition; -1 means no limit")
		maxMsg     = fs.Int("message-max-bytes", 1048588, "message.max.bytes")
		verbose    = fs.Bool("v", false, "log at debug level")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "skiff broker: unexpected arguments %q\n", fs.Args())
		return 2
	}
	policy, err := broker.ParseFsyncPolicy(*fsync)
	if err != nil {
		fmt.Fprintln(stderr, "skiff broker:", err)
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	b, err := broker.Start(ctx, broker.Config{
		Listen:                  *listen,
		AdvertisedAddr:          *advertised,
		DataDir:                 *dataDir,
		NodeID:                  new(int32(*nodeID)),
		NumPartitions:           int32(*partitions),
		DisableAutoCreateTopics: !*autoCreate,
		Fsync:                   policy,
		FlushInterval:           *flushEvery,
		SegmentBytes:            *segBytes,
		RetentionMs:             *retention,
		RetentionBytes:          *retBytes,
		MessageMaxBytes:         int32(*maxMsg),
		Logger:                  logger,
	})
	if err != nil {
		fmt.Fprintln(stderr, "skiff broker:", err)
		return 1
	}
	fmt.Fprintln(stdout, "listening", b.Addr())

	<-ctx.Done()
	logger.Info("shutting down")
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Close(closeCtx); err != nil {
		fmt.Fprintln(stderr, "skiff broker: shutdown:", err)
		return 1
	}
	return 0
}

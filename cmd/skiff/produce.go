package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffkit/skiff/producer"
)

func init() { register("produce", "produce records from stdin", runProduce) }

func runProduce(ctx context.Context, args []string) int {
	return produceMain(ctx, args, os.Stdin, os.Stderr)
}

// produceMain reads records from stdin, one per line, sends them and
// waits for every acknowledgement. Exit codes: 0 all acknowledged, 1 a
// record failed or could not be sent, 2 bad usage.
func produceMain(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) int {
	fs := flag.NewFlagSet("skiff produce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		brokers     = fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers (bootstrap.servers)")
		topic       = fs.String("topic", "", "topic to produce to (required)")
		keyDelim    = fs.String("key-delimiter", "", "split each line at the first occurrence into key and value; lines without it get a null key")
		acks        = fs.String("acks", "all", "acks: all (or -1), 1 or 0; anything but all turns idempotence off")
		compression = fs.String("compression", "none", "compression.type: none, gzip, snappy, lz4 or zstd")
		linger      = fs.Duration("linger", 5*time.Millisecond, "linger.ms (0 sends at once)")
		batchSize   = fs.Int("batch-size", 16384, "batch.size in bytes")
		partition   = fs.Int("partition", -1, "send every record to this partition (-1: the default partitioner)")
		maxLine     = fs.Int("max-line", 1<<20, "longest accepted input line in bytes")
		verbose     = fs.Bool("v", false, "log at debug level to stderr")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: skiff produce --topic T [--key-delimiter D] [--acks all|1|0] [--compression C] [--linger 5ms] [--batch-size N] [--partition N] < records")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "skiff produce: "+format+"\n", a...)
		return 2
	}
	if *topic == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	ack, err := producer.ParseAcks(*acks)
	if err != nil {
		return fail("%v", err)
	}
	codec, err := producer.ParseCompression(*compression)
	if err != nil {
		return fail("%v", err)
	}
	if *partition < -1 || *linger < 0 || *batchSize <= 0 || *maxLine <= 0 {
		return fail("--partition must be >= -1, --linger >= 0, --batch-size and --max-line > 0")
	}
	var seeds []string
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			seeds = append(seeds, b)
		}
	}
	// Warnings (retried connection failures, and wire's notice of its own
	// close) would garble the one-line outcome; -v shows everything.
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	cfg := producer.Config{
		Brokers:            seeds,
		ClientID:           "skiff-produce",
		Acks:               ack,
		DisableIdempotence: ack != producer.AcksAll,
		Compression:        codec,
		Linger:             *linger,
		BatchSize:          *batchSize,
		Logger:             slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *linger == 0 {
		cfg.Linger = producer.NoLinger
	}
	p, err := producer.New(cfg)
	if err != nil {
		return fail("%v", err)
	}

	var (
		acked    atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	cb := func(_ producer.RecordMetadata, err error) {
		if err != nil {
			errOnce.Do(func() { firstErr = err })
			return
		}
		acked.Add(1)
	}
	var part producer.Partition
	if *partition >= 0 {
		part = producer.ToPartition(int32(*partition))
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), *maxLine)
	delim := []byte(*keyDelim)
	sent := 0
	var sendErr error
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		// The scanner reuses its buffer; the producer copies the bytes
		// into its batch before Send returns.
		rec := producer.Record{Topic: *topic, Partition: part, Value: line}
		if len(delim) > 0 {
			if k, v, ok := bytes.Cut(line, delim); ok {
				rec.Key, rec.Value = k, v
			}
		}
		if rec.Value == nil {
			rec.Value = []byte{} // an empty line is an empty value, not a tombstone
		}
		if sendErr = p.Send(ctx, rec, cb); sendErr != nil {
			break
		}
		sent++
	}
	if sendErr == nil {
		if err := sc.Err(); err != nil {
			sendErr = fmt.Errorf("reading stdin: %w", err)
		}
	}
	// Close flushes what was accepted; give it the delivery timeout.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute+10*time.Second)
	closeErr := p.Close(cctx)
	cancel()
	switch {
	case sendErr != nil:
		fmt.Fprintf(stderr, "skiff produce: %v (%d of %d records acknowledged)\n", sendErr, acked.Load(), sent)
		return 1
	case firstErr != nil:
		fmt.Fprintf(stderr, "skiff produce: %v (%d of %d records acknowledged)\n", firstErr, acked.Load(), sent)
		return 1
	case closeErr != nil && !errors.Is(closeErr, context.Canceled):
		fmt.Fprintf(stderr, "skiff produce: %v (%d of %d records acknowledged)\n", closeErr, acked.Load(), sent)
		return 1
	case acked.Load() != int64(sent):
		fmt.Fprintf(stderr, "skiff produce: interrupted: %d of %d records acknowledged\n", acked.Load(), sent)
		return 1
	}
	fmt.Fprintf(stderr, "produced %d records\n", sent)
	return 0
}

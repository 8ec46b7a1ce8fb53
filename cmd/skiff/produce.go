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
	f, ok := parseProduceFlags(args, stderr)
	if !ok {
		return 2
	}
	p, err := producer.New(f.config(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "skiff produce: %v\n", err)
		return 2
	}
	var t produceTally
	sent, sendErr := sendLines(ctx, p, f, stdin, &t)
	// Close flushes what was accepted; give it the delivery timeout.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute+10*time.Second)
	closeErr := p.Close(cctx)
	cancel()
	return t.report(stderr, sent, sendErr, closeErr)
}

// produceFlags is the command line of skiff produce, parsed and checked.
type produceFlags struct {
	brokers   []string
	topic     string
	keyDelim  []byte
	acks      producer.Acks
	codec     producer.Compression
	linger    time.Duration
	batchSize int
	partition int
	maxLine   int
	verbose   bool
}

// parseProduceFlags parses and validates args. When it returns false it
// has already written the usage or the reason to stderr.
func parseProduceFlags(args []string, stderr io.Writer) (produceFlags, bool) {
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
		return produceFlags{}, false
	}
	fail := func(format string, a ...any) (produceFlags, bool) {
		fmt.Fprintf(stderr, "skiff produce: "+format+"\n", a...)
		return produceFlags{}, false
	}
	if *topic == "" || fs.NArg() > 0 {
		fs.Usage()
		return produceFlags{}, false
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
	f := produceFlags{
		topic: *topic, keyDelim: []byte(*keyDelim), acks: ack, codec: codec, linger: *linger,
		batchSize: *batchSize, partition: *partition, maxLine: *maxLine, verbose: *verbose,
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			f.brokers = append(f.brokers, b)
		}
	}
	return f, true
}

// config is the producer configuration the flags ask for; its logger
// writes to stderr.
func (f produceFlags) config(stderr io.Writer) producer.Config {
	// Warnings (retried connection failures, and wire's notice of its own
	// close) would garble the one-line outcome; -v shows everything.
	level := slog.LevelError
	if f.verbose {
		level = slog.LevelDebug
	}
	cfg := producer.Config{
		Brokers:            f.brokers,
		ClientID:           "skiff-produce",
		Acks:               f.acks,
		DisableIdempotence: f.acks != producer.AcksAll,
		Compression:        f.codec,
		Linger:             f.linger,
		BatchSize:          f.batchSize,
		Logger:             slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if f.linger == 0 {
		cfg.Linger = producer.NoLinger
	}
	return cfg
}

// sendLines sends each line of stdin as one record until stdin ends, a Send
// fails or stdin cannot be read, and returns how many records were sent
// and why it stopped early, if it did. Outcomes are counted in t.
func sendLines(ctx context.Context, p *producer.Producer, f produceFlags, stdin io.Reader, t *produceTally) (sent int, err error) {
	var part producer.Partition
	if f.partition >= 0 {
		part = producer.ToPartition(int32(f.partition))
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), f.maxLine)
	for sc.Scan() {
		line := bytes.TrimSuffix(sc.Bytes(), []byte{'\r'})
		// The scanner reuses its buffer; the producer copies the bytes
		// into its batch before Send returns.
		rec := producer.Record{Topic: f.topic, Partition: part, Value: line}
		if len(f.keyDelim) > 0 {
			if k, v, ok := bytes.Cut(line, f.keyDelim); ok {
				rec.Key, rec.Value = k, v
			}
		}
		if rec.Value == nil {
			rec.Value = []byte{} // an empty line is an empty value, not a tombstone
		}
		if err := p.Send(ctx, rec, t.record); err != nil {
			return sent, err
		}
		sent++
	}
	if err := sc.Err(); err != nil {
		return sent, fmt.Errorf("reading stdin: %w", err)
	}
	return sent, nil
}

// produceTally counts acknowledgements and keeps the first failure; record
// is the callback of every Send.
type produceTally struct {
	acked    atomic.Int64
	errOnce  sync.Once
	firstErr error
}

func (t *produceTally) record(_ producer.RecordMetadata, err error) {
	if err != nil {
		t.errOnce.Do(func() { t.firstErr = err })
		return
	}
	t.acked.Add(1)
}

// report writes the one-line outcome to stderr and returns the exit code.
// It runs after Close, so every callback has run.
func (t *produceTally) report(stderr io.Writer, sent int, sendErr, closeErr error) int {
	switch {
	case sendErr != nil:
		fmt.Fprintf(stderr, "skiff produce: %v (%d of %d records acknowledged)\n", sendErr, t.acked.Load(), sent)
		return 1
	case t.firstErr != nil:
		fmt.Fprintf(stderr, "skiff produce: %v (%d of %d records acknowledged)\n", t.firstErr, t.acked.Load(), sent)
		return 1
	case closeErr != nil && !errors.Is(closeErr, context.Canceled):
		fmt.Fprintf(stderr, "skiff produce: %v (%d of %d records acknowledged)\n", closeErr, t.acked.Load(), sent)
		return 1
	case t.acked.Load() != int64(sent):
		fmt.Fprintf(stderr, "skiff produce: interrupted: %d of %d records acknowledged\n", t.acked.Load(), sent)
		return 1
	}
	fmt.Fprintf(stderr, "produced %d records\n", sent)
	return 0
}

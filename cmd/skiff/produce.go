package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/skiffkit/skiff/cmd/skiff/internal/bench"
	"github.com/skiffkit/skiff/producer"
	"github.com/skiffkit/skiff/properties"
)

func init() { register("produce", "produce records from stdin", runProduce) }

var produceUsage = usageText{
	synopsis: []string{"skiff produce --topic T [flags] < records"},
	about: "Reads stdin, one record per line, sends each record and waits for every acknowledgement.\n" +
		"Ctrl-C (SIGINT) or SIGTERM stops reading stdin and flushes what was accepted for up to\n" +
		"--flush-timeout; a second Ctrl-C aborts at once. Exit code 0 when every line was acknowledged,\n" +
		"1 when a record failed or could not be sent, 2 for bad usage, 130 when interrupted.\n" +
		"Kafka producer properties come from --config FILE and -X key=value (security.protocol, sasl.*, ssl.*,\n" +
		"acks, linger.ms, ...); -X overrides the file and explicit flags override both.",
	examples: []string{
		"skiff produce --topic orders < orders.txt",
		"printf 'k1:v1\\nk2:v2\\n' | skiff produce --topic orders --key-delimiter :",
		"skiff produce --topic blobs --max-line 8MiB --max-request-size 8MiB < big.jsonl",
		"skiff produce --topic logs --on-error continue < mixed.txt",
		"skiff produce --topic orders --config client.properties -X linger.ms=20 < orders.txt",
	},
}

// runProduce wires the process's signals: the first SIGINT/SIGTERM stops
// reading stdin (stop), a second one aborts the flush (abort). main's own
// signal context is ignored here because it cannot tell the two apart.
func runProduce(ctx context.Context, args []string) int {
	stop, stopFn := context.WithCancel(ctx)
	abort, abortFn := context.WithCancel(context.Background())
	defer stopFn()
	defer abortFn()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			case <-sigs:
			}
			if n == 0 {
				stopFn()
			} else {
				abortFn()
				return
			}
		}
	})
	defer wg.Wait()
	defer close(done)
	return produceRun(stop, abort, args, os.Stdin, os.Stdout, os.Stderr)
}

// produceMain is produceRun where cancelling ctx stops reading, with no
// separate abort (tests that do not exercise the second signal).
func produceMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return produceRun(ctx, context.Background(), args, stdin, stdout, stderr)
}

// produceRun reads records from stdin, one per line, sends them and waits
// for every acknowledgement. Cancelling stop stops reading stdin and
// flushes what was accepted; cancelling abort ends the flush.
func produceRun(stop, abort context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f, code, ok := parseProduceFlags(args, stdout, stderr)
	if !ok {
		return code
	}
	if err := reachSeeds(stop, f.brokers, f.wait, f.maxBlock, stderr); err != nil {
		if stop.Err() != nil {
			fmt.Fprintln(stderr, "skiff produce: interrupted before a broker answered; nothing was sent")
			return 130
		}
		fmt.Fprintf(stderr, "skiff produce: %s\n", humanError(err))
		return 1
	}
	p, err := producer.New(f.config(stderr))
	if err != nil {
		fmt.Fprintf(stderr, "skiff produce: %v\n", err)
		return 2
	}
	t := &produceTally{stopOnError: f.onError == onErrorStop}
	t.failedCh = make(chan struct{})
	res := sendLines(stop, p, f, stdin, t)
	if res.interrupted {
		fmt.Fprintf(stderr, "skiff produce: stopping: waiting up to %v for %s to be acknowledged (signal again to abort)…\n",
			f.flushTimeout, plural(res.sent, "accepted record"))
	}
	// Close flushes what was accepted, bounded by --flush-timeout, or
	// less if a second signal aborts.
	cctx, cancel := context.WithTimeout(abort, f.flushTimeout)
	closeErr := p.Close(cctx)
	cancel()
	return t.report(stderr, res, closeErr, abort.Err() != nil, f.flushTimeout)
}

// onError is --on-error: what a record that fails does to the rest of the input.
const (
	onErrorStop     = "stop"
	onErrorContinue = "continue"
)

// produceFlags is the command line of skiff produce, parsed and checked.
type produceFlags struct {
	// cfg is the producer configuration: --config, then -X, then the
	// explicit flags (see propsFlags). Its Logger is set by config.
	cfg          producer.Config
	brokers      []string
	topic        string
	keyDelim     []byte
	partition    int
	maxLine      int
	maxBlock     time.Duration // cfg.MaxBlock with its default: --wait waits this long
	flushTimeout time.Duration
	onError      string
	wait         bool
	verbose      bool
}

// parseProduceFlags parses and validates args. When ok is false it has
// already written the help or the reason, and code is the exit code.
func parseProduceFlags(args []string, stdout, stderr io.Writer) (produceFlags, int, bool) {
	// --help is output: it goes to stdout so it can be piped to a pager.
	fs := newFlagSet("skiff produce", produceUsage, stdout, stderr)
	var (
		brokers      = fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers (bootstrap.servers)")
		topic        = fs.String("topic", "", "topic to produce to (required)")
		keyDelim     = fs.String("key-delimiter", "", "split each line at the first occurrence into key and value; lines without it get a null key")
		acks         = fs.String("acks", "all", "acks: all (or -1), 1 or 0; anything but all turns idempotence off unless enable.idempotence is set")
		compression  = fs.String("compression", "none", "compression.type: none, gzip, snappy, lz4 or zstd")
		linger       = fs.Duration("linger", 5*time.Millisecond, "linger.ms (0 sends at once)")
		batchSize    = fs.String("batch-size", "16KiB", "batch.size in bytes (KiB/MiB suffixes allowed)")
		partition    = fs.Int("partition", -1, "send every record to this partition (-1: the default partitioner)")
		maxLine      = fs.String("max-line", "1MiB", "longest accepted input line in bytes (KiB/MiB suffixes allowed)")
		maxReq       = fs.String("max-request-size", "1MiB", "max.request.size (same as -X max.request.size): the largest record (and request) the producer sends; the broker's message.max.bytes must allow it too")
		maxBlock     = fs.Duration("max-block", 60*time.Second, "max.block.ms: how long a send may wait for metadata or buffer space, and how long --wait waits for a broker")
		flushTimeout = fs.Duration("flush-timeout", 30*time.Second, "after stdin ends or on Ctrl-C, how long to wait for outstanding acknowledgements")
		onErr        = fs.String("on-error", onErrorStop, "when a record fails: stop (stop reading, exit 1) or continue (go on, report the number of failures, exit 1)")
		wait         = fs.Bool("wait", false, "when no broker is reachable, keep trying for --max-block instead of failing at once")
		verbose      = fs.Bool("v", false, "log at debug level to stderr")
		pf           = addPropsFlags(fs)
	)
	const cmd = "skiff produce"
	pos, code, ok := fs.parse(args)
	if !ok {
		return produceFlags{}, code, false
	}
	fail := func(format string, a ...any) (produceFlags, int, bool) {
		return produceFlags{}, usageErr(fs.stderr, cmd, format, a...), false
	}
	if *topic == "" {
		return fail("missing required flag --topic")
	}
	if len(pos) > 0 {
		return fail("unexpected argument %q (records are read from stdin)", pos[0])
	}
	ack, err := producer.ParseAcks(*acks)
	if err != nil {
		return fail("--acks: %v", err)
	}
	codec, err := producer.ParseCompression(*compression)
	if err != nil {
		return fail("--compression: %v", err)
	}
	sizes := map[string]*int{}
	for name, s := range map[string]string{"batch-size": *batchSize, "max-line": *maxLine, "max-request-size": *maxReq} {
		n, err := bench.ParseSize(s)
		if err != nil || n <= 0 {
			return fail("--%s %q: want a positive size such as 16384, 64KiB or 8MiB", name, s)
		}
		sizes[name] = &n
	}
	switch {
	case *partition < -1:
		return fail("--partition must be -1 (default partitioner) or a partition number, got %d", *partition)
	case *linger < 0:
		return fail("--linger must not be negative")
	case *maxBlock <= 0 || *flushTimeout <= 0:
		return fail("--max-block and --flush-timeout must be positive")
	case *onErr != onErrorStop && *onErr != onErrorContinue:
		return fail("--on-error must be stop or continue, got %q", *onErr)
	}
	props, err := pf.merge(baseProps("skiff-produce"))
	if err != nil {
		return fail("%v", err)
	}
	cfg, err := properties.Producer(props)
	if err != nil {
		return fail("%v", err)
	}
	// Flags given on the command line win over --config and -X.
	given := givenFlags(fs.FlagSet)
	if given["brokers"] {
		cfg.Brokers = splitBrokers(*brokers)
	}
	if given["acks"] {
		cfg.Acks = ack
	}
	if given["compression"] {
		cfg.Compression = codec
	}
	if given["linger"] {
		cfg.Linger = *linger
		if *linger == 0 {
			cfg.Linger = producer.NoLinger
		}
	}
	if given["batch-size"] {
		cfg.BatchSize = *sizes["batch-size"]
	}
	if given["max-request-size"] {
		cfg.MaxRequestSize = *sizes["max-request-size"]
	}
	if given["max-block"] {
		cfg.MaxBlock = *maxBlock
	}
	if _, set := props["enable.idempotence"]; !set && cfg.Acks != producer.AcksAll {
		// Idempotence needs acks=all; the Java producer likewise turns its
		// default idempotence off when acks is lowered, and fails only when
		// both were asked for.
		cfg.DisableIdempotence = true
	}
	f := produceFlags{
		cfg: cfg, brokers: cfg.Brokers, topic: *topic, keyDelim: []byte(*keyDelim), partition: *partition,
		maxLine: *sizes["max-line"], maxBlock: cmp.Or(cfg.MaxBlock, 60*time.Second), flushTimeout: *flushTimeout,
		onError: *onErr, wait: *wait, verbose: *verbose,
	}
	return f, 0, true
}

// givenFlags returns the names of the flags set on the command line.
func givenFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

// config is the producer configuration with a logger writing to stderr.
func (f produceFlags) config(stderr io.Writer) producer.Config {
	// Warnings (retried connection failures, and wire's notice of its own
	// close) would garble the one-line outcome; -v shows everything.
	level := slog.LevelError
	if f.verbose {
		level = slog.LevelDebug
	}
	cfg := f.cfg
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return cfg
}

// sendResult is why sendLines stopped and how far it got.
type sendResult struct {
	lines       int   // lines read from stdin
	sent        int   // records the producer accepted
	rejected    int   // records Send refused (too large), with --on-error continue
	err         error // what stopped reading early, if anything
	interrupted bool  // stop was cancelled (a signal) before stdin ended
}

// sendLines sends each line of stdin as one record until stdin ends, stop
// is cancelled, a record fails (with --on-error stop) or stdin cannot be
// read. Outcomes of accepted records are counted in t.
//
// Stdin is read by a goroutine that hands each line over and waits until
// it was sent, because a read from a terminal or a pipe cannot be
// interrupted: the main loop must be free to notice a signal while the
// read blocks. On a signal the reader is told to quit; if it is blocked in
// a read it returns when that read does (at the latest when the process
// exits, which follows at once for the command line).
func sendLines(stop context.Context, p *producer.Producer, f produceFlags, stdin io.Reader, t *produceTally) sendResult {
	var part producer.Partition
	if f.partition >= 0 {
		part = producer.ToPartition(int32(f.partition))
	}
	lines := make(chan []byte)
	next := make(chan struct{})
	quit := make(chan struct{})
	defer close(quit)
	var readErr error
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, min(64<<10, f.maxLine+1)), f.maxLine+1) // +1: room for a '\r' before the '\n'
		for sc.Scan() {
			select {
			case lines <- sc.Bytes(): // the scanner's buffer: valid until the next Scan
			case <-quit:
				return
			}
			select {
			case <-next:
			case <-quit:
				return
			}
		}
		readErr = sc.Err()
	}()
	var res sendResult
	for {
		var line []byte
		var open bool
		select {
		case <-stop.Done():
			res.interrupted = true
			return res
		case <-t.failedCh:
			res.err = t.firstError()
			return res
		case line, open = <-lines:
		}
		if !open {
			// readErr was written before lines was closed.
			if errors.Is(readErr, bufio.ErrTooLong) {
				res.err = fmt.Errorf("line %d is longer than --max-line (%d bytes); raise --max-line", res.lines+1, f.maxLine)
			} else if readErr != nil {
				res.err = fmt.Errorf("reading stdin: %w", readErr)
			}
			return res
		}
		res.lines++
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > f.maxLine {
			res.err = fmt.Errorf("line %d is longer than --max-line (%d bytes); raise --max-line", res.lines, f.maxLine)
			return res
		}
		// The producer copies the bytes into its batch before Send returns,
		// so the scanner's buffer may be reused afterwards.
		rec := producer.Record{Topic: f.topic, Partition: part, Value: line}
		if len(f.keyDelim) > 0 {
			if k, v, ok := bytes.Cut(line, f.keyDelim); ok {
				rec.Key, rec.Value = k, v
			}
		}
		if rec.Value == nil {
			rec.Value = []byte{} // an empty line is an empty value, not a tombstone
		}
		err := p.Send(stop, rec, t.record)
		switch {
		case err == nil:
			res.sent++
		case stop.Err() != nil:
			res.interrupted = true
			return res
		case errors.Is(err, producer.ErrRecordTooLarge) && !t.stopOnError:
			res.rejected++
			t.noteRejected(fmt.Errorf("line %d: %w", res.lines, err))
		default:
			res.err = fmt.Errorf("line %d: %w", res.lines, err)
			if errors.Is(err, producer.ErrRecordTooLarge) {
				res.err = fmt.Errorf("%w; raise --max-request-size (and the broker's message.max.bytes) or pass --on-error continue to skip it", res.err)
			}
			return res
		}
		next <- struct{}{}
	}
}

// produceTally counts outcomes and keeps the first failure; record is the
// callback of every Send.
type produceTally struct {
	acked       atomic.Int64
	failed      atomic.Int64
	stopOnError bool
	failedCh    chan struct{} // closed at the first failure when stopOnError

	mu       sync.Mutex
	firstErr error
}

func (t *produceTally) record(_ producer.RecordMetadata, err error) {
	if err == nil {
		t.acked.Add(1)
		return
	}
	if errors.Is(err, producer.ErrClosed) {
		// Close gave up on it (--flush-timeout or a second signal): its
		// outcome is unknown, not a failure the broker reported.
		return
	}
	t.failed.Add(1)
	t.noteRejected(err)
}

// noteRejected keeps err if it is the first failure and, with --on-error
// stop, tells sendLines to stop reading.
func (t *produceTally) noteRejected(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.firstErr != nil {
		return
	}
	t.firstErr = err
	if t.stopOnError {
		close(t.failedCh)
	}
}

func (t *produceTally) firstError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.firstErr
}

// report writes the outcome to stderr and returns the exit code. It runs
// after Close, so every callback has run (or Close gave up).
func (t *produceTally) report(stderr io.Writer, res sendResult, closeErr error, aborted bool, flushTimeout time.Duration) int {
	acked, failed := t.acked.Load(), t.failed.Load()
	unknown := int64(res.sent) - acked - failed
	counts := fmt.Sprintf("%d of %d records acknowledged", acked, res.sent)
	if failed > 0 || res.rejected > 0 {
		counts += fmt.Sprintf(", %d failed", failed+int64(res.rejected))
	}
	if unknown > 0 {
		counts += fmt.Sprintf(", %d not acknowledged", unknown)
	}
	switch {
	case res.interrupted:
		how := "flushed"
		switch {
		case aborted:
			how = "flush aborted by a second signal"
		case closeErr != nil:
			how = fmt.Sprintf("flush gave up after --flush-timeout (%v)", flushTimeout)
		}
		fmt.Fprintf(stderr, "skiff produce: interrupted after reading %d lines; %s: %s\n", res.lines, how, counts)
		return 130
	case res.err != nil:
		fmt.Fprintf(stderr, "skiff produce: %s (%s; stopped reading stdin)\n", humanError(res.err), counts)
		return 1
	case failed > 0 || res.rejected > 0:
		first := t.firstError()
		if t.stopOnError {
			fmt.Fprintf(stderr, "skiff produce: %s (%s)\n", humanError(first), counts)
		} else {
			fmt.Fprintf(stderr, "skiff produce: %s; first failure: %s\n", counts, humanError(first))
		}
		return 1
	case closeErr != nil || unknown > 0:
		fmt.Fprintf(stderr, "skiff produce: not every record was acknowledged within --flush-timeout: %s\n", counts)
		return 1
	}
	fmt.Fprintf(stderr, "produced %s\n", plural(res.sent, "record"))
	return 0
}

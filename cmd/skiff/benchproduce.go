package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/skiffkit/skiff/producer"
)

func init() {
	register("bench-produce", "benchmark helper: time one producer (skiff or kgo) against brokers in another process", runBenchProduce)
}

func runBenchProduce(ctx context.Context, args []string) int {
	return benchProduceMain(ctx, args, os.Stdout, os.Stderr)
}

// benchProduceSettings are the settings both clients get, set explicitly
// on each, so a comparison is like for like (kgo would otherwise compress
// with snappy, cap its buffer at 10,000 records, and so on).
type benchProduceSettings struct {
	brokers      []string
	topic        string
	records      int
	keys         int
	values       [][]byte
	compression  producer.Compression
	acks         producer.Acks
	idempotent   bool
	linger       time.Duration
	batchSize    int
	bufferMemory int64
	maxInFlight  int
	profile      io.Writer // CPU profile of the timed part, if not nil
	txnRecords   int       // records per transaction; 0: no transactions (benchproduce_txn.go)
}

// benchProduceMain sends --records records from one goroutine with the
// chosen client to brokers in another process (a `skiff sink` or a real
// broker), waits for every acknowledgement, and prints one line:
//
//	client=skiff records=500000 seconds=0.31 records/s=1612903 allocs/record=0.07 cpu-ns/record=410
//
// A warm-up record (metadata, producer id, connection) goes first and is
// not timed. bench/produce-sink.sh runs it for both clients in alternating
// rounds against one sink.
func benchProduceMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("skiff bench-produce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		client       = fs.String("client", "skiff", "producer to time: skiff or kgo")
		brokers      = fs.String("brokers", brokersFlagDefault(), "comma-separated seed brokers")
		topic        = fs.String("topic", "bench", "topic to produce to")
		producers    = fs.Int("producers", 1, "independent clients, each with its own connection, splitting --records between them")
		records      = fs.Int("records", 500_000, "records to send (timed)")
		keys         = fs.Int("keys", 10_000, "distinct 16-byte keys, assigned round-robin (0: no keys, sticky partitioning)")
		valueSize    = fs.Int("value-size", 100, "value size in bytes for --values random")
		values       = fs.String("values", "random", "value corpus: random (incompressible bytes) or json (JSON-like order records, ~150 bytes)")
		compression  = fs.String("compression", "none", "compression.type: none, gzip, snappy, lz4 or zstd (zstd at level 3 on both clients)")
		acks         = fs.String("acks", "all", "acks: all, 1 or 0")
		idempotent   = fs.Bool("idempotent", true, "enable.idempotence (needs acks=all; kgo then fixes 5 requests in flight)")
		txnRecords   = fs.Int("txn-records", 0, "send in transactions of this many records (needs --idempotent and a broker with transactions, not skiff sink); 0: none")
		linger       = fs.Duration("linger", 5*time.Millisecond, "linger.ms")
		batchSize    = fs.Int("batch-size", 16384, "batch.size / ProducerBatchMaxBytes")
		bufferMemory = fs.Int64("buffer-memory", 32<<20, "buffer.memory / MaxBufferedBytes")
		maxInFlight  = fs.Int("max-in-flight", 5, "max.in.flight.requests.per.connection (kgo: only without idempotence; with it kgo uses 5)")
		cpuProfile   = fs.String("cpuprofile", "", "write a CPU profile of the timed part to this file (for go tool pprof)")
		traceFile    = fs.String("trace", "", "write an execution trace of the timed part to this file (for go tool trace, e.g. -pprof=net or sched)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "skiff bench-produce: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected arguments %q", fs.Args())
	}
	s := benchProduceSettings{
		brokers:      strings.Split(*brokers, ","),
		topic:        *topic,
		records:      *records,
		keys:         *keys,
		idempotent:   *idempotent,
		linger:       *linger,
		batchSize:    *batchSize,
		bufferMemory: *bufferMemory,
		maxInFlight:  *maxInFlight,
		txnRecords:   *txnRecords,
	}
	var err error
	if s.compression, err = producer.ParseCompression(*compression); err != nil {
		return fail("%v", err)
	}
	if s.acks, err = producer.ParseAcks(*acks); err != nil {
		return fail("%v", err)
	}
	if s.idempotent && s.acks != producer.AcksAll {
		return fail("--idempotent needs --acks all")
	}
	if s.idempotent && s.maxInFlight != 5 {
		return fail("with --idempotent kgo always allows 5 requests in flight; set --max-in-flight 5 so both match")
	}
	if s.txnRecords < 0 || (s.txnRecords > 0 && !s.idempotent) {
		return fail("--txn-records must not be negative, and needs --idempotent")
	}
	if s.records <= 0 || s.keys < 0 || *valueSize < 0 {
		return fail("--records must be positive, --keys and --value-size not negative")
	}
	switch *values {
	case "random":
		s.values = randomValues(*valueSize)
	case "json":
		s.values = jsonValues()
	default:
		return fail("--values must be random or json, not %q", *values)
	}

	var run func(context.Context, benchProduceSettings) (time.Duration, uint64, error)
	switch *client {
	case "skiff":
		run = benchSkiffProducer
	case "kgo":
		run = benchKgoProducer
	default:
		return fail("--client must be skiff or kgo, not %q", *client)
	}
	if *producers > 1 {
		return benchManyMain(ctx, run, s, *client, *producers, *cpuProfile != "", stdout, stderr) // benchproduce_many.go
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail("%v", err)
		}
		defer f.Close()
		s.profile = f
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err != nil {
			return fail("%v", err)
		}
		defer f.Close()
		benchTrace = f
		defer func() { benchTrace = nil }()
	}
	elapsed, mallocs, err := run(ctx, s)
	if err != nil {
		fmt.Fprintf(stderr, "skiff bench-produce: %s: %v\n", *client, err)
		return 1
	}
	fmt.Fprintf(stdout, "client=%s records=%d seconds=%.3f records/s=%.0f allocs/record=%.3f cpu-ns/record=%.0f %s\n",
		*client, s.records, elapsed.Seconds(), float64(s.records)/elapsed.Seconds(), float64(mallocs)/float64(s.records),
		float64(lastCPU.Nanoseconds())/float64(s.records), lastBatches.fields())
	return 0
}

// benchValueCount is the number of distinct values, used round-robin.
const benchValueCount = 1024

func benchKey(keys [][]byte, i int) []byte {
	if len(keys) == 0 {
		return nil
	}
	return keys[i%len(keys)]
}

func makeKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%012d", i)
	}
	return keys
}

// randomValues are seeded random bytes: what compression cannot shrink.
func randomValues(size int) [][]byte {
	rng := rand.New(rand.NewChaCha8([32]byte{'s', 'k', 'i', 'f', 'f'}))
	values := make([][]byte, benchValueCount)
	for i := range values {
		values[i] = make([]byte, size)
		for j := range values[i] {
			values[i][j] = byte(rng.Uint32())
		}
	}
	return values
}

// jsonValues are JSON-like order records, varying field by field: text
// that compresses the way application payloads do.
func jsonValues() [][]byte {
	rng := rand.New(rand.NewChaCha8([32]byte{'j', 's', 'o', 'n'}))
	items := []string{"boat", "oar", "sail", "rope", "anchor", "buoy", "compass", "lantern"}
	status := []string{"new", "paid", "packed", "shipped", "delivered"}
	values := make([][]byte, benchValueCount)
	for i := range values {
		values[i] = fmt.Appendf(nil,
			`{"order_id":%d,"customer":"customer-%05d","item":%q,"count":%d,"price_cents":%d,"status":%q,"created":"2026-%02d-%02dT%02d:%02d:%02dZ"}`,
			1_000_000+i, rng.IntN(50_000), items[rng.IntN(len(items))], 1+rng.IntN(9), 100+rng.IntN(99_900),
			status[rng.IntN(len(status))], 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60))
	}
	return values
}

// lastCPU is the process CPU time (user+system, all threads) of the last
// timed run: on a loaded machine it varies much less than wall time, so
// it compares clients' costs where records/s cannot.
var lastCPU time.Duration

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchTrace receives an execution trace of the timed part, if not nil
// (--trace). A variable rather than a parameter of timed, which each
// client's runner calls.
var benchTrace io.Writer

// timed runs send(i) for every record, then flush, and returns the time
// and heap allocations that took.
func timed(profile io.Writer, n int, send func(i int) error, flush func() error) (time.Duration, uint64, error) {
	if benchGate != nil {
		benchGate() // benchproduce_many.go
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuStart := processCPU()
	counts := takeBenchCounts() // benchproduce_batches.go
	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return 0, 0, err
		}
		defer pprof.StopCPUProfile()
	}
	if benchTrace != nil {
		if err := trace.Start(benchTrace); err != nil {
			return 0, 0, err
		}
		defer trace.Stop()
	}
	start := time.Now()
	for i := range n {
		if err := send(i); err != nil {
			return 0, 0, err
		}
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	elapsed := time.Since(start)
	if benchGate == nil { // with --producers, benchManyMain measures the whole process
		lastCPU = processCPU() - cpuStart
		lastBatches = takeBenchCounts().minus(counts)
	}
	runtime.ReadMemStats(&after)
	return elapsed, after.Mallocs - before.Mallocs, nil
}

func benchSkiffProducer(ctx context.Context, s benchProduceSettings) (time.Duration, uint64, error) {
	linger := s.linger
	if linger == 0 {
		linger = producer.NoLinger
	}
	var txnID string
	if s.txnRecords > 0 {
		txnID = benchTxnID("skiff")
	}
	p, err := producer.New(producer.Config{
		TransactionalID:    txnID,
		Brokers:            s.brokers,
		Acks:               s.acks,
		DisableIdempotence: !s.idempotent,
		Compression:        s.compression,
		Linger:             linger,
		BatchSize:          s.batchSize,
		BufferMemory:       s.bufferMemory,
		MaxInFlight:        s.maxInFlight,
		Hooks:              []producer.Hook{skiffBatchCounter{}},
	})
	if err != nil {
		return 0, 0, err
	}
	defer p.Close(context.Background())
	keys := makeKeys(s.keys)
	begin, commit, err := skiffTxn(ctx, p, s)
	if err != nil {
		return 0, 0, err
	}
	if err := begin(); err != nil {
		return 0, 0, err
	}
	if _, err := p.SendSync(ctx, producer.Record{Topic: s.topic, Key: benchKey(keys, 0), Value: s.values[0]}); err != nil {
		return 0, 0, fmt.Errorf("warm-up: %w", err)
	}
	if err := commit(); err != nil {
		return 0, 0, fmt.Errorf("warm-up: %w", err)
	}
	failed := make(chan error, 1)
	cb := func(_ producer.RecordMetadata, err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	}
	send, flush := txnBatches(s.txnRecords, begin, commit, func(i int) error {
		return p.Send(ctx, producer.Record{Topic: s.topic, Key: benchKey(keys, i), Value: s.values[i%benchValueCount]}, cb)
	}, func() error {
		if err := p.Flush(ctx); err != nil {
			return err
		}
		select {
		case err := <-failed:
			return err
		default:
			return nil
		}
	})
	return timed(s.profile, s.records, send, flush)
}

func benchKgoProducer(ctx context.Context, s benchProduceSettings) (time.Duration, uint64, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(s.brokers...),
		kgo.DefaultProduceTopic(s.topic),
		kgo.ProducerLinger(s.linger),
		kgo.ProducerBatchMaxBytes(int32(s.batchSize)),
		kgo.MaxBufferedBytes(int(s.bufferMemory)),
		// Bound by bytes only, as skiff's buffer.memory is.
		kgo.MaxBufferedRecords(math.MaxInt32),
		kgo.WithHooks(kgoBatchCounter{}),
	}
	switch s.acks {
	case producer.AcksAll:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case producer.AcksLeader:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case producer.AcksNone:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	}
	if !s.idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(s.maxInFlight))
	}
	if s.txnRecords > 0 {
		opts = append(opts, kgo.TransactionalID(benchTxnID("kgo")))
	}
	switch s.compression {
	case producer.CompressionNone:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case producer.CompressionGzip:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case producer.CompressionSnappy:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case producer.CompressionLZ4:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case producer.CompressionZstd:
		// Level 3, as skiff's (Kafka's compression.zstd.level default).
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression().WithLevel(int(zstd.SpeedDefault))))
	default:
		return 0, 0, errors.New("unknown compression")
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	keys := makeKeys(s.keys)
	begin, commit := kgoTxn(ctx, cl, s)
	if err := begin(); err != nil {
		return 0, 0, err
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: benchKey(keys, 0), Value: s.values[0]}).FirstErr(); err != nil {
		return 0, 0, fmt.Errorf("warm-up: %w", err)
	}
	if err := commit(); err != nil {
		return 0, 0, fmt.Errorf("warm-up: %w", err)
	}
	failed := make(chan error, 1)
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	}
	send, flush := txnBatches(s.txnRecords, begin, commit, func(i int) error {
		cl.Produce(ctx, &kgo.Record{Key: benchKey(keys, i), Value: s.values[i%benchValueCount]}, cb)
		return nil
	}, func() error {
		if err := cl.Flush(ctx); err != nil {
			return err
		}
		select {
		case err := <-failed:
			return err
		default:
			return nil
		}
	})
	return timed(s.profile, s.records, send, flush)
}

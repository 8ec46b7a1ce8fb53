package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/skiffkit/skiff/cmd/skiff/internal/bench"
	"github.com/skiffkit/skiff/properties"
)

func init() {
	register("bench", "benchmark batching settings (bench consume: fetch settings)", runBench)
}

func runBench(ctx context.Context, args []string) int {
	return benchMain(ctx, args, os.Stdout, os.Stderr, stderrIsTerminal())
}

func stderrIsTerminal() bool { return term.IsTerminal(int(os.Stderr.Fd())) }

// benchCommon holds the flags shared by bench and bench consume.
type benchCommon struct {
	brokers        *string
	recordSize     *int
	keyCardinality *int
	records        *int
	partitions     *int
	topic          *string
	keepTopics     *bool
	json           *bool
}

func addCommonFlags(fs *flag.FlagSet, defaultRecords int, recordsUsage string) benchCommon {
	return benchCommon{
		brokers: fs.String("brokers", "", "comma-separated seed brokers of the cluster to measure; "+
			"unset: start the bundled broker in a temporary directory; empty (--brokers=): $SKIFF_BROKERS or 127.0.0.1:9092"),
		recordSize:     fs.Int("record-size", 100, "value size in bytes"),
		keyCardinality: fs.Int("key-cardinality", 0, "distinct keys, sent round robin (0: keyless records)"),
		records:        fs.Int("records", defaultRecords, recordsUsage),
		partitions:     fs.Int("partitions", 3, "partitions of each fresh topic"),
		topic:          fs.String("topic", "skiff-bench", "prefix of the fresh topics created for the run"),
		keepTopics:     fs.Bool("keep-topics", false, "keep the topics the run creates (by default each is deleted once measured)"),
		json:           fs.Bool("json", false, "print one JSON object per setting per line instead of the table"),
	}
}

// clusterConfig resolves what to measure. Without --brokers, --config or
// -X it is the bundled broker (a zero ClusterConfig). Otherwise the
// cluster is bootstrap.servers from --config and -X (or $SKIFF_BROKERS,
// 127.0.0.1:9092), overridden by --brokers, and the connection's TLS and
// SASL come from the same properties. Producer and consumer keys in them
// are not applied: bench sets those itself, one grid point at a time.
func (c benchCommon) clusterConfig(fs *cmdFlags, pf *propsFlags) (bench.ClusterConfig, error) {
	if !flagGiven(fs.FlagSet, "brokers") && *pf.file == "" && len(pf.x) == 0 {
		return bench.ClusterConfig{}, nil
	}
	props, err := pf.merge(baseProps("skiff-bench"))
	if err != nil {
		return bench.ClusterConfig{}, err
	}
	cfg, err := properties.Admin(props)
	if err != nil {
		return bench.ClusterConfig{}, err
	}
	brokers := cfg.Brokers
	if flagGiven(fs.FlagSet, "brokers") {
		brokers = c.brokerList(fs.FlagSet)
	}
	return bench.ClusterConfig{Brokers: brokers, TLS: cfg.TLS, SASL: cfg.SASL}, nil
}

// brokerList resolves --brokers: not given means the embedded broker (nil).
func (c benchCommon) brokerList(fs *flag.FlagSet) []string {
	if !flagGiven(fs, "brokers") {
		return nil
	}
	if strings.TrimSpace(*c.brokers) == "" {
		return splitBrokers(brokersFlagDefault())
	}
	return splitBrokers(*c.brokers)
}

func (c benchCommon) workload() bench.Workload {
	return bench.Workload{
		RecordSize: *c.recordSize, KeyCardinality: *c.keyCardinality, Records: *c.records,
		Partitions: *c.partitions, TopicPrefix: *c.topic, KeepTopics: *c.keepTopics,
	}
}

var benchUsage = usageText{
	synopsis: []string{"skiff bench [flags]", "skiff bench consume [flags]"},
	about: "Sweeps producer batching settings (linger, batch size, compression, acks): for each, finds the\n" +
		"peak throughput, then measures send→ack latency at --load of it, and recommends the fastest\n" +
		"setting whose p99 stays under --max-p99. 'skiff bench consume' sweeps consumer fetch settings.\n" +
		"Without --brokers (or --config/-X) it starts the bundled broker in a temporary directory. With\n" +
		"--config/-X it measures the cluster they name, over their TLS/SASL settings; their producer and\n" +
		"consumer keys are not applied, as bench sets those per grid point.",
	examples: []string{
		"skiff bench",
		"skiff bench --linger 0,5ms,20ms --batch-size 16KiB,256KiB --compression none,lz4 --html report.html",
		"skiff bench --brokers kafka1:9092 --record-size 1000 --duration 5s",
		"skiff bench --config client.properties --linger 5ms --batch-size 64KiB --compression lz4 --acks all",
		"skiff bench consume --records 1000000",
	},
}

var benchConsumeUsage = usageText{
	synopsis: []string{"skiff bench consume [flags]"},
	about:    "Produces --records once, then reads them back with each fetch setting.",
	examples: []string{"skiff bench consume", "skiff bench consume --fetch-min-bytes 1,1MiB --html consume.html"},
}

func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer, terminal bool) int {
	if len(args) > 0 && args[0] == "consume" {
		return benchConsumeMain(ctx, args[1:], stdout, stderr)
	}
	fs := newFlagSet("skiff bench", benchUsage, stdout, stderr)
	defLingers, defSizes, defCodecs, defAcks := bench.DefaultGrid().FlagValues()
	var (
		common      = addCommonFlags(fs.FlagSet, 0, "records per phase of each setting (0: --duration alone bounds it)")
		lingers     = fs.String("linger", defLingers, "linger.ms values (a bare number is milliseconds)")
		batchSizes  = fs.String("batch-size", defSizes, "batch.size values in bytes (KiB/MiB suffixes allowed)")
		compression = fs.String("compression", defCodecs, "compression.type values: none, gzip, snappy, lz4, zstd")
		acks        = fs.String("acks", defAcks, "acks values: all, 1, 0")
		duration    = fs.Duration("duration", time.Second, "how long each setting sends (with --records, whichever ends first)")
		rate        = fs.Int("rate", 0, "send at this fixed records/s in one phase per setting (0: find each setting's peak, then measure latency at --load of it)")
		load        = fs.Float64("load", 0.8, "fraction of each setting's peak throughput at which latency is measured (1: at saturation)")
		bufMem      = fs.String("buffer-memory", "", "producer buffer.memory (default: max(1MiB, 2 × batch.size × partitions), which keeps a saturated phase's backlog short)")
		maxP99      = fs.Duration("max-p99", bench.DefaultMaxP99, "p99 latency bound of the recommendation")
		htmlPath    = fs.String("html", "", "also write a self-contained HTML report to this file")
		pf          = addPropsFlags(fs)
		repeat      = fs.Int("repeat", bench.DefaultRepeat, "after the sweep, measure this many of the fastest settings within --max-p99 again: their run-to-run spread is the noise within which the recommendation treats throughputs as equal and prefers the lower p99 (0: no repeats, the fastest wins)")
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, "skiff bench", "unexpected argument %q", pos[0])
	}
	if *repeat < 0 {
		return usageErr(stderr, "skiff bench", "--repeat must not be negative")
	}
	grid, err := parseGrid(*lingers, *batchSizes, *compression, *acks)
	if err != nil {
		fmt.Fprintf(stderr, "skiff bench: %v\n", err)
		return 2
	}
	w := common.workload()
	w.Duration, w.Rate, w.Load = *duration, *rate, *load
	if *load <= 0 {
		fmt.Fprintln(stderr, "skiff bench: --load must be positive")
		return 2
	}
	if *bufMem != "" {
		n, err := bench.ParseSize(*bufMem)
		if err == nil && n == 0 {
			err = errors.New("must be positive")
		}
		if err != nil {
			fmt.Fprintf(stderr, "skiff bench: --buffer-memory: %v\n", err)
			return 2
		}
		w.BufferMemory = int64(n)
	}
	if w.Records > 0 && !flagGiven(fs.FlagSet, "duration") {
		w.Duration = 0 // --records alone bounds each setting by count only
	}
	if err := errors.Join(grid.Validate(), w.Validate()); err != nil {
		fmt.Fprintf(stderr, "skiff bench: %v\n", err)
		return 2
	}

	ccfg, err := common.clusterConfig(fs, pf)
	if err != nil {
		return usageErr(stderr, "skiff bench", "%v", err)
	}
	cl, err := bench.OpenCluster(ctx, ccfg)
	if err != nil {
		fmt.Fprintf(stderr, "skiff bench: %v\n", err)
		return 1
	}
	defer closeCluster(cl, stderr)
	fmt.Fprintf(stderr, "bench: %d settings against %s\n", len(grid.Points()), cl.Describe())

	r := bench.Runner{Target: cl, Grid: grid, Workload: w, Progress: bench.NewProgress(stderr, terminal),
		Repeat: *repeat, MaxP99: *maxP99,
		Warn: func(err error) { fmt.Fprintf(stderr, "bench: warning: %v\n", err) }}
	results, runErr := r.Run(ctx)

	// What was measured is printed even after Ctrl-C or a failure.
	code = 0
	if *common.json {
		err = bench.WriteJSON(stdout, results)
	} else {
		err = bench.WriteTable(stdout, results, *maxP99)
	}
	if err != nil {
		fmt.Fprintf(stderr, "skiff bench: write results: %v\n", err)
		code = 1
	}
	if *htmlPath != "" {
		rep := bench.Report{Target: cl.Describe(), Workload: w, MaxP99: *maxP99, Results: results}
		if err := writeHTMLFile(*htmlPath, func(w io.Writer) error { return bench.WriteHTML(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "skiff bench: %v\n", err)
			code = 1
		} else {
			fmt.Fprintf(stderr, "bench: report written to %s\n", *htmlPath)
		}
	}
	return max(code, runErrCode(runErr, len(results), stderr))
}

func benchConsumeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("skiff bench consume", benchConsumeUsage, stdout, stderr)
	var (
		common   = addCommonFlags(fs.FlagSet, 500_000, "records to produce once and read back with each setting")
		minBytes = fs.String("fetch-min-bytes", "1,64KiB,1MiB", "fetch.min.bytes values")
		maxPart  = fs.String("max-partition-fetch-bytes", "256KiB,1MiB,4MiB", "max.partition.fetch.bytes values")
		htmlPath = fs.String("html", "", "also write a self-contained HTML report to this file")
		pf       = addPropsFlags(fs)
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, "skiff bench consume", "unexpected argument %q", pos[0])
	}
	var grid bench.FetchGrid
	var err1, err2 error
	grid.MinBytes, err1 = bench.ParseSizes(*minBytes)
	grid.MaxPartitionBytes, err2 = bench.ParseSizes(*maxPart)
	w := common.workload()
	if err := errors.Join(err1, err2, grid.Validate(), w.Validate()); err != nil {
		fmt.Fprintf(stderr, "skiff bench consume: %v\n", err)
		return 2
	}
	if w.Records <= 0 {
		fmt.Fprintln(stderr, "skiff bench consume: --records must be positive")
		return 2
	}

	ccfg, err := common.clusterConfig(fs, pf)
	if err != nil {
		return usageErr(stderr, "skiff bench consume", "%v", err)
	}
	cl, err := bench.OpenCluster(ctx, ccfg)
	if err != nil {
		fmt.Fprintf(stderr, "skiff bench consume: %v\n", err)
		return 1
	}
	defer closeCluster(cl, stderr)
	fmt.Fprintf(stderr, "bench consume: %d records, %d settings against %s\n", w.Records, len(grid.Points()), cl.Describe())

	r := bench.ConsumeRunner{Target: cl, Grid: grid, Workload: w, Warn: func(err error) { fmt.Fprintf(stderr, "bench consume: warning: %v\n", err) }, Progress: func(p bench.ConsumeProgress) {
		switch {
		case p.Produced != nil:
			fmt.Fprintf(stderr, "bench consume: produced %d records at %.0f records/s\n", p.Produced.Records, p.Produced.RecordsPerSec)
		case p.Result != nil:
			fmt.Fprintf(stderr, "bench consume: [%d/%d] %s: %.0f records/s, %.2f MB/s\n", p.Index+1, p.Total, p.Result.Point.Label(), p.Result.RecordsPerSec, p.Result.MBPerSec)
		}
	}}
	results, runErr := r.Run(ctx)
	code = 0
	var err3 error
	if *common.json {
		err3 = bench.WriteConsumeJSON(stdout, results)
	} else {
		err3 = bench.WriteConsumeTable(stdout, results)
	}
	if err3 != nil {
		fmt.Fprintf(stderr, "skiff bench consume: write results: %v\n", err3)
		code = 1
	}
	if *htmlPath != "" {
		rep := bench.ConsumeReport{Target: cl.Describe(), Workload: w, Results: results}
		if err := writeHTMLFile(*htmlPath, func(w io.Writer) error { return bench.WriteConsumeHTML(w, rep) }); err != nil {
			fmt.Fprintf(stderr, "skiff bench consume: %v\n", err)
			code = 1
		} else {
			fmt.Fprintf(stderr, "bench consume: report written to %s\n", *htmlPath)
		}
	}
	return max(code, runErrCode(runErr, len(results), stderr))
}

func parseGrid(lingers, sizes, codecs, acks string) (bench.Grid, error) {
	var g bench.Grid
	var errs [4]error
	g.Lingers, errs[0] = bench.ParseDurations(lingers)
	g.BatchSizes, errs[1] = bench.ParseSizes(sizes)
	g.Compressions, errs[2] = bench.ParseCodecs(codecs)
	g.Acks, errs[3] = bench.ParseAcksList(acks)
	for i, name := range []string{"--linger", "--batch-size", "--compression", "--acks"} {
		if errs[i] != nil {
			errs[i] = fmt.Errorf("%s: %w", name, errs[i])
		}
	}
	return g, errors.Join(errs[:]...)
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// runErrCode reports how the sweep ended: 0 when complete, 130 after Ctrl-C
// (as a shell reports SIGINT), 1 on failure.
func runErrCode(err error, measured int, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(stderr, "bench: interrupted; %d settings measured\n", measured)
		return 130
	default:
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
}

// writeHTMLFile renders to memory first so a failed render leaves no half-written file.
func writeHTMLFile(path string, render func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return nil
}

func closeCluster(cl *bench.Cluster, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Close(ctx); err != nil {
		fmt.Fprintf(stderr, "bench: close: %v\n", err)
	}
}

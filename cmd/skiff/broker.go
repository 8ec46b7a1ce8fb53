package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skiffkit/skiff/broker"
)

func init() { register("broker", "run the bundled Kafka broker", runBroker) }

var brokerUsage = usageText{
	synopsis: []string{"skiff broker [flags]"},
	about: "Runs the bundled single-node Kafka broker until Ctrl-C (SIGINT) or SIGTERM, then shuts it down\n" +
		"cleanly. It prints \"listening <addr>\" on stdout once clients can connect, so scripts can wait\n" +
		"for that line. Defaults suit development: groups rebalance at once (--initial-rebalance-delay 0)\n" +
		"and only warnings are logged (-v for info, --log-level debug for everything).",
	examples: []string{
		"skiff broker",
		"skiff broker --data /var/lib/skiff --listen 0.0.0.0:9092 --advertised kafka.example.com:9092",
		"skiff broker --listen 127.0.0.1:0 --data $(mktemp -d) -v",
	},
}

// runBroker runs the bundled broker until ctx is cancelled (SIGINT or
// SIGTERM), then shuts it down cleanly. It prints "listening <addr>" on
// stdout once clients can connect, so scripts can wait for that line; with
// --listeners, one "listening <addr> <PROTOCOL>" line per listener.
func runBroker(ctx context.Context, args []string) int {
	return brokerMain(ctx, args, os.Stdout, os.Stderr)
}

func brokerMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const cmd = "skiff broker"
	fs := newFlagSet(cmd, brokerUsage, stdout, stderr)
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
		connRate   = fs.Int("max-connection-creation-rate", 0, "max.connection.creation.rate: new connections per second over all listeners, beyond which the broker waits before accepting (KIP-612); 0 means no limit")
		sendfile   = fs.Bool("sendfile", true, "send fetched record batches from the segment files with sendfile(2) on plaintext listeners (false: copy, as on TLS)")
		// Kafka's default is 3 s, meant for production groups whose
		// members start one after another; for development it is a
		// three-second stall in every first Poll. The official Kafka
		// container examples set it to 0 as well.
		rebalDelay = fs.Duration("initial-rebalance-delay", 0, "group.initial.rebalance.delay.ms: how long a new group's first rebalance waits for more members (Kafka's default is 3s)")
		minSession = fs.Duration("group-min-session-timeout", 6*time.Second, "group.min.session.timeout.ms: shortest session timeout a group member may ask for")
		maxSession = fs.Duration("group-max-session-timeout", 30*time.Minute, "group.max.session.timeout.ms: longest session timeout a group member may ask for")
		verbose    = fs.Bool("v", false, "log at info level (default: warnings only)")
		logLevel   = fs.String("log-level", "", "log level: debug, info, warn or error (overrides -v)")
		security   = addBrokerSecurityFlags(fs.FlagSet) // broker_security.go
		cpuProfile = fs.String("cpuprofile", "", "write a CPU profile of the broker's run to this file (go tool pprof)")
		traceFile  = fs.String("trace", "", "write a runtime execution trace of the broker's run to this file (go tool trace)")
	)
	pos, code, ok := fs.parse(args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageErr(stderr, cmd, "unexpected argument %q", pos[0])
	}
	policy, err := broker.ParseFsyncPolicy(*fsync)
	if err != nil {
		return usageErr(stderr, cmd, "--fsync: %v", err)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	if *logLevel != "" {
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return usageErr(stderr, cmd, "--log-level %q: want debug, info, warn or error", *logLevel)
		}
	}
	if *rebalDelay < 0 {
		return usageErr(stderr, cmd, "--initial-rebalance-delay must not be negative")
	}
	delay := *rebalDelay
	if delay == 0 {
		delay = -1 // broker.Config: zero means Kafka's 3 s, negative means none
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := broker.Config{
		Listen:                     *listen,
		AdvertisedAddr:             *advertised,
		DataDir:                    *dataDir,
		NodeID:                     new(int32(*nodeID)),
		NumPartitions:              int32(*partitions),
		DisableAutoCreateTopics:    !*autoCreate,
		Fsync:                      policy,
		FlushInterval:              *flushEvery,
		SegmentBytes:               *segBytes,
		RetentionMs:                *retention,
		RetentionBytes:             *retBytes,
		MessageMaxBytes:            int32(*maxMsg),
		MaxConnectionCreationRate:  *connRate,
		DisableSendfile:            !*sendfile,
		GroupInitialRebalanceDelay: delay,
		GroupMinSessionTimeout:     *minSession,
		GroupMaxSessionTimeout:     *maxSession,
		Logger:                     logger,
	}
	if err := security.apply(fs.FlagSet, &cfg); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	stopProfile, err := startBrokerProfile(*cpuProfile, *traceFile) // broker_profile.go
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, err)
		return 1
	}
	defer stopProfile()
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", cmd, humanError(err))
		return 1
	}
	security.printListening(stdout, b)
	if isTerminal(stderr) {
		fmt.Fprintln(stderr, brokerBanner(b.Addr(), *advertised, *dataDir))
	}

	<-ctx.Done()
	logger.Info("shutting down")
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.Close(closeCtx); err != nil {
		fmt.Fprintf(stderr, "%s: shutdown: %s\n", cmd, humanError(err))
		return 1
	}
	return 0
}

// brokerBanner is the one line a person starting the broker on a terminal
// needs: where the data is and what to paste into a client.
func brokerBanner(addr, advertised, dataDir string) string {
	connect := addr
	if advertised != "" {
		connect = advertised
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	env := ""
	if connect != "127.0.0.1:9092" {
		env = "SKIFF_BROKERS=" + connect + " "
	}
	return fmt.Sprintf("skiff broker: data in %s; connect with --brokers %s (try: echo hi | %sskiff produce --topic test)",
		strings.TrimSuffix(dataDir, string(filepath.Separator)), connect, env)
}

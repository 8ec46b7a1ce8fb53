package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/skiffkit/skiff/broker"
	"github.com/skiffkit/skiff/internal/auth"
)

func init() { register("broker", "run the bundled Kafka broker", runBroker) }

// runBroker runs the bundled broker until ctx is cancelled (SIGINT or
// SIGTERM), then shuts it down cleanly. It prints "listening <addr>" on
// stdout once clients can connect, so scripts can wait for that line; with
// --listeners, one "listening <addr> <PROTOCOL>" line per listener, in the
// order given.
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
		nodeID     = fs.Int("node-id", 0, "node.id")
		partitions = fs.Int("partitions", 1, "partitions of auto-created topics (num.partitions)")
		autoCreate = fs.Bool("auto-create", true, "create unknown topics on Metadata (auto.create.topics.enable)")
		fsync      = fs.String("fsync", "interval", "when to fsync: interval (log.flush.interval.ms), always (acks=all waits for fsync) or none")
		flushEvery = fs.Duration("flush-interval", time.Second, "fsync interval with --fsync interval (log.flush.interval.ms)")
		segBytes   = fs.Int64("segment-bytes", 1<<30, "log.segment.bytes")
		retention  = fs.Duration("retention", 7*24*time.Hour, "log.retention.ms; negative keeps data forever")
		retBytes   = fs.Int64("retention-bytes", -1, "log.retention.bytes per partition; -1 means no limit")
		maxMsg     = fs.Int("message-max-bytes", 1048588, "message.max.bytes")
		verbose    = fs.Bool("v", false, "log at debug level")

		listeners   = fs.String("listeners", "", "Kafka listeners, e.g. PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093 (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL); replaces --listen")
		sslCert     = fs.String("ssl-cert", "", "PEM certificate (chain) of the SSL and SASL_SSL listeners")
		sslKey      = fs.String("ssl-key", "", "PEM private key of --ssl-cert")
		sslClientCA = fs.String("ssl-client-ca", "", "PEM CA file: require client certificates signed by it (mTLS, ssl.client.auth=required)")
		saslUsers   = fs.String("sasl-users", "", "users file of the SASL listeners: one username:password per line, # comments")
		saslMechs   = fs.String("sasl-mechanisms", "", "comma-separated sasl.enabled.mechanisms (default PLAIN,SCRAM-SHA-256,SCRAM-SHA-512; OAUTHBEARER accepts unsecured JWTs)")
		maxReauth   = fs.Duration("max-reauth", 0, "SASL session lifetime before clients must re-authenticate (connections.max.reauth.ms); 0 means none")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "skiff broker: unexpected arguments %q\n", fs.Args())
		return 2
	}
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	if listenSet && *listeners != "" {
		fmt.Fprintln(stderr, "skiff broker: --listen and --listeners: give one (--listen ADDR is PLAINTEXT://ADDR)")
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

	var serverTLS *tls.Config
	if *sslCert != "" || *sslKey != "" || *sslClientCA != "" {
		if serverTLS, err = auth.ServerTLS(*sslCert, *sslKey, *sslClientCA); err != nil {
			fmt.Fprintln(stderr, "skiff broker:", err)
			return 2
		}
	}
	var mechanisms []string
	for _, m := range strings.Split(*saslMechs, ",") {
		if m = strings.TrimSpace(m); m != "" {
			mechanisms = append(mechanisms, strings.ToUpper(m))
		}
	}

	b, err := broker.Start(ctx, broker.Config{
		Listen:                  *listen,
		Listeners:               *listeners,
		AdvertisedAddr:          *advertised,
		TLS:                     serverTLS,
		SASLUsersFile:           *saslUsers,
		SASLMechanisms:          mechanisms,
		MaxReauth:               *maxReauth,
		DataDir:                 *dataDir,
		NodeID:                  int32(*nodeID),
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
	if *listeners == "" {
		fmt.Fprintln(stdout, "listening", b.Addr())
	} else {
		for _, l := range b.Listeners() {
			fmt.Fprintln(stdout, "listening", l.Addr, l.Protocol)
		}
	}

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

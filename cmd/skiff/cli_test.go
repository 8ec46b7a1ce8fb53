package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/skiffkit/skiff/broker"
)

// cliCase is one row of a CLI test table: a command run with args and
// stdin, and what it must exit with and print.
type cliCase struct {
	name   string
	cmd    string // produce, consume, topics, groups, broker, bench
	args   []string
	stdin  string
	code   int
	stdout []string // substrings stdout must contain
	stderr []string // substrings stderr must contain
	// notStderr are substrings stderr must not contain.
	notStderr []string
	// emptyStderr: nothing at all on stderr.
	emptyStderr bool
	// maxTime bounds how long the command may take (0: no bound beyond
	// the test's own timeout).
	maxTime time.Duration
}

// runCase runs c in-process, as main would, and checks it.
func runCase(t *testing.T, c cliCase) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var o, e bytes.Buffer
	start := time.Now()
	var code int
	switch c.cmd {
	case "produce":
		code = produceMain(ctx, c.args, strings.NewReader(c.stdin), &o, &e)
	case "consume":
		code = consumeMain(ctx, c.args, &o, &e)
	case "topics":
		code = topicsMain(ctx, c.args, &o, &e)
	case "groups":
		code = groupsMain(ctx, c.args, &o, &e)
	case "broker":
		code = brokerMain(ctx, c.args, &o, &e)
	case "bench":
		code = benchMain(ctx, c.args, &o, &e, false)
	default:
		t.Fatalf("unknown command %q", c.cmd)
	}
	took := time.Since(start)
	stdout, stderr = o.String(), e.String()
	assert.Equal(t, c.code, code, "exit code; stdout:\n%s\nstderr:\n%s", stdout, stderr)
	for _, s := range c.stdout {
		assert.Contains(t, stdout, s, "stdout")
	}
	for _, s := range c.stderr {
		assert.Contains(t, stderr, s, "stderr")
	}
	if c.emptyStderr {
		assert.Empty(t, stderr, "stderr")
	}
	for _, s := range c.notStderr {
		assert.NotContains(t, stderr, s, "stderr")
	}
	if c.maxTime > 0 {
		assert.Less(t, took, c.maxTime, "took %v", took)
	}
	return stdout, stderr
}

func runCases(t *testing.T, cases []cliCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

// TestCLIHelp: every command and subcommand answers -h and --help on
// stdout, exit 0, in one format: a "usage:" line, examples, flags.
func TestCLIHelp(t *testing.T) {
	var cases []cliCase
	for _, argv := range [][]string{
		{"produce"}, {"consume"}, {"broker"}, {"bench"}, {"bench", "consume"},
		{"topics", "list"}, {"topics", "create"}, {"topics", "delete"}, {"topics", "describe"},
		{"topics", "alter-config"}, {"topics", "add-partitions"},
		{"groups", "list"}, {"groups", "describe"}, {"groups", "reset-offsets"}, {"groups", "delete"},
	} {
		for _, h := range []string{"-h", "--help"} {
			cases = append(cases, cliCase{
				name: strings.Join(argv, " ") + " " + h, cmd: argv[0], args: append(argv[1:len(argv):len(argv)], h),
				code: 0, stdout: []string{"usage: skiff " + strings.Join(argv, " "), "\nexamples:\n  skiff " + argv[0], "\nflags:\n"},
				emptyStderr: true,
			})
		}
	}
	for _, cmd := range []string{"topics", "groups"} {
		for _, h := range []string{"-h", "--help", "help"} {
			cases = append(cases, cliCase{
				name: cmd + " " + h, cmd: cmd, args: []string{h},
				code: 0, stdout: []string{"usage: skiff " + cmd + " <", "\nexamples:\n  skiff " + cmd, "run 'skiff " + cmd + " <subcommand> --help'"},
				emptyStderr: true,
			})
		}
	}
	runCases(t, cases)
}

// TestCLIUsageErrors: a usage mistake names what is wrong in one line,
// then where help is, and exits 2.
func TestCLIUsageErrors(t *testing.T) {
	runCases(t, []cliCase{
		{name: "produce without --topic", cmd: "produce", code: 2,
			stderr: []string{"skiff produce: missing required flag --topic\n", "run 'skiff produce --help' for usage"}, notStderr: []string{"-acks"}},
		{name: "consume without --topic", cmd: "consume", code: 2,
			stderr: []string{"skiff consume: missing required flag --topic\n"}},
		{name: "produce bad flag", cmd: "produce", args: []string{"--topci", "x"}, code: 2,
			stderr: []string{"flag provided but not defined: -topci", "run 'skiff produce --help'"}},
		{name: "produce --on-error", cmd: "produce", args: []string{"--topic", "x", "--on-error", "skip"}, code: 2,
			stderr: []string{"--on-error must be stop or continue"}},
		{name: "topics unknown subcommand", cmd: "topics", args: []string{"frob"}, code: 2,
			stderr: []string{`unknown subcommand "frob" (want list, create, delete, describe, alter-config, add-partitions)`}},
		{name: "topics create without name", cmd: "topics", args: []string{"create"}, code: 2,
			stderr: []string{"skiff topics create: missing topic NAME"}},
		{name: "topics create -1 partitions is fine, 0 is not", cmd: "topics", args: []string{"create", "x", "--partitions", "0"}, code: 2,
			stderr: []string{"--partitions must be at least 1 (or -1 for the broker's default), got 0"}},
		{name: "topics create -5 partitions", cmd: "topics", args: []string{"create", "x", "--partitions", "-5"}, code: 2,
			stderr: []string{"got -5"}},
		{name: "groups describe without group", cmd: "groups", args: []string{"describe"}, code: 2,
			stderr: []string{"skiff groups describe: missing GROUP"}},
		{name: "broker bad log level", cmd: "broker", args: []string{"--log-level", "loud"}, code: 2,
			stderr: []string{`--log-level "loud"`}},
	})
}

// TestCLIMessages: what create, describe and list say against a cluster.
func TestCLIMessages(t *testing.T) {
	c := cliCluster(t, 1, kfake.DefaultNumPartitions(3), kfake.SeedTopics(1, "one"))
	b := brokersArg(c)
	runCases(t, []cliCase{
		{name: "create one partition: singular", cmd: "topics", args: []string{"create", "single", "--brokers", b}, code: 0,
			stdout: []string{"created topic single with 1 partition\n"}},
		{name: "create -1: the broker's default, reported as made", cmd: "topics", args: []string{"create", "dflt", "--partitions", "-1", "--brokers", b}, code: 0,
			stdout: []string{"created topic dflt with 3 partitions\n"}},
		{name: "describe a group that does not exist", cmd: "groups", args: []string{"describe", "nosuch", "--brokers", b}, code: 1,
			stderr: []string{"skiff groups describe: nosuch: group does not exist"}},
	})
}

// startBundledBroker runs the bundled broker in-process for the tests that
// need its behaviour rather than kfake's.
func startBundledBroker(t *testing.T, mods ...func(*broker.Config)) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := broker.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), GroupInitialRebalanceDelay: -1,
		Logger: slog.New(slog.DiscardHandler)}
	for _, m := range mods {
		m(&cfg)
	}
	b, err := broker.Start(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		assert.NoError(t, b.Close(cctx))
	})
	return b.Addr()
}

// TestCLIBundledBroker: the bundled broker answers an unknown group with
// state Dead and no members (as Kafka does); describe says the group does
// not exist and exits 1.
func TestCLIBundledBroker(t *testing.T) {
	b := startBundledBroker(t)
	runCases(t, []cliCase{
		{name: "describe a group that does not exist (Dead)", cmd: "groups", args: []string{"describe", "nosuch", "--brokers", b}, code: 1,
			stderr: []string{"skiff groups describe: nosuch: group does not exist (no members, no committed offsets)"}},
		{name: "create -1 partitions: the broker's num.partitions", cmd: "topics", args: []string{"create", "d", "--partitions", "-1", "--brokers", b}, code: 0,
			stdout: []string{"created topic d with 1 partition\n"}},
	})
}

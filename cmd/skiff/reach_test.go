package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestCLIUnreachableBrokers: every client command fails within a few
// seconds with one line that names each address and the OS's reason, and
// none of the library's internals.
func TestCLIUnreachableBrokers(t *testing.T) {
	a1, a2 := deadAddr(t), deadAddr(t)
	brokers := a1 + "," + a2
	want := []string{"no broker reachable: " + a1 + ": connection refused; " + a2 + ": connection refused\n"}
	internals := []string{"wire:", "-2147483648", "WARN", "node "}
	var cases []cliCase
	for _, argv := range [][]string{
		{"produce", "--topic", "t"},
		{"consume", "--topic", "t"},
		{"topics", "list"},
		{"topics", "create", "x"},
		{"groups", "list"},
		{"groups", "describe", "g"},
	} {
		cases = append(cases, cliCase{
			name: strings.Join(argv, " "), cmd: argv[0], args: append(argv[1:len(argv):len(argv)], "--brokers", brokers),
			stdin: "x\n", code: 1, stderr: want, notStderr: internals, maxTime: seedDialTimeout + time.Second,
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr := runCase(t, c)
			assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
		})
	}
}

// TestReachSeedsErrorsIs: the folded message keeps the dial errors
// matchable.
func TestReachSeedsErrorsIs(t *testing.T) {
	err := reachSeeds(context.Background(), []string{deadAddr(t)}, false, time.Second, io.Discard)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	var oe *net.OpError
	assert.ErrorAs(t, err, &oe)
}

// TestReachSeedsWait: with wait, it keeps trying, says so at once, and
// returns as soon as a broker listens.
func TestReachSeedsWait(t *testing.T) {
	addr := deadAddr(t)
	var progress lockedBuffer
	errc := make(chan error, 1)
	go func() { errc <- reachSeeds(context.Background(), []string{addr}, true, 20*time.Second, &progress) }()
	require.Eventually(t, func() bool { return strings.Contains(progress.String(), "waiting for a broker") }, 5*time.Second, 10*time.Millisecond)
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	defer ln.Close()
	select {
	case err := <-errc:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("reachSeeds did not return after the broker appeared")
	}
	assert.Contains(t, progress.String(), addr+": connection refused")

	// And it gives up at maxWait with the reason.
	start := time.Now()
	err = reachSeeds(context.Background(), []string{deadAddr(t)}, true, 1500*time.Millisecond, io.Discard)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Contains(t, err.Error(), "(waited ")
	assert.Less(t, time.Since(start), 5*time.Second)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHumanError(t *testing.T) {
	cause := syscall.ECONNREFUSED
	err := fmt.Errorf(`wire: topic "T": wire: metadata: wire: no broker reachable: wire: connect to node -2147483648 (127.0.0.1:1): %w`, cause)
	assert.Equal(t, `topic "T": metadata: no broker reachable: connect to 127.0.0.1:1: connection refused`, humanError(err))
	assert.True(t, errors.Is(err, cause), "the error itself is untouched")
}

// TestCLIConsumeMissingTopic: a topic that does not exist is reported at
// once; with --wait the command says it waits, and gets on with it when
// the topic appears.
func TestCLIConsumeMissingTopic(t *testing.T) {
	c := cliCluster(t, 1)
	b := brokersArg(c)
	runCases(t, []cliCase{
		{name: "missing topic", cmd: "consume", args: []string{"--topic", "nope", "--brokers", b}, code: 1, maxTime: 3 * time.Second,
			stderr: []string{"skiff consume: topic nope does not exist (UNKNOWN_TOPIC_OR_PARTITION", "pass --wait"}},
		{name: "missing topic, --wait gives up", cmd: "consume", args: []string{"--topic", "nope", "--wait", "--max-wait", "1s", "--brokers", b}, code: 1,
			maxTime: 5 * time.Second, stderr: []string{"topic nope does not exist yet; waiting up to 1s", "is still not available after 1s"}},
	})

	// --wait, and the topic is created while waiting.
	var stdout bytes.Buffer
	stderr := &lockedBuffer{}
	done := make(chan int, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		done <- consumeMain(ctx, []string{"--topic", "later", "--wait", "--from-beginning", "--count", "1", "--brokers", b}, &stdout, stderr)
	}()
	require.Eventually(t, func() bool { return strings.Contains(stderr.String(), "waiting up to") }, 10*time.Second, 10*time.Millisecond)
	code, _, errOut := runCLI(t, topicsCmd, "create", "later", "--brokers", b)
	require.Equal(t, 0, code, errOut)
	produceRecords(t, c.ListenAddrs(), &kgo.Record{Topic: "later", Value: []byte("v")})
	select {
	case code := <-done:
		assert.Equal(t, 0, code, stderr.String())
		assert.Equal(t, "\tv\t0\t0\n", stdout.String())
	case <-ctx.Done():
		t.Fatal("consume did not pick up the topic")
	}
}

// TestCLIConsumeAutoCreatedTopic: with a broker that auto-creates topics,
// consume lets it create a missing one (allow.auto.create.topics, the
// consumer's default), as the consumer library would; --auto-create=false
// reports the topic missing instead.
func TestCLIConsumeAutoCreatedTopic(t *testing.T) {
	b := startBundledBroker(t) // auto.create.topics.enable is on by default
	runCases(t, []cliCase{
		{name: "auto-created", cmd: "consume", args: []string{"--topic", "fresh", "--from-beginning", "--exit-at-end", "--brokers", b},
			code: 0, maxTime: 10 * time.Second, notStderr: []string{"does not exist"}},
		{name: "--auto-create=false", cmd: "consume", args: []string{"--topic", "fresh2", "--auto-create=false", "--brokers", b},
			code: 1, maxTime: 3 * time.Second, stderr: []string{"topic fresh2 does not exist (UNKNOWN_TOPIC_OR_PARTITION"}},
	})
	runCase(t, cliCase{name: "it exists now", cmd: "topics", args: []string{"describe", "fresh", "--brokers", b}, code: 0,
		stdout: []string{"fresh "}})
}

// TestCLIJoiningGroupNote: on a terminal, consume --group says it is
// joining and when it joined; elsewhere it stays quiet.
func TestCLIJoiningGroupNote(t *testing.T) {
	c := cliCluster(t, 1, kfake.SeedTopics(1, "t"))
	produceRecords(t, c.ListenAddrs(), &kgo.Record{Topic: "t", Value: []byte("v")})
	args := []string{"--topic", "t", "--group", "g", "--from-beginning", "--count", "1", "--brokers", brokersArg(c)}
	runCase(t, cliCase{name: "not a terminal", cmd: "consume", args: args, code: 0, notStderr: []string{"joining"}})

	old := isTerminal
	isTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { isTerminal = old })
	args[3] = "g2"
	_, stderr := runCase(t, cliCase{name: "terminal", cmd: "consume", args: args, code: 0,
		stderr: []string{"joining group g2…\n", "joined group g2: assigned 1 partition\n"}})
	assert.Less(t, strings.Index(stderr, "joining"), strings.Index(stderr, "joined"))
}

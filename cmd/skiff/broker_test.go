package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runBrokerCmd starts skiff broker in-process and returns its address and
// a function that stops it and returns the exit code and stderr.
func runBrokerCmd(t *testing.T, args ...string) (addr string, stop func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan int, 1)
	args = append([]string{"--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...)
	go func() { done <- brokerMain(ctx, args, stdout, stderr) }()
	require.Eventually(t, func() bool { return strings.HasPrefix(stdout.String(), "listening ") }, 10*time.Second, 5*time.Millisecond, stderr.String())
	addr = strings.TrimSpace(strings.TrimPrefix(stdout.String(), "listening "))
	stopped := false
	var code int
	stop = func() (int, string) {
		if !stopped {
			cancel()
			code = <-done
			stopped = true
		}
		return code, stderr.String()
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

// TestBrokerDevelopmentDefaults: warnings only by default, INFO with -v,
// DEBUG with --log-level debug, the banner only on a terminal, and a new
// group's first join without Kafka's 3 s initial rebalance delay.
func TestBrokerDevelopmentDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		terminal bool
		tooLarge bool // produce a record the broker rejects
		want     []string
		not      []string
	}{
		{name: "default is quiet", not: []string{"level=INFO", "level=DEBUG", "skiff broker: data in"}},
		{name: "-v logs INFO", args: []string{"-v"}, want: []string{"level=INFO"}, not: []string{"level=DEBUG"}},
		// A rejected produce is logged at DEBUG only.
		{name: "--log-level debug", args: []string{"--log-level", "debug", "--message-max-bytes", "500"}, tooLarge: true, want: []string{"level=DEBUG", "produce failed"}},
		{name: "-v hides DEBUG", args: []string{"-v", "--message-max-bytes", "500"}, tooLarge: true, want: []string{"level=INFO"}, not: []string{"produce failed"}},
		{name: "banner on a terminal", terminal: true, want: []string{"skiff broker: data in /", "; connect with --brokers 127.0.0.1:", "SKIFF_BROKERS=127.0.0.1:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := isTerminal
			isTerminal = func(io.Writer) bool { return tc.terminal }
			t.Cleanup(func() { isTerminal = old })
			addr, stop := runBrokerCmd(t, tc.args...)
			// Some traffic, so there is something to log.
			createTopic(t, addr, "t")
			produceRecords(t, []string{addr}, &kgo.Record{Topic: "t", Value: []byte("v")})
			if tc.tooLarge {
				runCase(t, cliCase{name: "too large", cmd: "produce", args: []string{"--brokers", addr, "--topic", "t"},
					stdin: strings.Repeat("x", 1000) + "\n", code: 1, stderr: []string{"MESSAGE_TOO_LARGE"}})
			}
			code, stderr := stop()
			assert.Equal(t, 0, code, stderr)
			for _, w := range tc.want {
				assert.Contains(t, stderr, w)
			}
			for _, n := range tc.not {
				assert.NotContains(t, stderr, n)
			}
			if tc.terminal {
				assert.Equal(t, 1, strings.Count(stderr, "skiff broker: data in"), "one banner line")
			}
		})
	}
}

// TestBrokerNoInitialRebalanceDelay: a consumer group's first Poll does
// not wait out group.initial.rebalance.delay.ms (3 s in Kafka) unless
// asked to.
func TestBrokerNoInitialRebalanceDelay(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		atLeast  time.Duration
		lessThan time.Duration
	}{
		{args: nil, lessThan: 2500 * time.Millisecond},
		{args: []string{"--initial-rebalance-delay", "1500ms"}, atLeast: 1500 * time.Millisecond, lessThan: 10 * time.Second},
	} {
		addr, _ := runBrokerCmd(t, tc.args...)
		createTopic(t, addr, "g")
		produceRecords(t, []string{addr}, &kgo.Record{Topic: "g", Value: []byte("v")})
		start := time.Now()
		code, _, errOut := runCLI(t, consumeCmd, "--brokers", addr, "--topic", "g", "--group", "dev", "--from-beginning", "--count", "1")
		took := time.Since(start)
		require.Equal(t, 0, code, errOut)
		assert.GreaterOrEqual(t, took, tc.atLeast, "%q", tc.args)
		assert.Less(t, took, tc.lessThan, "%q", tc.args)
	}
}

func createTopic(t *testing.T, addr, topic string) {
	t.Helper()
	code, _, errOut := runCLI(t, topicsCmd, "create", topic, "--brokers", addr)
	require.Equal(t, 0, code, errOut)
}

package main

import (
	"bytes"
	"context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/skiffkit/skiff/broker"
)

// TestProduceLargeRecords: the line limit is named, --max-request-size
// raises max.request.size, and a failed record stops the input with an
// error (default) or is counted while the rest goes on (--on-error
// continue); either way nothing is dropped in silence.
func TestProduceLargeRecords(t *testing.T) {
	b := startBundledBroker(t, func(c *broker.Config) { c.MessageMaxBytes = 8 << 20 })
	small := startBundledBroker(t, func(c *broker.Config) { c.MessageMaxBytes = 8 << 10 })
	big := strings.Repeat("x", 2<<20)     // above the default max.request.size (1 MiB)
	medium := strings.Repeat("m", 20<<10) // above small's message.max.bytes
	runCases(t, []cliCase{
		{name: "line above --max-line names the flag", cmd: "produce", code: 1,
			args:      []string{"--brokers", b, "--topic", "l1", "--max-line", "1KiB"},
			stdin:     "a\n" + strings.Repeat("y", 2000) + "\nb\n",
			stderr:    []string{"skiff produce: line 2 is longer than --max-line (1024 bytes); raise --max-line (1 of 1 records acknowledged; stopped reading stdin)\n"},
			notStderr: []string{"token too long"}},
		{name: "record above max.request.size stops by default", cmd: "produce", code: 1,
			args:   []string{"--brokers", b, "--topic", "l2", "--max-line", "4MiB"},
			stdin:  "first\n" + big + "\nlast\n",
			stderr: []string{"skiff produce: line 2: ", "raise --max-request-size", "(1 of 1 records acknowledged; stopped reading stdin)\n"}},
		{name: "--max-request-size raises max.request.size", cmd: "produce", code: 0,
			args:   []string{"--brokers", b, "--topic", "l3", "--max-line", "4MiB", "--max-request-size", "4MiB"},
			stdin:  "first\n" + big + "\nlast\n",
			stderr: []string{"produced 3 records\n"}},
		{name: "--on-error continue goes on and counts", cmd: "produce", code: 1,
			args:   []string{"--brokers", b, "--topic", "l4", "--max-line", "4MiB", "--on-error", "continue"},
			stdin:  "first\n" + big + "\nlast\n",
			stderr: []string{"skiff produce: 2 of 2 records acknowledged, 1 failed; first failure: line 2: "}},
		{name: "broker rejects (MESSAGE_TOO_LARGE), --on-error continue", cmd: "produce", code: 1,
			args:   []string{"--brokers", small, "--topic", "l5", "--on-error", "continue", "--linger", "0"},
			stdin:  "first\n" + medium + "\nlast\n",
			stderr: []string{"2 of 3 records acknowledged, 1 failed; first failure: ", "MESSAGE_TOO_LARGE"}},
	})
}

// TestProduceStopsOnBrokerFailure: with the default --on-error stop, a
// record the broker rejects ends the run even though stdin stays open.
func TestProduceStopsOnBrokerFailure(t *testing.T) {
	small := startBundledBroker(t, func(c *broker.Config) { c.MessageMaxBytes = 8 << 10 })
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	go func() {
		// Blocks after these lines until produce reads more, which it
		// must not need to.
		io.WriteString(pw, "first\n"+strings.Repeat("m", 20<<10)+"\n")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := produceMain(ctx, []string{"--brokers", small, "--topic", "s", "--linger", "0"}, pr, &stdout, &stderr)
	require.NoError(t, ctx.Err(), "produce waited for stdin instead of stopping at the failure")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "MESSAGE_TOO_LARGE")
	assert.Contains(t, stderr.String(), "(1 of 2 records acknowledged, 1 failed; stopped reading stdin)\n")
}

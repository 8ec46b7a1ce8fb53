package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/broker"
)

// TestBenchLatencyAndConsume runs `skiff bench-latency` and
// `skiff bench-consume` against a bundled broker, as bench/latency.sh and
// bench/fetch-zerocopy.sh do across processes: every record sent while
// measuring is received and timed, and the consumers read exactly what
// was produced.
func TestBenchLatencyAndConsume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := broker.Start(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), GroupInitialRebalanceDelay: -1})
	require.NoError(t, err)
	defer b.Close(context.Background())
	require.NoError(t, b.CreateTopic("latency", 1, nil))

	line := regexp.MustCompile(`^producer=(\w+) consumer=(\w+) rate=2000 records=(\d+) lost=(\d+) p50=\d+ p90=\d+ p99=\d+ p999=\d+ max=\d+ \| ack p50=\d+`)
	for _, tc := range []struct{ producer, consumer string }{{"skiff", "skiff"}, {"kgo", "kgo"}} {
		t.Run(tc.producer+"/"+tc.consumer, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := benchLatencyMain(ctx, []string{"--brokers", b.Addr(), "--topic", "latency", "--rate", "2000",
				"--duration", "500ms", "--warmup", "200ms", "--producer", tc.producer, "--consumer", tc.consumer}, &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			m := line.FindStringSubmatch(out.String())
			require.NotNil(t, m, "got %q", out.String())
			assert.Equal(t, tc.producer, m[1])
			assert.Equal(t, tc.consumer, m[2])
			n, _ := strconv.Atoi(m[3])
			assert.InDelta(t, 1000, n, 300, "about rate × duration records timed")
			assert.Equal(t, "0", m[4], "nothing lost")
		})
	}

	// --timeline writes one line per measured record, dated.
	t.Run("timeline", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "timeline")
		var out, errOut bytes.Buffer
		code := benchLatencyMain(ctx, []string{"--brokers", b.Addr(), "--topic", "latency", "--rate", "2000",
			"--duration", "500ms", "--warmup", "200ms", "--timeline", path}, &out, &errOut)
		require.Equal(t, 0, code, errOut.String())
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		require.Regexp(t, `^# measured from \S+ \(unix ns \d+\)$`, lines[0])
		m := line.FindStringSubmatch(out.String())
		require.NotNil(t, m, "got %q", out.String())
		assert.InDelta(t, 1000, len(lines)-1, 300, "a line per acknowledged record")
		row := regexp.MustCompile(`^\d+\.\d{3} (-?\d+) (\d+)$`)
		for _, l := range lines[1:] {
			require.Regexp(t, row, l)
		}
	})

	// Everything bench-latency sent (warm-ups included) is in the topic:
	// both consumers read it all back.
	for _, client := range []string{"kgo", "skiff"} {
		var out, errOut bytes.Buffer
		code := benchReadMain(ctx, []string{"--client", client, "--brokers", b.Addr(), "--topic", "latency", "--records", "1500"}, &out, &errOut)
		require.Equal(t, 0, code, errOut.String())
		m := regexp.MustCompile(`^client=` + client + ` records=(\d+) bytes=(\d+) seconds=[0-9.]+ MB/s=[0-9.]+`).FindStringSubmatch(out.String())
		require.NotNil(t, m, "got %q", out.String())
		n, _ := strconv.Atoi(m[1])
		bytes, _ := strconv.Atoi(m[2])
		assert.GreaterOrEqual(t, n, 1500, "whole fetches: at least what was asked")
		assert.Equal(t, 100*n, bytes, "100-byte values, no keys")
	}

	var errOut bytes.Buffer
	assert.Equal(t, 2, benchLatencyMain(ctx, []string{"--consumer", "nope"}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), `--consumer: want skiff or kgo, got "nope"`)
}

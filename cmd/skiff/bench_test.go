package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBenchJSONAndHTML(t *testing.T) {
	report := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr bytes.Buffer
	code := benchMain(t.Context(), []string{
		"--linger", "0,5ms", "--batch-size", "16KiB", "--compression", "lz4", "--records", "2000",
		"--partitions", "2", "--json", "--html", report, "--max-p99", "1h", // both qualify, so both are repeated
	}, &stdout, &stderr, false)
	require.Equal(t, 0, code, stderr.String())

	sc := bufio.NewScanner(&stdout)
	var lingers []float64
	for sc.Scan() {
		var row map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row), sc.Text())
		lingers = append(lingers, row["linger_ms"].(float64))
		assert.Equal(t, "lz4", row["compression"])
		assert.EqualValues(t, 16384, row["batch_size"])
		runs := 1
		if r, ok := row["runs_records_per_sec"].([]any); ok {
			runs = len(r)
			assert.Equal(t, 2, runs, "repeated once")
		}
		assert.EqualValues(t, 2000*runs, row["records"])
		assert.Positive(t, row["records_per_sec"])
		assert.LessOrEqual(t, row["p50_ms"], row["p99_ms"])
	}
	assert.Equal(t, []float64{0, 5}, lingers)
	assert.Contains(t, stderr.String(), "bench: [2/2] linger=5ms batch=16KiB lz4 acks=all")
	assert.Contains(t, stderr.String(), "bench: [4/4] again (for the noise estimate): ")
	assert.Contains(t, stderr.String(), "embedded skiff broker")

	page, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(page), "<svg")
	assert.Contains(t, string(page), "linger=5ms batch=16KiB lz4 acks=all")
}

func TestBenchTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := benchMain(t.Context(), []string{
		"--linger", "1ms", "--batch-size", "64KiB", "--compression", "none", "--records", "1000", "--max-p99", "1h",
	}, &stdout, &stderr, false)
	require.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	assert.Contains(t, out, "records/s")
	assert.Contains(t, out, "64KiB")
	assert.Contains(t, out, "recommendation: #1 linger=1ms batch=64KiB none acks=all — ")
	assert.Contains(t, out, "\nload rec/s       rate offered while latency was measured", "the legend")
}

func TestBenchInterruptPrintsWhatWasMeasured(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(1500*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := benchMain(ctx, []string{"--linger", "0,5ms", "--batch-size", "16KiB", "--compression", "none", "--duration", "1m"}, &stdout, &stderr, false)
	assert.Equal(t, 130, code, stderr.String())
	assert.Less(t, time.Since(start), 20*time.Second)
	assert.Contains(t, stdout.String(), "interrupted", "the interrupted point is still reported")
	assert.Contains(t, stderr.String(), "bench: interrupted; 1 settings measured")
}

func TestBenchFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--linger", "soon"}, `--linger: duration "soon"`},
		{[]string{"--batch-size", "big"}, `--batch-size: size "big"`},
		{[]string{"--compression", "brotli"}, "--compression"},
		{[]string{"--acks", "2"}, "--acks"},
		{[]string{"--record-size", "-5"}, "record size -5"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--load", "0"}, "--load must be positive"},
		{[]string{"--buffer-memory", "lots"}, "--buffer-memory"},
		{[]string{"--buffer-memory", "0"}, "--buffer-memory: must be positive"},
		{[]string{"consume", "--records", "0"}, "--records must be positive"},
		{[]string{"consume", "--fetch-min-bytes", "x"}, `size "x"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, 2, benchMain(t.Context(), tt.args, &stdout, &stderr, false))
			assert.Contains(t, stderr.String(), tt.want)
			assert.Empty(t, stdout.String())
		})
	}
}

func TestBenchConsume(t *testing.T) {
	report := filepath.Join(t.TempDir(), "consume.html")
	var stdout, stderr bytes.Buffer
	code := benchMain(t.Context(), []string{
		"consume", "--records", "3000", "--fetch-min-bytes", "1,64KiB", "--max-partition-fetch-bytes", "1MiB", "--json", "--html", report,
	}, &stdout, &stderr, false)
	require.Equal(t, 0, code, stderr.String())
	page, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(page), "fetch.min=64KiB max.partition=1MiB")
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2)
	for _, l := range lines {
		var row map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &row))
		assert.EqualValues(t, 3001, row["records"], "the produced records plus the warm-up record")
		assert.Positive(t, row["records_per_sec"])
	}
	assert.Contains(t, stderr.String(), "bench consume: produced 3000 records")
}

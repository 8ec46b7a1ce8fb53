package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSinkAndBenchProduce runs `skiff sink` and times both clients
// against it with `skiff bench-produce`, as bench/produce-sink.sh does
// across processes: each run reports its records, and the sink's totals
// count every timed record plus one warm-up record per run.
func TestSinkAndBenchProduce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		defer pw.Close()
		done <- sinkMain(ctx, []string{"--listen", "127.0.0.1:0", "--partitions", "4"}, pw, io.Discard)
	}()
	lines := bufio.NewScanner(pr)
	require.True(t, lines.Scan(), "sink prints its address")
	addr, ok := strings.CutPrefix(lines.Text(), "listening on ")
	require.True(t, ok, "got %q", lines.Text())

	for _, tc := range []struct{ client, compression, values string }{
		{"skiff", "none", "random"},
		{"kgo", "none", "random"},
		{"skiff", "zstd", "json"},
		{"kgo", "lz4", "json"},
	} {
		t.Run(tc.client+"/"+tc.compression, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := benchProduceMain(ctx, []string{"--client", tc.client, "--brokers", addr, "--topic", tc.client + tc.compression,
				"--records", "2000", "--compression", tc.compression, "--values", tc.values}, &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			assert.Contains(t, out.String(), "client="+tc.client+" records=2000 ")
			assert.Contains(t, out.String(), "records/s=")
			// The hooks counted what was sent: 2,000 records in at least one batch and request.
			assert.Regexp(t, `batches=[1-9][0-9]* requests=[1-9][0-9]* records/batch=[0-9.]+ `, out.String())
		})
	}

	var errOut bytes.Buffer
	assert.Equal(t, 2, benchProduceMain(ctx, []string{"--client", "nope", "--brokers", addr}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "--client must be skiff or kgo")
	assert.Equal(t, 2, benchProduceMain(ctx, []string{"--acks", "1", "--brokers", addr}, io.Discard, &errOut))

	cancel()
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	select {
	case code := <-done:
		assert.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("sink did not stop")
	}
	require.NotEmpty(t, rest)
	assert.True(t, strings.HasPrefix(rest[len(rest)-1], "acknowledged 8004 records in"), "sink totals: %q", rest[len(rest)-1])
}

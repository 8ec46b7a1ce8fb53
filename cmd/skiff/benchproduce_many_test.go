package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/fastack"
)

// TestBenchProduceManyProducers checks --producers: every client connects
// on its own and the records are split between them, none lost or doubled
// (the sink counts each timed record plus one warm-up record per client).
func TestBenchProduceManyProducers(t *testing.T) {
	for _, client := range []string{"skiff", "kgo"} {
		t.Run(client, func(t *testing.T) {
			sink, addr := fastack.Start(t, 3)
			var out, errOut bytes.Buffer
			code := benchProduceMain(context.Background(), []string{"--client", client, "--brokers", addr,
				"--producers", "7", "--records", "1003"}, &out, &errOut)
			require.Equal(t, 0, code, errOut.String())
			assert.Contains(t, out.String(), fmt.Sprintf("client=%s producers=7 records=1003 ", client))
			assert.Contains(t, out.String(), "records/s=")
			assert.Equal(t, int64(1003+7), sink.Records())
			assert.GreaterOrEqual(t, sink.Connections(), int64(7), "one connection per producer at least")
		})
	}
	var errOut bytes.Buffer
	assert.Equal(t, 2, benchProduceMain(context.Background(), []string{"--producers", "5", "--records", "3"}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "cannot be split")

	// Clients that cannot warm up end the run instead of leaving the
	// others waiting at the start line.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	errOut.Reset()
	assert.Equal(t, 1, benchProduceMain(ctx, []string{"--client", "kgo", "--brokers", "127.0.0.1:1", "--producers", "3", "--records", "30"}, io.Discard, &errOut))
	assert.Contains(t, errOut.String(), "warm-up")
}

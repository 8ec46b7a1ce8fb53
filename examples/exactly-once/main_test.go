package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/examples/internal/cluster"
)

// TestRun runs the example on the bundled broker: run itself fails unless
// read_committed sees every word exactly once after the crash.
func TestRun(t *testing.T) {
	t.Setenv("SKIFF_BROKERS", "")
	var clientLog cluster.Log
	err := run(&clientLog)
	var buf bytes.Buffer
	clientLog.WriteTo(&buf)
	require.NoError(t, err, "client log:\n%s", buf.String())
}

package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/examples/internal/cluster"
)

// TestRun runs the example on its in-process kfake cluster: run itself
// fails unless read_committed sees every word exactly once after the crash.
func TestRun(t *testing.T) {
	t.Setenv("SKIFF_BROKERS", "") // the bundled broker does not serve transactions yet
	var clientLog cluster.Log
	err := run(&clientLog)
	var buf bytes.Buffer
	clientLog.WriteTo(&buf)
	require.NoError(t, err, "client log:\n%s", buf.String())
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrokerProfileFiles: --cpuprofile and --trace each write their file
// when the broker stops, and a path that cannot be created is an error.
func TestBrokerProfileFiles(t *testing.T) {
	dir := t.TempDir()
	cpu, tr := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "broker.trace")
	stop, err := startBrokerProfile(cpu, tr)
	require.NoError(t, err)
	stop()
	b, err := os.ReadFile(tr)
	require.NoError(t, err)
	assert.Regexp(t, `^go 1\.\d+ trace`, string(b[:min(len(b), 16)]), "a runtime/trace file")
	st, err := os.Stat(cpu)
	require.NoError(t, err)
	assert.Positive(t, st.Size())

	_, err = startBrokerProfile("", filepath.Join(dir, "missing", "x.trace"))
	assert.ErrorContains(t, err, "--trace")
}

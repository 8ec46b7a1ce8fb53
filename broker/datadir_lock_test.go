//go:build unix

package broker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDataDirLocked: a second broker on a DataDir in use refuses to start,
// with an error that names the directory and says why; once the first
// broker closed, the directory can be used again.
func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	first := startBroker(t, Config{DataDir: dir})
	require.NoError(t, first.CreateTopic("t", 1, nil))

	second, err := Start(context.Background(), Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: discardLogger()})
	if second != nil {
		closeBroker(t, second)
	}
	require.Error(t, err, "a second broker must not run on the same data directory")
	assert.ErrorIs(t, err, ErrDataDirLocked)
	assert.Contains(t, err.Error(), dir)
	assert.Contains(t, err.Error(), "another broker")

	closeBroker(t, first)
	again := startBroker(t, Config{DataDir: dir})
	assert.NotNil(t, again.topics.partition("t", 0), "the restarted broker has the first one's topic")

	// A broker that fails to start releases the lock it took.
	_, err = Start(context.Background(), Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: discardLogger()})
	require.ErrorIs(t, err, ErrDataDirLocked)
	closeBroker(t, again)
	_, err = Start(context.Background(), Config{DataDir: dir, Listen: "not an address", Logger: discardLogger()})
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrDataDirLocked)
	startBroker(t, Config{DataDir: dir})
}

package log

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
)

// TestAppendDoesNotWaitForFsync holds the segment's fsync mid-flight (a
// slow disk: the broker's flusher syncs every partition once per
// log.flush.interval.ms) and checks that appends and reads of the same
// log go on meanwhile. An acks=1 produce must never wait for an fsync it
// did not ask for: if Sync held the append lock (or a segment lock the
// append path takes) across the fsync, every produce to the partition
// would stall for the fsync's length, which on a busy disk is tens of
// milliseconds, in the latency tail of issue 14.
func TestAppendDoesNotWaitForFsync(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	l := openLog(t, t.TempDir(), Config{FS: fsys})
	first := mustAppend(t, l, makeBatch(t, plain(2), "before"))

	entered, release := make(chan struct{}), make(chan struct{})
	held := false
	fsys.Stall(errorfs.OpSync, errorfs.Suffix(logSuffix), func() {
		if !held { // only the first fsync is slow
			held = true
			close(entered)
			<-release
		}
	})
	type syncResult struct {
		off int64
		err error
	}
	synced := make(chan syncResult, 1)
	go func() {
		off, err := l.Sync()
		synced <- syncResult{off, err}
	}()
	<-entered // the fsync has started and is held

	appended := make(chan AppendInfo, 1)
	go func() {
		defer close(appended)
		info, err := l.Append(makeBatch(t, plain(3), "during"), t0)
		if assert.NoError(t, err) {
			appended <- info
		}
		// A reader of the same partition (a consumer's fetch) goes on too.
		data, err := l.Read(first.BaseOffset, 1<<20, nil)
		assert.NoError(t, err)
		assert.NotEmpty(t, data)
	}()
	var during AppendInfo
	select {
	case info, ok := <-appended:
		require.True(t, ok, "append failed")
		during = info
	case r := <-synced:
		t.Fatalf("Sync returned (%d, %v) while its fsync was held", r.off, r.err)
	case <-time.After(10 * time.Second):
		// Only a guard: the append returns in microseconds unless it
		// waits for the held fsync, which is never released before.
		close(release)
		t.Fatal("Append waited for an fsync in progress")
	}
	assert.Equal(t, int64(5), l.EndOffset(), "the append is visible while the fsync runs")

	close(release)
	r := <-synced
	require.NoError(t, r.err)
	// The held fsync covers what was appended before it started, and not
	// the append it did not wait for: that one needs the next round.
	assert.Equal(t, first.LastOffset+1, r.off)
	assert.Less(t, l.SyncedOffset(), during.LastOffset+1)
	off, err := l.Sync()
	require.NoError(t, err)
	assert.Equal(t, during.LastOffset+1, off)
}

package log

import (
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSyncGroupCommit(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 4096})
	const callers = 16
	const rounds = 20
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				info, err := l.Append(makeBatch(t, plain(1), "x"), t0)
				if err != nil {
					t.Error(err)
					return
				}
				synced, err := l.Sync()
				if err != nil {
					t.Error(err)
					return
				}
				// The fsync a caller gets covers its own append.
				if synced <= info.LastOffset {
					t.Errorf("Sync returned %d, append ended at %d", synced, info.LastOffset)
				}
				if l.SyncedOffset() < synced {
					t.Errorf("SyncedOffset %d behind a returned %d", l.SyncedOffset(), synced)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(callers*rounds), l.EndOffset())
	g := &l.group
	g.mu.Lock()
	fsyncs := g.done
	g.mu.Unlock()
	t.Logf("%d Sync calls shared %d fsync rounds", callers*rounds, fsyncs)
	assert.LessOrEqual(t, fsyncs, uint64(callers*rounds))
	synced, err := l.Sync()
	require.NoError(t, err)
	assert.Equal(t, l.EndOffset(), synced)
	assert.Equal(t, l.EndOffset(), l.SyncedOffset())
}

// TestSyncWaitsForTheNextRound checks the two rules of the group commit:
// callers arriving while an fsync runs do not take its (possibly stale)
// result, and all of them share one next round.
func TestSyncWaitsForTheNextRound(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	g := &l.group
	// Pretend a round started before the appends below.
	g.mu.Lock()
	g.running = true
	g.started++
	before := g.started
	g.mu.Unlock()

	mustAppend(t, l, makeBatch(t, plain(3), "x"))
	const callers = 8
	res := make(chan int64, callers)
	for i := 0; i < callers; i++ {
		go func() {
			off, err := l.Sync()
			assert.NoError(t, err)
			res <- off
		}()
	}
	waitFor(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.waiting == callers
	})
	// Finish the fake round with a stale result; no waiter may take it.
	g.mu.Lock()
	g.running = false
	g.done = g.started
	g.off = 0
	g.cond.Broadcast()
	g.mu.Unlock()
	for i := 0; i < callers; i++ {
		assert.Equal(t, int64(3), <-res)
	}
	g.mu.Lock()
	assert.Equal(t, before+1, g.done, "all waiters shared one fsync round")
	g.mu.Unlock()
	assert.Equal(t, int64(3), l.SyncedOffset())
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "condition not reached")
		runtime.Gosched()
	}
}

// TestSyncLeavesActiveIndexesToClose: Sync writes no index entry of the
// active segment (recovery rebuilds those files after a crash, and Close
// and roll write them whole), so a flush costs one fsync per partition and
// no index writes; Close still leaves complete index files behind.
func TestSyncLeavesActiveIndexesToClose(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir, Config{IndexIntervalBytes: 1})
	require.NoError(t, err)
	for i := range 5 {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 2, ts: t0.UnixMilli() + int64(i)*10, pid: -1}, "x"))
	}
	_, err = l.Sync()
	require.NoError(t, err)
	size := func(suffix string) int64 {
		fi, err := os.Stat(fileName(dir, 0, suffix))
		require.NoError(t, err)
		return fi.Size()
	}
	assert.Zero(t, size(indexSuffix), "offset index written by Sync")
	assert.Zero(t, size(timeIndexSuffix), "time index written by Sync")

	require.NoError(t, l.Close())
	assert.Equal(t, int64(4*offsetEntrySize), size(indexSuffix), "entries after the first batch")
	assert.Positive(t, size(timeIndexSuffix))
}

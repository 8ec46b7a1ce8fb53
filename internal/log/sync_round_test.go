package log

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
)

// fsyncsOf counts the recorded fsyncs of files ending in suffix under dir.
func fsyncsOf(fsys *errorfs.FS, dir, suffix string) int {
	n := 0
	for _, r := range fsys.Records(errorfs.OpSync) {
		if strings.HasPrefix(r.Path, dir) && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// TestSyncRoundBarrier: a round finished by a barrier that succeeded
// publishes the captured end offset and fsyncs nothing itself; one whose
// barrier failed fsyncs exactly the files it captured, and goes offline
// only when one of those fsyncs fails, with the dirty flag given back.
func TestSyncRoundBarrier(t *testing.T) {
	errBarrier := errors.New("syncfs: input/output error")
	for _, tc := range []struct {
		name        string
		barrier     error
		fault       bool // the .log fsync fails
		wantFsyncs  int  // fsyncs of the .log during Finish
		wantOffline bool
	}{
		{"barrier succeeded", nil, false, 0, false},
		{"barrier failed, own fsync succeeds", errBarrier, false, 1, false},
		{"barrier failed, own fsync fails", errBarrier, true, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := errorfs.Wrap(vfs.Default)
			dir := filepath.Join(t.TempDir(), "t-0")
			l := openLog(t, dir, Config{FS: fsys})
			mustAppend(t, l, makeBatch(t, plain(4), "x"))
			require.Equal(t, int64(0), l.SyncedOffset())

			r := l.BeginSync()
			before := fsyncsOf(fsys, dir, logSuffix)
			assert.False(t, l.active().dirty.Load(), "the round took the dirty flag")
			// Written after the capture: not covered by this round.
			mustAppend(t, l, makeBatch(t, plain(2), "after"))
			if tc.fault {
				fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync, Path: errorfs.Suffix(logSuffix), Once: true})
			}
			off, err := r.Finish(tc.barrier)
			assert.Equal(t, tc.wantFsyncs, fsyncsOf(fsys, dir, logSuffix)-before, ".log fsyncs by Finish")
			if tc.wantOffline {
				requireStorageError(t, err)
				assert.Equal(t, int64(0), l.SyncedOffset(), "synced offset moved past a failed fsync")
				assert.True(t, l.active().dirty.Load(), "dirty flag given back")
				require.Error(t, l.Offline())
				_, err = l.Sync()
				requireStorageError(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, int64(4), off, "the round covers what was appended before it")
			assert.Equal(t, int64(4), l.SyncedOffset())
			assert.True(t, l.active().dirty.Load(), "the later append is left for the next round")
			off, err = l.Sync()
			require.NoError(t, err)
			assert.Equal(t, int64(6), off)
		})
	}
}

// TestSyncRoundOneLogOfMany: when the barrier over many logs fails, each
// log fsyncs its own files, so the fault goes offline with the log that
// lost data and every other log of the round is synced.
func TestSyncRoundOneLogOfMany(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	root := t.TempDir()
	logs := make([]*Log, 4)
	for i := range logs {
		logs[i] = openLog(t, filepath.Join(root, "t-"+string(rune('0'+i))), Config{FS: fsys})
		mustAppend(t, logs[i], makeBatch(t, plain(3), "x"))
	}
	rounds := make([]SyncRound, len(logs))
	for i, l := range logs {
		rounds[i] = l.BeginSync()
	}
	bad := logs[2].Dir() + string(filepath.Separator)
	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync, Path: func(p string) bool {
		return strings.HasPrefix(p, bad) && strings.HasSuffix(p, logSuffix)
	}})
	for i, r := range rounds {
		off, err := r.Finish(errors.New("syncfs failed"))
		if i == 2 {
			requireStorageError(t, err)
			assert.Equal(t, int64(0), logs[i].SyncedOffset())
			continue
		}
		require.NoError(t, err, "log %d", i)
		assert.Equal(t, int64(3), off)
		assert.Equal(t, int64(3), logs[i].SyncedOffset())
		assert.NoError(t, logs[i].Offline())
	}
}

// TestSyncRoundSealedIndexes: a round writes the index files of a sealed
// segment without fsyncing them (the barrier covers them), then counts them
// durable and drops the in-memory indexes, as a Sync does; a later round
// fsyncs nothing of that segment.
func TestSyncRoundSealedIndexes(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openLog(t, dir, Config{FS: fsys, SegmentBytes: 2048, IndexIntervalBytes: 1})
	for l.NumSegments() < 2 {
		mustAppend(t, l, makeBatch(t, plain(4), "x"))
	}
	sealed := (*l.segs.Load())[0]
	logFsyncs := fsyncsOf(fsys, dir, logSuffix) // Open's
	r := l.BeginSync()
	fi, err := os.Stat(fileName(dir, sealed.base, indexSuffix))
	require.NoError(t, err)
	assert.Positive(t, fi.Size(), "the round wrote the sealed segment's index")
	_, err = r.Finish(nil)
	require.NoError(t, err)
	assert.Zero(t, fsyncsOf(fsys, dir, indexSuffix)+fsyncsOf(fsys, dir, timeIndexSuffix), "index fsyncs")
	sealed.idxMu.RLock()
	assert.True(t, sealed.idxSynced)
	assert.True(t, sealed.evicted)
	sealed.idxMu.RUnlock()

	// The next round, barrier failed: the sealed segment is clean, and
	// only the active segment's .log (dirty again) is fsynced.
	mustAppend(t, l, makeBatch(t, plain(1), "y"))
	_, err = l.BeginSync().Finish(errors.New("syncfs failed"))
	require.NoError(t, err)
	assert.Zero(t, fsyncsOf(fsys, dir, indexSuffix)+fsyncsOf(fsys, dir, timeIndexSuffix), "index fsyncs")
	assert.Equal(t, logFsyncs+1, fsyncsOf(fsys, dir, logSuffix))
	assert.Equal(t, l.EndOffset(), l.SyncedOffset())
}

// TestSyncDuringRoundWaitsForTheNext: a Sync arriving while a barrier
// round runs cannot use it (its data may have been written after the
// capture), so it waits and then runs its own round; Close waits for the
// round too, and a round after Close reports ErrClosed.
func TestSyncDuringRoundWaitsForTheNext(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	mustAppend(t, l, makeBatch(t, plain(3), "x"))
	r := l.BeginSync()
	mustAppend(t, l, makeBatch(t, plain(2), "y"))

	type result struct {
		off int64
		err error
	}
	synced := make(chan result, 1)
	go func() {
		off, err := l.Sync()
		synced <- result{off, err}
	}()
	g := &l.group
	waitFor(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.waiting == 1
	})
	select {
	case res := <-synced:
		t.Fatalf("Sync returned %+v during the round", res)
	default:
	}
	off, err := r.Finish(nil)
	require.NoError(t, err)
	assert.Equal(t, int64(3), off)
	res := <-synced
	require.NoError(t, res.err)
	assert.Equal(t, int64(5), res.off, "the waiting Sync covers the append made during the round")

	// Close waits for a running round and leaves the log closed cleanly.
	r = l.BeginSync()
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	waitFor(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.waiting == 1
	})
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v during a round", err)
	default:
	}
	_, err = r.Finish(nil)
	require.NoError(t, err)
	require.NoError(t, <-closed)
	_, err = l.BeginSync().Finish(nil)
	assert.ErrorIs(t, err, ErrClosed)
}

// TestSyncRoundOfflineLog: a round of an offline log covers nothing and
// reports the fault, and the group commit is free again afterwards.
func TestSyncRoundOfflineLog(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	l := openLog(t, t.TempDir(), Config{FS: fsys})
	mustAppend(t, l, makeBatch(t, plain(1), "x"))
	fsys.Inject(errorfs.Fault{Ops: errorfs.OpSync, Path: errorfs.Suffix(logSuffix)})
	_, err := l.Sync()
	requireStorageError(t, err)
	fsys.Heal()
	_, err = l.BeginSync().Finish(nil)
	requireStorageError(t, err)
	_, err = l.Sync()
	requireStorageError(t, err)
	assert.Equal(t, int64(0), l.SyncedOffset())
}

// TestSyncRoundAllocatesNothing: the broker calls Sync per acks=all
// produce under FsyncAlways and BeginSync/Finish for every partition each
// flush interval, so once warm a round allocates nothing (its capture is
// the group commit's reused scratch).
func TestSyncRoundAllocatesNothing(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{FS: vfs.Default})
	set := makeBatch(t, plain(1), "x")
	round := func() {
		if _, err := l.Append(set, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Sync(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(set, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := l.BeginSync().Finish(nil); err != nil {
			t.Fatal(err)
		}
	}
	round()
	assert.Zero(t, testing.AllocsPerRun(50, round))
}

package log

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
)

// lastIndex is the index of the last record of op whose path satisfies
// match, -1 when there is none.
func lastIndex(rs []errorfs.Record, op errorfs.Op, match func(string) bool) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Op == op && rs[i].Err == nil && match(rs[i].Path) {
			return i
		}
	}
	return -1
}

// requireDirSyncedAfter checks that the directory dir was fsynced after
// the last operation op on a path match selects, in the records so far.
func requireDirSyncedAfter(t *testing.T, fsys *errorfs.FS, dir string, op errorfs.Op, match func(string) bool) {
	t.Helper()
	rs := fsys.Records(errorfs.OpAll)
	i := lastIndex(rs, op, match)
	require.GreaterOrEqual(t, i, 0, "no %v matched in %v", op, rs)
	j := lastIndex(rs, errorfs.OpSyncDir, func(p string) bool { return p == filepath.Clean(dir) })
	require.Greater(t, j, i, "%v of %s is not followed by an fsync of %s: %v", op, rs[i].Path, dir, rs[i:])
}

func isName(name string) func(string) bool {
	return func(p string) bool { return filepath.Base(p) == name }
}

// TestRollFsyncsDirectory: a segment roll creates three files and renames a
// snapshot into place; all four names are durable (the directory fsynced)
// before Append returns, so an fsync of the new segment's data is never in
// a file that a power loss can unlink.
func TestRollFsyncsDirectory(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openLog(t, dir, Config{SegmentBytes: 1000, FS: fsys})
	for l.NumSegments() < 2 {
		mustAppend(t, l, makeBatch(t, plain(4), "r"))
	}
	base := l.active().base
	require.NotZero(t, base)
	for _, suffix := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		requireDirSyncedAfter(t, fsys, dir, errorfs.OpOpen, isName(filepath.Base(fileName(dir, base, suffix))))
	}
	requireDirSyncedAfter(t, fsys, dir, errorfs.OpRename, isName(filepath.Base(fileName(dir, base, snapshotSuffix))))
}

// TestNewPartitionDirectoryFsynced: opening a log in a new directory
// fsyncs its parent (the directory's own name) and then the directory
// (its first segment and snapshot) before Open returns.
func TestNewPartitionDirectoryFsynced(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	data := t.TempDir()
	dir := filepath.Join(data, "orders-3")
	openLog(t, dir, Config{FS: fsys})
	requireDirSyncedAfter(t, fsys, data, errorfs.OpMkdir, isName("orders-3"))
	requireDirSyncedAfter(t, fsys, dir, errorfs.OpOpen, isName(filepath.Base(fileName(dir, 0, logSuffix))))
	requireDirSyncedAfter(t, fsys, dir, errorfs.OpRename, isName(filepath.Base(fileName(dir, 0, snapshotSuffix))))
}

// TestCloseFsyncsSnapshotRename: the snapshot Close writes is renamed into
// place and the directory fsynced before the log counts as closed.
func TestCloseFsyncsSnapshotRename(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	dir := filepath.Join(t.TempDir(), "t-0")
	l, err := Open(dir, Config{FS: fsys})
	require.NoError(t, err)
	mustAppend(t, l, makeBatch(t, batchSpec{records: 3, pid: 4}, "c"))
	require.NoError(t, l.Close())
	requireDirSyncedAfter(t, fsys, dir, errorfs.OpRename, isName(filepath.Base(fileName(dir, 3, snapshotSuffix))))
}

// TestCrashBetweenSnapshotWriteAndRename: a snapshot written (whole or
// torn) but never renamed, as a crash leaves it, is deleted on open; the
// log and the producer state are rebuilt from the segments and the older
// snapshots, and idempotent retries are still recognized.
func TestCrashBetweenSnapshotWriteAndRename(t *testing.T) {
	for _, tc := range []struct {
		name string
		torn bool
	}{{"whole temporary file", false}, {"torn temporary file", true}} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := errorfs.Wrap(vfs.Default)
			dir := filepath.Join(t.TempDir(), "t-0")
			cfg := Config{SegmentBytes: 2000}
			l, err := Open(dir, Config{SegmentBytes: cfg.SegmentBytes, FS: fsys})
			require.NoError(t, err)
			var seq int32
			var last []byte
			for l.NumSegments() < 3 {
				last = makeBatch(t, batchSpec{records: 4, pid: 9, seq: seq}, "s")
				mustAppend(t, l, append([]byte(nil), last...))
				seq += 4
			}
			mustAppend(t, l, makeBatch(t, plain(2), "tail"))
			end := l.EndOffset()
			_, err = l.Sync()
			require.NoError(t, err)

			// The crash: Close's snapshot reaches its temporary file but
			// neither its rename nor the cleanup of the temporary file
			// happens.
			if tc.torn {
				fsys.Inject(errorfs.Fault{Ops: errorfs.OpWrite, Path: errorfs.Suffix(tmpSuffix), Torn: true})
			}
			fsys.Inject(errorfs.Fault{Ops: errorfs.OpRename, Path: errorfs.Suffix(tmpSuffix)})
			fsys.Inject(errorfs.Fault{Ops: errorfs.OpRemove, Path: errorfs.Suffix(tmpSuffix)})
			require.Error(t, l.Close())
			tmp := fileName(dir, end, snapshotSuffix) + tmpSuffix
			require.FileExists(t, tmp)
			require.NoFileExists(t, filepath.Join(dir, cleanShutdownFile))

			l2 := openLog(t, dir, cfg)
			assert.NoFileExists(t, tmp, "the interrupted snapshot is deleted")
			assert.Equal(t, end, l2.EndOffset())
			_, lastSeq, ok := l2.ProducerState(9)
			require.True(t, ok)
			assert.Equal(t, seq-1, lastSeq)
			info, err := l2.Append(last, t0)
			require.NoError(t, err)
			assert.True(t, info.Duplicate, "a retry of the last batch is recognized")
			assert.Equal(t, end, l2.EndOffset())
			got, err := l2.Read(0, 1<<20, nil)
			require.NoError(t, err)
			assert.Len(t, decodeAll(t, got), int(end))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			for _, e := range entries {
				assert.False(t, strings.HasSuffix(e.Name(), tmpSuffix), e.Name())
			}
		})
	}
}

package log

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
	"github.com/skiffkit/skiff/kerr"
)

// requireStorageError checks an error is what the broker answers
// KAFKA_STORAGE_ERROR for, from a log that went offline.
func requireStorageError(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, kerr.KafkaStorageError)
	require.ErrorIs(t, err, ErrOffline)
	assert.Equal(t, kerr.KafkaStorageError.Code, kerr.Code(err))
}

// TestStorageFaults: a write, fsync or roll that fails takes the log
// offline. What it could not write is not acknowledged (the end offset, the
// high watermark, does not move; the synced offset does not move past a
// failed fsync), every later call fails with KAFKA_STORAGE_ERROR even after
// the disk heals, and reopening on a healthy disk loses nothing that was
// acknowledged and shows nothing that was not.
func TestStorageFaults(t *testing.T) {
	const segmentBytes = 4000
	for _, tc := range []struct {
		name   string
		faults []errorfs.Fault
		// sync: the fault hits the Sync after an acknowledged append
		// (acks=1: appended, not yet durable); otherwise the next Append.
		sync bool
		// roll: the active segment is full, so the failing Append rolls.
		roll bool
	}{
		{"write EIO", []errorfs.Fault{{Ops: errorfs.OpWrite, Path: errorfs.Suffix(logSuffix)}}, false, false},
		{"write ENOSPC", []errorfs.Fault{{Ops: errorfs.OpWrite, Path: errorfs.Suffix(logSuffix), Err: errorfs.ENOSPC}}, false, false},
		{"torn write, undone", []errorfs.Fault{{Ops: errorfs.OpWrite, Path: errorfs.Suffix(logSuffix), Err: errorfs.ENOSPC, Torn: true}}, false, false},
		{"torn write that cannot be undone", []errorfs.Fault{
			{Ops: errorfs.OpWrite, Path: errorfs.Suffix(logSuffix), Err: errorfs.ENOSPC, Torn: true},
			{Ops: errorfs.OpTruncate, Path: errorfs.Suffix(logSuffix)},
		}, false, false},
		{"write into a new segment", []errorfs.Fault{{Ops: errorfs.OpWrite, Path: errorfs.Suffix(logSuffix)}}, false, true},
		{"roll: create fails", []errorfs.Fault{{Ops: errorfs.OpOpen, Path: errorfs.Suffix(logSuffix)}}, false, true},
		{"roll: directory fsync fails", []errorfs.Fault{{Ops: errorfs.OpSyncDir}}, false, true},
		{"fsync EIO", []errorfs.Fault{{Ops: errorfs.OpSync, Path: errorfs.Suffix(logSuffix)}}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := errorfs.Wrap(vfs.Default)
			dir := filepath.Join(t.TempDir(), "t-0")
			l, err := Open(dir, Config{SegmentBytes: segmentBytes, FS: fsys})
			require.NoError(t, err)
			var seq int32
			next := func(tag string) []byte {
				b := makeBatch(t, batchSpec{records: 5, valueSize: 100, pid: 3, seq: seq}, tag)
				seq += 5
				return b
			}
			size := int64(len(makeBatch(t, batchSpec{records: 5, valueSize: 100, pid: 3}, "size")))
			for range 3 {
				mustAppend(t, l, next("acked"))
			}
			for tc.roll && l.active().size.Load()+size <= segmentBytes {
				mustAppend(t, l, next("acked"))
			}
			segments := l.NumSegments()
			_, err = l.Sync()
			require.NoError(t, err)
			acked := l.EndOffset()
			synced := l.SyncedOffset()

			if tc.sync {
				// acks=1 acknowledges the append; only the fsync fails.
				mustAppend(t, l, next("acks1"))
				acked = l.EndOffset()
			}
			for _, f := range tc.faults {
				fsys.Inject(f)
			}
			if tc.sync {
				_, err = l.Sync()
				requireStorageError(t, err)
				assert.Equal(t, synced, l.SyncedOffset(), "a failed fsync covers nothing")
			} else {
				lost := next("lost")
				_, err = l.Append(lost, t0)
				requireStorageError(t, err)
				seq -= 5
			}
			assert.Positive(t, fsys.Injected())
			if tc.faults[0].Ops&(errorfs.OpOpen|errorfs.OpSyncDir) != 0 {
				assert.Equal(t, segments, l.NumSegments(), "a failed roll publishes no segment")
			}
			assert.Equal(t, acked, l.EndOffset(), "the high watermark did not move")
			requireStorageError(t, l.Offline())

			// Offline until reopened, even once the disk works again.
			fsys.Heal()
			_, err = l.Append(next("after"), t0)
			requireStorageError(t, err)
			seq -= 5
			_, err = l.Read(0, 1<<20, nil)
			requireStorageError(t, err)
			_, _, _, err = l.OffsetForTime(0)
			requireStorageError(t, err)
			_, err = l.Sync()
			requireStorageError(t, err)
			_, err = l.EnforceRetention(t0)
			requireStorageError(t, err)
			assert.Equal(t, acked, l.EndOffset())
			require.NoError(t, l.Close())

			// Restart on a healthy disk: everything acknowledged is there,
			// nothing else, and the producer goes on where it was.
			l2 := openLog(t, dir, Config{SegmentBytes: segmentBytes})
			require.Equal(t, acked, l2.EndOffset())
			got, err := l2.Read(0, 1<<20, nil)
			require.NoError(t, err)
			recs := decodeAll(t, got)
			require.Len(t, recs, int(acked))
			for i, r := range recs {
				assert.Equal(t, int64(i), r.offset)
				assert.NotContains(t, r.value, "lost")
				assert.NotContains(t, r.value, "after")
			}
			_, lastSeq, ok := l2.ProducerState(3)
			require.True(t, ok)
			assert.Equal(t, seq-1, lastSeq)
			info, err := l2.Append(next("resumed"), t0)
			require.NoError(t, err)
			assert.Equal(t, acked, info.BaseOffset)
		})
	}
}

// TestOpenFailsOnStorageError: a log whose directory cannot be created or
// read does not open, and says why with KAFKA_STORAGE_ERROR or the cause.
func TestOpenFailsOnStorageError(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	fsys.Inject(errorfs.Fault{Ops: errorfs.OpMkdir, Err: errorfs.ENOSPC})
	_, err := Open(filepath.Join(t.TempDir(), "t-0"), Config{FS: fsys})
	require.ErrorIs(t, err, kerr.KafkaStorageError)
	require.ErrorIs(t, err, syscall.ENOSPC)

	fsys = errorfs.Wrap(vfs.Default)
	fsys.Inject(errorfs.Fault{Ops: errorfs.OpReadDir})
	_, err = Open(filepath.Join(t.TempDir(), "t-0"), Config{FS: fsys})
	require.ErrorIs(t, err, syscall.EIO)
}

package log

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allocatedBytes is the disk space a file holds, which a KEEP_SIZE
// reservation grows past its size.
func allocatedBytes(tb testing.TB, name string) int64 {
	tb.Helper()
	st, err := os.Stat(name)
	require.NoError(tb, err)
	return st.Sys().(*syscall.Stat_t).Blocks * 512
}

// requireFallocate skips where the test's filesystem cannot reserve space
// at all (then the log writes as before, which the other tests cover).
func requireFallocate(tb testing.TB, dir string) {
	tb.Helper()
	f, err := os.Create(filepath.Join(dir, "probe"))
	require.NoError(tb, err)
	defer os.Remove(f.Name())
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), fallocKeepSize, 0, 1<<20); errors.Is(err, syscall.EOPNOTSUPP) {
		tb.Skip("the filesystem of TMPDIR cannot preallocate")
	}
}

// TestPreallocationKeepsSize checks what recovery and readers rely on: the
// reserved blocks never show in the file size, which ends at the last
// whole batch; a rolled segment and a closed log give the reservation
// back; and the log reads back the same after a reopen.
func TestPreallocationKeepsSize(t *testing.T) {
	root := t.TempDir()
	requireFallocate(t, root)
	dir := filepath.Join(root, "orders-0")
	cfg := Config{SegmentBytes: 64 << 10}
	l := openLog(t, dir, cfg)

	var written int64
	for range 3 {
		info := mustAppend(t, l, makeBatch(t, batchSpec{records: 10, valueSize: 1000, pid: -1}, "pre"))
		require.Equal(t, int64(10), int64(info.NumRecords))
		written = l.Size()
	}
	first := fileName(dir, 0, logSuffix)
	st, err := os.Stat(first)
	require.NoError(t, err)
	assert.Equal(t, written, st.Size(), "the file ends at the last whole batch")
	assert.GreaterOrEqual(t, allocatedBytes(t, first), int64(64<<10)-4096,
		"the active segment holds a reservation up to segment.bytes")

	// Past 64 KiB the log rolls: the sealed segment keeps only its data.
	for l.NumSegments() < 2 {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 10, valueSize: 1000, pid: -1}, "roll"))
	}
	st, err = os.Stat(first)
	require.NoError(t, err)
	assert.Less(t, allocatedBytes(t, first), st.Size()+8192, "a sealed segment gives its reservation back")

	end, size := l.EndOffset(), l.Size()
	all, err := l.Read(0, 1<<20, nil)
	require.NoError(t, err)
	want := decodeAll(t, all)
	require.NoError(t, l.Close())
	for _, name := range segmentFiles(t, dir, logSuffix) {
		st, err := os.Stat(name)
		require.NoError(t, err)
		assert.Less(t, allocatedBytes(t, name), st.Size()+8192, "%s after Close", name)
	}

	l2 := openLog(t, dir, cfg)
	assert.Equal(t, end, l2.EndOffset())
	assert.Equal(t, size, l2.Size())
	got, err := l2.Read(0, 1<<20, nil)
	require.NoError(t, err)
	assert.Equal(t, want, decodeAll(t, got))
}

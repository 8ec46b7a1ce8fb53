package log

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIndexFileLookups holds the pread lookups of evicted (sealed) segments
// to the in-memory ones for every key around every entry.
func TestIndexFileLookups(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 2, 7, 64} {
		off := make([]offsetEntry, n)
		tim := make([]timeEntry, n)
		for i := range n {
			off[i] = offsetEntry{rel: int32(3 + 5*i), pos: int32(100 + 1000*i)}
			tim[i] = timeEntry{ts: int64(1000 + 10*i), rel: int32(3 + 5*i)}
		}
		of := writeTemp(t, filepath.Join(dir, fmt.Sprintf("%d.index", n)), appendOffsetEntries(nil, off))
		tf := writeTemp(t, filepath.Join(dir, fmt.Sprintf("%d.timeindex", n)), appendTimeEntries(nil, tim))
		for rel := int64(-1); rel <= int64(5*n+5); rel++ {
			assert.Equal(t, lookupOffset(off, rel), lookupOffsetFile(of, n, rel, nil), "n=%d rel=%d", n, rel)
		}
		for ts := int64(990); ts <= int64(1000+10*n+10); ts++ {
			wRel, wOK := lookupTimeBefore(tim, ts)
			rel, ok := lookupTimeBeforeFile(tf, n, ts)
			assert.Equal(t, wOK, ok, "n=%d ts=%d", n, ts)
			assert.Equal(t, wRel, rel, "n=%d ts=%d", n, ts)
		}
		// A file that cannot be read degrades to "scan from the start".
		require.NoError(t, of.Close())
		require.NoError(t, tf.Close())
		assert.Zero(t, lookupOffsetFile(of, n, int64(5*n), nil))
		_, ok := lookupTimeBeforeFile(tf, n, 1<<40)
		assert.False(t, ok)
	}
}

func writeTemp(t *testing.T, name string, b []byte) *os.File {
	t.Helper()
	require.NoError(t, os.WriteFile(name, b, 0o644))
	f, err := os.Open(name)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestSealedSegmentsEvictIndexes checks that only the active segment keeps
// its indexes in memory, and that reads at every offset of the sealed ones
// still find their batch, before and after a reopen.
func TestSealedSegmentsEvictIndexes(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 2000, IndexIntervalBytes: 100}
	l := openLog(t, dir, cfg)
	var end int64
	for i := range 60 {
		info := mustAppend(t, l, makeBatch(t, batchSpec{records: 2, valueSize: 40, pid: -1}, fmt.Sprint(i)))
		end = info.LastOffset + 1
	}
	check := func(l *Log) {
		t.Helper()
		segs := *l.segs.Load()
		require.Greater(t, len(segs), 3)
		for i, s := range segs {
			s.idxMu.RLock()
			sealed := i < len(segs)-1
			assert.Equal(t, sealed, s.evicted, "segment %d", s.base)
			if sealed {
				assert.Nil(t, s.offIdx, "segment %d", s.base)
				assert.Positive(t, s.offN, "segment %d", s.base)
			}
			s.idxMu.RUnlock()
		}
		for off := int64(0); off < end; off++ {
			got, err := l.Read(off, 1, nil)
			require.NoError(t, err, "offset %d", off)
			recs := decodeAll(t, got)
			require.NotEmpty(t, recs, "offset %d", off)
			assert.LessOrEqual(t, recs[0].offset, off)
			assert.GreaterOrEqual(t, recs[len(recs)-1].offset, off)
		}
	}
	check(l)
	require.NoError(t, l.Close())
	check(openLog(t, dir, cfg))
}

package log

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

func TestRetention(t *testing.T) {
	// 20 batches of sz bytes, 4 per segment: 5 segments of 4*sz bytes.
	batchAt := func(i int) []byte {
		return makeBatch(t, batchSpec{records: 2, valueSize: 50, pid: -1, ts: t0.UnixMilli() + int64(i)*int64(time.Minute/time.Millisecond)}, fmt.Sprint(i))
	}
	sz := int64(len(batchAt(0)))
	seg := 4 * sz
	tests := []struct {
		name      string
		cfg       Config
		now       time.Time
		deleted   int
		logStart  int64
		remaining int
	}{
		{"nothing expired", Config{RetentionMs: time.Hour}, t0.Add(20 * time.Minute), 0, 0, 5},
		{"time: segments whose largest timestamp is old", Config{RetentionMs: 10 * time.Minute}, t0.Add(20 * time.Minute), 2, 16, 3},
		{"time: never the active segment", Config{RetentionMs: time.Minute}, t0.Add(24 * time.Hour), 4, 32, 1},
		{"unlimited time", Config{RetentionMs: -1}, t0.Add(1000 * time.Hour), 0, 0, 5},
		{"bytes", Config{RetentionMs: -1, RetentionBytes: 2*seg + seg/2}, t0, 2, 16, 3},
		{"bytes exactly at a segment boundary", Config{RetentionMs: -1, RetentionBytes: 3 * seg}, t0, 2, 16, 3},
		{"bytes one above a segment boundary", Config{RetentionMs: -1, RetentionBytes: 3*seg + 1}, t0, 1, 8, 4},
		{"bytes never the active segment", Config{RetentionMs: -1, RetentionBytes: 1}, t0, 4, 32, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "r-0")
			tt.cfg.SegmentBytes = seg
			l := openLog(t, dir, tt.cfg)
			for i := 0; i < 20; i++ {
				mustAppend(t, l, batchAt(i))
			}
			require.Equal(t, 5, l.NumSegments())
			require.Equal(t, 5*seg, l.Size())
			n, err := l.EnforceRetention(tt.now)
			require.NoError(t, err)
			assert.Equal(t, tt.deleted, n)
			assert.Equal(t, tt.logStart, l.LogStartOffset())
			assert.Equal(t, tt.remaining, l.NumSegments())
			assert.Len(t, segmentFiles(t, dir, ".log"), tt.remaining)
			assert.Len(t, segmentFiles(t, dir, ".index"), tt.remaining)
			assert.Len(t, segmentFiles(t, dir, ".timeindex"), tt.remaining)
			assert.Equal(t, seg*int64(tt.remaining), l.Size())
			if tt.logStart > 0 {
				_, err := l.Read(tt.logStart-1, 100, nil)
				assert.ErrorIs(t, err, kerr.OffsetOutOfRange)
			}
			got, err := l.Read(tt.logStart, 1<<20, nil)
			require.NoError(t, err)
			assert.Len(t, batchesOf(t, got), tt.remaining*4)
			info := mustAppend(t, l, batchAt(20))
			assert.Equal(t, tt.logStart, info.LogStartOffset)
			// The log start survives a restart.
			require.NoError(t, l.Close())
			l2 := openLog(t, dir, tt.cfg)
			assert.Equal(t, tt.logStart, l2.LogStartOffset())
			assert.Equal(t, int64(42), l2.EndOffset())
		})
	}
}

func TestRetentionWhileReading(t *testing.T) {
	b := makeBatch(t, batchSpec{records: 2, valueSize: 50, pid: -1}, "x")
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 4 * int64(len(b)), RetentionMs: -1, RetentionBytes: 1})
	for i := 0; i < 20; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 2, valueSize: 50, pid: -1}, "x"))
	}
	// A reader holding the first segment keeps its file open after deletion.
	s := (*l.segs.Load())[0]
	require.True(t, s.acquire())
	n, err := l.EnforceRetention(t0)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	got, _, err := s.read(0, math.MaxInt64, 1<<20, true, nil)
	require.NoError(t, err)
	assert.Len(t, batchesOf(t, got), 4)
	s.release()
	assert.False(t, s.acquire(), "the last reference closed it")
}

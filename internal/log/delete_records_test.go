package log

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

// TestDeleteRecordsBefore: 20 batches of 2 records, 4 batches (8 offsets)
// per segment. Moving the start to 19 deletes the two segments wholly
// below it, refuses reads below 19, survives a reopen, and retention
// afterwards never lowers it.
func TestDeleteRecordsBefore(t *testing.T) {
	b := makeBatch(t, batchSpec{records: 2, valueSize: 50, pid: -1}, "x")
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4 * int64(len(b)), RetentionMs: -1}
	l := openLog(t, dir, cfg)
	for range 20 {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 2, valueSize: 50, pid: -1}, "x"))
	}
	require.Equal(t, 5, l.NumSegments())

	for _, tc := range []struct {
		name      string
		offset    int64
		wantStart int64
		wantErr   error
		segments  int
	}{
		{"beyond the end", 41, 0, kerr.OffsetOutOfRange, 5},
		{"negative", -2, 0, kerr.OffsetOutOfRange, 5},
		{"inside the third segment", 19, 19, nil, 3},
		{"below the start changes nothing", 5, 19, nil, 3},
		{"exactly a segment base", 24, 24, nil, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, err := l.DeleteRecordsBefore(tc.offset)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.wantStart, start)
			}
			assert.Equal(t, tc.wantStart, l.LogStartOffset())
			assert.Equal(t, tc.segments, l.NumSegments())
		})
	}
	_, err := l.Read(23, 1<<20, nil)
	assert.ErrorIs(t, err, kerr.OffsetOutOfRange)
	got, err := l.Read(24, 1<<20, nil)
	require.NoError(t, err)
	assert.NotEmpty(t, got)

	require.NoError(t, l.Close())
	l2 := openLog(t, dir, cfg)
	assert.EqualValues(t, 24, l2.LogStartOffset(), "the start survives a reopen")
	assert.EqualValues(t, 40, l2.EndOffset())

	// Up to the end: everything is gone but the active segment.
	start, err := l2.DeleteRecordsBefore(40)
	require.NoError(t, err)
	assert.EqualValues(t, 40, start)
	assert.Equal(t, 1, l2.NumSegments())
	_, err = l2.EnforceRetention(t0)
	require.NoError(t, err)
	assert.EqualValues(t, 40, l2.LogStartOffset(), "retention never lowers the start")
}

package log

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

// produce is one step of an idempotence scenario.
type produce struct {
	pid     int64
	epoch   int16
	seq     int32
	records int
	err     error // expected error, nil for success
	dupOf   int   // 1-based index of the step whose offsets a duplicate returns; 0 for none
}

func TestIdempotence(t *testing.T) {
	tests := []struct {
		name  string
		steps []produce
	}{
		{"in order", []produce{{pid: 1, seq: 0, records: 3}, {pid: 1, seq: 3, records: 2}, {pid: 1, seq: 5, records: 1}}},
		{"retry of the last batch is a duplicate", []produce{{pid: 1, seq: 0, records: 3}, {pid: 1, seq: 0, records: 3, dupOf: 1}}},
		{"retry of each of the last 5 batches", []produce{
			{pid: 1, seq: 0, records: 1}, {pid: 1, seq: 1, records: 1}, {pid: 1, seq: 2, records: 1},
			{pid: 1, seq: 3, records: 1}, {pid: 1, seq: 4, records: 1}, {pid: 1, seq: 5, records: 1},
			{pid: 1, seq: 1, records: 1, dupOf: 2}, {pid: 1, seq: 5, records: 1, dupOf: 6}, {pid: 1, seq: 3, records: 1, dupOf: 4},
		}},
		{"retry older than the last 5 batches is out of order", []produce{
			{pid: 1, seq: 0, records: 1}, {pid: 1, seq: 1, records: 1}, {pid: 1, seq: 2, records: 1},
			{pid: 1, seq: 3, records: 1}, {pid: 1, seq: 4, records: 1}, {pid: 1, seq: 5, records: 1},
			{pid: 1, seq: 0, records: 1, err: kerr.OutOfOrderSequenceNumber},
		}},
		{"sequence gap", []produce{{pid: 1, seq: 0, records: 2}, {pid: 1, seq: 3, records: 1, err: kerr.OutOfOrderSequenceNumber}}},
		{"overlapping range is not a duplicate", []produce{{pid: 1, seq: 0, records: 2}, {pid: 1, seq: 1, records: 2, err: kerr.OutOfOrderSequenceNumber}}},
		{"fenced older epoch", []produce{{pid: 1, epoch: 3, seq: 0, records: 1}, {pid: 1, epoch: 2, seq: 1, records: 1, err: kerr.InvalidProducerEpoch}}},
		{"new epoch starts at 0", []produce{{pid: 1, epoch: 0, seq: 0, records: 2}, {pid: 1, epoch: 1, seq: 0, records: 1}, {pid: 1, epoch: 1, seq: 1, records: 1}}},
		{"new epoch not at 0", []produce{{pid: 1, epoch: 0, seq: 0, records: 2}, {pid: 1, epoch: 1, seq: 2, records: 1, err: kerr.OutOfOrderSequenceNumber}}},
		{"new epoch forgets the old batches", []produce{{pid: 1, epoch: 0, seq: 0, records: 1}, {pid: 1, epoch: 1, seq: 0, records: 1}, {pid: 1, epoch: 1, seq: 0, records: 1, dupOf: 2}}},
		// KIP-360 / Kafka 2.5+: no state => any sequence is accepted.
		{"unknown producer at a later sequence", []produce{{pid: 7, seq: 42, records: 2}, {pid: 7, seq: 44, records: 1}}},
		{"producers are independent", []produce{{pid: 1, seq: 0, records: 1}, {pid: 2, seq: 0, records: 1}, {pid: 1, seq: 1, records: 1}, {pid: 2, seq: 0, records: 1, dupOf: 2}}},
		{"sequence wraps at MaxInt32", []produce{
			{pid: 1, seq: math.MaxInt32 - 1, records: 3}, {pid: 1, seq: 1, records: 1},
			{pid: 1, seq: math.MaxInt32 - 1, records: 3, dupOf: 1},
		}},
		{"wrap to 0 after MaxInt32", []produce{{pid: 1, seq: math.MaxInt32, records: 1}, {pid: 1, seq: 0, records: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), Config{})
			infos := make([]AppendInfo, len(tt.steps))
			for i, st := range tt.steps {
				end := l.EndOffset()
				info, err := l.Append(makeBatch(t, batchSpec{records: st.records, pid: st.pid, epoch: st.epoch, seq: st.seq}, "v"), t0)
				infos[i] = info
				if st.err != nil {
					require.ErrorIs(t, err, st.err, "step %d", i+1)
					assert.Equal(t, end, l.EndOffset(), "step %d appended", i+1)
					continue
				}
				require.NoError(t, err, "step %d", i+1)
				if st.dupOf > 0 {
					orig := infos[st.dupOf-1]
					assert.True(t, info.Duplicate, "step %d", i+1)
					assert.Equal(t, orig.BaseOffset, info.BaseOffset, "step %d", i+1)
					assert.Equal(t, orig.LastOffset, info.LastOffset, "step %d", i+1)
					assert.Equal(t, end, l.EndOffset(), "duplicate step %d appended", i+1)
					continue
				}
				assert.False(t, info.Duplicate)
				assert.Equal(t, end, info.BaseOffset)
				assert.Equal(t, end+int64(st.records)-1, info.LastOffset)
			}
		})
	}
}

func TestMultipleBatchesOfOneProducerInOneSet(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	set := append(makeBatch(t, batchSpec{records: 2, pid: 9, seq: 0}, "a"), makeBatch(t, batchSpec{records: 2, pid: 9, seq: 2}, "b")...)
	info := mustAppend(t, l, set)
	assert.Equal(t, int64(3), info.LastOffset)
	epoch, last, ok := l.ProducerState(9)
	require.True(t, ok)
	assert.Equal(t, int16(0), epoch)
	assert.Equal(t, int32(3), last)

	gap := append(makeBatch(t, batchSpec{records: 1, pid: 9, seq: 4}, "a"), makeBatch(t, batchSpec{records: 1, pid: 9, seq: 6}, "b")...)
	_, err := l.Append(gap, t0)
	assert.ErrorIs(t, err, kerr.OutOfOrderSequenceNumber)
}

func TestIdempotenceSurvivesRestart(t *testing.T) {
	for _, mode := range []string{"close", "crash", "crash after roll", "corrupt snapshot"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p-0")
			cfg := Config{SegmentBytes: 400}
			l, err := Open(dir, cfg)
			require.NoError(t, err)
			var infos []AppendInfo
			n := 3
			if mode == "crash after roll" || mode == "corrupt snapshot" {
				n = 12 // several rolls: snapshots at rolls plus replay
			}
			for i := 0; i < n; i++ {
				infos = append(infos, mustAppend(t, l, makeBatch(t, batchSpec{records: 2, pid: 5, epoch: 1, seq: int32(2 * i)}, "v")))
			}
			switch mode {
			case "close":
				require.NoError(t, l.Close())
			case "crash", "crash after roll":
				dir = copyDir(t, dir)
				l.Close()
			case "corrupt snapshot":
				require.NoError(t, l.Close())
				for _, f := range segmentFiles(t, dir, ".snapshot") {
					corruptFile(t, f, 8)
				}
			}
			if mode == "close" {
				require.Len(t, segmentFiles(t, dir, cleanShutdownFile), 1)
			}
			l2 := openLog(t, dir, cfg)
			epoch, last, ok := l2.ProducerState(5)
			require.True(t, ok)
			assert.Equal(t, int16(1), epoch)
			assert.Equal(t, int32(2*n-1), last)
			// The last 5 batches are still recognised as duplicates.
			for i := n - 5; i < n; i++ {
				if i < 0 {
					continue
				}
				info, err := l2.Append(makeBatch(t, batchSpec{records: 2, pid: 5, epoch: 1, seq: int32(2 * i)}, "v"), t0)
				require.NoError(t, err)
				assert.True(t, info.Duplicate, "batch %d", i)
				assert.Equal(t, infos[i].BaseOffset, info.BaseOffset)
			}
			_, err = l2.Append(makeBatch(t, batchSpec{records: 1, pid: 5, epoch: 1, seq: int32(2*n + 1)}, "v"), t0)
			assert.ErrorIs(t, err, kerr.OutOfOrderSequenceNumber)
			_, err = l2.Append(makeBatch(t, batchSpec{records: 1, pid: 5, epoch: 0, seq: int32(2 * n)}, "v"), t0)
			assert.ErrorIs(t, err, kerr.InvalidProducerEpoch)
			info, err := l2.Append(makeBatch(t, batchSpec{records: 1, pid: 5, epoch: 1, seq: int32(2 * n)}, "v"), t0)
			require.NoError(t, err)
			assert.Equal(t, int64(2*n), info.BaseOffset)
		})
	}
}

// newestSnapshot decodes the snapshot with the highest offset in dir.
func newestSnapshot(t *testing.T, dir string) producers {
	t.Helper()
	names := segmentFiles(t, dir, snapshotSuffix)
	require.NotEmpty(t, names)
	slices.Sort(names)
	b, err := os.ReadFile(names[len(names)-1])
	require.NoError(t, err)
	_, p, err := decodeSnapshot(b)
	require.NoError(t, err)
	return p
}

// TestProducerIDExpiration: producer.id.expiration.ms after a producer's
// last batch, its state leaves memory and the next snapshot, whether the
// partition keeps receiving appends (the periodic check inside Append) or
// not (EnforceRetention, which the broker runs periodically). Time comes
// from the callers, so the test drives it.
func TestProducerIDExpiration(t *testing.T) {
	day := DefaultProducerIDExpiration
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	batchAt := func(pid int64, seq int32, ts time.Time) []byte {
		return makeBatch(t, batchSpec{records: 2, pid: pid, seq: seq, ts: ts.UnixMilli()}, "p")
	}

	t.Run("append", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "t-0")
		l, err := Open(dir, Config{})
		require.NoError(t, err)
		_, err = l.Append(batchAt(1, 0, t0), t0)
		require.NoError(t, err)
		_, err = l.Append(batchAt(2, 0, at(23*time.Hour)), at(23*time.Hour))
		require.NoError(t, err)
		_, err = l.Append(makeBatch(t, plain(1), "tick"), at(day-30*time.Minute))
		require.NoError(t, err)
		_, _, ok := l.ProducerState(1)
		require.True(t, ok, "not expired before producer.id.expiration.ms")

		_, err = l.Append(makeBatch(t, plain(1), "tick"), at(day+time.Minute))
		require.NoError(t, err)
		_, _, ok = l.ProducerState(1)
		assert.False(t, ok, "expired from memory")
		_, _, ok = l.ProducerState(2)
		assert.True(t, ok, "a producer seen within the period stays")

		require.NoError(t, l.Close())
		snap := newestSnapshot(t, dir)
		assert.NotContains(t, snap, int64(1), "expired from the snapshot")
		assert.Contains(t, snap, int64(2))
		l2 := openLog(t, dir, Config{})
		_, _, ok = l2.ProducerState(1)
		assert.False(t, ok, "not back after a restart")
	})

	t.Run("idle partition", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "t-0")
		l, err := Open(dir, Config{ProducerIDExpiration: time.Hour})
		require.NoError(t, err)
		_, err = l.Append(batchAt(1, 0, t0), t0)
		require.NoError(t, err)
		_, err = l.EnforceRetention(at(time.Hour + time.Millisecond))
		require.NoError(t, err)
		_, _, ok := l.ProducerState(1)
		assert.False(t, ok)
		require.NoError(t, l.Close())
		assert.Empty(t, newestSnapshot(t, dir))
	})

	t.Run("expired ids do not survive a restart", func(t *testing.T) {
		// The broker was down longer than the period: the first append
		// after Open sweeps the state loaded from the snapshot.
		dir := filepath.Join(t.TempDir(), "t-0")
		l, err := Open(dir, Config{})
		require.NoError(t, err)
		_, err = l.Append(batchAt(1, 0, t0), t0)
		require.NoError(t, err)
		require.NoError(t, l.Close())
		l2 := openLog(t, dir, Config{})
		_, _, ok := l2.ProducerState(1)
		require.True(t, ok)
		_, err = l2.Append(batchAt(2, 0, at(2*day)), at(2*day))
		require.NoError(t, err)
		_, _, ok = l2.ProducerState(1)
		assert.False(t, ok)
	})
}

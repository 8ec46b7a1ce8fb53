package log

import (
	"encoding/binary"
	"fmt"
	"github.com/skiffkit/skiff/internal/log/vfs"
	"github.com/skiffkit/skiff/internal/log/vfs/errorfs"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/kerr"
)

// txnBatch is a transactional batch of records of pid at epoch, sequence seq.
func txnBatch(tb testing.TB, pid int64, epoch int16, seq int32, records int, tag string) []byte {
	tb.Helper()
	return makeBatch(tb, batchSpec{records: records, pid: pid, epoch: epoch, seq: seq, txn: true}, tag)
}

func mustMarker(tb testing.TB, l *Log, pid int64, epoch int16, commit bool) AppendInfo {
	tb.Helper()
	info, err := l.AppendMarker(Marker{ProducerID: pid, ProducerEpoch: epoch, CoordinatorEpoch: 0, Commit: commit}, t0)
	require.NoError(tb, err)
	return info
}

// readCommitted returns the offsets of the data records a read_committed
// read from offset returns, and the LSO it reported.
func readCommitted(tb testing.TB, l *Log, offset int64) ([]int64, int64) {
	tb.Helper()
	b, lso, err := l.ReadCommitted(offset, 1<<20, nil)
	require.NoError(tb, err)
	var offs []int64
	for _, h := range batchesOf(tb, b) {
		require.Less(tb, h.BaseOffset, lso, "read_committed returned a batch at or past the LSO")
		if h.IsControl() {
			continue
		}
		for o := h.BaseOffset; o <= h.LastOffset(); o++ {
			offs = append(offs, o)
		}
	}
	return offs, lso
}

func TestLastStableOffset(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	mustAppend(t, l, makeBatch(t, plain(2), "a")) // 0..1
	assert.Equal(t, int64(2), l.LastStableOffset(), "no transaction: LSO is the high watermark")

	mustAppend(t, l, txnBatch(t, 7, 0, 0, 3, "t7")) // 2..4, opens 7's transaction
	mustAppend(t, l, makeBatch(t, plain(1), "b"))   // 5
	mustAppend(t, l, txnBatch(t, 8, 0, 0, 2, "t8")) // 6..7
	mustAppend(t, l, txnBatch(t, 7, 0, 3, 1, "t7")) // 8
	assert.Equal(t, int64(2), l.LastStableOffset())
	offs, lso := readCommitted(t, l, 0)
	assert.Equal(t, []int64{0, 1}, offs)
	assert.Equal(t, int64(2), lso)
	// Past the LSO but within the log: nothing, and no error (Kafka).
	offs, _ = readCommitted(t, l, 5)
	assert.Empty(t, offs)
	// read_uncommitted sees everything.
	all, err := l.Read(0, 1<<20, nil)
	require.NoError(t, err)
	assert.Len(t, decodeAll(t, all), 9)

	c := mustMarker(t, l, 7, 0, true) // 9
	assert.Equal(t, int64(9), c.BaseOffset)
	assert.Equal(t, int64(6), l.LastStableOffset(), "8's transaction is still open")
	offs, _ = readCommitted(t, l, 0)
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5}, offs)

	mustMarker(t, l, 8, 0, false) // 10
	assert.Equal(t, int64(11), l.LastStableOffset())
	assert.Equal(t, l.EndOffset(), l.LastStableOffset())
	offs, _ = readCommitted(t, l, 0)
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8}, offs)

	// A new transaction of 7 opens at the end.
	mustAppend(t, l, txnBatch(t, 7, 0, 4, 1, "t7")) // 11
	assert.Equal(t, int64(11), l.LastStableOffset())
	_, _, err = l.ReadCommitted(99, 100, nil)
	assert.ErrorIs(t, err, kerr.OffsetOutOfRange)
}

func TestTransactionalAppendErrors(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	mustAppend(t, l, txnBatch(t, 1, 3, 0, 1, "a"))

	cases := []struct {
		name string
		set  []byte
		want error
	}{
		{"older epoch is fenced", txnBatch(t, 1, 2, 0, 1, "x"), kerr.InvalidProducerEpoch},
		{"non-transactional batch inside the transaction", makeBatch(t, batchSpec{records: 1, pid: 1, epoch: 3, seq: 1}, "x"), kerr.InvalidTxnState},
		{"transactional then plain in one set", append(txnBatch(t, 5, 0, 0, 1, "x"), makeBatch(t, batchSpec{records: 1, pid: 5, seq: 1}, "y")...), kerr.InvalidTxnState},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			end := l.EndOffset()
			_, err := l.Append(tc.set, t0)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, end, l.EndOffset(), "nothing appended")
		})
	}

	markerCases := []struct {
		name string
		m    Marker
		want error
	}{
		{"marker with an older epoch", Marker{ProducerID: 1, ProducerEpoch: 2, CoordinatorEpoch: 5}, kerr.InvalidProducerEpoch},
		{"negative producer id", Marker{ProducerID: -1}, kerr.InvalidRecord},
	}
	for _, tc := range markerCases {
		t.Run(tc.name, func(t *testing.T) {
			end := l.EndOffset()
			_, err := l.AppendMarker(tc.m, t0)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, end, l.EndOffset())
			assert.Equal(t, int64(0), l.LastStableOffset(), "the transaction stays open")
		})
	}

	// The coordinator aborts with a bumped epoch (a timed-out transaction):
	// accepted, and the zombie at epoch 3 is fenced afterwards.
	_, err := l.AppendMarker(Marker{ProducerID: 1, ProducerEpoch: 4, CoordinatorEpoch: 5}, t0)
	require.NoError(t, err)
	assert.Equal(t, l.EndOffset(), l.LastStableOffset())
	_, err = l.Append(txnBatch(t, 1, 3, 1, 1, "zombie"), t0)
	require.ErrorIs(t, err, kerr.InvalidProducerEpoch)
	// A marker from an older coordinator is fenced.
	_, err = l.AppendMarker(Marker{ProducerID: 1, ProducerEpoch: 4, CoordinatorEpoch: 4}, t0)
	require.ErrorIs(t, err, kerr.TransactionCoordinatorFenced)
	// Clients still cannot append control batches themselves.
	_, err = l.Append(encodeMarkerBatch(Marker{ProducerID: 1, ProducerEpoch: 4, Commit: true}, t0.UnixMilli()), t0)
	require.ErrorIs(t, err, kerr.InvalidRecord)
	// The new epoch starts a transaction at sequence 0.
	mustAppend(t, l, txnBatch(t, 1, 4, 0, 1, "new"))
	assert.Equal(t, l.EndOffset()-1, l.LastStableOffset())
}

// The marker reads back with franz-go's kmsg exactly as Kafka writes it.
func TestMarkerEncodingMatchesKmsg(t *testing.T) {
	for _, commit := range []bool{false, true} {
		l := openLog(t, t.TempDir(), Config{})
		mustAppend(t, l, txnBatch(t, 42, 7, 0, 2, "a"))
		_, err := l.AppendMarker(Marker{ProducerID: 42, ProducerEpoch: 7, CoordinatorEpoch: 13, Commit: commit}, t0)
		require.NoError(t, err)
		b, err := l.Read(2, 1<<20, nil)
		require.NoError(t, err)

		var rb kmsg.RecordBatch
		require.NoError(t, rb.ReadFrom(b))
		assert.Equal(t, int64(2), rb.FirstOffset)
		assert.Equal(t, int16(0x30), rb.Attributes, "transactional and control bits, no compression")
		assert.Equal(t, int64(42), rb.ProducerID)
		assert.Equal(t, int16(7), rb.ProducerEpoch)
		assert.Equal(t, int32(-1), rb.FirstSequence)
		assert.Equal(t, int32(1), rb.NumRecords)
		assert.Equal(t, t0.UnixMilli(), rb.FirstTimestamp)
		_, err = batch.Validate(b)
		require.NoError(t, err, "CRC")

		var rec kmsg.Record
		require.NoError(t, rec.ReadFrom(rb.Records))
		var key kmsg.ControlRecordKey
		require.NoError(t, key.ReadFrom(rec.Key))
		assert.Equal(t, int16(0), key.Version)
		want := kmsg.ControlRecordKeyTypeAbort
		if commit {
			want = kmsg.ControlRecordKeyTypeCommit
		}
		assert.Equal(t, want, key.Type)
		var val kmsg.EndTxnMarker
		require.NoError(t, val.ReadFrom(rec.Value))
		assert.Equal(t, int16(0), val.Version)
		assert.Equal(t, int32(13), val.CoordinatorEpoch)

		m, ok, err := decodeMarker(b, &batch.Decoder{})
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, Marker{ProducerID: 42, ProducerEpoch: 7, CoordinatorEpoch: 13, Commit: commit}, m)
	}
}

func TestAbortedTransactionsIndex(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	mustAppend(t, l, txnBatch(t, 1, 0, 0, 2, "p1")) // 0..1
	mustAppend(t, l, txnBatch(t, 2, 0, 0, 2, "p2")) // 2..3
	mustAppend(t, l, makeBatch(t, plain(1), "x"))   // 4
	mustMarker(t, l, 1, 0, false)                   // 5: abort 1, 2 still open
	mustAppend(t, l, txnBatch(t, 3, 0, 0, 1, "p3")) // 6
	mustMarker(t, l, 2, 0, true)                    // 7: commit 2
	mustMarker(t, l, 3, 0, false)                   // 8: abort 3
	mustMarker(t, l, 9, 0, false)                   // 9: abort of an empty transaction: no entry

	got, err := decodeTxnIndex(readFile(t, fileName(dir, 0, txnIndexSuffix)), 0, l.EndOffset())
	require.NoError(t, err)
	assert.Equal(t, []abortedTxn{
		{producerID: 1, firstOffset: 0, lastOffset: 5, lastStableOffset: 2},
		{producerID: 3, firstOffset: 6, lastOffset: 8, lastStableOffset: 9},
	}, got)

	for _, tc := range []struct {
		start, upTo int64
		want        []AbortedTxn
	}{
		{0, 10, []AbortedTxn{{1, 0}, {3, 6}}},
		{0, 1, []AbortedTxn{{1, 0}}},
		{5, 6, []AbortedTxn{{1, 0}}},
		{6, 10, []AbortedTxn{{3, 6}}},
		{9, 10, nil},
		{2, 6, []AbortedTxn{{1, 0}}},
	} {
		got, err := l.AbortedTransactions(tc.start, tc.upTo, nil)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "[%d, %d)", tc.start, tc.upTo)
	}
}

func readFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	require.NoError(tb, err)
	return b
}

// An aborted transaction spread over segments: the entry is in the
// .txnindex of the marker's segment, found from a fetch starting in an
// earlier one; retention deletes the file with its segment.
func TestTxnIndexRollsWithSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 600, RetentionBytes: 1, RetentionMs: -1}
	l := openLog(t, dir, cfg)
	mustAppend(t, l, txnBatch(t, 1, 0, 0, 1, "a")) // 0
	for i := 0; l.NumSegments() < 3; i++ {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 1, valueSize: 200, pid: -1}, "pad"))
	}
	abort := mustMarker(t, l, 1, 0, false)
	segs := *l.segs.Load()
	markerSeg := segs[len(segs)-1].base
	assert.FileExists(t, fileName(dir, markerSeg, txnIndexSuffix))
	assert.NoFileExists(t, fileName(dir, 0, txnIndexSuffix), "only segments with an abort get a file")

	got, err := l.AbortedTransactions(0, 1, nil)
	require.NoError(t, err)
	assert.Equal(t, []AbortedTxn{{1, 0}}, got)

	// Roll past the marker's segment, then retain only the active one.
	for l.NumSegments() < 5 {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 1, valueSize: 200, pid: -1}, "pad"))
	}
	_, err = l.EnforceRetention(t0)
	require.NoError(t, err)
	require.Greater(t, l.LogStartOffset(), abort.BaseOffset)
	assert.Empty(t, segmentFiles(t, dir, txnIndexSuffix), "deleted with its segment")
	got, err = l.AbortedTransactions(l.LogStartOffset(), l.EndOffset(), nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

// reopen closes l (cleanly or as a crash image of its files) and opens
// the directory again.
func reopen(t *testing.T, l *Log, dir string, cfg Config, clean bool) (*Log, string) {
	t.Helper()
	if !clean {
		crash := copyDir(t, dir)
		require.NoError(t, l.Close())
		return openLog(t, crash, cfg), crash
	}
	require.NoError(t, l.Close())
	return openLog(t, dir, cfg), dir
}

// The open transaction, the LSO and the aborted-transaction index survive
// restarts: clean, crashed, and with the snapshots or the .txnindex lost.
func TestTransactionsSurviveRestart(t *testing.T) {
	type damage int
	const (
		none damage = iota
		noSnapshots
		corruptTxnIndex
	)
	for _, tc := range []struct {
		name   string
		clean  bool
		damage damage
	}{
		{"clean", true, none},
		{"crash", false, none},
		{"crash without snapshots", false, noSnapshots},
		{"clean without snapshots", true, noSnapshots},
		{"clean with corrupt txnindex", true, corruptTxnIndex},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{SegmentBytes: 700}
			dir := t.TempDir()
			l, err := Open(dir, cfg)
			require.NoError(t, err)
			mustAppend(t, l, makeBatch(t, plain(1), "x"))        // 0
			mustAppend(t, l, txnBatch(t, 1, 0, 0, 2, "aborted")) // 1..2
			mustAppend(t, l, makeBatch(t, batchSpec{records: 1, valueSize: 300, pid: -1}, "pad"))
			mustMarker(t, l, 1, 0, false)                     // abort 1
			mustAppend(t, l, txnBatch(t, 2, 0, 0, 1, "open")) // stays open
			for l.NumSegments() < 3 {
				mustAppend(t, l, makeBatch(t, batchSpec{records: 1, valueSize: 300, pid: -1}, "pad"))
			}
			open := l.LastStableOffset()
			require.Less(t, open, l.EndOffset())
			wantAborted, err := l.AbortedTransactions(0, l.EndOffset(), nil)
			require.NoError(t, err)
			require.Equal(t, []AbortedTxn{{1, 1}}, wantAborted)
			end := l.EndOffset()

			if tc.clean {
				require.NoError(t, l.Close())
			} else {
				crash := copyDir(t, dir)
				require.NoError(t, l.Close())
				dir = crash
			}
			switch tc.damage {
			case noSnapshots:
				for _, f := range segmentFiles(t, dir, snapshotSuffix) {
					require.NoError(t, os.Remove(f))
				}
			case corruptTxnIndex:
				fs := segmentFiles(t, dir, txnIndexSuffix)
				require.Len(t, fs, 1)
				corruptFile(t, fs[0], 1) // the version
			}
			l = openLog(t, dir, cfg)
			assert.Equal(t, end, l.EndOffset())
			assert.Equal(t, open, l.LastStableOffset(), "LSO after restart")
			got, err := l.AbortedTransactions(0, l.EndOffset(), nil)
			require.NoError(t, err)
			assert.Equal(t, wantAborted, got, "aborted transactions after restart")
			fs := segmentFiles(t, dir, txnIndexSuffix)
			require.Len(t, fs, 1)
			_, err = decodeTxnIndex(readFile(t, fs[0]), 0, end)
			require.NoError(t, err, "the file is rewritten whole")

			// The transaction goes on after the restart and ends.
			mustAppend(t, l, txnBatch(t, 2, 0, 1, 1, "open"))
			mustMarker(t, l, 2, 0, false)
			assert.Equal(t, l.EndOffset(), l.LastStableOffset())
			got, err = l.AbortedTransactions(0, l.EndOffset(), nil)
			require.NoError(t, err)
			assert.Equal(t, []AbortedTxn{{1, 1}, {2, open}}, got)
		})
	}
}

// A crash with the marker's .txnindex entry not yet written (or its file
// lost) rebuilds the entry from the log.
func TestCrashRebuildsTxnIndexEntry(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	mustAppend(t, l, txnBatch(t, 4, 1, 0, 3, "a"))
	mustMarker(t, l, 4, 1, false)
	crash := copyDir(t, dir)
	require.NoError(t, os.Remove(fileName(crash, 0, txnIndexSuffix)))
	l2 := openLog(t, crash, Config{})
	got, err := l2.AbortedTransactions(0, 4, nil)
	require.NoError(t, err)
	assert.Equal(t, []AbortedTxn{{4, 0}}, got)
	assert.FileExists(t, fileName(crash, 0, txnIndexSuffix))
	assert.Equal(t, int64(4), l2.LastStableOffset())
}

// A producer with an open transaction never expires: it holds the LSO.
func TestOpenTransactionDoesNotExpire(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{ProducerIDExpiration: time.Hour})
	mustAppend(t, l, txnBatch(t, 1, 0, 0, 1, "open"))
	mustAppend(t, l, makeBatch(t, batchSpec{records: 1, pid: 2}, "idle"))
	_, err := l.EnforceRetention(t0.Add(2 * time.Hour))
	require.NoError(t, err)
	_, _, ok := l.ProducerState(1)
	assert.True(t, ok, "open transaction kept")
	_, _, ok = l.ProducerState(2)
	assert.False(t, ok, "idle idempotent producer expired")
	assert.Equal(t, int64(0), l.LastStableOffset())
	// After its marker it expires like any other.
	_, err = l.AppendMarker(Marker{ProducerID: 1, Commit: true}, t0)
	require.NoError(t, err)
	_, err = l.EnforceRetention(t0.Add(4 * time.Hour))
	require.NoError(t, err)
	_, _, ok = l.ProducerState(1)
	assert.False(t, ok)
}

// appendSnapshotV1 is the version 1 encoder, kept to test that such
// snapshots still load.
func appendSnapshotV1(offset int64, p producers) []byte {
	b := appendSnapshot(nil, offset, producers{})
	b[1] = snapshotVersion1
	b = b[:snapshotHeaderSize]
	ids := make([]int64, 0, len(p))
	for id := range p {
		ids = append(ids, id)
	}
	slicesSort(ids)
	putU32(b[14:], uint32(len(p)))
	for _, id := range ids {
		e := p[id]
		b = appendU64(b, uint64(id))
		b = appendU16(b, uint16(e.epoch))
		b = append(b, byte(e.n))
		e.each(func(m *batchMeta) {
			b = appendU32(b, uint32(m.firstSeq))
			b = appendU32(b, uint32(m.lastSeq))
			b = appendU64(b, uint64(m.firstOffset))
			b = appendU32(b, uint32(m.lastDelta))
			b = appendU64(b, uint64(m.timestamp))
		})
	}
	putU32(b[2:], crc32c(b[6:]))
	return b
}

func TestSnapshotVersion1StillLoads(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	mustAppend(t, l, makeBatch(t, batchSpec{records: 2, pid: 5, epoch: 1, seq: 0}, "a"))
	mustAppend(t, l, makeBatch(t, batchSpec{records: 2, pid: 5, epoch: 1, seq: 2}, "a"))
	require.NoError(t, l.Close())
	snaps := segmentFiles(t, dir, snapshotSuffix)
	require.NotEmpty(t, snaps)
	last := snaps[len(snaps)-1]
	off, p, err := decodeSnapshot(readFile(t, last))
	require.NoError(t, err)
	v1 := appendSnapshotV1(off, p)
	require.NoError(t, os.WriteFile(last, v1, 0o644))

	off1, p1, err := decodeSnapshot(v1)
	require.NoError(t, err)
	assert.Equal(t, off, off1)
	assert.Equal(t, p, p1, "version 1 holds everything of an idempotent producer")

	l = openLog(t, dir, Config{})
	epoch, seq, ok := l.ProducerState(5)
	require.True(t, ok)
	assert.Equal(t, int16(1), epoch)
	assert.Equal(t, int32(3), seq)
	// Duplicate detection works from the version 1 state.
	info, err := l.Append(makeBatch(t, batchSpec{records: 2, pid: 5, epoch: 1, seq: 2}, "a"), t0)
	require.NoError(t, err)
	assert.True(t, info.Duplicate)
}

// FuzzTxnIndex: decoding arbitrary .txnindex bytes never panics, and
// whatever decodes encodes back to the same bytes.
func FuzzTxnIndex(f *testing.F) {
	var b []byte
	for _, t := range []abortedTxn{{1, 0, 5, 2}, {3, 6, 8, 9}} {
		b = t.AppendTo(b)
	}
	f.Add(b, int64(0), int64(10))
	f.Add(b[:40], int64(0), int64(10))
	f.Add([]byte{0, 1}, int64(0), int64(1))
	f.Fuzz(func(t *testing.T, b []byte, base, next int64) {
		got, err := decodeTxnIndex(b, base, next)
		if err != nil {
			return
		}
		var out []byte
		for i := range got {
			require.LessOrEqual(t, got[i].firstOffset, got[i].lastOffset)
			require.Less(t, got[i].lastOffset, next)
			out = got[i].AppendTo(out)
		}
		require.Equal(t, len(b), len(out))
		if len(b) > 0 {
			require.Equal(t, b, out)
		}
	})
}

func slicesSort(s []int64)                { slices.Sort(s) }
func putU32(b []byte, v uint32)           { binary.BigEndian.PutUint32(b, v) }
func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func crc32c(b []byte) uint32              { return crc32.Checksum(b, castagnoli) }

// A crash that tears the ABORT marker off the log reopens the transaction:
// its index entry, which names a marker no longer there, is dropped, and
// the LSO is held at the transaction's first offset again.
func TestTornMarkerReopensTransaction(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, Config{})
	mustAppend(t, l, makeBatch(t, plain(1), "x"))
	mustAppend(t, l, txnBatch(t, 4, 1, 0, 3, "a")) // 1..3
	mustMarker(t, l, 4, 1, false)                  // 4
	crash := copyDir(t, dir)
	name := fileName(crash, 0, logSuffix)
	st, err := os.Stat(name)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(name, st.Size()-5))

	l2 := openLog(t, crash, Config{})
	assert.Equal(t, int64(4), l2.EndOffset())
	assert.Equal(t, int64(1), l2.LastStableOffset())
	got, err := l2.AbortedTransactions(0, 4, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.NoFileExists(t, fileName(crash, 0, txnIndexSuffix))
	// The coordinator's retried marker ends it again.
	mustMarker(t, l2, 4, 1, false)
	got, err = l2.AbortedTransactions(0, 5, nil)
	require.NoError(t, err)
	assert.Equal(t, []AbortedTxn{{4, 1}}, got)
}

func TestProducers(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	mustAppend(t, l, makeBatch(t, batchSpec{records: 2, pid: 9, epoch: 1, seq: 0}, "idem"))
	mustAppend(t, l, txnBatch(t, 3, 2, 0, 3, "txn")) // 2..4
	_, err := l.AppendMarker(Marker{ProducerID: 5, ProducerEpoch: 0, CoordinatorEpoch: 7, Commit: true}, t0)
	require.NoError(t, err)
	ts := t0.UnixMilli()
	assert.Equal(t, []ProducerInfo{
		{ProducerID: 3, ProducerEpoch: 2, LastSequence: 2, LastTimestamp: ts + 2, CoordinatorEpoch: -1, TxnStartOffset: 2},
		{ProducerID: 5, ProducerEpoch: 0, LastSequence: -1, LastTimestamp: ts, CoordinatorEpoch: 7, TxnStartOffset: -1},
		{ProducerID: 9, ProducerEpoch: 1, LastSequence: 1, LastTimestamp: ts + 1, CoordinatorEpoch: -1, TxnStartOffset: -1},
	}, l.Producers(nil))
}

// TestTxnIndexCreationFsyncsDirectory: the .txnindex created by a
// segment's first abort is a new name, durable before the marker is
// acknowledged.
func TestTxnIndexCreationFsyncsDirectory(t *testing.T) {
	fsys := errorfs.Wrap(vfs.Default)
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openLog(t, dir, Config{FS: fsys})
	mustAppend(t, l, txnBatch(t, 1, 0, 0, 1, "a"))
	mustMarker(t, l, 1, 0, false)
	requireDirSyncedAfter(t, fsys, dir, errorfs.OpOpen, isName(filepath.Base(fileName(dir, 0, txnIndexSuffix))))
}

// A failed .txnindex write takes the log offline without acknowledging
// the marker: the end offset and the LSO stay, and after a reopen on a
// healthy disk the marker (whole on disk, but never acknowledged) is
// replayed consistently with its index entry, or is gone with it.
func TestTxnIndexWriteFaultTakesLogOffline(t *testing.T) {
	for _, op := range []errorfs.Op{errorfs.OpOpen, errorfs.OpWrite, errorfs.OpSyncDir} {
		t.Run(op.String(), func(t *testing.T) {
			fsys := errorfs.Wrap(vfs.Default)
			dir := filepath.Join(t.TempDir(), "t-0")
			l, err := Open(dir, Config{FS: fsys})
			require.NoError(t, err)
			mustAppend(t, l, txnBatch(t, 1, 0, 0, 2, "a"))
			end := l.EndOffset()
			fsys.Inject(errorfs.Fault{Ops: op, Path: errorfs.Suffix(txnIndexSuffix)})
			if op == errorfs.OpSyncDir {
				fsys.Inject(errorfs.Fault{Ops: op})
			}
			_, err = l.AppendMarker(Marker{ProducerID: 1}, t0)
			requireStorageError(t, err)
			assert.Equal(t, end, l.EndOffset())
			assert.Equal(t, int64(0), l.LastStableOffset())
			_, _, err = l.ReadCommitted(0, 100, nil)
			requireStorageError(t, err)
			_, err = l.AbortedTransactions(0, 1, nil)
			requireStorageError(t, err)
			l.Close()
			assert.NoFileExists(t, filepath.Join(dir, cleanShutdownFile), "an offline log reopens with a full recovery")
			fsys.Heal()

			l = openLog(t, dir, Config{FS: fsys})
			got, err := l.AbortedTransactions(0, l.EndOffset(), nil)
			require.NoError(t, err)
			if l.EndOffset() == end {
				assert.Equal(t, int64(0), l.LastStableOffset())
				assert.Empty(t, got)
			} else {
				assert.Equal(t, l.EndOffset(), l.LastStableOffset())
				assert.Equal(t, []AbortedTxn{{1, 0}}, got)
			}
		})
	}
}

// TestReadCommittedConcurrent races read_committed readers against a
// writer that alternately commits and aborts one-batch transactions, with
// an idempotent producer writing in between: a reader never gets a batch
// at or past the LSO, and every transactional batch below the LSO is
// decided, so an aborted one is always in the aborted list (its entry is
// published before the LSO moves past it) and a committed one never is.
func TestReadCommittedConcurrent(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 4 << 10})
	const txns = 300
	aborted := func(i int) bool { return i%2 == 1 }
	// Built here: the writer goroutine must not call t's helpers.
	txnSets, idemSets := make([][]byte, txns), make([][]byte, txns)
	for i := range txns {
		txnSets[i] = txnBatch(t, 1, 0, int32(i), 1, fmt.Sprintf("t%d", i))
		idemSets[i] = makeBatch(t, batchSpec{records: 1, pid: 2, seq: int32(i)}, "idem")
	}
	done := make(chan struct{})
	writerErr := make(chan error, 1)
	go func() {
		defer close(done)
		for i := 0; i < txns; i++ {
			if _, err := l.Append(txnSets[i], t0); err != nil {
				writerErr <- err
				return
			}
			if _, err := l.Append(idemSets[i], t0); err != nil {
				writerErr <- err
				return
			}
			if _, err := l.AppendMarker(Marker{ProducerID: 1, Commit: !aborted(i)}, t0); err != nil {
				writerErr <- err
				return
			}
		}
	}()
	var dec batch.Decoder
	check := func() (finished bool) {
		select {
		case <-done:
			finished = true
		default:
		}
		b, lso, err := l.ReadCommitted(0, 1<<20, nil)
		require.NoError(t, err)
		abortedList, err := l.AbortedTransactions(0, lso, nil)
		require.NoError(t, err)
		isAborted := map[int64]bool{}
		for _, a := range abortedList {
			isAborted[a.FirstOffset] = true
		}
		for rest := b; len(rest) > 0; {
			one, r, h, err := batch.Next(rest)
			require.NoError(t, err)
			rest = r
			require.Less(t, h.BaseOffset, lso)
			if h.ProducerID != 1 || h.IsControl() {
				continue
			}
			require.NoError(t, dec.Records(one, func(_ *batch.Header, rec *batch.Record) error {
				var i int
				_, err := fmt.Sscanf(string(rec.Value), "t%d-", &i)
				require.NoError(t, err)
				assert.Equal(t, aborted(i), isAborted[h.BaseOffset], "transaction %d at offset %d", i, h.BaseOffset)
				return nil
			}))
		}
		return finished
	}
	for !check() {
	}
	select {
	case err := <-writerErr:
		require.NoError(t, err)
	default:
	}
	assert.Equal(t, l.EndOffset(), l.LastStableOffset())
}

// Recovery replays from a snapshot in the middle of the active segment
// (the one an earlier recovery wrote): the .txnindex entries below it come
// from the file, those after it from the replay, each exactly once, also
// when the file lost its last entry.
func TestTxnIndexReplayFromMidSegmentSnapshot(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run(fmt.Sprintf("lost last entry %v", lose), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Config{})
			mustAppend(t, l, txnBatch(t, 1, 0, 0, 1, "a")) // 0
			mustMarker(t, l, 1, 0, false)                  // 1
			crash := copyDir(t, dir)
			l = openLog(t, crash, Config{}) // recovery: snapshot at 2
			require.FileExists(t, fileName(crash, 2, snapshotSuffix))
			mustAppend(t, l, txnBatch(t, 2, 0, 0, 1, "b")) // 2
			mustMarker(t, l, 2, 0, false)                  // 3
			mustAppend(t, l, txnBatch(t, 3, 0, 0, 1, "c")) // 4, open
			crash2 := copyDir(t, crash)
			if lose {
				require.NoError(t, os.Truncate(fileName(crash2, 0, txnIndexSuffix), txnEntrySize))
			}
			l2 := openLog(t, crash2, Config{})
			got, err := l2.AbortedTransactions(0, l2.EndOffset(), nil)
			require.NoError(t, err)
			assert.Equal(t, []AbortedTxn{{1, 0}, {2, 2}}, got)
			assert.Equal(t, int64(4), l2.LastStableOffset())
			entries, err := decodeTxnIndex(readFile(t, fileName(crash2, 0, txnIndexSuffix)), 0, l2.EndOffset())
			require.NoError(t, err)
			assert.Len(t, entries, 2)
		})
	}
}

// Retention deleting the start of an open transaction moves the LSO to the
// log start (Kafka's updateFirstUnstableOffset), never below it.
func TestLastStableOffsetNotBelowLogStart(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 600, RetentionBytes: 1, RetentionMs: -1})
	mustAppend(t, l, txnBatch(t, 1, 0, 0, 1, "open")) // 0
	for l.NumSegments() < 3 {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 1, valueSize: 200, pid: -1}, "pad"))
	}
	assert.Equal(t, int64(0), l.LastStableOffset())
	_, err := l.EnforceRetention(t0)
	require.NoError(t, err)
	require.Positive(t, l.LogStartOffset())
	assert.Equal(t, l.LogStartOffset(), l.LastStableOffset())
	offs, _ := readCommitted(t, l, l.LogStartOffset())
	assert.Empty(t, offs, "the transaction is still open")
	mustMarker(t, l, 1, 0, true)
	assert.Equal(t, l.EndOffset(), l.LastStableOffset())
}

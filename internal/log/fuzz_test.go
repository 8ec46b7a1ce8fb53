package log

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
)

// FuzzRecover feeds arbitrary bytes as the segment, index, time index and
// snapshot files of a partition: Open must never panic, and after an unclean
// stop everything Read returns must pass its CRC.
func FuzzRecover(f *testing.F) {
	var valid []byte
	for i := 0; i < 4; i++ {
		valid = append(valid, makeBatch(f, batchSpec{records: 1 + i, valueSize: 10 * i, pid: int64(i % 2), seq: int32(i)}, "f")...)
	}
	// Offsets as Append assigns them.
	fixOffsets(valid)
	f.Add(valid, []byte(nil), []byte(nil), []byte(nil), false)
	f.Add(valid[:len(valid)-7], []byte{0, 0, 0, 3, 0, 0, 0, 90}, []byte(nil), []byte(nil), false)
	f.Add(append(append([]byte(nil), valid...), "garbage after the batches"...), []byte(nil), []byte(nil), []byte(nil), true)
	f.Add([]byte("not a segment at all"), []byte{1, 2, 3}, []byte{4}, []byte{0, 1, 0, 0, 0, 0}, true)
	snap := appendSnapshot(nil, 10, producers{1: &producerEntry{epoch: 0, batches: [5]batchMeta{{firstSeq: 1, lastSeq: 2, firstOffset: 1, lastDelta: 1}}, n: 1}})
	f.Add(valid, []byte(nil), []byte(nil), snap, false)
	f.Fuzz(func(t *testing.T, seg, idx, tidx, snapshot []byte, clean bool) {
		dir := t.TempDir()
		write := func(name string, b []byte) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
		write("00000000000000000000.log", seg)
		write("00000000000000000000.index", idx)
		write("00000000000000000000.timeindex", tidx)
		write("00000000000000000010.snapshot", snapshot)
		if clean {
			write(cleanShutdownFile, nil)
		}
		l, err := Open(dir, Config{IndexIntervalBytes: 64})
		if err != nil {
			return
		}
		defer l.Close()
		got, err := l.Read(l.LogStartOffset(), 1<<20, nil)
		if err != nil {
			return
		}
		next := int64(-1)
		for rest := got; len(rest) > 0; {
			one, r, h, err := batch.Next(rest)
			require.NoError(t, err)
			if !clean {
				_, err = batch.Validate(one)
				require.NoError(t, err, "recovery kept a batch that fails its CRC")
				if next >= 0 {
					require.GreaterOrEqual(t, h.BaseOffset, next)
				}
				next = h.LastOffset() + 1
			}
			rest = r
		}
		if !clean {
			require.Equal(t, max(next, 0), l.EndOffset())
		}
		// The log stays usable.
		_, err = l.Append(makeBatch(t, plain(1), "after"), t0)
		require.NoError(t, err)
		_, _, _, _ = l.OffsetForTime(0) // must not panic; errors are fine on garbage
	})
}

// fixOffsets assigns consecutive offsets to concatenated batches.
func fixOffsets(b []byte) {
	var off int64
	for len(b) > 0 {
		one, rest, h, err := batch.Next(b)
		if err != nil {
			return
		}
		batch.SetBaseOffset(one, off)
		off += int64(h.LastOffsetDelta) + 1
		b = rest
	}
}

// FuzzSnapshot: decoding arbitrary bytes (version 1 or 2) never panics,
// and whatever decodes encodes back to the same bytes in its version.
func FuzzSnapshot(f *testing.F) {
	ps := producers{
		3: &producerEntry{epoch: 2, coordEpoch: 4, txnFirst: 10, lastTs: 77, batches: [5]batchMeta{{firstSeq: 0, lastSeq: 4, firstOffset: 10, lastDelta: 4, timestamp: 77}}, n: 1},
		9: newProducerEntry(0),
	}
	f.Add(appendSnapshot(nil, 0, producers{}))
	f.Add(appendSnapshot(nil, 100, ps))
	f.Add(appendSnapshotV1(100, ps))
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		off, p, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		if b[1] == snapshotVersion1 {
			require.Equal(t, b, appendSnapshotV1(off, p))
			return
		}
		require.Equal(t, b, appendSnapshot(nil, off, p))
	})
}

// FuzzRecoverTransactions feeds arbitrary segment, .txnindex and snapshot
// files to Open, seeded with a log holding an aborted and an open
// transaction: Open never panics, and what it recovers is consistent (the
// LSO within the log, index entries inside their segment, markers after
// the transactions they end).
func FuzzRecoverTransactions(f *testing.F) {
	seedDir := f.TempDir()
	l, err := Open(seedDir, Config{})
	require.NoError(f, err)
	for _, b := range [][]byte{
		makeBatch(f, batchSpec{records: 2, pid: 1, txn: true}, "a"),
		makeBatch(f, batchSpec{records: 1, pid: 2, txn: true}, "b"),
	} {
		_, err := l.Append(b, t0)
		require.NoError(f, err)
	}
	_, err = l.AppendMarker(Marker{ProducerID: 1}, t0)
	require.NoError(f, err)
	require.NoError(f, l.Close())
	read := func(suffix string) []byte {
		b, err := os.ReadFile(fileName(seedDir, 0, suffix))
		if err != nil {
			return nil
		}
		return b
	}
	snaps, _ := filepath.Glob(filepath.Join(seedDir, "*"+snapshotSuffix))
	var snap []byte
	if len(snaps) > 0 {
		snap, _ = os.ReadFile(snaps[len(snaps)-1])
	}
	f.Add(read(logSuffix), read(txnIndexSuffix), snap, true)
	f.Add(read(logSuffix), read(txnIndexSuffix), []byte(nil), false)
	f.Add(read(logSuffix), []byte("garbage"), snap, true)
	f.Fuzz(func(t *testing.T, seg, txnIdx, snapshot []byte, clean bool) {
		dir := t.TempDir()
		write := func(name string, b []byte) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
		write("00000000000000000000.log", seg)
		write("00000000000000000000.txnindex", txnIdx)
		if snapshot != nil {
			off, _, err := decodeSnapshot(snapshot)
			if err != nil {
				off = 3
			}
			write(filepath.Base(fileName(dir, off, snapshotSuffix)), snapshot)
		}
		if clean {
			write(cleanShutdownFile, nil)
		}
		l, err := Open(dir, Config{})
		if err != nil {
			return
		}
		defer l.Close()
		end := l.EndOffset()
		lso := l.LastStableOffset()
		require.LessOrEqual(t, lso, end)
		got, err := l.AbortedTransactions(l.LogStartOffset(), end, nil)
		require.NoError(t, err)
		for _, a := range got {
			require.GreaterOrEqual(t, a.ProducerID, int64(0))
			require.Less(t, a.FirstOffset, end)
		}
		b, _, err := l.ReadCommitted(l.LogStartOffset(), 1<<20, nil)
		if err != nil {
			return
		}
		for rest := b; len(rest) > 0; {
			_, r, h, err := batch.Next(rest)
			require.NoError(t, err)
			require.Less(t, h.BaseOffset, lso)
			rest = r
		}
	})
}

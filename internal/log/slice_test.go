package log

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/kerr"
)

// sliceBytes copies what ss refers to, as sendfile would send it.
func sliceBytes(tb testing.TB, ss []Slice) []byte {
	tb.Helper()
	var out []byte
	for i := range ss {
		var err error
		out, err = ss[i].AppendTo(out)
		require.NoError(tb, err)
	}
	return out
}

// lastOffsetOf is the last offset of the last of concatenated batches, -1
// for none.
func lastOffsetOf(b []byte) int64 {
	last := int64(-1)
	for len(b) >= 61 {
		size := 12 + int(binary.BigEndian.Uint32(b[8:]))
		last = int64(binary.BigEndian.Uint64(b)) + int64(int32(binary.BigEndian.Uint32(b[23:])))
		b = b[size:]
	}
	return last
}

// TestReadSlicesMatchRead is the contract of the zero-copy fetch: for every
// fetch offset and size, the slices hold exactly the bytes Read returns,
// uncommitted and committed, across segment rolls, with sparse and dense
// indexes and with the sealed segments' indexes evicted to their files.
func TestReadSlicesMatchRead(t *testing.T) {
	for _, interval := range []int{1, 300, 4096} {
		t.Run(fmt.Sprintf("index.interval.bytes=%d", interval), func(t *testing.T) {
			l := openLog(t, t.TempDir(), Config{SegmentBytes: 6000, IndexIntervalBytes: interval})
			rng := rand.New(rand.NewPCG(1, uint64(interval)))
			seq := int32(0)
			for i := range 60 {
				switch {
				case i%17 >= 5 && i%17 < 9:
					// A transaction open for a while: the LSO stays at its
					// first batch until the marker.
					n := 1 + rng.IntN(4)
					mustAppend(t, l, txnBatch(t, 9, 0, seq, n, fmt.Sprint("t", i)))
					seq += int32(n)
				case i%17 == 12:
					mustMarker(t, l, 9, 0, i%2 == 0)
				default:
					mustAppend(t, l, makeBatch(t, batchSpec{records: 1 + rng.IntN(8), valueSize: rng.IntN(300), pid: -1}, fmt.Sprint("b", i)))
				}
			}
			// One more open transaction at the end keeps the LSO below
			// the end offset.
			mustAppend(t, l, txnBatch(t, 11, 0, 0, 3, "open"))
			mustAppend(t, l, makeBatch(t, plain(2), "tail"))
			require.Greater(t, l.NumSegments(), 3)
			end := l.EndOffset()
			for off := l.LogStartOffset(); off <= end; off++ {
				for _, maxBytes := range []int{1, 80, 200, 700, 2000, 7000, 1 << 20} {
					want, err := l.Read(off, maxBytes, nil)
					require.NoError(t, err)
					ss, err := l.ReadSlices(off, maxBytes, nil)
					require.NoError(t, err)
					got := sliceBytes(t, ss)
					ReleaseSlices(ss)
					require.Equal(t, want, got, "offset %d max %d", off, maxBytes)

					want, wantLSO, err := l.ReadCommitted(off, maxBytes, nil)
					require.NoError(t, err)
					ss, lso, err := l.ReadCommittedSlices(off, maxBytes, nil)
					require.NoError(t, err)
					got = sliceBytes(t, ss)
					assert.Equal(t, wantLSO, lso)
					require.Equal(t, want, got, "committed: offset %d max %d", off, maxBytes)
					if len(ss) > 0 {
						assert.Equal(t, lastOffsetOf(want), ss[len(ss)-1].LastOffset, "offset %d max %d", off, maxBytes)
					}
					ReleaseSlices(ss)
				}
			}
		})
	}
}

// TestSlicePinsDeletedSegments: a slice handed to a socket must still read
// its bytes after DeleteRecords and retention unlinked its segment, and its
// files close with the last Release.
func TestSlicePinsDeletedSegments(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentBytes: 2000, IndexIntervalBytes: 100})
	for i := range 40 {
		mustAppend(t, l, makeBatch(t, batchSpec{records: 3, valueSize: 100, pid: -1}, fmt.Sprint("b", i)))
	}
	want, err := l.Read(0, 5000, nil)
	require.NoError(t, err)
	ss, err := l.ReadSlices(0, 5000, nil)
	require.NoError(t, err)
	require.Greater(t, len(ss), 1, "the read spans segments")
	segs := make([]*segment, len(ss))
	for i := range ss {
		segs[i] = ss[i].seg
	}

	_, err = l.DeleteRecordsBefore(l.EndOffset() - 1)
	require.NoError(t, err)
	for _, s := range segs {
		assert.Equal(t, int64(1), s.refs.Load(), "the log let go, the slice holds it")
	}
	assert.Equal(t, want, sliceBytes(t, ss), "unlinked segments still read through the pinned descriptor")
	require.NotNil(t, ss[0].File())

	ReleaseSlices(ss)
	ReleaseSlices(ss) // twice is harmless
	for _, s := range segs {
		assert.Equal(t, int64(0), s.refs.Load(), "the last release closed the files")
	}
	_, err = l.ReadSlices(0, 100, nil)
	require.ErrorIs(t, err, kerr.OffsetOutOfRange)
}

// BenchmarkReadSlices: finding a 1 MiB fetch's range reads a few headers
// and allocates nothing.
func BenchmarkReadSlices(b *testing.B) {
	l := openLog(b, b.TempDir(), Config{})
	for i := range 200 {
		mustAppend(b, l, makeBatch(b, batchSpec{records: 16, valueSize: 1000, pid: -1}, fmt.Sprint("b", i)))
	}
	var ss []Slice
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var err error
		ss, err = l.ReadSlices(int64(i%100)*16, 1<<20, ss[:0])
		if err != nil {
			b.Fatal(err)
		}
		ReleaseSlices(ss)
	}
}

// TestReadSlicesOnCorruptHeaders: garbage in a batch header the range
// walk reads is a storage error, never a panic or a range past the
// segment's data.
func TestReadSlicesOnCorruptHeaders(t *testing.T) {
	for _, at := range []int64{0, 8, 9, 10, 11, 16, 17, 23} {
		t.Run(fmt.Sprint("byte ", at), func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, Config{IndexIntervalBytes: 1})
			var pos []int64
			for i := range 20 {
				pos = append(pos, l.Size())
				mustAppend(t, l, makeBatch(t, batchSpec{records: 2, valueSize: 40, pid: -1}, fmt.Sprint("b", i)))
			}
			corruptFile(t, segmentFiles(t, dir, ".log")[0], pos[10]+at)
			for off := int64(0); off < l.EndOffset(); off++ {
				for _, maxBytes := range []int{1, 500, 1 << 20} {
					ss, err := l.ReadSlices(off, maxBytes, nil)
					if err != nil {
						assert.ErrorIs(t, err, kerr.KafkaStorageError)
						assert.Empty(t, ss)
						continue
					}
					for _, s := range ss {
						assert.LessOrEqual(t, s.Pos+s.Len, l.Size())
					}
					ReleaseSlices(ss)
				}
			}
			assert.Zero(t, l.PinnedSlices())
		})
	}
}

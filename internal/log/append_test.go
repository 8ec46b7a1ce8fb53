package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skiffkit/skiff/internal/batch"
	"github.com/skiffkit/skiff/internal/compress"
	"github.com/skiffkit/skiff/kerr"
)

func TestAppendReadRoundTripAcrossRolls(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "orders-0")
	l := openLog(t, dir, Config{SegmentBytes: 700, IndexIntervalBytes: 100})

	var want []decoded
	var starts []int64 // base offset of each batch
	for i := 0; i < 60; i++ {
		b := makeBatch(t, batchSpec{records: 1 + i%4, valueSize: 10 + i%50, pid: -1, ts: t0.UnixMilli() + int64(i)}, fmt.Sprint("b", i))
		info := mustAppend(t, l, b)
		require.Equal(t, l.EndOffset()-1, info.LastOffset)
		require.Equal(t, 1+i%4, info.NumRecords)
		require.Equal(t, int64(-1), info.LogAppendTime)
		starts = append(starts, info.BaseOffset)
		for r := 0; r < 1+i%4; r++ {
			want = append(want, decoded{offset: info.BaseOffset + int64(r), ts: t0.UnixMilli() + int64(i+r), value: valueOf(fmt.Sprint("b", i), r, 10+i%50)})
		}
	}
	require.Greater(t, l.NumSegments(), 5, "tiny segments must roll")
	assert.Len(t, segmentFiles(t, dir, ".log"), l.NumSegments())

	check := func(l *Log) {
		t.Helper()
		all, err := l.Read(0, 1<<20, nil)
		require.NoError(t, err)
		assert.Equal(t, want, decodeAll(t, all))
		// Every offset, including those in the middle of a batch, starts the
		// result at the batch that holds it.
		for off := int64(0); off < l.EndOffset(); off++ {
			got, err := l.Read(off, 1, nil)
			require.NoError(t, err)
			hs := batchesOf(t, got)
			require.Len(t, hs, 1, "offset %d", off)
			assert.LessOrEqual(t, hs[0].BaseOffset, off)
			assert.GreaterOrEqual(t, hs[0].LastOffset(), off)
			recs := decodeAll(t, got)
			assert.Equal(t, want[hs[0].BaseOffset:hs[0].LastOffset()+1], recs)
		}
	}
	check(l)
	size := l.Size()
	require.NoError(t, l.Close())

	l2 := openLog(t, dir, Config{SegmentBytes: 700, IndexIntervalBytes: 100})
	assert.Equal(t, int64(len(want)), l2.EndOffset())
	assert.Equal(t, size, l2.Size())
	check(l2)
	// Appends continue after the reopen.
	info := mustAppend(t, l2, makeBatch(t, plain(2), "after"))
	assert.Equal(t, int64(len(want)), info.BaseOffset)
}

func TestReadLimits(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	var sizes []int
	for i := 0; i < 5; i++ {
		b := makeBatch(t, batchSpec{records: 2, valueSize: 100, pid: -1}, fmt.Sprint(i))
		sizes = append(sizes, len(b))
		mustAppend(t, l, b)
	}
	tests := []struct {
		name     string
		offset   int64
		maxBytes int
		batches  int
		err      error
	}{
		{"zero maxBytes still returns one batch (KIP-74)", 0, 0, 1, nil},
		{"maxBytes below the first batch returns it whole", 3, 10, 1, nil},
		{"exactly two batches", 0, sizes[0] + sizes[1], 2, nil},
		{"two and a half batches are two", 0, sizes[0] + sizes[1] + sizes[2]/2, 2, nil},
		{"everything", 0, 1 << 20, 5, nil},
		{"from the middle of the last batch", 9, 1 << 20, 1, nil},
		{"end offset is empty", 10, 1 << 20, 0, nil},
		{"past the end", 11, 1 << 20, 0, kerr.OffsetOutOfRange},
		{"negative", -1, 1 << 20, 0, kerr.OffsetOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("keep")
			got, err := l.Read(tt.offset, tt.maxBytes, prefix)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "keep", string(got[:4]), "Read appends to dst")
			assert.Len(t, batchesOf(t, got[4:]), tt.batches)
		})
	}
}

func TestAppendValidation(t *testing.T) {
	good := func() []byte { return makeBatch(t, plain(3), "x") }
	flip := func(b []byte, i int) []byte { b[i] ^= 0x40; return b }
	tests := []struct {
		name string
		set  func() []byte
		cfg  Config
		err  error
	}{
		{"empty record set", func() []byte { return nil }, Config{}, kerr.CorruptMessage},
		{"truncated batch", func() []byte { b := good(); return b[:len(b)-3] }, Config{}, kerr.CorruptMessage},
		{"truncated header", func() []byte { return good()[:30] }, Config{}, kerr.CorruptMessage},
		{"second batch truncated", func() []byte { return append(good(), good()[:70]...) }, Config{}, kerr.CorruptMessage},
		{"CRC mismatch", func() []byte { b := good(); return flip(b, len(b)-2) }, Config{}, kerr.CorruptMessage},
		{"magic 1", func() []byte { b := good(); b[16] = 1; return b }, Config{}, kerr.UnsupportedForMessageFormat},
		{"magic 7", func() []byte { b := good(); b[16] = 7; return b }, Config{}, kerr.CorruptMessage},
		{"batch above max.message.bytes", good, Config{MaxMessageBytes: 80}, kerr.MessageTooLarge},
		{"record set above segment.bytes", func() []byte { return append(good(), good()...) }, Config{SegmentBytes: 150}, kerr.RecordListTooLarge},
		{"no records", func() []byte {
			var b batch.Builder
			b.Reset(nil, 1)
			return append([]byte(nil), b.Finish(batch.NoProducer)...)
		}, Config{}, kerr.InvalidRecord},
		{"record count disagrees with offsets", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[57:], 2)
			return recrc(b)
		}, Config{}, kerr.InvalidRecord},
		{"records do not match the count", func() []byte {
			b := good()
			binary.BigEndian.PutUint32(b[57:], 4)
			binary.BigEndian.PutUint32(b[23:], 3)
			return recrc(b)
		}, Config{}, kerr.CorruptMessage},
		{"control batch", func() []byte {
			b := good()
			binary.BigEndian.PutUint16(b[21:], batch.AttrControl)
			return recrc(b)
		}, Config{}, kerr.InvalidRecord},
		{"idempotent without sequence", func() []byte {
			return makeBatch(t, batchSpec{records: 1, pid: 5, epoch: 0, seq: -1}, "x")
		}, Config{}, kerr.InvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, t.TempDir(), tt.cfg)
			mustAppend(t, l, makeBatch(t, plain(1), "first"))
			size := l.Size()
			_, err := l.Append(tt.set(), t0)
			require.ErrorIs(t, err, tt.err)
			var ke *kerr.Error
			require.True(t, errors.As(err, &ke))
			assert.Equal(t, int64(1), l.EndOffset(), "nothing appended")
			assert.Equal(t, size, l.Size())
		})
	}
}

// recrc recomputes the CRC after a test edited a batch.
func recrc(b []byte) []byte {
	batch.SetProducer(b, int64(binary.BigEndian.Uint64(b[43:])), int16(binary.BigEndian.Uint16(b[51:])), int32(binary.BigEndian.Uint32(b[53:])))
	return b
}

func TestAppendMultipleBatchesAndCompression(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{})
	var b batch.Builder
	b.Reset(nil, t0.UnixMilli())
	for i := 0; i < 50; i++ {
		batch.Append[batch.RecordHeader](&b, t0.UnixMilli()+int64(i), nil, []byte(fmt.Sprintf("compressible value %d compressible value", i)), nil)
	}
	var set []byte
	for _, c := range []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd} {
		var err error
		set, err = b.AppendCompressed(set, batch.Params{Codec: c, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, PartitionLeaderEpoch: -1})
		require.NoError(t, err, c)
	}
	info := mustAppend(t, l, set)
	assert.Equal(t, AppendInfo{BaseOffset: 0, LastOffset: 249, LogAppendTime: -1, NumRecords: 250}, info)
	got, err := l.Read(0, 1<<20, nil)
	require.NoError(t, err)
	recs := decodeAll(t, got)
	require.Len(t, recs, 250)
	for i, r := range recs {
		assert.Equal(t, int64(i), r.offset)
	}
	for _, h := range batchesOf(t, got) {
		assert.Equal(t, int32(0), h.PartitionLeaderEpoch, "the leader epoch is stamped")
	}
}

func TestLogAppendTime(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{LogAppendTime: true})
	now := t0.Add(time.Hour)
	info, err := l.Append(makeBatch(t, plain(3), "x"), now)
	require.NoError(t, err)
	assert.Equal(t, now.UnixMilli(), info.LogAppendTime)
	got, err := l.Read(0, 1<<20, nil)
	require.NoError(t, err)
	for _, r := range decodeAll(t, got) { // decodeAll checks the CRC
		assert.Equal(t, now.UnixMilli(), r.ts)
	}
}

func TestRollBySegmentMs(t *testing.T) {
	l := openLog(t, t.TempDir(), Config{SegmentMs: time.Minute})
	ts := t0.UnixMilli()
	_, err := l.Append(makeBatch(t, batchSpec{records: 1, pid: -1, ts: ts}, "a"), t0)
	require.NoError(t, err)
	_, err = l.Append(makeBatch(t, batchSpec{records: 1, pid: -1, ts: ts}, "b"), t0.Add(59*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 1, l.NumSegments())
	info, err := l.Append(makeBatch(t, batchSpec{records: 1, pid: -1, ts: ts}, "c"), t0.Add(61*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 2, l.NumSegments())
	assert.Equal(t, int64(2), info.BaseOffset)
	assert.FileExists(t, filepath.Join(l.Dir(), "00000000000000000002.log"))
}

func TestConfigValidation(t *testing.T) {
	_, err := Open(t.TempDir(), Config{SegmentBytes: 1 << 40, IndexIntervalBytes: -1, ProducerIDExpiration: -time.Second})
	require.ErrorIs(t, err, ErrConfig)
	assert.Contains(t, err.Error(), "segment.bytes")
	assert.Contains(t, err.Error(), "index.interval.bytes")
	assert.Contains(t, err.Error(), "producer.id.expiration.ms")
}

func TestClosed(t *testing.T) {
	l, err := Open(t.TempDir(), Config{})
	require.NoError(t, err)
	require.NoError(t, l.Close())
	_, err = l.Append(makeBatch(t, plain(1), "x"), t0)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = l.Sync()
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, l.Close(), ErrClosed)
	_, err = l.EnforceRetention(t0)
	assert.ErrorIs(t, err, ErrClosed)
	_, err = l.Read(0, 100, nil)
	assert.ErrorIs(t, err, ErrClosed)
	_, _, _, err = l.OffsetForTime(0)
	assert.ErrorIs(t, err, ErrClosed)
}

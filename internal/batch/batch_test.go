package batch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/skiffkit/skiff/internal/compress"
)

type testRecord struct {
	ts      int64
	key     []byte
	value   []byte
	headers []RecordHeader
}

func sampleRecords(n int) []testRecord {
	recs := make([]testRecord, n)
	for i := range recs {
		r := testRecord{ts: 1_700_000_000_000 + int64(i*7) - 3, value: bytes.Repeat([]byte{byte('a' + i%26)}, 1+i*13%300)}
		switch i % 4 {
		case 0:
			r.key = []byte(fmt.Sprintf("key-%d", i))
		case 1:
			r.key = []byte{} // empty, not null
			r.headers = []RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "", Value: nil}}
		case 2:
			r.value = nil // tombstone
			r.key = []byte("k")
		}
		recs[i] = r
	}
	return recs
}

func build(t testing.TB, recs []testRecord, p Params) []byte {
	t.Helper()
	var b Builder
	b.Reset(nil, recs[0].ts)
	for _, r := range recs {
		Append(&b, r.ts, r.key, r.value, r.headers)
	}
	out, err := b.AppendCompressed(nil, p)
	require.NoError(t, err)
	return out
}

var codecs = []compress.Codec{compress.None, compress.Gzip, compress.Snappy, compress.LZ4, compress.Zstd}

// Our encoding must read back with kmsg (franz-go's protocol structs), record
// by record, for every codec.
func TestBuilderMatchesKmsg(t *testing.T) {
	recs := sampleRecords(50)
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			p := Params{Codec: c, ProducerID: 77, ProducerEpoch: 3, BaseSequence: 1000, PartitionLeaderEpoch: -1}
			raw := build(t, recs, p)

			var kb kmsg.RecordBatch
			require.NoError(t, kb.ReadFrom(raw))
			assert.Equal(t, int8(2), kb.Magic)
			assert.Equal(t, int32(len(raw)-12), kb.Length)
			assert.Equal(t, int16(c), kb.Attributes&7)
			assert.Equal(t, int32(len(recs)-1), kb.LastOffsetDelta)
			assert.Equal(t, recs[0].ts, kb.FirstTimestamp)
			assert.Equal(t, recs[len(recs)-1].ts, kb.MaxTimestamp)
			assert.Equal(t, int64(77), kb.ProducerID)
			assert.Equal(t, int16(3), kb.ProducerEpoch)
			assert.Equal(t, int32(1000), kb.FirstSequence)
			assert.Equal(t, int32(len(recs)), kb.NumRecords)
			assert.Equal(t, int32(crc32.Checksum(raw[21:], castagnoli)), kb.CRC)

			body := kb.Records
			if c != compress.None {
				var err error
				body, err = compress.AppendDecompress(nil, body, c, 1<<30)
				require.NoError(t, err)
			}
			for i, want := range recs {
				var kr kmsg.Record
				n := kmsgRecordLen(t, body)
				require.NoError(t, kr.ReadFrom(body[:n]), "record %d", i)
				body = body[n:]
				assert.Equal(t, int32(i), kr.OffsetDelta)
				assert.Equal(t, want.ts-recs[0].ts, kr.TimestampDelta64)
				assert.Equal(t, want.key, kr.Key)
				assert.Equal(t, want.value, kr.Value)
				require.Len(t, kr.Headers, len(want.headers))
				for j, h := range want.headers {
					assert.Equal(t, h.Key, kr.Headers[j].Key)
					assert.Equal(t, h.Value, kr.Headers[j].Value)
				}
			}
			assert.Empty(t, body)
		})
	}
}

func kmsgRecordLen(t testing.TB, b []byte) int {
	l, n := readVarint(b)
	require.Positive(t, n)
	return n + int(l)
}

// A batch built with kmsg decodes with ours: the reverse direction.
func TestDecodeKmsgBatch(t *testing.T) {
	recs := sampleRecords(20)
	for _, c := range codecs {
		t.Run(c.String(), func(t *testing.T) {
			var body []byte
			for i, r := range recs {
				kr := kmsg.Record{TimestampDelta64: r.ts - recs[0].ts, OffsetDelta: int32(i), Key: r.key, Value: r.value}
				for _, h := range r.headers {
					kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
				}
				// kmsg writes Length as given: encode once to learn it.
				kr.Length = int32(len(kr.AppendTo(nil)) - 1)
				body = kr.AppendTo(body)
			}
			if c != compress.None {
				body = mustCompress(t, body, c)
			}
			kb := kmsg.RecordBatch{
				FirstOffset: 500, Magic: 2, Attributes: int16(c), LastOffsetDelta: int32(len(recs) - 1),
				FirstTimestamp: recs[0].ts, MaxTimestamp: recs[len(recs)-1].ts,
				ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: body,
			}
			raw := kb.AppendTo(nil)
			binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
			binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], castagnoli))

			h, err := Validate(raw)
			require.NoError(t, err)
			assert.Equal(t, int64(500), h.BaseOffset)
			assert.Equal(t, int64(500+len(recs)-1), h.LastOffset())
			var d Decoder
			i := 0
			require.NoError(t, d.Records(raw, func(h *Header, r *Record) error {
				want := recs[i]
				assert.Equal(t, int64(500+i), r.Offset)
				assert.Equal(t, want.ts, r.Timestamp)
				assert.Equal(t, want.key, r.Key)
				assert.Equal(t, want.value, r.Value)
				assert.Equal(t, len(want.headers), len(r.Headers))
				i++
				return nil
			}))
			assert.Equal(t, len(recs), i)
		})
	}
}

func mustCompress(t testing.TB, b []byte, c compress.Codec) []byte {
	t.Helper()
	out, err := compress.AppendCompress(nil, b, c)
	require.NoError(t, err)
	return out
}

func TestRoundTripAndHeaderSetters(t *testing.T) {
	recs := sampleRecords(10)
	raw := build(t, recs, NoProducer)
	h, err := Validate(raw)
	require.NoError(t, err)
	assert.False(t, h.Idempotent())
	assert.Equal(t, compress.None, h.Codec())

	SetBaseOffset(raw, 1234)
	SetPartitionLeaderEpoch(raw, 9)
	h, err = Validate(raw)
	require.NoError(t, err, "base offset and leader epoch lie outside the CRC")
	assert.Equal(t, int64(1234), h.BaseOffset)
	assert.Equal(t, int32(9), h.PartitionLeaderEpoch)

	SetProducer(raw, 5, 1, 42)
	h, err = Validate(raw)
	require.NoError(t, err)
	assert.Equal(t, int64(5), h.ProducerID)
	assert.Equal(t, int32(42), h.BaseSequence)

	SetLogAppendTime(raw, 99)
	h, err = Validate(raw)
	require.NoError(t, err)
	assert.True(t, h.LogAppendTime())
	var d Decoder
	require.NoError(t, d.Records(raw, func(_ *Header, r *Record) error {
		assert.Equal(t, int64(99), r.Timestamp, "LogAppendTime batches report the broker's time")
		return nil
	}))
}

func TestSizes(t *testing.T) {
	var b Builder
	b.Reset(nil, 1000)
	for i, r := range sampleRecords(40) {
		before := b.Len()
		want := RecordSize(&b, r.ts, r.key, r.value, r.headers)
		assert.LessOrEqual(t, want, EstimateRecordSize(r.key, r.value, r.headers), "record %d", i)
		Append(&b, r.ts, r.key, r.value, r.headers)
		assert.Equal(t, want, b.Len()-before, "record %d", i)
	}
	assert.Equal(t, 40, b.NumRecords())
}

func TestNextSplitsRecordSets(t *testing.T) {
	a := build(t, sampleRecords(3), NoProducer)
	b := build(t, sampleRecords(5), Params{Codec: compress.Zstd, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	set := append(append([]byte{}, a...), b...)
	first, rest, h, err := Next(set)
	require.NoError(t, err)
	assert.Equal(t, a, first)
	assert.Equal(t, int32(3), h.NumRecords)
	second, rest, h, err := Next(rest)
	require.NoError(t, err)
	assert.Equal(t, b, second)
	assert.Equal(t, compress.Zstd, h.Codec())
	assert.Empty(t, rest)

	_, rest, _, err = Next(set[:len(a)+30])
	require.NoError(t, err)
	_, _, _, err = Next(rest)
	assert.ErrorIs(t, err, ErrShort, "a partial trailing batch ends a fetch response")
}

func TestCorruptBatches(t *testing.T) {
	good := build(t, sampleRecords(4), NoProducer)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	tests := []struct {
		name string
		b    []byte
		err  error
	}{
		{"short header", good[:30], ErrShort},
		{"short body", good[:len(good)-1], ErrShort},
		{"bad magic", mut(func(b []byte) []byte { b[16] = 1; return b }), ErrMagic},
		{"flipped bit", mut(func(b []byte) []byte { b[len(b)-3] ^= 0x10; return b }), ErrCRC},
		{"negative length", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffff00); return b }), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.b)
			assert.ErrorIs(t, err, tt.err)
		})
	}

	// Structure errors behind a valid CRC: the broker's Decoder.Check catches
	// what the CRC cannot (a client that computed the CRC over garbage).
	restamp := func(b []byte) []byte { updateCRC(b); return b }
	structural := []struct {
		name string
		b    []byte
	}{
		{"count too high", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 5); return restamp(b) })},
		{"count too low", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[57:], 3); return restamp(b) })},
		{"last offset delta wrong", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[23:], 9); return restamp(b) })},
		{"record length overflow", mut(func(b []byte) []byte { b[61] = 0x7e; return restamp(b) })},
	}
	for _, tt := range structural {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Validate(tt.b)
			require.NoError(t, err)
			var d Decoder
			assert.ErrorIs(t, d.Check(tt.b), ErrCorrupt)
		})
	}
}

func TestDecompressionBomb(t *testing.T) {
	recs := []testRecord{{ts: 1, value: make([]byte, 1<<20)}}
	raw := build(t, recs, Params{Codec: compress.Zstd, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	d := Decoder{MaxDecompressed: 64 << 10}
	assert.ErrorIs(t, d.Check(raw), ErrCorrupt)
}

func FuzzDecodeBatch(f *testing.F) {
	for _, c := range codecs {
		f.Add(build(f, sampleRecords(3), Params{Codec: c, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		d := Decoder{MaxDecompressed: 1 << 20}
		for len(b) > 0 {
			batch, rest, _, err := Next(b)
			if err != nil {
				return
			}
			_, _ = Validate(batch)
			// Decode even when the CRC fails: the decoder must stand alone.
			_ = d.Records(batch, func(h *Header, r *Record) error {
				_ = len(r.Key) + len(r.Value) + len(r.Headers)
				return nil
			})
			b = rest
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	key := bytes.Repeat([]byte("k"), 16)
	val := bytes.Repeat([]byte("v"), 100)
	var bl Builder
	buf := make([]byte, 0, 1<<20)
	bl.Reset(buf, 0)
	b.ReportAllocs()
	b.SetBytes(int64(len(key) + len(val)))
	for i := 0; b.Loop(); i++ {
		if bl.Len() > 1<<20-200 {
			bl.Reset(bl.Buffer(), 0)
		}
		Append[RecordHeader](&bl, int64(i), key, val, nil)
	}
}

func BenchmarkDecode(b *testing.B) {
	recs := sampleRecords(200)
	raw := build(b, recs, NoProducer)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		_ = d.Records(raw, func(*Header, *Record) error { return nil })
	}
}

func BenchmarkCheck(b *testing.B) {
	raw := build(b, sampleRecords(200), NoProducer)
	var d Decoder
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if err := d.Check(raw); err != nil {
			b.Fatal(err)
		}
	}
}

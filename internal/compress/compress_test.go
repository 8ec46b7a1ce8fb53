package compress

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":        {},
		"one byte":     {'x'},
		"records 100":  realisticRecords(t, 100),
		"records 16K":  realisticRecords(t, 16<<10),
		"records 1M":   realisticRecords(t, 1<<20),
		"random 100K":  randomBytes(100<<10, 1),
		"zeros 300K":   make([]byte, 300<<10),
		"records 200K": realisticRecords(t, 200<<10), // several lz4 blocks, several zstd blocks
	}
	for _, c := range allCodecs {
		for name, in := range inputs {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				prefix := []byte("keep")
				comp, err := AppendCompress(bytes.Clone(prefix), in, c)
				require.NoError(t, err)
				require.Equal(t, prefix, comp[:len(prefix)], "compress must append, not overwrite")
				if c != None && len(in) >= 16<<10 && name[:7] == "records" {
					assert.Less(t, len(comp), len(in)/2, "realistic records should compress at least 2x")
				}

				out, err := AppendDecompress(bytes.Clone(prefix), comp[len(prefix):], c, max(len(in), 1))
				require.NoError(t, err)
				require.Equal(t, prefix, out[:len(prefix)], "decompress must append, not overwrite")
				require.True(t, bytes.Equal(in, out[len(prefix):]), "round trip mismatch")
			})
		}
	}
}

// TestCompressedFormat pins the first bytes of each format, so a library
// option change cannot silently switch framing.
func TestCompressedFormat(t *testing.T) {
	in := realisticRecords(t, 4096)
	gz := mustCompress(t, in, Gzip)
	assert.Equal(t, []byte{0x1f, 0x8b, 8}, gz[:3], "gzip magic + deflate")

	sn := mustCompress(t, in, Snappy)
	n, err := snappy.DecodedLen(sn)
	require.NoError(t, err)
	assert.Equal(t, len(in), n, "raw snappy starts with the decoded length")
	assert.False(t, bytes.HasPrefix(sn, xerialMagic), "we write raw snappy, not xerial")

	lz := mustCompress(t, in, LZ4)
	assert.Equal(t, []byte{0x04, 0x22, 0x4d, 0x18}, lz[:4], "lz4 frame magic")
	flg, bd := lz[4], lz[5]
	assert.Equal(t, byte(0b01), flg>>6, "frame version 01")
	assert.NotZero(t, flg&0x20, "independent blocks (Java can only read those)")
	assert.Zero(t, flg&0x10, "no block checksum, like Java")
	assert.Zero(t, flg&0x04, "no content checksum, like Java")
	assert.Equal(t, byte(4), (bd>>4)&7, "64 KiB max block size, like Java")

	zs := mustCompress(t, in, Zstd)
	assert.Equal(t, []byte{0x28, 0xb5, 0x2f, 0xfd}, zs[:4], "zstd frame magic")
}

func TestDecompressTooLarge(t *testing.T) {
	in := make([]byte, 2<<20) // zeros: a 2 MiB bomb shrinks to a few KiB
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			comp := mustCompress(t, in, c)
			_, err := AppendDecompress(nil, comp, c, len(in)-1)
			require.ErrorIs(t, err, ErrTooLarge)
			assert.NotErrorIs(t, err, ErrCorrupt)

			_, err = AppendDecompress(nil, comp, c, 1<<20)
			require.ErrorIs(t, err, ErrTooLarge)

			out, err := AppendDecompress(nil, comp, c, len(in))
			require.NoError(t, err, "exactly maxSize is allowed")
			assert.Len(t, out, len(in))
		})
	}
}

// TestDecompressTooLargeBoundsWork checks that a bomb is stopped early
// rather than decoded fully and measured afterwards. The 32 MiB bomb is 32
// concatenated 1 MiB streams (xerial chunks for snappy), which every
// decoder reads in sequence, so building it is cheap.
func TestDecompressTooLargeBoundsWork(t *testing.T) {
	mib := make([]byte, 1<<20)
	for _, c := range []Codec{Gzip, LZ4, Zstd, Snappy} {
		t.Run(c.String(), func(t *testing.T) {
			member := mustCompress(t, mib, c)
			valid, err := AppendDecompress(nil, concatStreams(c, member, 2), c, 2<<20)
			require.NoError(t, err, "the bomb is made of valid streams")
			require.Len(t, valid, 2<<20)
			bomb := concatStreams(c, member, 32)

			dst := make([]byte, 0, 8)
			_, err = AppendDecompress(dst, bomb, c, 1<<20) // warm the pools
			require.ErrorIs(t, err, ErrTooLarge)
			var before, after runtimeMem
			before.read()
			_, err = AppendDecompress(dst, bomb, c, 1<<20)
			after.read()
			require.ErrorIs(t, err, ErrTooLarge)
			assert.Less(t, after.totalAlloc-before.totalAlloc, uint64(8<<20),
				"a 32 MiB bomb with a 1 MiB limit must not allocate anywhere near 32 MiB")
		})
	}
}

// concatStreams repeats one compressed stream n times, as xerial chunks
// for snappy.
func concatStreams(c Codec, stream []byte, n int) []byte {
	if c != Snappy {
		return bytes.Repeat(stream, n)
	}
	out := xerialHeaderBytes()
	for range n {
		out = binary.BigEndian.AppendUint32(out, uint32(len(stream)))
		out = append(out, stream...)
	}
	return out
}

func TestDecompressBadArgs(t *testing.T) {
	_, err := AppendDecompress(nil, []byte{1}, Gzip, 0)
	assert.ErrorContains(t, err, "maxSize 0 must be positive")
	_, err = AppendDecompress(nil, []byte{1}, Codec(5), 10)
	assert.ErrorIs(t, err, ErrUnknownCodec)
	_, err = AppendCompress(nil, []byte{1}, Codec(7))
	assert.ErrorIs(t, err, ErrUnknownCodec)
	_, err = AppendDecompress(nil, []byte("hello"), None, 4)
	assert.ErrorIs(t, err, ErrTooLarge)
	out, err := AppendDecompress(nil, nil, None, 4)
	assert.NoError(t, err, "an uncompressed empty records section is fine")
	assert.Empty(t, out)
}

func TestDecompressCorrupt(t *testing.T) {
	in := realisticRecords(t, 50<<10)
	valid := map[Codec][]byte{}
	for _, c := range allCodecs[1:] {
		valid[c] = mustCompress(t, in, c)
	}
	flip := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		b[at] ^= 0x5a
		return b
	}
	type tc struct {
		name string
		c    Codec
		src  []byte
	}
	cases := []tc{
		{"gzip empty", Gzip, nil},
		{"gzip bad magic", Gzip, flip(valid[Gzip], 0)},
		{"gzip bad method", Gzip, flip(valid[Gzip], 2)},
		{"gzip truncated header", Gzip, valid[Gzip][:5]},
		{"gzip truncated body", Gzip, valid[Gzip][:len(valid[Gzip])/2]},
		{"gzip missing trailer", Gzip, valid[Gzip][:len(valid[Gzip])-8]},
		{"gzip bad crc", Gzip, flip(valid[Gzip], len(valid[Gzip])-6)},
		{"gzip bad isize", Gzip, flip(valid[Gzip], len(valid[Gzip])-2)},
		{"gzip trailing garbage", Gzip, append(bytes.Clone(valid[Gzip]), "junk"...)},
		{"gzip not gzip", Gzip, []byte("plain text, not compressed at all")},

		{"snappy empty", Snappy, nil},
		{"snappy bad varint", Snappy, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"snappy truncated", Snappy, valid[Snappy][:len(valid[Snappy])/2]},
		{"snappy length lies", Snappy, append([]byte{0x10}, valid[Snappy][1:]...)},
		{"snappy copy before literal", Snappy, []byte{0x04, 0x02, 0x01, 0x00}},
		{"xerial short header", Snappy, append(bytes.Clone(xerialMagic), 0, 0, 0, 1)},
		{"xerial truncated chunk length", Snappy, append(xerialHeaderBytes(), 0, 0)},
		{"xerial chunk longer than input", Snappy, append(xerialHeaderBytes(), 0, 0, 1, 0, 1, 2, 3)},
		{"xerial negative chunk length", Snappy, append(xerialHeaderBytes(), 0xff, 0xff, 0xff, 0xff, 1)},
		{"xerial bad block", Snappy, xerialFrame(t, []byte{0xff, 0xff, 0xff, 0xff, 0xff})},

		{"lz4 empty", LZ4, nil},
		{"zstd empty", Zstd, []byte{}},
		{"lz4 bad magic", LZ4, flip(valid[LZ4], 0)},
		{"lz4 bad header checksum", LZ4, flip(valid[LZ4], 6)},
		{"lz4 bad version", LZ4, flip(valid[LZ4], 4)},
		{"lz4 truncated header", LZ4, valid[LZ4][:5]},
		{"lz4 truncated block", LZ4, valid[LZ4][:len(valid[LZ4])/2]},
		{"lz4 missing end mark", LZ4, valid[LZ4][:len(valid[LZ4])-4]},
		{"lz4 block size lies", LZ4, lz4WithBlockSize(valid[LZ4], 0x7fffffff)},
		{"lz4 match before start", LZ4, lz4Frame(valid[LZ4][:7], []byte{0x0f, 0x00, 0x10})},
		{"lz4 literal run past block", LZ4, lz4Frame(valid[LZ4][:7], []byte{0xf0, 0xff, 'a'})},

		{"zstd bad magic", Zstd, flip(valid[Zstd], 0)},
		{"zstd truncated", Zstd, valid[Zstd][:len(valid[Zstd])/2]},
		{"zstd truncated header", Zstd, valid[Zstd][:5]},
		{"zstd corrupt block", Zstd, flip(valid[Zstd], len(valid[Zstd])/2)},
		{"zstd trailing garbage", Zstd, append(bytes.Clone(valid[Zstd]), "junk"...)},
		{"zstd not zstd", Zstd, []byte("plain text, not compressed at all")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("pre")
			var out []byte
			var err error
			require.NotPanics(t, func() { out, err = AppendDecompress(prefix, tc.src, tc.c, 1<<20) })
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), "decompress "+tc.c.String())
			assert.Equal(t, prefix, out, "on error dst comes back with its original length")
		})
	}
}

func xerialHeaderBytes() []byte {
	return append(bytes.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1)
}

// xerialFrame builds snappy-java framing per its spec: the 16 byte header,
// then per chunk a big-endian int32 length and a raw block.
func xerialFrame(tb testing.TB, chunks ...[]byte) []byte {
	tb.Helper()
	out := xerialHeaderBytes()
	for _, c := range chunks {
		out = binary.BigEndian.AppendUint32(out, uint32(len(c)))
		out = append(out, c...)
	}
	return out
}

// lz4WithBlockSize rewrites the first block size field of a frame written
// by us (7 byte header: magic, FLG, BD, HC).
func lz4WithBlockSize(frame []byte, size uint32) []byte {
	frame = bytes.Clone(frame)
	binary.LittleEndian.PutUint32(frame[7:], size)
	return frame
}

// lz4Frame assembles a frame from a header and compressed blocks.
func lz4Frame(header []byte, blocks ...[]byte) []byte {
	out := bytes.Clone(header)
	for _, b := range blocks {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return binary.LittleEndian.AppendUint32(out, 0) // end mark
}

func TestXerialRead(t *testing.T) {
	in := realisticRecords(t, 100<<10)
	// Chunk like snappy-java's default 32 KiB blocks.
	var chunks [][]byte
	for rest := in; len(rest) > 0; {
		n := min(32<<10, len(rest))
		chunks = append(chunks, snappy.Encode(nil, rest[:n]))
		rest = rest[n:]
	}
	framed := xerialFrame(t, chunks...)
	// Our construction must be what franz-go's reader accepts too.
	viaKgo, err := kgo.DefaultDecompressor().Decompress(framed, kgo.CodecSnappy)
	require.NoError(t, err)
	require.True(t, bytes.Equal(in, viaKgo), "franz-go reads the constructed xerial stream")

	out, err := AppendDecompress([]byte("x"), framed, Snappy, len(in))
	require.NoError(t, err)
	require.True(t, bytes.Equal(in, out[1:]))
	assert.Len(t, chunks, 4, "several chunks")

	_, err = AppendDecompress(nil, framed, Snappy, len(in)-1)
	assert.ErrorIs(t, err, ErrTooLarge, "the chunk lengths are summed before decoding")

	out, err = AppendDecompress(nil, xerialHeaderBytes(), Snappy, 10)
	require.NoError(t, err, "a header without chunks is an empty stream")
	assert.Empty(t, out)

	// Versions other than 1 are accepted, like franz-go and librdkafka.
	v2 := xerialFrame(t, snappy.Encode(nil, []byte("hello")))
	v2[11] = 2
	out, err = AppendDecompress(nil, v2, Snappy, 10)
	require.NoError(t, err)
	assert.Equal(t, "hello", string(out))
}

func TestConcatenatedStreams(t *testing.T) {
	a, b := []byte("first member;"), []byte("second member")
	for _, c := range []Codec{Gzip, LZ4, Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			both := mustCompress(t, a, c)
			both = append(both, mustCompress(t, b, c)...)
			out, err := AppendDecompress(nil, both, c, 100)
			require.NoError(t, err)
			assert.Equal(t, "first member;second member", string(out))
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	in := realisticRecords(t, 64<<10)
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			errs := make(chan error, 8)
			for g := range 8 {
				go func() {
					var comp, out []byte
					for i := range 20 {
						var err error
						src := in[:len(in)-g*100-i]
						if comp, err = AppendCompress(comp[:0], src, c); err != nil {
							errs <- err
							return
						}
						if out, err = AppendDecompress(out[:0], comp, c, len(in)); err != nil {
							errs <- err
							return
						}
						if !bytes.Equal(out, src) {
							errs <- fmt.Errorf("goroutine %d iteration %d: mismatch", g, i)
							return
						}
					}
					errs <- nil
				}()
			}
			for range 8 {
				assert.NoError(t, <-errs)
			}
		})
	}
}

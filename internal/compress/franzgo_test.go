package compress

import (
	"bytes"
	"io"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

var kgoCodecs = map[Codec]kgo.CompressionCodec{
	Gzip:   kgo.GzipCompression(),
	Snappy: kgo.SnappyCompression(),
	LZ4:    kgo.Lz4Compression(),
	Zstd:   kgo.ZstdCompression(),
}

// TestFranzGoInterop checks both directions against franz-go's own
// compressor and decompressor, which Kafka brokers and Java clients accept.
func TestFranzGoInterop(t *testing.T) {
	inputs := [][]byte{{'a'}, realisticRecords(t, 16<<10), realisticRecords(t, 150<<10), randomBytes(40<<10, 7)}
	dec := kgo.DefaultDecompressor()
	for c, kc := range kgoCodecs {
		t.Run(c.String(), func(t *testing.T) {
			comp, err := kgo.DefaultCompressor(kc)
			require.NoError(t, err)
			for _, in := range inputs {
				ours := mustCompress(t, in, c)
				got, err := dec.Decompress(ours, kgo.CompressionCodecType(c))
				require.NoError(t, err, "franz-go decoding ours")
				require.True(t, bytes.Equal(in, got), "franz-go decoding ours: mismatch")

				theirs, used := comp.Compress(new(bytes.Buffer), in)
				require.Equal(t, kgo.CompressionCodecType(c), used)
				got, err = AppendDecompress(nil, theirs, c, len(in))
				require.NoError(t, err, "decoding franz-go's")
				require.True(t, bytes.Equal(in, got), "decoding franz-go's: mismatch")
			}
		})
	}
}

// TestLibraryInterop decodes our output with the underlying libraries'
// plain readers and the reverse, independent of franz-go's wrappers.
func TestLibraryInterop(t *testing.T) {
	in := realisticRecords(t, 100<<10)

	t.Run("gzip", func(t *testing.T) {
		r, err := gzip.NewReader(bytes.NewReader(mustCompress(t, in, Gzip)))
		require.NoError(t, err)
		got, err := io.ReadAll(r)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))

		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = w.Write(in)
		require.NoError(t, w.Close())
		got, err = AppendDecompress(nil, buf.Bytes(), Gzip, len(in))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))
	})
	t.Run("snappy", func(t *testing.T) {
		ours := mustCompress(t, in, Snappy)
		got, err := snappy.Decode(nil, ours) // golang/snappy: strict snappy, no S2 extensions
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))
		got, err = s2.Decode(nil, ours)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))

		// franz-go writes with s2's snappy-compatible encoders.
		for name, enc := range map[string]func(dst, src []byte) []byte{
			"s2.EncodeSnappy": s2.EncodeSnappy, "s2.EncodeSnappyBest": s2.EncodeSnappyBest,
		} {
			got, err = AppendDecompress(nil, enc(nil, in), Snappy, len(in))
			require.NoError(t, err, name)
			assert.True(t, bytes.Equal(in, got), name)
		}

		// S2's own block format is not snappy: its repeat-offset copies
		// (encoded offset 0) are rejected, as snappy-java rejects them,
		// rather than accepted into a log a Java consumer cannot read.
		s2Only := s2.Encode(nil, in)
		_, err = s2.Decode(nil, s2Only)
		require.NoError(t, err)
		_, err = AppendDecompress(nil, s2Only, Snappy, len(in))
		assert.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("lz4", func(t *testing.T) {
		got, err := io.ReadAll(lz4.NewReader(bytes.NewReader(mustCompress(t, in, LZ4))))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))

		// Default pierrec options: 4 MiB blocks and a content checksum.
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		_, _ = w.Write(in)
		require.NoError(t, w.Close())
		got, err = AppendDecompress(nil, buf.Bytes(), LZ4, len(in))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))
	})
	t.Run("zstd", func(t *testing.T) {
		d, err := zstd.NewReader(nil)
		require.NoError(t, err)
		defer d.Close()
		got, err := d.DecodeAll(mustCompress(t, in, Zstd), nil)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))

		// A streaming writer leaves the content size out of the header and
		// declares its full window, as zstd-jni's ZstdOutputStream (the
		// Java producer) does: it must decode even below that window.
		streamed := streamedZstd(t, in, 8<<20)
		var h zstd.Header
		require.NoError(t, h.Decode(streamed))
		require.Greater(t, h.WindowSize, uint64(len(in)))
		got, err = AppendDecompress(nil, streamed, Zstd, len(in))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(in, got))
		_, err = AppendDecompress(nil, streamed, Zstd, len(in)-1)
		assert.ErrorIs(t, err, ErrTooLarge)
	})
}

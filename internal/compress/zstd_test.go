package compress

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamedZstd compresses like zstd-jni's ZstdOutputStream (the Java
// producer): no content size in the header, a declared window.
func streamedZstd(tb testing.TB, in []byte, window int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf, zstd.WithWindowSize(window), zstd.WithEncoderConcurrency(1))
	require.NoError(tb, err)
	// Flushing before the end emits the frame header before the size
	// is known, as a stream that outgrows its buffer does.
	_, err = w.Write(in[:len(in)/2])
	require.NoError(tb, err)
	require.NoError(tb, w.Flush())
	_, err = w.Write(in[len(in)/2:])
	require.NoError(tb, err)
	require.NoError(tb, w.Close())
	var h zstd.Header
	require.NoError(tb, h.Decode(buf.Bytes()))
	require.False(tb, h.HasFCS)
	return buf.Bytes()
}

// TestZstdWithoutContentSize covers both decoding paths for frames
// without a content size: a window within maxSize's power-of-two class,
// and one beyond it.
func TestZstdWithoutContentSize(t *testing.T) {
	records := realisticRecords(t, 100<<10)
	zeros := make([]byte, 1<<20)
	for _, tc := range []struct {
		name   string
		in     []byte
		window int
	}{
		{"records small window", records, 64 << 10},
		{"records window beyond class", records, 8 << 20},
		{"zeros small window", zeros, 64 << 10},
		{"zeros window beyond class", zeros, 8 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comp := streamedZstd(t, tc.in, tc.window)
			for _, maxSize := range []int{len(tc.in), len(tc.in) + 1, 2 * len(tc.in), 64 << 20} {
				out, err := AppendDecompress([]byte("p"), comp, Zstd, maxSize)
				require.NoError(t, err, "maxSize %d", maxSize)
				require.True(t, bytes.Equal(tc.in, out[1:]))
			}
			for _, maxSize := range []int{len(tc.in) - 1, len(tc.in) / 3, 1000} {
				out, err := AppendDecompress([]byte("p"), comp, Zstd, maxSize)
				require.ErrorIs(t, err, ErrTooLarge, "maxSize %d", maxSize)
				assert.Equal(t, "p", string(out))
			}
		})
	}
}

func TestZstdContentSizeInHeader(t *testing.T) {
	for _, n := range []int{16 << 10, 3 << 20} { // (tiny inputs may omit it; they take the other path)
		var h zstd.Header
		require.NoError(t, h.Decode(mustCompress(t, bytes.Repeat([]byte("record "), n/7), Zstd)))
		assert.True(t, h.HasFCS, "size %d", n)
		assert.Equal(t, uint64(n/7*7), h.FrameContentSize)
		// Like zstd-jni's frames: the batch CRC covers the bytes, and
		// hashing every batch again costs the producer CPU for nothing.
		assert.False(t, h.HasCheckSum, "size %d: no content checksum", n)
	}
}

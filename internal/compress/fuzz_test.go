package compress

import (
	"bytes"
	"errors"
	"testing"

	"github.com/golang/snappy"
)

// fuzzDecompress feeds arbitrary bytes to one codec's decoder: it must not
// panic, must respect maxSize, must classify every failure, and must leave
// dst's prefix alone.
func fuzzDecompress(f *testing.F, c Codec) {
	for _, in := range [][]byte{{}, []byte("a"), realisticRecords(f, 2000), make([]byte, 5000)} {
		comp := mustCompress(f, in, c)
		f.Add(comp, uint32(len(in)+1))
		f.Add(comp, uint32(len(in)/2+1))
		f.Add(comp[:len(comp)/2], uint32(1<<16))
	}
	if c == Snappy {
		f.Add(xerialFrame(f, snappy.Encode(nil, []byte("xerial chunk one")), snappy.Encode(nil, []byte("two"))), uint32(100))
		f.Add(xerialHeaderBytes(), uint32(100))
	}
	f.Fuzz(func(t *testing.T, src []byte, maxSize uint32) {
		// Cap the limit so the fuzzer explores formats, not allocation.
		limit := int(maxSize%(4<<20)) + 1
		prefix := []byte("prefix")
		out, err := AppendDecompress(bytes.Clone(prefix), src, c, limit)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatalf("prefix clobbered: %q", out[:len(prefix)])
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unclassified error: %v", err)
			}
			if len(out) != len(prefix) {
				t.Fatalf("error but %d bytes appended", len(out)-len(prefix))
			}
			return
		}
		if n := len(out) - len(prefix); n > limit {
			t.Fatalf("decompressed %d bytes, limit %d", n, limit)
		}
		// Whatever decoded must round trip through our encoder.
		plain := out[len(prefix):]
		again, err := AppendDecompress(nil, mustCompress(t, plain, c), c, max(len(plain), 1))
		if err != nil || !bytes.Equal(again, plain) {
			t.Fatalf("re-encode round trip failed: %v", err)
		}
	})
}

func FuzzDecompressGzip(f *testing.F)   { fuzzDecompress(f, Gzip) }
func FuzzDecompressSnappy(f *testing.F) { fuzzDecompress(f, Snappy) }
func FuzzDecompressLZ4(f *testing.F)    { fuzzDecompress(f, LZ4) }
func FuzzDecompressZstd(f *testing.F)   { fuzzDecompress(f, Zstd) }

// FuzzRoundTrip checks that every codec reproduces arbitrary input.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, uint8(1))
	f.Add(realisticRecords(f, 3000), uint8(4))
	f.Fuzz(func(t *testing.T, in []byte, codec uint8) {
		c := Codec(codec % 5)
		comp := mustCompress(t, in, c)
		out, err := AppendDecompress(nil, comp, c, max(len(in), 1))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if !bytes.Equal(in, out) {
			t.Fatalf("%s: mismatch", c)
		}
	})
}

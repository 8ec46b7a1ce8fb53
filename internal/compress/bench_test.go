package compress

import (
	"fmt"
	"testing"
)

var benchSizes = []int{16 << 10, 1 << 20}

// BenchmarkCompress compresses a batch into a reused buffer, as the
// producer does per batch: allocs/op is what the codec itself costs.
func BenchmarkCompress(b *testing.B) {
	for _, c := range allCodecs[1:] {
		for _, size := range benchSizes {
			in := realisticRecords(b, size)
			b.Run(fmt.Sprintf("%s/%dKiB", c, size>>10), func(b *testing.B) {
				dst, err := AppendCompress(nil, in, c) // size the buffer once
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if dst, err = AppendCompress(dst[:0], in, c); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(in))/float64(len(dst)), "ratio")
			})
		}
	}
}

// BenchmarkDecompress decompresses into a reused buffer, as a consumer
// reusing its fetch buffers would.
func BenchmarkDecompress(b *testing.B) {
	for _, c := range allCodecs[1:] {
		for _, size := range benchSizes {
			in := realisticRecords(b, size)
			comp := mustCompress(b, in, c)
			b.Run(fmt.Sprintf("%s/%dKiB", c, size>>10), func(b *testing.B) {
				dst := make([]byte, 0, size)
				var err error
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					if dst, err = AppendDecompress(dst[:0], comp, c, size); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkDecompressZstdStreamed decodes frames without a content size,
// as zstd-jni (the Java producer) writes them.
func BenchmarkDecompressZstdStreamed(b *testing.B) {
	for _, size := range benchSizes {
		in := realisticRecords(b, size)
		comp := streamedZstd(b, in, 2<<20) // level 3's window, as zstd-jni declares
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			dst := make([]byte, 0, size)
			var err error
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if dst, err = AppendDecompress(dst[:0], comp, Zstd, 4<<20); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

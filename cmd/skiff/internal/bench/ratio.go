package bench

import (
	"strings"

	"github.com/skiffkit/skiff/internal/batch"
)

// skiff's HookBatchSent reports a batch's record count and its size on the
// wire, but not its size before compression. The uncompressed size is
// therefore derived from the record batch v2 layout (see internal/batch):
// every record the workload sends has a known key and value, so its encoding
// is known but for two varints — the offset delta, which the Meter sums
// exactly per batch, and the timestamp delta, taken as one byte (deltas under
// 64ms). The estimate is within a byte or two per record of the real size.

// offsetDeltaBytes is the size of the offset-delta varints of a batch of n
// records: zigzag varints of 0..n-1, one byte up to 63, one more per 7 bits.
func offsetDeltaBytes(n int) int64 {
	var total int64
	for lo, width := int64(0), int64(1); lo < int64(n); width++ {
		hi := min(int64(1)<<(7*width-1), int64(n))
		total += (hi - lo) * width
		lo = hi
	}
	return total
}

// recordBytes is the average encoded size of one record of w without its
// offset delta, as the batch codec computes it.
func recordBytes(w Workload) float64 {
	var b batch.Builder
	b.Reset(nil, 0)
	value := make([]byte, w.RecordSize)
	size := func(key []byte) float64 {
		// As the batch's first record both deltas are 0, one byte each: the
		// timestamp delta is taken as that byte, the offset delta's is
		// dropped because the Meter counts it.
		return float64(batch.RecordSize[batch.RecordHeader](&b, 0, key, value, nil) - 1)
	}
	if w.KeyCardinality == 0 {
		return size(nil)
	}
	// Keys are "key-<i>" for i < cardinality, sent round robin: average over
	// them by the number of decimal digits of i.
	var sum float64
	n := int64(w.KeyCardinality)
	for digits, lo := 1, int64(0); lo < n; digits++ {
		hi := min(pow10(digits), n)
		sum += float64(hi-lo) * size([]byte("key-"+strings.Repeat("0", digits)))
		lo = hi
	}
	return sum / float64(n)
}

func pow10(d int) int64 {
	p := int64(1)
	for range d {
		p *= 10
	}
	return p
}

// estimateUncompressed is the uncompressed size of the batches m observed.
func estimateUncompressed(m meterSnapshot, w Workload) int64 {
	return m.Batches*batch.HeaderSize + m.OffsetDeltaBytes + int64(float64(m.BatchRecords)*recordBytes(w))
}

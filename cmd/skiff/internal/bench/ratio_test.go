package bench

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/skiffkit/skiff/internal/batch"
)

func TestOffsetDeltaBytes(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 8192, 8193, 20000} {
		var want int64
		for i := range n {
			want += int64(len(binary.AppendVarint(nil, int64(i)))) // Kafka's varints are zigzag, as Go's
		}
		assert.Equal(t, want, offsetDeltaBytes(n), n)
	}
}

// TestEstimateUncompressedMatchesEncoder encodes the workload's records with
// the real batch v2 builder and checks the estimate against its size.
func TestEstimateUncompressedMatchesEncoder(t *testing.T) {
	tests := []struct {
		name    string
		w       Workload
		batches []int // records per batch
	}{
		{"keyless 100B", Workload{RecordSize: 100}, []int{1, 10, 500, 3000}},
		{"keyed 10 keys", Workload{RecordSize: 100, KeyCardinality: 10}, []int{7, 64, 65}},
		{"keyed 5000 keys", Workload{RecordSize: 1000, KeyCardinality: 5000}, []int{5000, 1200}},
		{"tiny values", Workload{RecordSize: 1}, []int{10000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.w.withDefaults()
			pl := newPayloads(w)
			var m Meter
			var exact int
			var b batch.Builder
			i := 0
			now := time.Now().UnixMilli()
			for _, n := range tt.batches {
				b.Reset(nil, now)
				for range n {
					k, v := pl.record(i, w.KeyCardinality)
					batch.Append[batch.RecordHeader](&b, now+int64(i%50), k, v, nil)
					i++
				}
				exact += b.Len()
				m.ObserveBatch(n, b.Len())
			}
			got := estimateUncompressed(m.snapshot(), w)
			// Keys cycle over the whole cardinality while few were sent, so
			// allow a byte per record besides a small relative error.
			assert.InDelta(t, float64(exact), float64(got), float64(i)+float64(exact)*0.002)
		})
	}
}

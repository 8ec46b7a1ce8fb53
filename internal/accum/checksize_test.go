package accum

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/skiffkit/skiff/internal/batch"
)

// CheckSize's shortcut for header-less records must agree with the exact
// estimate on both sides of max.request.size and buffer.memory.
func TestCheckSizeMatchesEstimate(t *testing.T) {
	for _, cfg := range []Config{
		{MaxRequestSize: 1000},
		{MaxRequestSize: 1 << 20, BufferMemory: 2000, BatchSize: 1024},
	} {
		a := newAcc(t, cfg)
		limit := int(min(int64(a.cfg.MaxRequestSize), a.cfg.BufferMemory))
		for _, key := range [][]byte{nil, {}, []byte("0123456789abcdef")} {
			for v := limit - 120; v <= limit; v++ {
				r := &Record[*int]{Key: key, Value: make([]byte, v)}
				exact := batch.HeaderSize+batch.EstimateRecordSize[Header](r.Key, r.Value, nil) <= limit
				assert.Equal(t, exact, a.CheckSize(r) == nil, "limit %d key %d value %d", limit, len(key), v)
			}
		}
	}
}

package batch

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// AppendIfFits must write exactly what Append writes, accept a record that
// ends exactly at the limit, and leave the batch untouched when one byte
// is missing.
func TestAppendIfFits(t *testing.T) {
	var want, got Builder
	want.Reset(nil, 1000)
	got.Reset(nil, 1000)
	for i, r := range sampleRecords(40) {
		size := RecordSize(&got, r.ts, r.key, r.value, r.headers)
		before := got.Len()

		_, ok := AppendIfFits(&got, before+size-1, r.ts, r.key, r.value, r.headers)
		require.False(t, ok, "record %d must not fit one byte short", i)
		require.Equal(t, before, got.Len(), "record %d: nothing written on refusal", i)
		require.Equal(t, i, got.NumRecords())

		delta, ok := AppendIfFits(&got, before+size, r.ts, r.key, r.value, r.headers)
		require.True(t, ok, "record %d fits exactly", i)
		assert.Equal(t, Append(&want, r.ts, r.key, r.value, r.headers), delta)
	}
	assert.Equal(t, want.Finish(NoProducer), got.Finish(NoProducer))
}

func TestVarintLen(t *testing.T) {
	var vals []int64
	for shift := 0; shift < 64; shift++ {
		x := int64(1) << shift
		vals = append(vals, x, x-1, x+1, -x, -x-1, -x+1)
	}
	vals = append(vals, 0, -1, 1<<63-1, -1<<63)
	for _, v := range vals {
		enc := binary.AppendVarint(nil, v)
		assert.Equal(t, len(enc), varintLen(v), "%d", v)
		got, n := binary.Varint(enc)
		assert.Equal(t, v, got)
		assert.Equal(t, len(enc), n)
	}
}

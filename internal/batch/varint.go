package batch

// Varints in record batch v2 are zig-zag encoded (protobuf sint32/sint64),
// which is what encoding/binary's AppendVarint and Varint write and read; only
// the size has no standard-library form.

// varintLen is len(binary.AppendVarint(nil, v)). A loop, not bits.Len64: the
// lengths and deltas of records are almost always one byte, where the
// loop is a single predicted compare (measured faster than Len64 + divide).
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

package batch

// Varints in record batch v2 are zig-zag encoded (protobuf sint32/sint64).

func appendVarint(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// varintLen is len(appendVarint(nil, v)). A loop, not bits.Len64: the
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

// readVarint decodes a zig-zag varint; n is 0 when b is too short or the
// varint is longer than 10 bytes.
func readVarint(b []byte) (v int64, n int) {
	var u uint64
	var shift uint
	for i, c := range b {
		if i == 10 {
			return 0, 0
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1), i + 1
		}
		shift += 7
	}
	return 0, 0
}

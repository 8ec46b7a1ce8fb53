package batch

// Varints in record batch v2 are zig-zag encoded (protobuf sint32/sint64),
// the format of encoding/binary's AppendVarint and Varint. Records are
// written with binary.AppendVarint; two helpers stay hand-written because
// BenchmarkVarint measures them faster on the per-record paths (see its
// comment for the figures): the size, which the standard library has no
// function for, and the read, which binary.Varint does through a call to
// Uvarint that the compiler does not inline.

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

// readVarint is binary.Varint, except that n is 0 for every malformed
// input: b too short, or a varint longer than 10 bytes. Unlike Varint it
// does not reject a 10th byte above 1; the extra bits are dropped, as
// Kafka's ByteUtils.readVarlong drops them.
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

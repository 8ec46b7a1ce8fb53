package partitioner

// Murmur2 is Kafka's Utils.murmur2: 32 bit MurmurHash2 with seed
// 0x9747b28c, reading the input as little-endian 4 byte words. The result
// is the Java int, so it may be negative.
func Murmur2(b []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for ; len(b) >= 4; b = b[4:] {
		k := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	// Java's switch on length % 4 falls through the same way.
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// KeyPartition is Java's BuiltInPartitioner.partitionForKey: Utils.toPositive
// (masking the sign bit, not Math.abs) of the key's murmur2, modulo the
// partition count. The same key lands on the same partition as with the
// Java client, librdkafka's murmur2_random and franz-go's default. It
// returns -1 if n is not positive.
func KeyPartition(key []byte, n int32) int32 {
	if n <= 0 {
		return -1
	}
	return (Murmur2(key) & 0x7fffffff) % n
}

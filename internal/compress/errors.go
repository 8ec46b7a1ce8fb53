package compress

import "errors"

var (
	// ErrCorrupt is wrapped by every AppendDecompress error caused by the
	// input bytes: a bad header, a checksum mismatch, a truncated frame,
	// trailing garbage. The batch cannot be read; a consumer should treat
	// it like a CRC failure (Kafka's CORRUPT_MESSAGE).
	ErrCorrupt = errors.New("corrupt compressed data")

	// ErrTooLarge is returned by AppendDecompress when the decompressed
	// output would exceed the caller's maxSize. It guards against
	// decompression bombs; raising the limit is the only remedy.
	ErrTooLarge = errors.New("decompressed data exceeds size limit")

	// ErrUnknownCodec is returned for a Codec outside 0..4 (the three
	// attribute bits allow 5..7, which Kafka has never assigned) and by
	// ParseCodec for an unknown name.
	ErrUnknownCodec = errors.New("unknown compression codec")
)

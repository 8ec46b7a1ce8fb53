// Package compress implements Kafka's record batch compression codecs,
// append-style: AppendCompress(dst, src, codec) and
// AppendDecompress(dst, src, codec, maxSize) write into a buffer the caller
// owns, and every encoder and decoder is pooled or shared, so compressing or
// decompressing a batch allocates nothing beyond growing dst.
//
// The codec is stored in bits 0-2 of a v2 record batch's attributes and
// covers the records section only (everything after the 61 byte header):
//
//	baseOffset int64 | batchLength int32 | ... | attributes int16 | ... | recordCount int32 | records...
//	                                              bits 0-2: Codec            compressed as one blob ^
//
// # Formats (what goes in the records blob)
//
// gzip (1): an RFC 1952 gzip stream at the default level, as Java's
// GZIPOutputStream writes. Concatenated members are read in sequence.
//
//	1f 8b | CM=8 | FLG | MTIME u32 | XFL | OS | deflate data... | CRC32 u32le | ISIZE u32le
//
// snappy (2): we write one raw snappy block, the format franz-go, librdkafka,
// sarama and kafka-go write:
//
//	uvarint decoded length | literal and copy elements...
//
// The Java producer writes snappy-java's SnappyOutputStream ("xerial")
// framing instead, and both are read here:
//
//	82 'S' 'N' 'A' 'P' 'P' 'Y' 00 | version i32be | min compatible version i32be |
//	{ chunk length i32be | raw snappy block of that length }...
//
// Writing raw is safe for Java consumers: snappy-java's SnappyInputStream
// checks for the magic header and, when it is absent, decodes the whole
// input as one raw block (its Snappy.compress(byte[]) fallback), which is
// how Java has always read batches from non-Java producers. Raw is also
// smaller (no 16 byte header, no per-chunk lengths) and one call to encode.
// The two are told apart by the magic: a raw block cannot begin with it,
// since 0x82 0x53 would be its length and the next byte 'N' (tag 2, a copy)
// cannot come before any literal.
//
// lz4 (3): the standard LZ4 frame format (Kafka's KafkaLZ4BlockOutputStream
// for magic v1+; the broken header checksum of magic v0 does not exist in
// record batch v2). Written like Java: 64 KiB independent blocks, no block or
// content checksum (the batch CRC32C covers the bytes).
//
//	04 22 4d 18 | FLG | BD | [content size u64le] | HC | { block size u32le | block }... | 00000000 | [content xxh32]
//
// zstd (4): a zstd frame (RFC 8878) at level 3, Kafka's default, with a
// 64 KiB window and the content size in the header. Frames without a
// content size and with windows up to 512 MiB (what zstd-jni's streaming
// writer produces) are read.
//
//	28 b5 2f fd | frame header descriptor | [window] [dict id] [content size] | blocks... | [xxh64 checksum]
//
// # Limits and errors
//
// AppendDecompress takes a maxSize: a batch whose decompressed size would
// exceed it fails with ErrTooLarge, detected from size headers where the
// format has them (snappy, zstd, xerial chunks) and otherwise after reading
// at most maxSize+1 bytes (gzip, lz4), so a decompression bomb costs at most
// about maxSize of memory. Anything else wrong with the input wraps
// ErrCorrupt; decoding never panics (see the fuzz tests).
//
// # Caveats
//
// The klauspost zstd decoder prints a line to stderr when a frame
// exceeds the size limit; the error returned is still ErrTooLarge.
package compress

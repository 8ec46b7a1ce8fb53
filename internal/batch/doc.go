// Package batch is skiff's record batch v2 codec (magic 2, Kafka 0.11+), shared
// by the producer (which encodes records straight into a batch buffer), the
// consumer (which decodes fetched batches) and the bundled broker (which
// validates produced batches and stores them as they came).
//
// A record batch on the wire and on disk:
//
//	offset  width  field
//	     0      8  baseOffset            int64, first offset of the batch (assigned by the broker)
//	     8      4  batchLength           int32, bytes after this field (total size - 12)
//	    12      4  partitionLeaderEpoch  int32
//	    16      1  magic                 int8, always 2
//	    17      4  crc                   uint32, CRC-32C (Castagnoli) of bytes 21..end
//	    21      2  attributes            int16, see below
//	    23      4  lastOffsetDelta       int32, offset delta of the last record
//	    27      8  baseTimestamp         int64, timestamp of the first record
//	    35      8  maxTimestamp          int64, largest timestamp in the batch
//	    43      8  producerId            int64, -1 when not idempotent
//	    51      2  producerEpoch         int16, -1 when not idempotent
//	    53      4  baseSequence          int32, -1 when not idempotent
//	    57      4  recordCount           int32
//	    61      *  records               recordCount records, compressed as one block
//	                                     when attributes say so
//
//	attributes:  bit 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd)
//	             bit 3   timestamp type (0 CreateTime, 1 LogAppendTime)
//	             bit 4   transactional
//	             bit 5   control batch
//	             bit 6   has delete horizon (compaction; unused here)
//
// Each record, with varints in zig-zag encoding (as protobuf's sint):
//
//	length          varint  bytes of the record after this field
//	attributes      int8    unused, 0
//	timestampDelta  varlong timestamp - baseTimestamp
//	offsetDelta     varint  offset - baseOffset
//	keyLength       varint  -1 for a null key
//	key             bytes
//	valueLength     varint  -1 for a null value (tombstone)
//	value           bytes
//	headerCount     varint
//	headers         headerCount × (keyLength varint, key, valueLength varint, value)
//
// The CRC covers attributes onward, so the broker can assign baseOffset and
// partitionLeaderEpoch without recomputing it.
package batch

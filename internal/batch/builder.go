package batch

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/skiffkit/skiff/internal/compress"
)

// RecordHeader is one record header. Types with the same underlying struct
// (the public producer and consumer Header types) convert to it for free.
type RecordHeader = struct {
	Key   string
	Value []byte
}

// Builder encodes records straight into one batch buffer, header space
// first, so closing a batch costs one header write and one CRC. The zero
// value is ready after Reset. A Builder is not safe for concurrent use; the
// accumulator guards each partition's open batch with its partition lock.
type Builder struct {
	buf         []byte
	numRecords  int32
	baseTS      int64
	maxTS       int64
	recordBytes int
}

// Reset starts a new, empty batch in buf's storage (its contents are
// overwritten; its capacity is reused) whose base timestamp is baseTS.
func (b *Builder) Reset(buf []byte, baseTS int64) {
	if cap(buf) < HeaderSize {
		buf = make([]byte, HeaderSize, 4096)
	}
	b.buf = buf[:HeaderSize]
	clear(b.buf)
	b.numRecords = 0
	b.baseTS = baseTS
	b.maxTS = baseTS
	b.recordBytes = 0
}

// Len is the encoded size so far: header plus records, uncompressed.
func (b *Builder) Len() int { return len(b.buf) }

// NumRecords is how many records were appended since Reset.
func (b *Builder) NumRecords() int { return int(b.numRecords) }

// Buffer returns the builder's storage so a caller can return it to a pool.
func (b *Builder) Buffer() []byte { return b.buf }

// BaseTimestamp is the timestamp that record deltas are relative to.
func (b *Builder) BaseTimestamp() int64 { return b.baseTS }

// RecordSize is the encoded size of a record, length prefix included, if it
// were appended next with timestamp ts.
func RecordSize[H ~RecordHeader](b *Builder, ts int64, key, value []byte, headers []H) int {
	body := bodySize(ts-b.baseTS, b.numRecords, key, value, headers)
	return varintLen(int64(body)) + body
}

// EstimateRecordSize is an upper bound of a record's encoded size whatever
// batch it lands in: the accumulator uses it to reserve memory and to decide
// whether a record needs a batch of its own.
func EstimateRecordSize[H ~RecordHeader](key, value []byte, headers []H) int {
	// Worst-case varints for the timestamp delta (10) and offset delta (5).
	body := 1 + 10 + 5 + bytesSize(key) + bytesSize(value) + varintLen(int64(len(headers)))
	for _, h := range headers {
		hh := RecordHeader(h)
		body += varintLen(int64(len(hh.Key))) + len(hh.Key) + bytesSize(hh.Value)
	}
	return varintLen(int64(body)) + body
}

func bytesSize(p []byte) int {
	if p == nil {
		return 1 // varint -1
	}
	return varintLen(int64(len(p))) + len(p)
}

func bodySize[H ~RecordHeader](tsDelta int64, offsetDelta int32, key, value []byte, headers []H) int {
	n := 1 + varintLen(tsDelta) + varintLen(int64(offsetDelta)) + bytesSize(key) + bytesSize(value) + varintLen(int64(len(headers)))
	for _, h := range headers {
		hh := RecordHeader(h)
		n += varintLen(int64(len(hh.Key))) + len(hh.Key) + bytesSize(hh.Value)
	}
	return n
}

func appendBytes(dst, p []byte) []byte {
	if p == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(p)))
	return append(dst, p...)
}

// Append encodes one record at the end of the batch and returns its offset
// delta. A timestamp below the base timestamp is legal (negative delta).
func Append[H ~RecordHeader](b *Builder, ts int64, key, value []byte, headers []H) int32 {
	tsDelta := ts - b.baseTS
	body := bodySize(tsDelta, b.numRecords, key, value, headers)
	return appendRecord(b, ts, tsDelta, body, key, value, headers)
}

// AppendIfFits appends a record as Append does when the batch, header
// included, stays within limit bytes; otherwise it writes nothing and ok is
// false. It sizes the record once, where RecordSize then Append would
// twice: this is the accumulator's per-record path.
func AppendIfFits[H ~RecordHeader](b *Builder, limit int, ts int64, key, value []byte, headers []H) (delta int32, ok bool) {
	tsDelta := ts - b.baseTS
	body := bodySize(tsDelta, b.numRecords, key, value, headers)
	if len(b.buf)+varintLen(int64(body))+body > limit {
		return 0, false
	}
	return appendRecord(b, ts, tsDelta, body, key, value, headers), true
}

// appendRecord writes a record whose body (everything after the length
// prefix) is body bytes long.
func appendRecord[H ~RecordHeader](b *Builder, ts, tsDelta int64, body int, key, value []byte, headers []H) int32 {
	delta := b.numRecords
	start := len(b.buf)
	buf := binary.AppendVarint(b.buf, int64(body))
	buf = append(buf, 0) // record attributes, unused
	buf = binary.AppendVarint(buf, tsDelta)
	buf = binary.AppendVarint(buf, int64(delta))
	buf = appendBytes(buf, key)
	buf = appendBytes(buf, value)
	buf = binary.AppendVarint(buf, int64(len(headers)))
	for _, h := range headers {
		hh := RecordHeader(h)
		buf = binary.AppendVarint(buf, int64(len(hh.Key)))
		buf = append(buf, hh.Key...)
		buf = appendBytes(buf, hh.Value)
	}
	b.buf = buf
	b.recordBytes += len(buf) - start
	b.numRecords++
	if ts > b.maxTS {
		b.maxTS = ts
	}
	return delta
}

// Params are the header fields decided when a batch is closed.
type Params struct {
	Codec                compress.Codec
	ProducerID           int64 // -1 when not idempotent
	ProducerEpoch        int16 // -1 when not idempotent
	BaseSequence         int32 // -1 when not idempotent
	Transactional        bool
	PartitionLeaderEpoch int32 // -1 from producers
}

// NoProducer is the Params of a non-idempotent, uncompressed batch.
var NoProducer = Params{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, PartitionLeaderEpoch: -1}

// Finish writes the header of an uncompressed batch in place and returns the
// complete batch, which aliases the builder's buffer. p.Codec is ignored.
func (b *Builder) Finish(p Params) []byte {
	b.writeHeader(b.buf, int16(compress.None), p)
	return b.buf
}

// AppendCompressed appends the batch to dst with its records compressed by
// p.Codec (a plain copy for compress.None). The builder's buffer is left
// untouched, so a failed compression loses nothing.
func (b *Builder) AppendCompressed(dst []byte, p Params) ([]byte, error) {
	if p.Codec == compress.None {
		b.Finish(p)
		return append(dst, b.buf...), nil
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize)...)
	dst, err := compress.AppendCompress(dst, b.buf[HeaderSize:], p.Codec)
	if err != nil {
		return dst[:start], err
	}
	b.writeHeader(dst[start:], int16(p.Codec), p)
	return dst, nil
}

func (b *Builder) writeHeader(out []byte, codec int16, p Params) {
	attrs := codec & AttrCompressionMask
	if p.Transactional {
		attrs |= AttrTransactional
	}
	lastDelta := b.numRecords - 1
	if lastDelta < 0 {
		lastDelta = 0
	}
	binary.BigEndian.PutUint64(out[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(out[offLength:], uint32(len(out)-LogOverhead))
	binary.BigEndian.PutUint32(out[offLeaderEpoch:], uint32(p.PartitionLeaderEpoch))
	out[offMagic] = Magic
	binary.BigEndian.PutUint16(out[offAttributes:], uint16(attrs))
	binary.BigEndian.PutUint32(out[offLastOffsetDelta:], uint32(lastDelta))
	binary.BigEndian.PutUint64(out[offBaseTimestamp:], uint64(b.baseTS))
	binary.BigEndian.PutUint64(out[offMaxTimestamp:], uint64(b.maxTS))
	binary.BigEndian.PutUint64(out[offProducerID:], uint64(p.ProducerID))
	binary.BigEndian.PutUint16(out[offProducerEpoch:], uint16(p.ProducerEpoch))
	binary.BigEndian.PutUint32(out[offBaseSequence:], uint32(p.BaseSequence))
	binary.BigEndian.PutUint32(out[offRecordCount:], uint32(b.numRecords))
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
}

package batch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/skiffkit/skiff/internal/compress"
)

// Byte offsets of the batch header fields; see the diagram in doc.go.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// HeaderSize is the size of the fixed batch header; records follow it.
	HeaderSize = 61
	// LogOverhead is the part of the header not counted in batchLength.
	LogOverhead = 12
	// Magic is the only record format version skiff reads and writes.
	Magic = 2
)

// Attribute bits.
const (
	AttrCompressionMask = 0x07
	AttrLogAppendTime   = 0x08
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

// Errors returned by the decoders. The broker maps ErrCorrupt and ErrCRC to
// CORRUPT_MESSAGE and the consumer surfaces them wrapped with the partition.
var (
	// ErrShort means the bytes end before the batch does: a torn write on
	// disk, or a fetch response cut at its size limit. Not corruption.
	ErrShort = errors.New("batch: truncated record batch")
	// ErrCorrupt means the bytes cannot be a valid batch.
	ErrCorrupt = errors.New("batch: corrupt record batch")
	// ErrCRC means the CRC-32C does not match the contents.
	ErrCRC = errors.New("batch: CRC mismatch")
	// ErrMagic means the batch is not record batch v2.
	ErrMagic = errors.New("batch: unsupported magic (only record batch v2 is supported)")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded fixed header of a record batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // bytes after the Length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the batch's total size in bytes.
func (h *Header) Size() int { return LogOverhead + int(h.Length) }

// Codec is the compression codec of the records section.
func (h *Header) Codec() compress.Codec { return compress.Codec(h.Attributes & AttrCompressionMask) }

// LastOffset is the offset of the batch's last record.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// IsTransactional reports whether the batch is part of a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports whether the batch holds control records (transaction markers).
func (h *Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// LogAppendTime reports whether timestamps are broker append times.
func (h *Header) LogAppendTime() bool { return h.Attributes&AttrLogAppendTime != 0 }

// Idempotent reports whether the batch carries a producer id.
func (h *Header) Idempotent() bool { return h.ProducerID >= 0 }

// ParseHeader decodes the fixed header at the start of b. It checks that the
// header is present and plausible; it does not check the CRC (see Validate).
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		if len(b) >= offMagic+1 && b[offMagic] != Magic {
			return h, fmt.Errorf("%w: magic %d", ErrMagic, int8(b[offMagic]))
		}
		return h, ErrShort
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offBaseOffset:]))
	h.Length = int32(binary.BigEndian.Uint32(b[offLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	h.CRC = binary.BigEndian.Uint32(b[offCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[offBaseTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offBaseSequence:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[offRecordCount:]))
	if h.Magic != Magic {
		return h, fmt.Errorf("%w: magic %d", ErrMagic, h.Magic)
	}
	if h.Length < HeaderSize-LogOverhead {
		return h, fmt.Errorf("%w: batch length %d below the header size", ErrCorrupt, h.Length)
	}
	if h.NumRecords < 0 || h.LastOffsetDelta < 0 {
		return h, fmt.Errorf("%w: record count %d, last offset delta %d", ErrCorrupt, h.NumRecords, h.LastOffsetDelta)
	}
	return h, nil
}

// Validate parses the header of the batch at the start of b, checks that the
// whole batch is present and that its CRC matches. It returns the header;
// the batch is b[:h.Size()].
func Validate(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() > len(b) {
		return h, ErrShort
	}
	if got := crc32.Checksum(b[offAttributes:h.Size()], castagnoli); got != h.CRC {
		return h, fmt.Errorf("%w: stored %08x, computed %08x", ErrCRC, h.CRC, got)
	}
	return h, nil
}

// Next splits the first batch off a concatenation of batches (a Produce
// record set, a Fetch response partition, a log segment). It checks only the
// header and length; call Validate for the CRC. A partial trailing batch
// returns ErrShort, which readers of fetch responses treat as the end.
func Next(b []byte) (batch, rest []byte, h Header, err error) {
	h, err = ParseHeader(b)
	if err != nil {
		return nil, b, h, err
	}
	n := h.Size()
	if n > len(b) {
		return nil, b, h, ErrShort
	}
	return b[:n], b[n:], h, nil
}

// SetBaseOffset rewrites the base offset of a batch. The CRC does not cover
// it, so the broker can assign offsets without recomputing the CRC.
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// SetPartitionLeaderEpoch rewrites the leader epoch, also outside the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// SetProducer rewrites the producer id, epoch and base sequence and
// recomputes the CRC. The producer assigns sequences when it drains a batch
// and rewrites them after an epoch bump, as the Java client does.
func SetProducer(b []byte, id int64, epoch int16, baseSequence int32) {
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(id))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(epoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(baseSequence))
	updateCRC(b)
}

// SetLogAppendTime switches a batch to LogAppendTime with the given broker
// time as its max timestamp (message.timestamp.type=LogAppendTime) and
// recomputes the CRC.
func SetLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | AttrLogAppendTime
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	updateCRC(b)
}

func updateCRC(b []byte) {
	n := LogOverhead + int(int32(binary.BigEndian.Uint32(b[offLength:])))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:n], castagnoli))
}

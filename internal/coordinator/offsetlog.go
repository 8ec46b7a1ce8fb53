package coordinator

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// The committed-offsets log plays the role of Kafka's __consumer_offsets
// partition on a single node: an append-only file of frames, replayed on
// start, compacted by rewriting only live entries. The payloads use skiff's
// own schema, not Kafka's OffsetCommitKey/OffsetCommitValue: the file never
// leaves the broker, and the own schema adds group-wide tombstones so that
// DeleteGroups is one entry rather than one per partition.
//
// File layout (all integers big-endian):
//
//	+-------------------+----------+----------+
//	| magic "SKOFFLOG"  | frame 0  | frame 1  | ...
//	| 8 bytes           |          |          |
//	+-------------------+----------+----------+
//
// Frame: one atomic write (one OffsetCommit request, one DeleteGroups group,
// one expiry pass). A frame whose CRC fails or that is cut short ends the
// valid log; the file is truncated there on load.
//
//	 0               4               8
//	+---------------+---------------+------------------------------+
//	| body length   | CRC-32C       | body: entries back to back   |
//	| uint32        | of body       | (body length bytes)          |
//	+---------------+---------------+------------------------------+
//
// Entry, by its first byte:
//
//	commit (1):
//	+------+-----------+-------+-----------+-------+-----------+
//	| 0x01 | group len | group | topic len | topic | partition |
//	| u8   | uint16    | bytes | uint16    | bytes | int32     |
//	+------+-----------+-------+-----------+-------+-----------+
//	+--------+--------------+-----------+-----------+--------------+----------+
//	| offset | leader epoch | commit ts | expire ts | metadata len | metadata |
//	| int64  | int32        | int64 ms  | int64 ms  | int32, -1 =  | bytes    |
//	|        | (-1 = none)  |           | (-1=none) | null         |          |
//	+--------+--------------+-----------+-----------+--------------+----------+
//
//	partition tombstone (2): 0x02 | group len | group | topic len | topic | partition
//	group tombstone (3):     0x03 | group len | group  (offsets and group metadata)
//	group metadata (4):      0x04 | group len | group | version | ... (grouplog.go)
//	metadata tombstone (5):  0x05 | group len | group  (group metadata only)
const (
	logMagic        = "SKOFFLOG"
	frameHeaderSize = 8
)

type entryKind uint8

const (
	entryCommit          entryKind = 1
	entryPartitionDelete entryKind = 2
	entryGroupDelete     entryKind = 3
	entryGroupMetadata   entryKind = 4
	// entryGroupMetadataDelete forgets a group's metadata but not its
	// offsets: an Empty group without offsets that the expiry pass drops.
	entryGroupMetadataDelete entryKind = 5
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// offsetKey identifies one committed offset, as __consumer_offsets keys do.
type offsetKey struct {
	group     string
	topic     string
	partition int32
}

// offsetValue is what OffsetFetch returns for a key, plus expiry data.
type offsetValue struct {
	offset      int64
	leaderEpoch int32
	commitTime  int64 // unix ms
	expireTime  int64 // unix ms; -1 means commitTime + offsets.retention
	metadata    *string
}

// logEntry is one decoded entry of a frame.
type logEntry struct {
	kind  entryKind
	key   offsetKey // group only for entryGroupDelete and entryGroupMetadata
	value offsetValue
	meta  *groupRecord // entryGroupMetadata only
}

// entrySize is the encoded size of e, used to account live bytes for
// compaction without encoding.
func entrySize(e *logEntry) int {
	n := 1 + 2 + len(e.key.group)
	switch e.kind {
	case entryCommit:
		n += 2 + len(e.key.topic) + 4 + 8 + 4 + 8 + 8 + 4
		if e.value.metadata != nil {
			n += len(*e.value.metadata)
		}
	case entryPartitionDelete:
		n += 2 + len(e.key.topic) + 4
	case entryGroupMetadata:
		n += groupRecordSize(e.meta)
	}
	return n
}

// appendEntry encodes e. Callers keep group and topic under 64 KiB (Kafka
// limits both to int16 lengths) and validate before encoding.
func appendEntry(dst []byte, e *logEntry) []byte {
	dst = append(dst, byte(e.kind))
	dst = appendShortString(dst, e.key.group)
	switch e.kind {
	case entryGroupDelete, entryGroupMetadataDelete:
		return dst
	case entryGroupMetadata:
		return appendGroupRecord(dst, e.meta)
	}
	dst = appendShortString(dst, e.key.topic)
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.key.partition))
	if e.kind == entryPartitionDelete {
		return dst
	}
	v := &e.value
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.offset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(v.leaderEpoch))
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.commitTime))
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.expireTime))
	if v.metadata == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(*v.metadata)))
	return append(dst, *v.metadata...)
}

func appendShortString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendFrame encodes entries as one frame.
func appendFrame(dst []byte, entries []logEntry) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	for i := range entries {
		dst = appendEntry(dst, &entries[i])
	}
	body := dst[start+frameHeaderSize:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(body)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(body, castagnoli))
	return dst
}

// readFrame splits the first frame off src and checks its CRC. It returns
// errTorn when src ends inside the frame (a corrupt length usually looks
// like that too) and errCorrupt for a bad checksum. It only slices src, so
// no length field can make it allocate.
func readFrame(src []byte) (body []byte, n int, err error) {
	if len(src) < frameHeaderSize {
		return nil, 0, errTorn
	}
	size := uint64(binary.BigEndian.Uint32(src))
	if uint64(len(src)) < frameHeaderSize+size {
		return nil, 0, errTorn
	}
	n = frameHeaderSize + int(size)
	body = src[frameHeaderSize:n]
	if want, got := binary.BigEndian.Uint32(src[4:]), crc32.Checksum(body, castagnoli); want != got {
		return nil, 0, fmt.Errorf("%w: crc %08x, want %08x", errCorrupt, got, want)
	}
	return body, n, nil
}

// decodeEntries appends the entries of a frame body to dst. A body that does
// not parse exactly is errCorrupt: the CRC matched, so the writer wrote it,
// but this reader cannot trust any of it.
func decodeEntries(dst []logEntry, body []byte) ([]logEntry, error) {
	r := reader{b: body}
	for len(r.b) > 0 {
		var e logEntry
		e.kind = entryKind(r.u8())
		e.key.group = r.shortString()
		switch e.kind {
		case entryGroupDelete, entryGroupMetadataDelete:
		case entryGroupMetadata:
			meta, err := readGroupRecord(&r)
			if err != nil {
				return dst, err
			}
			e.meta = meta
		case entryPartitionDelete, entryCommit:
			e.key.topic = r.shortString()
			e.key.partition = int32(r.u32())
			if e.kind == entryCommit {
				e.value.offset = int64(r.u64())
				e.value.leaderEpoch = int32(r.u32())
				e.value.commitTime = int64(r.u64())
				e.value.expireTime = int64(r.u64())
				if n := int32(r.u32()); n >= 0 {
					s := string(r.bytes(int(n)))
					e.value.metadata = &s
				} else if n != -1 {
					r.fail()
				}
			}
		default:
			return dst, fmt.Errorf("%w: unknown entry kind %d", errCorrupt, e.kind)
		}
		if r.bad {
			return dst, fmt.Errorf("%w: entry cut short", errCorrupt)
		}
		dst = append(dst, e)
	}
	return dst, nil
}

// replayLog decodes a whole log file (magic included) and calls apply for the
// entries of each valid frame, in order. It returns the length of the valid
// prefix and, if the log does not end cleanly there, why. Frames are
// decoded completely before apply sees them so that a frame is applied
// whole or not at all.
func replayLog(data []byte, apply func(*logEntry)) (valid int, err error) {
	if len(data) < len(logMagic) {
		if bytes.HasPrefix([]byte(logMagic), data) {
			return 0, errTorn
		}
		return 0, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	if string(data[:len(logMagic)]) != logMagic {
		return 0, fmt.Errorf("%w: bad magic", errCorrupt)
	}
	valid = len(logMagic)
	var entries []logEntry
	for valid < len(data) {
		body, n, err := readFrame(data[valid:])
		if err != nil {
			return valid, err
		}
		entries, err = decodeEntries(entries[:0], body)
		if err != nil {
			return valid, err
		}
		for i := range entries {
			apply(&entries[i])
		}
		valid += n
	}
	return valid, nil
}

// reader is a bounds-checked cursor; after the first short read every read
// returns zero values and bad stays set.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) fail() { r.bad = true; r.b = nil }

func (r *reader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail()
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) shortString() string { return string(r.bytes(int(r.u16()))) }

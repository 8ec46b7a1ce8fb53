package coordinator

import (
	"encoding/binary"
	"fmt"
	"github.com/skiffkit/skiff/internal/framelog"
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
	logMagic = "SKOFFLOG"
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
	dst = framelog.AppendShortString(dst, e.key.group)
	switch e.kind {
	case entryGroupDelete, entryGroupMetadataDelete:
		return dst
	case entryGroupMetadata:
		return appendGroupRecord(dst, e.meta)
	}
	dst = framelog.AppendShortString(dst, e.key.topic)
	dst = binary.BigEndian.AppendUint32(dst, uint32(e.key.partition))
	if e.kind == entryPartitionDelete {
		return dst
	}
	v := &e.value
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.offset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(v.leaderEpoch))
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.commitTime))
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.expireTime))
	return framelog.AppendNullableString(dst, v.metadata)
}

// appendFrame encodes entries as one frame.
func appendFrame(dst []byte, entries []logEntry) []byte {
	dst, start := framelog.StartFrame(dst)
	for i := range entries {
		dst = appendEntry(dst, &entries[i])
	}
	return framelog.FinishFrame(dst, start)
}

// decodeEntries appends the entries of a frame body to dst. A body that does
// not parse exactly is errCorrupt: the CRC matched, so the writer wrote it,
// but this reader cannot trust any of it.
func decodeEntries(dst []logEntry, body []byte) ([]logEntry, error) {
	r := reader{B: body}
	for len(r.B) > 0 {
		var e logEntry
		e.kind = entryKind(r.U8())
		e.key.group = r.ShortString()
		switch e.kind {
		case entryGroupDelete, entryGroupMetadataDelete:
		case entryGroupMetadata:
			meta, err := readGroupRecord(&r)
			if err != nil {
				return dst, err
			}
			e.meta = meta
		case entryPartitionDelete, entryCommit:
			e.key.topic = r.ShortString()
			e.key.partition = int32(r.U32())
			if e.kind == entryCommit {
				e.value.offset = int64(r.U64())
				e.value.leaderEpoch = int32(r.U32())
				e.value.commitTime = int64(r.U64())
				e.value.expireTime = int64(r.U64())
				e.value.metadata = r.NullableString()
			}
		default:
			return dst, fmt.Errorf("%w: unknown entry kind %d", errCorrupt, e.kind)
		}
		if r.Bad {
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
	return framelog.ReplayEntries(&logFormat, data, decodeEntries, apply)
}

// reader is framelog.Reader: a bounds-checked cursor over a frame body.
type reader = framelog.Reader

// logFormat frames this log (internal/framelog) with its own magic and errors.
var logFormat = framelog.Format{Magic: logMagic, Torn: errTorn, Corrupt: errCorrupt}

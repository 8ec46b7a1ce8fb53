package txncoord

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// The transaction log plays the role of Kafka's __transaction_state
// partition on a single node: an append-only file of CRC-framed entries,
// written and fsynced before a transactional request is answered, replayed
// on start, and compacted by rewriting only the live entries. The framing is
// the offsets log's (internal/coordinator/offsetlog.go), with its own magic
// so neither file can be mistaken for the other. The payloads use skiff's
// own schema rather than Kafka's TransactionLogKey/Value: the file never
// leaves the broker, and the own schema stores staged TxnOffsetCommit
// offsets next to the transaction they belong to.
//
// File layout (all integers big-endian):
//
//	+-------------------+----------+----------+
//	| magic "SKTXNLOG"  | frame 0  | frame 1  | ...
//	| 8 bytes           |          |          |
//	+-------------------+----------+----------+
//
// Frame: one atomic write (one state change, one TxnOffsetCommit, one
// tombstone, or a chunk of a compacted log). A frame whose CRC fails or
// that is cut short ends the valid log; the file is truncated there on load.
//
//	 0               4               8
//	+---------------+---------------+------------------------------+
//	| body length   | CRC-32C       | body: entries back to back   |
//	| uint32        | of body       | (body length bytes)          |
//	+---------------+---------------+------------------------------+
//
// Entry, by its first byte; every entry then names its transactional id:
//
//	+------+--------------+-----------------+
//	| kind | txn id len   | transactional id|
//	| u8   | uint16       | bytes           |
//	+------+--------------+-----------------+
//
//	state (1): the whole metadata after a transition, as Kafka's
//	TransactionLogValue is.
//	+-------------+-------------+-------+------------+-----------+-------+
//	| producer id | last prod.  | epoch | last epoch | timeout   | state |
//	| int64       | id int64    | int16 | int16      | int32 ms  | u8    |
//	+-------------+-------------+-------+------------+-----------+-------+
//	+-------------+-------------+--------------+-------------------------+
//	| start ts    | last update | partitions   | partitions: topic len   |
//	| int64 ms    | int64 ms    | count int32  | u16, topic, part. int32 |
//	| (-1 = none) |             |              |                         |
//	+-------------+-------------+--------------+-------------------------+
//	+--------------+-----------------------------+
//	| groups       | groups: len uint16, group   |
//	| count int32  | (AddOffsetsToTxn)           |
//	+--------------+-----------------------------+
//
//	offsets (2): one TxnOffsetCommit's staged offsets.
//	+-------------+-------+-----------+-------+--------------+
//	| producer id | epoch | group len | group | count int32  |
//	| int64       | int16 | uint16    | bytes |              |
//	+-------------+-------+-----------+-------+--------------+
//	then count times:
//	+-----------+-------+-----------+--------+--------------+--------------+----------+
//	| topic len | topic | partition | offset | leader epoch | metadata len | metadata |
//	| uint16    | bytes | int32     | int64  | int32        | int32, -1 =  | bytes    |
//	|           |       |           |        | (-1 = none)  | null         |          |
//	+-----------+-------+-----------+--------+--------------+--------------+----------+
//
//	tombstone (3): nothing more; the transactional id expired.
const (
	logMagic        = "SKTXNLOG"
	frameHeaderSize = 8
)

type entryKind uint8

const (
	entryState     entryKind = 1
	entryOffsets   entryKind = 2
	entryTombstone entryKind = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// TxnOffset is one offset staged by TxnOffsetCommit.
type TxnOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 when the client sent none
	Metadata    *string
}

// txnRecord is the durable metadata of one transactional id: what a state
// entry holds.
type txnRecord struct {
	producerID     int64
	lastProducerID int64
	epoch          int16
	lastEpoch      int16
	timeoutMs      int32
	state          State
	startMs        int64
	lastUpdateMs   int64
	partitions     []TopicPartition
	groups         []string
}

// logEntry is one decoded entry.
type logEntry struct {
	kind  entryKind
	txnID string
	rec   txnRecord // entryState

	// entryOffsets
	producerID int64
	epoch      int16
	group      string
	offsets    []TxnOffset
}

func appendShortString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// appendEntry encodes e. Callers keep strings under 64 KiB (Kafka limits
// transactional ids, topics and groups to int16 lengths) and check that
// before encoding (validString).
func appendEntry(dst []byte, e *logEntry) []byte {
	dst = append(dst, byte(e.kind))
	dst = appendShortString(dst, e.txnID)
	switch e.kind {
	case entryState:
		r := &e.rec
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.producerID))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.lastProducerID))
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.epoch))
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.lastEpoch))
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.timeoutMs))
		dst = append(dst, byte(r.state))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.startMs))
		dst = binary.BigEndian.AppendUint64(dst, uint64(r.lastUpdateMs))
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.partitions)))
		for _, tp := range r.partitions {
			dst = appendShortString(dst, tp.Topic)
			dst = binary.BigEndian.AppendUint32(dst, uint32(tp.Partition))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.groups)))
		for _, g := range r.groups {
			dst = appendShortString(dst, g)
		}
	case entryOffsets:
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.producerID))
		dst = binary.BigEndian.AppendUint16(dst, uint16(e.epoch))
		dst = appendShortString(dst, e.group)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.offsets)))
		for i := range e.offsets {
			o := &e.offsets[i]
			dst = appendShortString(dst, o.Topic)
			dst = binary.BigEndian.AppendUint32(dst, uint32(o.Partition))
			dst = binary.BigEndian.AppendUint64(dst, uint64(o.Offset))
			dst = binary.BigEndian.AppendUint32(dst, uint32(o.LeaderEpoch))
			if o.Metadata == nil {
				dst = binary.BigEndian.AppendUint32(dst, math.MaxUint32)
			} else {
				dst = binary.BigEndian.AppendUint32(dst, uint32(len(*o.Metadata)))
				dst = append(dst, *o.Metadata...)
			}
		}
	}
	return dst
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

// Smallest encodings, used to refuse a count that the rest of the body
// cannot hold before allocating for it.
const (
	minPartitionSize = 2 + 4
	minGroupSize     = 2
	minOffsetSize    = 2 + 4 + 8 + 4 + 4
)

// decodeEntries appends the entries of a frame body to dst. A body that does
// not parse exactly is errCorrupt: the CRC matched, so the writer wrote it,
// but this reader cannot trust any of it.
func decodeEntries(dst []logEntry, body []byte) ([]logEntry, error) {
	r := reader{b: body}
	for len(r.b) > 0 {
		var e logEntry
		e.kind = entryKind(r.u8())
		e.txnID = r.shortString()
		switch e.kind {
		case entryState:
			rec := &e.rec
			rec.producerID = int64(r.u64())
			rec.lastProducerID = int64(r.u64())
			rec.epoch = int16(r.u16())
			rec.lastEpoch = int16(r.u16())
			rec.timeoutMs = int32(r.u32())
			rec.state = State(r.u8())
			rec.startMs = int64(r.u64())
			rec.lastUpdateMs = int64(r.u64())
			if n := r.count(minPartitionSize); n > 0 {
				rec.partitions = make([]TopicPartition, n)
				for i := range rec.partitions {
					rec.partitions[i] = TopicPartition{r.shortString(), int32(r.u32())}
				}
			}
			if n := r.count(minGroupSize); n > 0 {
				rec.groups = make([]string, n)
				for i := range rec.groups {
					rec.groups[i] = r.shortString()
				}
			}
			if !r.bad && !rec.state.loggable() {
				return dst, fmt.Errorf("%w: state %d in the log", errCorrupt, rec.state)
			}
		case entryOffsets:
			e.producerID = int64(r.u64())
			e.epoch = int16(r.u16())
			e.group = r.shortString()
			if n := r.count(minOffsetSize); n > 0 {
				e.offsets = make([]TxnOffset, n)
				for i := range e.offsets {
					o := &e.offsets[i]
					o.Topic = r.shortString()
					o.Partition = int32(r.u32())
					o.Offset = int64(r.u64())
					o.LeaderEpoch = int32(r.u32())
					if n := int32(r.u32()); n >= 0 {
						s := string(r.bytes(int(n)))
						o.Metadata = &s
					} else if n != -1 {
						r.fail()
					}
				}
			}
		case entryTombstone:
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
// prefix and, if the log does not end cleanly there, why. A frame is decoded
// completely before apply sees it, so it is applied whole or not at all.
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

// count reads an int32 element count and fails the read unless the rest of
// the body could hold that many elements of at least minSize bytes, so a
// corrupt count can never make the decoder allocate beyond the input.
func (r *reader) count(minSize int) int {
	n := int64(int32(r.u32()))
	if n < 0 || n*int64(minSize) > int64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

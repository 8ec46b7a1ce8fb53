package txncoord

import (
	"encoding/binary"
	"fmt"
	"github.com/skiffkit/skiff/internal/framelog"
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
	logMagic = "SKTXNLOG"
)

type entryKind uint8

const (
	entryState     entryKind = 1
	entryOffsets   entryKind = 2
	entryTombstone entryKind = 3
)

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

// appendEntry encodes e. Callers keep strings under 64 KiB (Kafka limits
// transactional ids, topics and groups to int16 lengths) and check that
// before encoding (validString).
func appendEntry(dst []byte, e *logEntry) []byte {
	dst = append(dst, byte(e.kind))
	dst = framelog.AppendShortString(dst, e.txnID)
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
			dst = framelog.AppendShortString(dst, tp.Topic)
			dst = binary.BigEndian.AppendUint32(dst, uint32(tp.Partition))
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.groups)))
		for _, g := range r.groups {
			dst = framelog.AppendShortString(dst, g)
		}
	case entryOffsets:
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.producerID))
		dst = binary.BigEndian.AppendUint16(dst, uint16(e.epoch))
		dst = framelog.AppendShortString(dst, e.group)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.offsets)))
		for i := range e.offsets {
			o := &e.offsets[i]
			dst = framelog.AppendShortString(dst, o.Topic)
			dst = binary.BigEndian.AppendUint32(dst, uint32(o.Partition))
			dst = binary.BigEndian.AppendUint64(dst, uint64(o.Offset))
			dst = binary.BigEndian.AppendUint32(dst, uint32(o.LeaderEpoch))
			dst = framelog.AppendNullableString(dst, o.Metadata)
		}
	}
	return dst
}

// appendFrame encodes entries as one frame.
func appendFrame(dst []byte, entries []logEntry) []byte {
	dst, start := framelog.StartFrame(dst)
	for i := range entries {
		dst = appendEntry(dst, &entries[i])
	}
	return framelog.FinishFrame(dst, start)
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
	r := reader{B: body}
	for len(r.B) > 0 {
		var e logEntry
		e.kind = entryKind(r.U8())
		e.txnID = r.ShortString()
		switch e.kind {
		case entryState:
			rec := &e.rec
			rec.producerID = int64(r.U64())
			rec.lastProducerID = int64(r.U64())
			rec.epoch = int16(r.U16())
			rec.lastEpoch = int16(r.U16())
			rec.timeoutMs = int32(r.U32())
			rec.state = State(r.U8())
			rec.startMs = int64(r.U64())
			rec.lastUpdateMs = int64(r.U64())
			if n := r.Count(minPartitionSize); n > 0 {
				rec.partitions = make([]TopicPartition, n)
				for i := range rec.partitions {
					rec.partitions[i] = TopicPartition{r.ShortString(), int32(r.U32())}
				}
			}
			if n := r.Count(minGroupSize); n > 0 {
				rec.groups = make([]string, n)
				for i := range rec.groups {
					rec.groups[i] = r.ShortString()
				}
			}
			if !r.Bad && !rec.state.loggable() {
				return dst, fmt.Errorf("%w: state %d in the log", errCorrupt, rec.state)
			}
		case entryOffsets:
			e.producerID = int64(r.U64())
			e.epoch = int16(r.U16())
			e.group = r.ShortString()
			if n := r.Count(minOffsetSize); n > 0 {
				e.offsets = make([]TxnOffset, n)
				for i := range e.offsets {
					o := &e.offsets[i]
					o.Topic = r.ShortString()
					o.Partition = int32(r.U32())
					o.Offset = int64(r.U64())
					o.LeaderEpoch = int32(r.U32())
					o.Metadata = r.NullableString()
				}
			}
		case entryTombstone:
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
// prefix and, if the log does not end cleanly there, why. A frame is decoded
// completely before apply sees it, so it is applied whole or not at all.
func replayLog(data []byte, apply func(*logEntry)) (valid int, err error) {
	return framelog.ReplayEntries(&logFormat, data, decodeEntries, apply)
}

// reader is framelog.Reader: a bounds-checked cursor over a frame body.
type reader = framelog.Reader

// logFormat frames this log (internal/framelog) with its own magic and errors.
var logFormat = framelog.Format{Magic: logMagic, Torn: errTorn, Corrupt: errCorrupt}

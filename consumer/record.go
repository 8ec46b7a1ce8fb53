package consumer

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Header is one record header. It has the same underlying type as the
// batch codec's header, so decoding converts without copying.
type Header struct {
	Key   string
	Value []byte
}

// Record is one consumed record.
//
// Records are never reused by the consumer: a Record, its Key, Value and
// Headers stay valid for as long as the caller keeps them. Key and Value of an
// uncompressed batch alias the fetch response buffer and those of a
// compressed batch alias that batch's decompressed buffer, so holding one
// record keeps its whole buffer alive; copy Key and Value to retain a few
// records of a large fetch for a long time.
type Record struct {
	Topic     string
	Partition int32
	// LeaderEpoch is the partition leader epoch the batch was written in,
	// -1 when unknown. (Next to Partition: the struct packs to 128 bytes.)
	LeaderEpoch int32
	Offset      int64
	Key         []byte // nil for a null key
	Value       []byte // nil for a tombstone
	Headers     []Header
	// Timestamp is the record's CreateTime, or the broker's LogAppendTime
	// when the topic uses message.timestamp.type=LogAppendTime, in UTC.
	Timestamp time.Time
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s[%d]", tp.Topic, tp.Partition) }

// Special offsets accepted by Assign and Seek, with Kafka's ListOffsets
// meaning.
const (
	// OffsetLatest starts at the end of the partition (the high watermark).
	OffsetLatest int64 = -1
	// OffsetEarliest starts at the log start offset.
	OffsetEarliest int64 = -2
	// OffsetCommitted starts at the group's committed offset, falling back
	// to auto.offset.reset when there is none. It needs a GroupID.
	OffsetCommitted int64 = -3
)

// TopicPartitionOffset is a partition and an offset: where to start in
// Assign, what to commit in CommitOffsets, what Committed returns.
type TopicPartitionOffset struct {
	Partition int32
	// Offset is the next offset to read (or OffsetLatest, OffsetEarliest,
	// OffsetCommitted in Assign). In commits and Committed it is the next
	// offset the group will read, as in Kafka; -1 means none committed.
	Offset int64
	// LeaderEpoch is the leader epoch of the record before Offset, -1 when
	// unknown. Commits carry it as given (KIP-320), so set -1 in a
	// CommitOffsets literal when it is not known; Assign ignores it.
	LeaderEpoch int32
	// Metadata is the commit metadata string.
	Metadata string
}

func compareTP(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

func sortTPs(tps []TopicPartition) { slices.SortFunc(tps, compareTP) }

func sortedKeys[V any](m map[TopicPartition]V) []TopicPartition {
	out := make([]TopicPartition, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sortTPs(out)
	return out
}

func keysTopics[V any](m map[TopicPartition]V) []string {
	seen := map[string]bool{}
	var out []string
	for tp := range m {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			out = append(out, tp.Topic)
		}
	}
	slices.Sort(out)
	return out
}

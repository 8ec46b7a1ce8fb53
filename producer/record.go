package producer

import (
	"time"

	"github.com/skiffkit/skiff/accumulator"
)

// Header is a record header.
type Header = accumulator.Header

// Partition selects a record's partition. The zero value lets the
// partitioner choose; ToPartition pins one. A value type, not *int32, so a
// Record costs no allocation.
type Partition struct {
	id  int32
	set bool
}

// ToPartition pins a record to partition id.
func ToPartition(id int32) Partition { return Partition{id: id, set: true} }

// ID returns the pinned partition and whether one is pinned.
func (p Partition) ID() (int32, bool) { return p.id, p.set }

// Record is a record to produce.
type Record struct {
	Topic string
	// Partition is the target partition; the zero value lets the
	// partitioner choose (murmur2 of Key, sticky for nil keys).
	Partition Partition
	Key       []byte // nil is a null key
	Value     []byte // nil is a null value (a tombstone)
	Headers   []Header
	// Timestamp is the record's CreateTime; zero means now, read from a
	// millisecond clock the producer refreshes every millisecond while
	// records flow (within about a millisecond of time.Now; see clock.go).
	Timestamp time.Time
}

// RecordMetadata is where an acknowledged record landed.
type RecordMetadata struct {
	Topic     string
	Partition int32
	// Offset is the record's offset, -1 when unknown (acks=0, failures,
	// or a DUPLICATE_SEQUENCE_NUMBER answer to a retry).
	Offset int64
	// Timestamp is the record's timestamp, or the broker's append time
	// for topics with message.timestamp.type=LogAppendTime.
	Timestamp time.Time
}

// Callback reports a record's outcome: err is nil once the record is
// acknowledged. Callbacks of one partition run in record order, one at a
// time, on a goroutine of the producer; they should return quickly.
type Callback = func(RecordMetadata, error)
